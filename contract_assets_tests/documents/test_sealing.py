"""The organisation's seal: sealed PDFs a standard validator accepts, and that no changed byte
gets past; signed manifests; trial and imported certificates."""

from __future__ import annotations

import io
import stat
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from reportlab.pdfgen import canvas

from contract_assets.documents.sealing import (
    SEAL_FIELD,
    SealError,
    SealFiles,
    certificate_fingerprint,
    create_trial_seal,
    detached_signature_problems,
    import_seal,
    load_seal,
    pdf_seal_problems,
    read_certificates,
    seal_pdf,
    sign_detached,
)

ORGANISATION = "Orbital Test Ltd"
PAGE_TEXT = b"This Agreement is made between the parties below."


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def seal_files(tmp_path_factory):
    files = SealFiles(tmp_path_factory.mktemp("home") / "keys")
    create_trial_seal(files, ORGANISATION, None)
    return files


@pytest.fixture(scope="module")
def seal(seal_files):
    return load_seal(seal_files, None)


@pytest.fixture(scope="module")
def trusted(seal_files):
    return read_certificates(seal_files.certificate)


@pytest.fixture(scope="module")
def contract_pdf() -> bytes:
    """A two-page PDF whose page text stays readable in its (uncompressed) content stream."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pageCompression=0)
    for number in (1, 2):
        page.drawString(72, 720, PAGE_TEXT.decode())
        page.drawString(72, 700, f"Page {number} of 2")
        page.showPage()
    page.save()
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sealed(contract_pdf, seal) -> bytes:
    return seal_pdf(contract_pdf, seal)


def pyhanko_status(pdf: bytes, certificate: x509.Certificate):
    """pyHanko's own verdict on the PDF's one signature, trusting `certificate`."""
    (embedded,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    root = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    return embedded, validate_pdf_signature(embedded, ValidationContext(trust_roots=[root]))


def changed(data: bytes, position: int, new: int | None = None) -> bytes:
    altered = bytearray(data)
    altered[position] = new if new is not None else altered[position] ^ 0x01
    return bytes(altered)


# --- the trial seal ----------------------------------------------------------------------


def test_trial_seal_is_kept_owner_only_with_its_certificate_beside_it(seal_files, seal, trusted):
    assert _mode(seal_files.pkcs12) == 0o600
    assert _mode(seal_files.keys_dir) == 0o700
    assert not _mode(seal_files.certificate) & 0o022
    assert certificate_fingerprint(trusted[0]) == seal.fingerprint
    assert seal.organisation == ORGANISATION
    assert b"PRIVATE KEY" not in seal_files.certificate.read_bytes()


def test_an_existing_seal_is_never_replaced(seal_files, seal):
    before = seal_files.pkcs12.read_bytes()
    with pytest.raises(FileExistsError, match="refusing to replace"):
        create_trial_seal(seal_files, "Someone Else", None)
    assert seal_files.pkcs12.read_bytes() == before
    assert load_seal(seal_files, None).fingerprint == seal.fingerprint


def test_no_seal_set_up_loads_as_none(tmp_path):
    assert load_seal(SealFiles(tmp_path / "keys"), None) is None


def test_a_passphrase_protected_seal_needs_its_passphrase(tmp_path):
    files = SealFiles(tmp_path / "keys")
    created = create_trial_seal(files, ORGANISATION, b"correct horse")
    with pytest.raises(SealError, match="CONTRACT_ASSETS_SEAL_PASSPHRASE"):
        load_seal(files, None)
    with pytest.raises(SealError, match="wrong passphrase"):
        load_seal(files, b"wrong")
    assert load_seal(files, b"correct horse").fingerprint == created.fingerprint


# --- sealed PDFs -------------------------------------------------------------------------


def test_sealed_pdf_validates_with_pyhanko(sealed, contract_pdf, trusted):
    embedded, status = pyhanko_status(sealed, trusted[0])

    assert status.bottom_line
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert embedded.field_name == SEAL_FIELD
    assert embedded.sig_object["/Reason"] == f"Sealed by {ORGANISATION}"
    assert sealed.startswith(contract_pdf)  # an incremental update: the contract is unchanged
    assert pdf_seal_problems(sealed, trusted) == []


def test_one_byte_changed_in_a_content_stream_fails(sealed, trusted):
    position = sealed.index(PAGE_TEXT) + PAGE_TEXT.index(b"made")
    tampered = changed(sealed, position, ord("N"))  # "made" -> "Nade"

    _, status = pyhanko_status(tampered, trusted[0])
    assert not status.intact and not status.bottom_line
    assert pdf_seal_problems(tampered, trusted) == [
        "the PDF was changed after it was sealed (its digest does not match)"
    ]


def test_one_byte_changed_in_the_middle_of_the_file_fails(sealed, trusted):
    tampered = changed(sealed, len(sealed) // 2)
    assert pdf_seal_problems(tampered, trusted)


def test_no_single_changed_byte_anywhere_in_the_file_passes(sealed, trusted):
    (embedded,) = PdfFileReader(io.BytesIO(sealed)).embedded_signatures
    # The signed byte range: 0 to the signature value, then from its end to the end of file.
    _, gap_start, gap_end, _ = embedded.byte_range
    # Every 97th byte across the file, and bytes of the signature value itself: its first
    # hex digit, one in the middle, one in the zero padding, and a digit in lower case.
    positions = set(range(0, len(sealed), 97)) | {gap_start + 1, (gap_start + gap_end) // 2, gap_end - 3}
    survivors = [p for p in sorted(positions) if not pdf_seal_problems(changed(sealed, p), trusted)]
    hex_letter = next(p for p in range(gap_start + 1, gap_end) if sealed[p : p + 1] in b"ABCDEF")
    lower_case = changed(sealed, hex_letter, sealed[hex_letter] + 32)

    assert survivors == []
    assert pdf_seal_problems(lower_case, trusted) == ["the seal's signature value was altered"]


def test_anything_appended_after_sealing_fails(sealed, trusted):
    assert pdf_seal_problems(sealed + b"\n% a comment\n", trusted) == [
        "the seal does not cover the whole file (something was added after sealing)"
    ]


def test_a_seal_by_another_certificate_is_not_trusted(contract_pdf, trusted, tmp_path):
    impostor = create_trial_seal(SealFiles(tmp_path / "keys"), ORGANISATION, None)
    problems = pdf_seal_problems(seal_pdf(contract_pdf, impostor), trusted)
    assert problems == [f"the signature is not by the trusted certificate of {ORGANISATION}"]


def test_an_unsealed_or_broken_pdf_fails(contract_pdf, trusted):
    assert pdf_seal_problems(contract_pdf, trusted) == ["the PDF has no seal (no signature)"]
    assert pdf_seal_problems(b"not a pdf at all", trusted)[0].startswith("not a readable PDF")


# --- detached signatures (the manifest) ---------------------------------------------------


def test_detached_signature_verifies_only_the_signed_bytes_by_the_trusted_seal(seal, trusted, tmp_path):
    manifest = b'{"files": [], "partition_key": "acme-nda.r1"}\n'
    signature = sign_detached(manifest, seal)
    impostor = create_trial_seal(SealFiles(tmp_path / "keys"), ORGANISATION, None)

    assert detached_signature_problems(manifest, signature, trusted) == []
    assert detached_signature_problems(manifest.replace(b"r1", b"r2"), signature, trusted) == [
        "the signed content was changed after it was signed (its digest does not match)"
    ]
    assert detached_signature_problems(manifest, sign_detached(manifest, impostor), trusted) == [
        f"the signature is not by the trusted certificate of {ORGANISATION}"
    ]
    assert detached_signature_problems(manifest, signature + b"\0", trusted)
    assert detached_signature_problems(manifest, b"garbage", trusted)


# --- importing the organisation's own PKCS#12 ---------------------------------------------


def make_pkcs12(passphrase: bytes, *, key_usage: x509.KeyUsage | None = None) -> bytes:
    """A PKCS#12 as a certificate authority would issue it (here self-signed, EC P-256)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Imported Org AG")])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    certificate = builder.sign(key, hashes.SHA256())
    return pkcs12.serialize_key_and_certificates(
        b"imported", key, certificate, None, serialization.BestAvailableEncryption(passphrase)
    )


