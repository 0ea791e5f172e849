"""Asset checks, one partition at a time; the blocking ones stop later steps of the same run.

Each check declares the revision partitions: without them Dagster would load every
partition of the asset for one check. That option is marked "preview" in Dagster 1.13.
"""

from pathlib import Path

from dagster import AssetCheckResult, asset_check

from contract_assets.documents.defs.assets import signature_package
from contract_assets.documents.packaging import manifest_problems, verify_package
from contract_assets.documents.sealing import (
    SealError,
    certificate_fingerprint,
    read_certificates,
)
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.platform.models import SignaturePackage


@asset_check(asset=signature_package, blocking=True, partitions_def=revision_partitions)
def manifest_matches_files(signature_package: SignaturePackage) -> AssetCheckResult:
    """Every file in the manifest exists and matches its SHA-256."""
    problems = manifest_problems(signature_package)
    return AssetCheckResult(
        passed=not problems,
        metadata={"files": len(signature_package.documents), "problems": problems},
        description="; ".join(problems) or None,
    )


@asset_check(asset=signature_package, blocking=True, partitions_def=revision_partitions)
def package_verifies(
    contracts: ContractWorkspace, signature_package: SignaturePackage
) -> AssetCheckResult:
    """A sealed package verifies as its recipient would check it (`contract-assets verify`):
    the manifest's signature, every file's SHA-256 and the PDF's seal, against the
    certificate the home publishes. An unsealed package has no seal to check and passes."""
    if not signature_package.sealed:
        return AssetCheckResult(passed=True, metadata={"sealed": False})
    certificate = contracts.workspace().seal_files.certificate
    try:
        trusted = read_certificates(certificate)
    except (SealError, OSError) as exc:
        problems, fingerprint = [f"the published certificate {certificate.name}: {exc}"], None
    else:
        fingerprint = certificate_fingerprint(trusted[0])
        manifest = Path(signature_package.path_of("manifest"))
        problems = verify_package(manifest, trusted).problems
    return AssetCheckResult(
        passed=not problems,
        metadata={"sealed": True, "trusted_certificate_sha256": fingerprint, "problems": problems},
        description="; ".join(problems) or None,
    )
