"""Personal data at rest: keys, encrypted records, rotation, owner-only files, and what the
Dagster UI may show of a request."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

from contract_assets.platform.files import atomic_write_bytes
from contract_assets.platform.home import ContractHome
from contract_assets.intake.inbox import archive, quarantine
from contract_assets.platform.models import ApprovalRouting
from contract_assets.platform.protection import (
    KEY_ENV,
    KEY_FILE_ENV,
    WITHHELD,
    DataKeyError,
    DataProtection,
    new_key,
    request_for_display,
)
from contract_assets.intake.requests import FieldError, load_request_file
from contract_assets.platform.records import RecordStore, records_url
from contract_assets.intake.revisions import RevisionRegistry, content_hash
from contract_assets.platform.storage import StorageLayout
from contract_assets_tests.harness import INVALID, SAMPLES

NDA = SAMPLES / "01-mutual-nda.yaml"
EMAIL, ADDRESS, NAME = "maria.gomez@acme-robotics.example", "500 Harbor Blvd", "Maria Gomez"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def request(path: Path = NDA):
    return load_request_file(path, entities={"orbital-inc", "orbital-gmbh"}, find_contract=lambda _: None)


def routing() -> ApprovalRouting:
    return ApprovalRouting(
        partition_key="acme-robotics-nda.r1",
        content_hash="0" * 64,
        status="approved",
        required_approvals=[],
        auto_approved=True,
        playbook_version="test",
    )


def clear_text(path: Path) -> bool:
    """Whether the file holds any of the sample's personal values in clear."""
    data = path.read_bytes()
    return any(value.encode() in data for value in (EMAIL, ADDRESS, NAME))


@pytest.fixture
def home(home) -> ContractHome:
    return home.ensure()


def registry_of(home: ContractHome, protection: DataProtection) -> RevisionRegistry:
    return RevisionRegistry(RecordStore(records_url(home.root)), protection)


def stored(home: ContractHome, protection: DataProtection) -> tuple[RevisionRegistry, StorageLayout]:
    return registry_of(home, protection), StorageLayout(home.storage_dir, protection)


def rotate(home: ContractHome, protection: DataProtection) -> tuple[list, dict]:
    """What `contract-assets rotate-key` does: the files, then the registered revisions."""
    changed, failed = home.reseal(protection)
    revisions, failed_revisions = registry_of(home, protection).reseal()
    return [*changed, *(["revision"] * revisions)], {**failed, **failed_revisions}


# --- keys ------------------------------------------------------------------------------


def test_no_key_means_plaintext_and_says_so():
    protection = DataProtection.from_env({})
    assert not protection.enabled
    assert "off" in protection.describe() and KEY_ENV in protection.describe()


def test_keys_from_the_environment_newest_first():
    a, b = new_key(), new_key()
    protection = DataProtection.from_env({KEY_ENV: f"{b}, {a}"})
    assert protection.describe().startswith(f"data encryption: on (new data uses key {protection.key_ids[0]}")
    token = protection.seal(b"x")
    Fernet(b).decrypt(token)  # the first listed key encrypts
    assert DataProtection([a]).open(DataProtection([a]).seal(b"y"), source="t") == b"y"
    assert protection.open(Fernet(a).encrypt(b"old"), source="t") == b"old"  # every key decrypts


def test_keys_from_a_key_file(tmp_path):
    key_file = tmp_path / "data.key"
    key_file.write_text(f"# newest first\n{new_key()}\n\n{new_key()}\n")
    key_file.chmod(0o600)
    assert len(DataProtection.from_env({KEY_FILE_ENV: str(key_file)}).key_ids) == 2


def test_a_key_file_open_to_others_is_refused(tmp_path):
    key_file = tmp_path / "data.key"
    key_file.write_text(new_key())
    key_file.chmod(0o644)
    with pytest.raises(DataKeyError, match="chmod 600"):
        DataProtection.from_env({KEY_FILE_ENV: str(key_file)})


