"""The organisation's seal: a certificate and key that seal PDFs (PAdES) and sign manifests.

The seal is kept in the home's keys folder as a PKCS#12 file (owner-only), with its
certificate beside it as PEM for anyone who verifies. `create_trial_seal` makes a
self-signed certificate for trying the product; `import_seal` takes the organisation's own
PKCS#12. A passphrase, when the PKCS#12 has one, comes from $CONTRACT_ASSETS_SEAL_PASSPHRASE.

Sealing and verifying use pyHanko: a PDF gets one invisible PAdES baseline signature, a
manifest a detached CMS signature (DER). Verification trusts exactly the certificate it is
given and accepts a PDF only when every byte of the file is either signed or the
signature itself.

Longer than 400 lines on purpose: making, loading, using and verifying the seal share one
key handling and one trust rule, which a reviewer checks in one file.
"""

from __future__ import annotations

import asyncio
import binascii
import io
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import (
    SignatureCoverageLevel,
    SignatureStatus,
    async_validate_detached_cms,
    validate_pdf_signature,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from contract_assets.approvals.signing import create_new_file
from contract_assets.platform.files import atomic_write_bytes

PASSPHRASE_ENV = "CONTRACT_ASSETS_SEAL_PASSPHRASE"
SEAL_FILE = "organisation-seal.p12"
CERTIFICATE_FILE = "organisation-seal.pem"
SEAL_FIELD = "OrganisationSeal"
TRIAL_VALIDITY = timedelta(days=730)
_DIGEST = "sha256"
_HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
# Room for the CMS signature in the PDF: enough for a 4096-bit key and a chain of three
# certificates; reserving it skips pyHanko's trial signature (one signing instead of two).
_SIGNATURE_BYTES = 16384


class SealError(ValueError):
    """The seal is missing, unreadable, or its key or certificate cannot seal documents."""


@dataclass(frozen=True)
class SealFiles:
    """Where a home keeps its seal: the PKCS#12 (private) and the certificate (public)."""

    keys_dir: Path

    @property
    def pkcs12(self) -> Path:
        return self.keys_dir / SEAL_FILE

    @property
    def certificate(self) -> Path:
        return self.keys_dir / CERTIFICATE_FILE

    def exists(self) -> bool:
        return self.pkcs12.exists()


@dataclass(frozen=True)
class OrganisationSeal:
    """An organisation's sealing key with its certificate (and the chain that issued it)."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def organisation(self) -> str:
        """The organisation named in the certificate (O, else CN)."""
        return certificate_owner(self.certificate)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate (DER), hex: how people tell one seal from another."""
        return certificate_fingerprint(self.certificate)

    def signer(self) -> signers.Signer:
        return _PreloadedKeySigner(self)


class _PreloadedKeySigner(signers.Signer):
    """A pyHanko signer over a key already in memory (pyHanko's SimpleSigner parses the key
    again for every signature: ~100 ms for a 3072-bit RSA key)."""

    def __init__(self, seal: OrganisationSeal):
        store = SimpleCertificateStore.from_certs([_asn1(c) for c in seal.chain])
        super().__init__(signing_cert=_asn1(seal.certificate), cert_registry=store)
        self._key = seal.key

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(data)
        digest = _HASHES[digest_algorithm]
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), digest)
        return self._key.sign(data, ec.ECDSA(digest))


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def certificate_owner(certificate: x509.Certificate) -> str:
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        names = certificate.subject.get_attributes_for_oid(oid)
        if names:
            return str(names[0].value)
    return certificate.subject.rfc4514_string()


def passphrase_from_env() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


# --- making, importing and loading a seal --------------------------------------------------


def create_trial_seal(files: SealFiles, organisation: str, passphrase: bytes | None) -> OrganisationSeal:
    """Make a self-signed sealing certificate for `organisation` (for trial use: nobody
    outside trusts it) and store it; an existing seal is never overwritten."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} document seal (trial)"),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # tolerate clocks a little behind
        .not_valid_after(now + TRIAL_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    encryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    data = pkcs12.serialize_key_and_certificates(
        organisation.encode(), key, certificate, None, encryption
    )
    seal = OrganisationSeal(key=key, certificate=certificate)
    _store(files, data, seal)
    return seal


def import_seal(files: SealFiles, pkcs12_data: bytes, passphrase: bytes | None) -> OrganisationSeal:
    """Check a PKCS#12 (key, certificate, optional chain) and keep a copy as the home's seal."""
    seal = read_seal(pkcs12_data, passphrase, source="the PKCS#12 file")
    _store(files, pkcs12_data, seal)
    return seal