def test_import_keeps_the_pkcs12_and_seals_with_its_certificate(tmp_path, contract_pdf):
    data = make_pkcs12(b"s3cret")
    files = SealFiles(tmp_path / "keys")

    imported = import_seal(files, data, b"s3cret")

    assert files.pkcs12.read_bytes() == data and _mode(files.pkcs12) == 0o600
    assert imported.organisation == "Imported Org AG"
    loaded = load_seal(files, b"s3cret")
    certificates = read_certificates(files.certificate)
    assert certificate_fingerprint(certificates[0]) == loaded.fingerprint == imported.fingerprint
    sealed = seal_pdf(contract_pdf, loaded)
    assert pyhanko_status(sealed, certificates[0])[1].bottom_line
    assert pdf_seal_problems(sealed, certificates) == []


def _usage(**allowed: bool) -> x509.KeyUsage:
    names = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]
    return x509.KeyUsage(**{name: allowed.get(name, False) for name in names})


@pytest.mark.parametrize(
    ("data", "passphrase", "message"),
    [
        (lambda: make_pkcs12(b"s3cret"), b"wrong", "wrong passphrase"),
        (lambda: b"not a pkcs12", None, "not a PKCS#12 file"),
        (lambda: make_pkcs12(b"p", key_usage=_usage(key_cert_sign=True)), b"p", "key usage"),
    ],
    ids=["wrong-passphrase", "not-pkcs12", "no-signing-usage"],
)
def test_import_refuses_what_cannot_seal_and_stores_nothing(tmp_path, data, passphrase, message):
    files = SealFiles(tmp_path / "keys")
    with pytest.raises(SealError, match=message):
        import_seal(files, data(), passphrase)
    assert not files.pkcs12.exists() and not files.certificate.exists()