@pytest.mark.parametrize(
    "environ, message",
    [
        ({KEY_ENV: "not-a-key"}, "not a Fernet key"),
        ({KEY_ENV: new_key(), KEY_FILE_ENV: "/k"}, "set one of them"),
        ({KEY_FILE_ENV: "/nonexistent/data.key"}, "cannot read the key file"),
    ],
    ids=["bad-key", "both", "missing-file"],
)
def test_bad_key_configuration_is_an_error_saying_what_to_fix(environ, message):
    with pytest.raises(DataKeyError, match=message):
        DataProtection.from_env(environ)


def test_the_key_is_not_shown_in_repr():
    key = new_key()
    assert key not in repr(DataProtection([key])) and key not in DataProtection([key]).describe()


# --- records -----------------------------------------------------------------------------


def test_with_a_key_requests_and_values_are_stored_encrypted_and_read_back(home):
    protection = DataProtection([new_key()])
    registry, layout = stored(home, protection)
    revision, _ = registry.register(request(), source_file=None)
    path = layout.write_model("approval_routing", "acme-robotics-nda.r1", routing())

    body = registry.store.get(RevisionRegistry.KIND, "acme-robotics-nda", "r1")
    envelope = json.loads(body)
    assert envelope["model"] == "Revision" and "data" not in envelope and "encrypted" in envelope
    assert not any(value.encode() in body for value in (EMAIL, ADDRESS, NAME))
    assert "ApprovalRouting" in path.read_text() and '"data"' not in path.read_text()
    assert registry.get("acme-robotics-nda.r1") == revision
    assert layout.read_model("approval_routing", "acme-robotics-nda.r1", ApprovalRouting) == routing()


def test_content_hash_is_the_same_with_and_without_a_key(home, tmp_path):
    """Decisions bind to the content hash: a key must not change it."""
    plain_store = RecordStore(f"sqlite:///{tmp_path / 'plain.db'}")
    plain, _ = RevisionRegistry(plain_store, DataProtection()).register(request(), source_file=None)
    sealed, _ = registry_of(home, DataProtection([new_key()])).register(request(), source_file=None)
    assert plain.content_hash == sealed.content_hash == content_hash(request())


def test_without_the_key_an_encrypted_record_is_a_clear_error(home):
    registry, _ = stored(home, DataProtection([new_key()]))
    registry.register(request(), source_file=None)
    for other in (DataProtection(), DataProtection([new_key()])):
        with pytest.raises(DataKeyError) as info:
            registry_of(home, other).get("acme-robotics-nda.r1")
        assert KEY_ENV in str(info.value) and "acme-robotics-nda.r1" in str(info.value)


def test_plaintext_records_stay_readable_once_a_key_is_set(home):
    """A home that ran without a key keeps working when one is added (until rotate-key
    encrypts what it holds)."""
    registry_of(home, DataProtection()).register(request(), source_file=None)
    keyed = registry_of(home, DataProtection([new_key()]))
    assert keyed.get("acme-robotics-nda.r1").request == request()


# --- kept inbox files --------------------------------------------------------------------


def test_archived_and_quarantined_files_are_encrypted_with_a_key(home):
    protection = DataProtection([new_key()])
    for name, source in (("nda.yaml", NDA), ("bad.yaml", INVALID / "bad-email-and-type-mismatch.yaml")):
        (home.inbox_dir / name).write_bytes(source.read_bytes())
    kept = archive(home.inbox_dir / "nda.yaml", home.processed_dir, protection)
    rejected = quarantine(
        home.inbox_dir / "bad.yaml",
        [FieldError("counterparty.signatory.email", "not a valid email address")],
        home.quarantine_dir,
        protection,
    )
    assert kept.name == "nda.yaml.enc" and rejected.name == "bad.yaml.enc"
    assert not list(home.inbox_dir.iterdir())
    assert protection.open(kept.read_bytes(), source="t") == NDA.read_bytes()
    report = home.quarantine_dir / "bad.yaml.error.json"
    assert "counterparty.signatory.email" in report.read_text()
    assert b"not-an-email" not in report.read_bytes() and b"not-an-email" not in rejected.read_bytes()
    assert mode(kept) == mode(rejected) == mode(report) == 0o600


def test_without_a_key_kept_files_move_as_they_are_but_owner_only(home):
    target = home.inbox_dir / "nda.yaml"
    target.write_bytes(NDA.read_bytes())
    target.chmod(0o644)
    kept = archive(target, home.processed_dir, DataProtection())
    assert kept.name == "nda.yaml" and kept.read_bytes() == NDA.read_bytes() and mode(kept) == 0o600


