"""The signature package as one folder: what it holds, its reproducible zip, a package issued
once for the same inputs, and packages in the layout made before it."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract_assets.drafting.assembly import assemble_draft
from contract_assets.drafting.clause_library import load_entities, load_library
from contract_assets.platform.models import ContractRequest, Revision, RenderedDocuments, SignaturePackage
from contract_assets.documents.packaging import (
    build_signature_package,
    package_zip,
    render_contract,
    verify_package,
    verify_package_zip,
    zip_timestamp,
)
from contract_assets.platform.protection import DataProtection
from contract_assets.intake.revisions import content_hash
from contract_assets.documents.sealing import SealFiles, create_trial_seal, load_seal, read_certificates
from contract_assets.platform.storage import StorageLayout
from contract_assets_tests.sample_requests import build_raw

OLD_LAYOUT = Path(__file__).resolve().parents[1] / "fixtures" / "old_layout_package"
REGISTERED = datetime(2026, 11, 2, 9, 30, 16, tzinfo=UTC)
KEY = "acme-nda.r1"
MANIFEST = f"{KEY}.manifest.json"


@pytest.fixture(scope="module")
def seal_files(tmp_path_factory):
    files = SealFiles(tmp_path_factory.mktemp("seal") / "keys")
    create_trial_seal(files, "Orbital Test Ltd", None)
    return files


@pytest.fixture(scope="module")
def seal(seal_files):
    return load_seal(seal_files, None)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A registered NDA revision, its draft, and its documents rendered and stored."""
    request = ContractRequest.model_validate(build_raw("nda"))
    digest = content_hash(request)
    revision = Revision(
        contract_id=request.contract_id, revision=1, partition_key=KEY, content_hash=digest,
        submitted_at=REGISTERED, request=request,
    )
    draft = assemble_draft(
        partition_key=KEY, revision=1, request=request, request_hash=digest,
        entity=load_entities()[request.our_entity], library=load_library(),
    )
    layout = StorageLayout(tmp_path_factory.mktemp("storage"), DataProtection())
    documents = render_contract(draft, effective_date=REGISTERED.date(), registered_at=REGISTERED)
    layout.write_model("contract_documents", KEY, documents)
    return revision, draft, layout.read_model("contract_documents", KEY, RenderedDocuments)


def package(inputs, layout: StorageLayout, *, created_at: datetime, seal=None, reuse: bool = True) -> SignaturePackage:
    """A package built and stored as the signature_package step does."""
    revision, draft, documents = inputs
    built = build_signature_package(
        revision=revision, draft=draft, documents=documents, created_at=created_at,
        audit_head={"seq": created_at.minute, "hash": "a" * 64}, seal=seal,
        issued=layout.issued(KEY, MANIFEST) if reuse else (),
    )
    layout.write_model("signature_package", KEY, built)
    return layout.read_model("signature_package", KEY, SignaturePackage)


def package_folders(layout: StorageLayout) -> list[Path]:
    return [path.parent for path in layout.issued(KEY, MANIFEST)]


def test_the_package_folder_holds_every_file_its_manifest_lists(inputs, seal, seal_files, tmp_path):
    layout = StorageLayout(tmp_path, DataProtection())
    stored = package(inputs, layout, created_at=datetime(2026, 11, 3, tzinfo=UTC), seal=seal)
    manifest_path = Path(stored.path_of("manifest"))
    manifest = json.loads(manifest_path.read_text())

    for entry in manifest["files"]:
        assert (manifest_path.parent / entry["path"]).is_file(), entry["path"]
    assert {Path(p).parent for p in stored.paths.values()} == {manifest_path.parent}
    assert sorted(p.name for p in manifest_path.parent.iterdir()) == sorted(
        [f"{KEY}.html", f"{KEY}.pdf", f"{KEY}.docx", f"{KEY}.sealed.pdf", MANIFEST, f"{MANIFEST}.sig", f"{KEY}.package.zip"]
    )
    assert verify_package(manifest_path, read_certificates(seal_files.certificate)).ok


