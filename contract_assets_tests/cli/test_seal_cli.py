"""The organisation's seal from the console: init-signing, sealed packages, status, verify."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from dagster import AssetKey
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from contract_assets.platform.files import sha256_file
from contract_assets.documents.packaging import verify_package
from contract_assets.documents.sealing import (
    SealFiles,
    certificate_fingerprint,
    create_trial_seal,
    read_certificates,
)
from contract_assets_tests.documents.test_packaging import OLD_LAYOUT
from contract_assets_tests.documents.test_sealing import make_pkcs12
from contract_assets_tests.harness import SAMPLES, cli, contract_home, operations_for
from contract_assets_tests.pipeline.test_pipeline import run_revision

pytestmark = pytest.mark.programs  # every test runs the console command

NDA = SAMPLES / "01-mutual-nda.yaml"


@pytest.fixture(scope="module")
def sealed_home(tmp_path_factory):
    """A home whose trial seal was made with `init-signing`, with one NDA run to the end."""
    monkeypatch = pytest.MonkeyPatch()
    with contract_home(tmp_path_factory.mktemp("sealed") / "home", monkeypatch) as home:
        init = cli("init-signing", "--organisation", "Orbital, Inc.", home=home)
        assert init.returncode == 0, init.stderr
        with operations_for(home) as ops:
            key = ops.submit(NDA).revision.partition_key
            run_revision(home, ops.instance, key)
            event = ops.instance.get_latest_materialization_event(AssetKey("signature_package"))
            metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()}
            metadata["code_version"] = event.asset_materialization.tags["dagster/code_version"]
        status = cli("status", "--json", home=home)
        assert status.returncode == 0, status.stderr
        yield {"home": home, "init": init.stdout, "status": json.loads(status.stdout)[0], "metadata": metadata}
    monkeypatch.undo()


def test_init_signing_then_the_package_is_sealed_and_status_reports_the_sealed_pdf(sealed_home):
    home, status = sealed_home["home"], sealed_home["status"]
    files = SealFiles(home.keys_dir)
    certificate = read_certificates(files.certificate)[0]
    fingerprint = certificate_fingerprint(certificate)
    artifacts = status["artifacts"]

    assert fingerprint in sealed_home["init"]
    assert status["stage"] == "ready_for_signature"
    assert status["sealed"] is True and status["seal_certificate_sha256"] == fingerprint
    assert artifacts["pdf"].endswith(".sealed.pdf") and artifacts["pdf"] != artifacts["rendered_pdf"]
    sealed = Path(artifacts["pdf"]).read_bytes()
    assert sealed.startswith(Path(artifacts["rendered_pdf"]).read_bytes())
    (embedded,) = PdfFileReader(io.BytesIO(sealed)).embedded_signatures
    root = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    assert validate_pdf_signature(embedded, ValidationContext(trust_roots=[root])).bottom_line
    assert sealed_home["metadata"]["sealed"] is True
    assert sealed_home["metadata"]["seal_certificate_sha256"] == fingerprint
    # A package made before this seal (or with another) shows as unsynced in the UI.
    assert sealed_home["metadata"]["code_version"].endswith(f"+package.2+seal.{fingerprint[:12]}")
    manifest = json.loads(Path(artifacts["manifest"]).read_text())
    assert manifest["seal"]["certificate_sha256"] == fingerprint
    assert Path(artifacts["manifest_signature"]).name == Path(artifacts["manifest"]).name + ".sig"


def test_verify_accepts_the_package_folder_its_manifest_its_zip_and_the_sealed_pdf(sealed_home):
    home, artifacts = sealed_home["home"], sealed_home["status"]["artifacts"]
    manifest = Path(artifacts["manifest"])
    zipped = manifest.with_name(manifest.name.replace(".manifest.json", ".package.zip"))
    for target in (manifest.parent, manifest, zipped, Path(artifacts["pdf"])):
        result = cli("verify", str(target), home=home)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "verified" in result.stdout and "FAILED" not in result.stdout
    package = cli("verify", str(manifest.parent), home=home).stdout
    assert "checked: the signature of" in package and "checked: the seal of" in package
    assert f"checked: {zipped.name} holds the same files as the folder" in package
    from_zip = cli("verify", str(zipped), home=home).stdout
    assert f"checked: the files in {zipped.name}" in from_zip and "checked: the seal of" in from_zip


def test_the_package_folder_alone_holds_every_file_its_manifest_lists(sealed_home, tmp_path):
    """Handed on by itself (to a counterparty, an e-signature service), the folder or the zip
    is the whole package: the contract in each format, the sealed PDF, the signed manifest."""
    home, artifacts = sealed_home["home"], sealed_home["status"]["artifacts"]
    folder = Path(artifacts["manifest"]).parent
    key = sealed_home["status"]["partition_key"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        key + suffix
        for suffix in (".html", ".pdf", ".docx", ".sealed.pdf", ".manifest.json", ".manifest.json.sig", ".package.zip")
    )
    manifest = json.loads(Path(artifacts["manifest"]).read_text())
    assert manifest["paths_relative_to"] == "manifest"
    assert [entry["path"] for entry in manifest["files"]] == [f"{key}.html", f"{key}.pdf", f"{key}.docx"]
    assert sealed_home["metadata"]["package_zip_sha256"] == sha256_file(folder / f"{key}.package.zip")
    with operations_for(home) as ops:
        (entry,) = [e for e in ops.workspace.audit.entries(key) if e.action == "package_sealed"]
    assert entry.details["package_zip_sha256"] == sealed_home["metadata"]["package_zip_sha256"]

    handed_on = tmp_path / "to-the-counterparty"
    shutil.copytree(folder, handed_on)
    copied_zip = tmp_path / f"{key}.package.zip"
    shutil.copyfile(folder / f"{key}.package.zip", copied_zip)
    with zipfile.ZipFile(copied_zip) as archive:
        assert archive.namelist() == sorted(f"{key}/{p.name}" for p in folder.iterdir() if p.suffix != ".zip")
    for target in (handed_on, copied_zip):
        result = cli("verify", str(target), home=home)
        assert result.returncode == 0, result.stdout + result.stderr


def _flip_one_byte(path: Path) -> bytes:
    original = path.read_bytes()
    altered = bytearray(original)
    altered[len(altered) // 2] ^= 0x01
    path.write_bytes(bytes(altered))
    return original


PACKAGE_FILES = [".html", ".pdf", ".docx", ".sealed.pdf", ".manifest.json", ".manifest.json.sig", ".package.zip"]


@pytest.mark.parametrize("suffix", PACKAGE_FILES)
def test_package_verify_fails_when_any_file_or_the_manifest_changes(sealed_home, suffix):
    manifest = Path(sealed_home["status"]["artifacts"]["manifest"])
    trusted = read_certificates(SealFiles(sealed_home["home"].keys_dir).certificate)
    target = manifest.parent / (sealed_home["status"]["partition_key"] + suffix)
    original = _flip_one_byte(target)
    try:
        result = verify_package(manifest, trusted)
    finally:
        target.write_bytes(original)

    assert not result.ok
    assert result.problems
    assert verify_package(manifest, trusted).ok  # restored: whole again


def test_verify_command_exits_non_zero_and_says_what_failed(sealed_home, tmp_path):
    home, artifacts = sealed_home["home"], sealed_home["status"]["artifacts"]
    package = tmp_path / "package"
    shutil.copytree(Path(artifacts["manifest"]).parent, package)
    copied_manifest = package / Path(artifacts["manifest"]).name
    copied_manifest.write_text(copied_manifest.read_text().replace('"revision": 1', '"revision": 7'))
    copied_docx = package / Path(artifacts["docx"]).name
    copied_docx.write_bytes(copied_docx.read_bytes() + b"x")

    result = cli("verify", str(copied_manifest), home=home)

    assert result.returncode == 1
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAILED: ")]
    assert any("changed after it was signed" in line for line in failures)
    assert any(".docx does not match its sha256" in line for line in failures)
    assert any("differs from the file in the folder" in line for line in failures)
    assert "NOT verified" in result.stdout


def test_a_changed_zip_is_not_verified(sealed_home, tmp_path):
    home, artifacts = sealed_home["home"], sealed_home["status"]["artifacts"]
    key = sealed_home["status"]["partition_key"]
    original = Path(artifacts["manifest"]).with_name(f"{key}.package.zip")
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(tmp_path / "changed.zip", "w") as changed:
        for info in source.infolist():
            data = source.read(info)
            changed.writestr(info, data + b"x" if info.filename.endswith(".docx") else data)

    result = cli("verify", str(tmp_path / "changed.zip"), home=home)

    assert result.returncode == 1
    assert f"FAILED: {key}.docx does not match its sha256 in the manifest" in result.stdout


def test_verify_still_accepts_a_package_made_in_the_old_layout(sealed_home):
    """A package made before the package was one folder (kept as a fixture with its trial
    certificate): the manifest's paths start at the revision's folder."""
    (manifest,) = OLD_LAYOUT.glob("*/*/*.manifest.json")
    certificate = OLD_LAYOUT / "organisation-seal.pem"
    for target in (manifest.parent, manifest):
        result = cli("verify", str(target), "--certificate", str(certificate), home=sealed_home["home"])
        assert result.returncode == 0, result.stdout + result.stderr
        assert "checked: the SHA-256 of 3 files listed in" in result.stdout
        assert "checked: the seal of acme-robotics-nda.r1.sealed.pdf" in result.stdout


def test_verify_against_another_certificate_fails(sealed_home, tmp_path):
    other = SealFiles(tmp_path / "keys")
    create_trial_seal(other, "Orbital, Inc.", None)
    result = cli(
        "verify", sealed_home["status"]["artifacts"]["pdf"],
        "--certificate", str(other.certificate), home=sealed_home["home"],
    )
    assert result.returncode == 1
    assert "not by the trusted certificate" in result.stdout


def test_init_signing_imports_a_pkcs12_with_its_passphrase(home, tmp_path):
    p12 = tmp_path / "ours.p12"
    p12.write_bytes(make_pkcs12(b"company secret"))
    passphrase = {"CONTRACT_ASSETS_SEAL_PASSPHRASE": "company secret"}

    wrong = cli("init-signing", "--pkcs12", str(p12), home=home,
                extra_env={"CONTRACT_ASSETS_SEAL_PASSPHRASE": "guess"})
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr
    assert not (home.keys_dir / "organisation-seal.p12").exists()

    result = cli("init-signing", "--pkcs12", str(p12), home=home, extra_env=passphrase)
    assert result.returncode == 0, result.stderr
    files = SealFiles(home.keys_dir)
    assert files.pkcs12.read_bytes() == p12.read_bytes()
    assert "Imported Org AG" in result.stdout
    assert certificate_fingerprint(read_certificates(files.certificate)[0]) in result.stdout
    again = cli("init-signing", home=home)
    assert again.returncode != 0 and "refusing to replace" in again.stderr


def check_results(result, check: str) -> list:
    return [e for e in result.get_asset_check_evaluations() if e.check_name == check]


def test_each_sealed_package_is_verified_in_its_run_as_a_recipient_would(home, ops):
    assert cli("init-signing", "--organisation", "Orbital, Inc.", home=home).returncode == 0
    key = ops.submit(NDA).revision.partition_key

    result = run_revision(home, ops.instance, key)

    (evaluation,) = check_results(result, "package_verifies")
    assert evaluation.passed
    metadata = {k: v.value for k, v in evaluation.metadata.items()}
    published = read_certificates(SealFiles(home.keys_dir).certificate)[0]
    assert metadata["sealed"] is True and metadata["problems"] == []
    assert metadata["trusted_certificate_sha256"] == certificate_fingerprint(published)


def test_a_package_that_does_not_verify_against_the_published_certificate_fails(home, ops):
    """The seal's key and the certificate given to recipients no longer match (one of the
    two replaced by hand): no package goes out that its recipients would reject."""
    assert cli("init-signing", "--organisation", "Orbital, Inc.", home=home).returncode == 0
    other = pkcs12.load_key_and_certificates(make_pkcs12(b"pw"), b"pw")[1]
    SealFiles(home.keys_dir).certificate.write_bytes(other.public_bytes(serialization.Encoding.PEM))
    key = ops.submit(NDA).revision.partition_key

    result = run_revision(home, ops.instance, key, raise_on_error=False)

    assert not result.success
    (evaluation,) = check_results(result, "package_verifies")
    assert not evaluation.passed
    status = ops.statuses()[0].as_json()
    assert status["stage"] == "failed"
    assert "check package_verifies failed" in status["error"]


def test_without_a_seal_the_package_is_unsealed_and_says_so(home, ops):
    key = ops.submit(NDA).revision.partition_key
    result = run_revision(home, ops.instance, key)
    (evaluation,) = check_results(result, "package_verifies")
    assert evaluation.passed and evaluation.metadata["sealed"].value is False

    status = ops.statuses()[0].as_json()

    assert status["stage"] == "ready_for_signature"
    assert status["sealed"] is False
    assert status["artifacts"]["pdf"] == status["artifacts"]["rendered_pdf"]
    assert status["artifacts"]["manifest_signature"] is None
    assert json.loads(Path(status["artifacts"]["manifest"]).read_text())["seal"] is None
    result = cli("verify", status["artifacts"]["manifest"], home=home)
    assert result.returncode == 2 and "no certificate to trust" in result.stderr