# --- rotation ----------------------------------------------------------------------------


def test_rotation_moves_every_record_to_the_new_key(home):
    key_a, key_b = new_key(), new_key()
    with_a = DataProtection([key_a])
    registry, layout = stored(home, with_a)
    revision, _ = registry.register(request(), source_file=None)
    layout.write_model("approval_routing", revision.partition_key, routing())
    (home.inbox_dir / "nda.yaml").write_bytes(NDA.read_bytes())
    archive(home.inbox_dir / "nda.yaml", home.processed_dir, with_a)
    # Kept before any key was set: rotate-key encrypts these too.
    (home.quarantine_dir / "old.yaml").write_bytes(NDA.read_bytes())
    StorageLayout(home.storage_dir, DataProtection()).write_model("approval_routing", "old.r1", routing())

    changed, failed = rotate(home, DataProtection([key_b, key_a]))

    assert not failed and len(changed) == 5
    only_b = DataProtection([key_b])
    registry_b, layout_b = stored(home, only_b)
    assert registry_b.get(revision.partition_key) == revision
    assert layout_b.read_model("approval_routing", revision.partition_key, ApprovalRouting) == routing()
    assert only_b.open((home.processed_dir / "nda.yaml.enc").read_bytes(), source="t") == NDA.read_bytes()
    assert not (home.quarantine_dir / "old.yaml").exists()
    assert only_b.open((home.quarantine_dir / "old.yaml.enc").read_bytes(), source="t") == NDA.read_bytes()
    [record] = registry_b.store.list(RevisionRegistry.KIND)
    with pytest.raises(InvalidToken):
        Fernet(key_a).decrypt(json.loads(record.body)["encrypted"].encode())
    tokens = 1
    for root in (home.storage_dir, home.processed_dir, home.quarantine_dir):
        for path in (p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
            data = path.read_bytes()
            token = json.loads(data)["encrypted"].encode() if path.suffix == ".json" else data
            tokens += 1
            with pytest.raises(InvalidToken):
                Fernet(key_a).decrypt(token)
            assert not clear_text(path), path
    assert tokens == 5


def test_rotation_reports_a_record_no_configured_key_opens(home):
    registry, _ = stored(home, DataProtection([new_key()]))
    registry.register(request(), source_file=None)
    changed, failed = rotate(home, DataProtection([new_key()]))
    assert changed == [] and list(failed) == ["revision acme-robotics-nda.r1"]
    assert KEY_ENV in next(iter(failed.values()))


def test_rotation_needs_a_key(home):
    with pytest.raises(DataKeyError, match="no data key"):
        home.reseal(DataProtection())


# --- owner-only files ---------------------------------------------------------------------


def test_state_files_and_folders_are_owner_only(tmp_path):
    home = ContractHome(tmp_path / "home")
    home.root.mkdir(mode=0o755)
    home.ensure()
    assert mode(home.root) == 0o700
    assert {mode(p) for p in home.root.iterdir() if p.is_dir()} == {0o700}
    target = home.storage_dir / "documents" / "x.r1" / "abc" / "x.r1.pdf"
    atomic_write_bytes(target, b"%PDF-")
    assert mode(target) == 0o600
    assert mode(target.parent) == mode(target.parent.parent) == mode(target.parent.parent.parent) == 0o700


# --- what Dagster shows --------------------------------------------------------------------


def test_request_for_display_withholds_personal_fields_and_keeps_business_terms():
    data = request().model_dump(mode="json")
    data["notes"] = "call maria.gomez@acme-robotics.example first"
    shown = request_for_display(data)
    assert shown["counterparty"]["legal_name"] == "Acme Robotics LLC"
    assert shown["counterparty"]["signatory"]["title"] == "CEO"
    for value in (shown["requested_by"], shown["counterparty"]["address"]):
        assert value == WITHHELD
    assert shown["counterparty"]["signatory"]["name"] == shown["counterparty"]["signatory"]["email"] == WITHHELD
    assert shown["notes"] == "call (email withheld) first"
    assert data["counterparty"]["address"].startswith(ADDRESS)  # the input is left alone