def test_the_zip_is_the_same_bytes_whenever_it_is_built(inputs):
    files = {"b.pdf": b"%PDF-1.7 " * 100, "a.html": "<p>Zoë</p>".encode(), "c.json": b"{}"}
    when = zip_timestamp(REGISTERED)

    first = package_zip(KEY, files, when)
    again = package_zip(KEY, dict(reversed(files.items())), when)

    assert first == again
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == [f"{KEY}/a.html", f"{KEY}/b.pdf", f"{KEY}/c.json"]
    assert {i.date_time for i in infos} == {(2026, 11, 2, 9, 30, 16)}  # the revision's registration
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    assert zip_timestamp(datetime(1970, 1, 1, tzinfo=UTC)) == (1980, 1, 1, 0, 0, 0)


def test_a_package_issued_for_the_same_inputs_is_kept_not_sealed_again(inputs, seal, tmp_path):
    """A signature_package step retried after storing its package: no second seal, no second
    folder, the same manifest (created_at included), the same record."""
    layout = StorageLayout(tmp_path, DataProtection())
    first = package(inputs, layout, created_at=datetime(2026, 11, 3, 10, 0, tzinfo=UTC), seal=seal)
    first_bytes = {name: Path(path).read_bytes() for name, path in first.paths.items()}

    again = package(inputs, layout, created_at=datetime(2026, 11, 3, 10, 7, tzinfo=UTC), seal=seal)

    assert again == first
    assert {name: Path(path).read_bytes() for name, path in again.paths.items()} == first_bytes
    assert package_folders(layout) == [Path(first.path_of("manifest")).parent]
    assert json.loads(first_bytes[MANIFEST])["created_at"] == "2026-11-03T10:00:00+00:00"


def test_a_package_is_made_anew_when_its_inputs_or_its_folder_differ(inputs, seal, tmp_path):
    layout = StorageLayout(tmp_path, DataProtection())
    unsealed = package(inputs, layout, created_at=datetime(2026, 11, 3, 10, 0, tzinfo=UTC))
    sealed = package(inputs, layout, created_at=datetime(2026, 11, 3, 10, 1, tzinfo=UTC), seal=seal)
    assert not unsealed.sealed and sealed.sealed  # a seal set up since: sealed, in a new folder
    assert len(package_folders(layout)) == 2

    Path(sealed.path_of("manifest_signature")).unlink()  # that folder is no longer whole
    remade = package(inputs, layout, created_at=datetime(2026, 11, 3, 10, 2, tzinfo=UTC), seal=seal)
    assert remade.created_at == datetime(2026, 11, 3, 10, 2, tzinfo=UTC)
    assert len(package_folders(layout)) == 3


def test_the_zip_alone_verifies_and_refuses_paths_outside_its_folder(inputs, seal, seal_files, tmp_path):
    layout = StorageLayout(tmp_path / "storage", DataProtection())
    stored = package(inputs, layout, created_at=datetime(2026, 11, 3, tzinfo=UTC), seal=seal)
    trusted = read_certificates(seal_files.certificate)
    zipped = tmp_path / "handed-on.zip"
    shutil.copyfile(stored.path_of("package_zip"), zipped)

    assert verify_package_zip(zipped, trusted).ok

    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(zipped) as source, zipfile.ZipFile(hostile, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("../outside.txt", b"x")
    result = verify_package_zip(hostile, trusted)
    assert not result.ok and "is not a file in the package's one folder" in result.problems[0]
    assert not (tmp_path / "outside.txt").exists()


def test_a_package_in_the_old_layout_still_verifies(tmp_path):
    """Made before the package was one folder: its manifest's paths start at the revision's
    documents folder, and its documents sit in a sibling folder."""
    trusted = read_certificates(OLD_LAYOUT / "organisation-seal.pem")
    (manifest,) = sorted(OLD_LAYOUT.glob("*/*/*.manifest.json"))
    assert "paths_relative_to" not in json.loads(manifest.read_text())

    assert verify_package(manifest, trusted).ok

    copy = tmp_path / "old"
    shutil.copytree(OLD_LAYOUT, copy)
    (docx,) = copy.glob("*/*/*.docx")
    docx.write_bytes(docx.read_bytes() + b"x")
    copied_manifest = copy / manifest.relative_to(OLD_LAYOUT)
    assert verify_package(copied_manifest, trusted).problems == [
        "acme-robotics-nda.r1.docx does not match its sha256 in the manifest"
    ]