def _store(files: SealFiles, pkcs12_data: bytes, seal: OrganisationSeal) -> None:
    for path in (files.pkcs12, files.certificate):
        if path.exists() or path.is_symlink():
            raise FileExistsError(
                f"{path} already exists; refusing to replace the organisation's seal "
                "(move the keys folder's seal files away first)"
            )
    files.keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(files.keys_dir, 0o700)
    create_new_file(files.pkcs12, pkcs12_data, 0o600)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (seal.certificate, *seal.chain))
    atomic_write_bytes(files.certificate, pem)
    os.chmod(files.certificate, 0o644)


def read_seal(pkcs12_data: bytes, passphrase: bytes | None, *, source: str) -> OrganisationSeal:
    """The key and certificates in PKCS#12 bytes, checked fit for sealing; SealError if not."""
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(pkcs12_data, passphrase)
    except ValueError:
        hint = "wrong passphrase" if passphrase else f"no passphrase given (set {PASSPHRASE_ENV})"
        raise SealError(f"cannot open {source}: not a PKCS#12 file, or {hint}") from None
    if key is None or certificate is None:
        raise SealError(f"{source} must hold a private key and its certificate")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise SealError(f"{source}: a {type(key).__name__} cannot seal; use an RSA, EC or Ed25519 key")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, public) != (
        certificate.public_key().public_bytes(serialization.Encoding.DER, public)
    ):
        raise SealError(f"{source}: the private key does not belong to the certificate")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise SealError(f"{source}: the certificate may not be used for signatures (key usage)")
    if certificate.not_valid_after_utc <= datetime.now(UTC):
        expired = f"{certificate.not_valid_after_utc:%Y-%m-%d}"
        raise SealError(f"{source}: the certificate expired on {expired}")
    return OrganisationSeal(key=key, certificate=certificate, chain=tuple(chain))


def load_seal(files: SealFiles, passphrase: bytes | None) -> OrganisationSeal | None:
    """The home's seal, or None when none has been set up; SealError when it cannot be used."""
    if not files.exists():
        return None
    return read_seal(files.pkcs12.read_bytes(), passphrase, source=str(files.pkcs12))


def read_certificates(path: Path) -> list[x509.Certificate]:
    """The certificates in a PEM (or DER) file: the seal's first, then its chain."""
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise SealError(f"{path}: not a PEM or DER certificate") from None


# --- sealing -------------------------------------------------------------------------------


def seal_pdf(pdf: bytes, seal: OrganisationSeal) -> bytes:
    """The PDF with an invisible PAdES baseline signature of the organisation appended."""
    metadata = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        reason=f"Sealed by {seal.organisation}",
        md_algorithm=_DIGEST,
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    output = signers.sign_pdf(writer, metadata, signer=seal.signer(), bytes_reserved=_SIGNATURE_BYTES)
    return output.getvalue()


def sign_detached(data: bytes, seal: OrganisationSeal) -> bytes:
    """A detached CMS signature (DER) of `data` by the seal."""
    signed = asyncio.run(seal.signer().async_sign_general_data(data, _DIGEST, detached=True))
    return signed.dump()


# --- verifying -----------------------------------------------------------------------------


def _validation_context(trusted: list[x509.Certificate]) -> ValidationContext:
    # Only the seal's own certificate is trusted; the rest of its file is the issuing chain.
    return ValidationContext(
        trust_roots=[_asn1(trusted[0])], other_certs=[_asn1(c) for c in trusted[1:]]
    )


def _quiet_validation_logs() -> None:
    """pyHanko logs each failed check with a traceback; ours are returned as values."""
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def pdf_seal_problems(pdf: bytes, trusted: list[x509.Certificate]) -> list[str]:
    """Every reason the PDF is not sealed by the trusted certificate, in words (empty: valid).

    Valid means: exactly one signature, by that certificate, intact (no signed byte
    changed), cryptographically valid, and covering the whole file, with nothing but the
    signature itself left out of the signed bytes.
    """
    _quiet_validation_logs()
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_signatures
    except Exception as exc:  # pyHanko raises many kinds on a damaged file
        return [f"not a readable PDF ({exc})"]
    if not signatures:
        return ["the PDF has no seal (no signature)"]
    if len(signatures) > 1:
        return [f"the PDF has {len(signatures)} signatures; a sealed contract has one"]
    embedded = signatures[0]
    try:
        status = validate_pdf_signature(embedded, _validation_context(trusted))
    except Exception as exc:
        return [f"the seal cannot be checked: {exc}"]
    problems = _status_problems(status, trusted, "the PDF was changed after it was sealed")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        problems.append("the seal does not cover the whole file (something was added after sealing)")
    return problems or _unsigned_gap_problems(pdf, embedded.byte_range, trusted)


