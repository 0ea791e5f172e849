"""Verbs of the organisation's seal (README: The organisation's seal): set it up, and verify
a sealed PDF or a signature package with its certificate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from contract_assets.cli import presentation
from contract_assets.cli.registry import ADMINISTER, EXIT_INVALID, Call, verb

if TYPE_CHECKING:
    from cryptography import x509

    from contract_assets.documents.packaging import Verification
    from contract_assets.platform.defs.resources import Workspace

# domain.sealing.PASSPHRASE_ENV, named here so that --help loads no PDF library (a test
# checks they agree).
PASSPHRASE_ENV = "CONTRACT_ASSETS_SEAL_PASSPHRASE"


def _init_signing_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--organisation", help="the name in a trial certificate (default: the first entity's)"
    )
    parser.add_argument(
        "--pkcs12", type=Path, help=f"use this PKCS#12 (.p12/.pfx); its passphrase from ${PASSPHRASE_ENV}"
    )


@verb(
    "init-signing",
    "set up the organisation's seal: a self-signed trial certificate, or your PKCS#12",
    arguments=_init_signing_arguments, permissions=[ADMINISTER], on_instance=True,
)  # fmt: skip
def init_signing(call: Call) -> int:
    code = _set_up_seal(call.workspace, call.args)
    call.guard.audit_configuration()
    return code


def _set_up_seal(workspace: Workspace, args: argparse.Namespace) -> int:
    """Set up the organisation's seal: a self-signed trial one, or the given PKCS#12."""
    from contract_assets.documents.sealing import (
        SealError,
        create_trial_seal,
        import_seal,
        passphrase_from_env,
    )

    files = workspace.seal_files
    passphrase = passphrase_from_env()
    try:
        if args.pkcs12:
            seal = import_seal(files, args.pkcs12.read_bytes(), passphrase)
        else:
            organisation = args.organisation or next(iter(workspace.entities.values())).legal_name
            seal = create_trial_seal(files, organisation, passphrase)
    except (SealError, OSError) as exc:
        print(f"no seal set up: {exc}", file=sys.stderr)
        return EXIT_INVALID if isinstance(exc, SealError) else 1
    presentation.seal_description(seal, files)
    if not args.pkcs12:
        print("  a self-signed trial certificate: only those given its certificate trust it")
    if not passphrase:
        print(f"  stored without a passphrase (set {PASSPHRASE_ENV} before init-signing for one)")
    return 0


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--certificate", type=Path, help="trust this certificate (default: the home's seal certificate)"
    )


@verb(
    "verify", "check a sealed PDF or a signature package (its folder, manifest or zip)",
    arguments=_verify_arguments,
)  # fmt: skip
def verify(call: Call) -> int:
    """Check a sealed PDF, or a signature package (its folder, manifest or zip), and say what failed."""
    from contract_assets.documents.sealing import (
        SealError,
        certificate_fingerprint,
        read_certificates,
    )
    from contract_assets.platform.defs.resources import Workspace

    workspace, target, certificate = Workspace(call.home), call.args.file, call.args.certificate
    trust_file = certificate or workspace.seal_files.certificate
    if not trust_file.exists():
        print(
            f"no certificate to trust: {trust_file} does not exist "
            "(run `contract-assets init-signing`, or pass --certificate FILE)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    try:
        trusted = read_certificates(trust_file)
        result = _verification_of(target, trusted)
    except (SealError, OSError, ValueError) as exc:
        print(f"cannot verify {target}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    presentation.verification_report(target, trust_file, certificate_fingerprint(trusted[0]), result)
    return 0 if result.ok else 1


def _verification_of(target: Path, trusted: list[x509.Certificate]) -> Verification:
    """A package given as its folder, its manifest or its zip; anything else as a sealed PDF."""
    from contract_assets.documents.packaging import (
        MANIFEST_SUFFIX,
        verify_package,
        verify_package_zip,
        verify_sealed_pdf,
    )

    if target.is_dir():
        manifests = sorted(target.glob(f"*{MANIFEST_SUFFIX}"))
        if len(manifests) != 1:
            raise ValueError(f"expected one *{MANIFEST_SUFFIX} in the folder, found {len(manifests)}")
        return verify_package(manifests[0], trusted)
    if target.name.endswith(".zip"):
        return verify_package_zip(target, trusted)
    if target.name.endswith(".json"):
        return verify_package(target, trusted)
    return verify_sealed_pdf(target, trusted)