def _unsigned_gap_problems(
    pdf: bytes, byte_range: list[int], trusted: list[x509.Certificate]
) -> list[str]:
    """The one part of a signed PDF its signature cannot cover is the signature value itself.

    Some of its bytes are not bound by the signature either (the CMS lists of digest
    algorithms and certificates), so it must hold exactly a signature as written here:
    upper-case hex of canonical DER, zero padding, digest algorithms those of its signer,
    and no certificate other than the trusted ones, so that a byte changed in it is
    noticed like one changed in the document.
    """
    start, end = byte_range[0] + byte_range[1], byte_range[2]
    gap = pdf[start:end]
    altered = ["the seal's signature value was altered"]
    if len(gap) < 2 or gap[:1] != b"<" or gap[-1:] != b">":
        return altered
    try:
        raw = binascii.unhexlify(gap[1:-1])
        if binascii.hexlify(raw).upper() != gap[1:-1]:
            return altered
        content = cms.ContentInfo.load(raw, strict=False)
        der = content.dump()
        if raw[len(der) :].strip(b"\0") or not _as_written(content, der, trusted):
            return altered
    except (binascii.Error, ValueError, TypeError, KeyError):
        return altered
    return []


def _as_written(content: cms.ContentInfo, der: bytes, trusted: list[x509.Certificate]) -> bool:
    """Whether a CMS signature is canonical DER and the parts of it that no signature covers
    are as this module writes them: its digest algorithms its signers', its certificates
    trusted ones, its versions the ones its contents call for."""
    if content.dump(force=True) != der:
        return False
    signed = content["content"]
    # Versions as RFC 5652 sets them for what this module writes (data, no attribute certificates).
    signer_versions = {
        "v1" if info["sid"].name == "issuer_and_serial_number" else "v3": info["version"].native
        for info in signed["signer_infos"]
    }
    if any(expected != found for expected, found in signer_versions.items()):
        return False
    if signed["version"].native != ("v3" if "v3" in signer_versions else "v1"):
        return False
    used = {info["digest_algorithm"].dump() for info in signed["signer_infos"]}
    listed = [algorithm.dump() for algorithm in signed["digest_algorithms"]]
    known = {c.public_bytes(serialization.Encoding.DER) for c in trusted}
    embedded = [choice.chosen.dump() for choice in signed["certificates"] or []]
    return set(listed) == used and len(listed) == len(used) and set(embedded) <= known


def detached_signature_problems(
    data: bytes, signature: bytes, trusted: list[x509.Certificate]
) -> list[str]:
    """Every reason `signature` is not a valid detached signature of `data` by the trusted
    certificate (empty: valid)."""
    _quiet_validation_logs()
    try:
        content = cms.ContentInfo.load(signature)
        if content["content_type"].native != "signed_data":
            return ["the signature file is not a CMS signature"]
        status = asyncio.run(
            async_validate_detached_cms(
                data, content["content"], signer_validation_context=_validation_context(trusted)
            )
        )
        changed = "the signed content was changed after it was signed"
        problems = _status_problems(status, trusted, changed)
        if not problems and not _as_written(content, signature, trusted):
            problems = ["the signature file was altered"]
    except Exception as exc:
        return [f"the signature cannot be read ({exc})"]
    return problems


def _status_problems(
    status: SignatureStatus, trusted: list[x509.Certificate], changed: str
) -> list[str]:
    """The first thing wrong with a pyHanko signature status (a changed document also fails
    the later tests; saying so would only hide the cause)."""
    if not status.intact:
        return [f"{changed} (its digest does not match)"]
    if not status.valid:
        return ["the signature is not valid for its certificate"]
    if not status.trusted:
        return [f"the signature is not by the trusted certificate of {certificate_owner(trusted[0])}"]
    return []
