"""Issue 5, item 3 acceptance: with a data key set, no file under the home other than the
rendered documents and the signature package holds a signatory's email, name or address,
or a requester's email, in clear; nor does Dagster's database (SQLite or PostgreSQL).

One home goes the whole way: requests through the inbox (one rejected), the rest submitted,
approvals signed (one refused through the record_approval job), an SOW unblocked, the
register built, a countersigned copy dropped and taken. The last test rotates the key.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from dagster import AssetKey, DagsterEventType, DagsterRunStatus
from dagster._daemon.types import DaemonHeartbeat

from contract_assets.definitions import build_definitions
from contract_assets.approvals.approvals import Approver
from contract_assets.drafting.clause_library import load_entities
from contract_assets.platform.home import DATABASE_ENV
from contract_assets.platform.protection import KEY_ENV, new_key
from contract_assets.intake.requests import parse_request
from contract_assets.approvals.signing import read_private_key, read_public_key, write_keypair
from contract_assets.intake.revisions import RevisionRegistry
from contract_assets.platform.defs.resources import SHIPPED_LIBRARY, Workspace
from contract_assets.documents.defs.sensors import executed_sensor
from contract_assets.intake.defs.sensors import inbox_sensor
from contract_assets_tests.harness import (
    INVALID,
    SAMPLE_FILES,
    SAMPLES,
    cli,
    contract_home,
    operations_for,
    record_approval,
    signed_decision,
)
from contract_assets_tests.approvals.test_approval_flow import run_all
from contract_assets_tests.intake.test_sensors import tick

pytestmark = pytest.mark.slow

BAD = INVALID / "bad-email-and-type-mismatch.yaml"
NDA = "acme-robotics-nda.r1"
RECORDS = ("storage/values", "processed", "quarantine")


def personal_values() -> tuple[set[str], set[str]]:
    """(signatories' emails, names and addresses; requesters' emails) of every sample, and
    of our own entities' signatories."""
    signatories, requesters = set(), set()
    for path in [*SAMPLE_FILES, BAD]:
        raw = parse_request(path.read_bytes(), filename=path.name)
        party = raw["counterparty"]
        signatories |= {party["address"], party["signatory"]["name"], party["signatory"]["email"]}
        requesters.add(raw["requested_by"])
    for entity in load_entities(SHIPPED_LIBRARY / "entities.yaml").values():
        signatories |= {entity.address, entity.signatory.name, entity.signatory.email}
    return signatories, requesters


SIGNATORIES, REQUESTERS = personal_values()


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory):
    """A home that ran every sample with a data key set: (home, ops, key)."""
    monkeypatch = pytest.MonkeyPatch()
    key = new_key()
    monkeypatch.setenv(KEY_ENV, key)
    root = tmp_path_factory.mktemp("at-rest")
    with contract_home(root / "home", monkeypatch) as home, operations_for(home) as ops:
        keys = {}
        # "sam" is the blue-fjord requester: their decision is refused (own request).
        people = {"fin": "finance", "lex": "legal", "sam": "finance"}
        for name, role in people.items():
            keys[name] = root / "keys" / f"{name}.key"
            public = write_keypair(keys[name])
            email = "sam.okafor@orbital.example" if name == "sam" else f"{name}@orbital.example"
            ops.workspace.approvers.add(
                Approver(name=name, email=email, roles=[role], public_key=read_public_key(public))
            )

        # Through the inbox: the NDA is registered and archived, the bad file quarantined.
        for source in (SAMPLES / "01-mutual-nda.yaml", BAD):
            (home.inbox_dir / source.name).write_bytes(source.read_bytes())
        first = tick(inbox_sensor, home, ops.instance)
        tick(inbox_sensor, home, ops.instance, first.cursor)
        for path in SAMPLE_FILES[1:]:
            ops.submit(path)
        run_all(home, ops)

        # Approvals: one refused through the UI's job, then the ones that count.
        job = build_definitions(home).resolve_job_def("record_approval")
        refused = signed_decision(ops, "blue-fjord-msa.r2", "sam", "finance", read_private_key(keys["sam"]))
        config = {**refused.payload.model_dump(mode="json"), "signature": refused.signature}
        outcome = job.execute_in_process(
            run_config={"ops": {"record_signed_decision": {"config": config}}},
            instance=ops.instance,
            raise_on_error=False,
        )
        assert not outcome.success
        for approver, role, revision in (
            ("lex", "legal", "kestrel-bio-nda.r1"),
            ("fin", "finance", "blue-fjord-msa.r2"),
            ("lex", "legal", "blue-fjord-msa.r2"),
        ):
            record_approval(ops, revision, approver, role, read_private_key(keys[approver]))
        run_all(home, ops)
        build_definitions(home).resolve_job_def("contract_register_job").execute_in_process(
            instance=ops.instance
        )

        # A countersigned copy comes back (it holds the parties in clear, like the PDF).
        status = ops.status_of(ops.workspace.registry.get(NDA))
        (home.executed_dir / f"{NDA}.pdf").write_bytes(Path(status.documents.path_of("pdf")).read_bytes())
        executed = build_definitions(home).resolve_job_def("executed_copy_job")
        assert executed.execute_in_process(instance=ops.instance, partition_key=NDA).success
        tick(executed_sensor, home, ops.instance)

        yield home, ops, key
    monkeypatch.undo()


def stages(ops) -> dict[str, str]:
    return {s.revision.partition_key: s.stage.value for s in ops.statuses()}


def clear_values(data: bytes, values: set[str]) -> set[str]:
    return {value for value in values if value.encode() in data}


def outside_documents(home) -> list[Path]:
    documents = home.storage_dir / "documents"
    return [p for p in home.root.rglob("*") if p.is_file() and documents not in p.parents]


def database_text() -> bytes:
    """Every row of every table of the PostgreSQL database, as text ("" on SQLite, whose
    database files are under the home)."""
    url = os.environ.get(DATABASE_ENV)
    if not url:
        return b""
    import psycopg2
    from psycopg2 import sql

    rows = []
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        for (table,) in cursor.fetchall():
            cursor.execute(sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table)))
            rows += [row[0] for row in cursor.fetchall()]
    return "\n".join(rows).encode()


def test_the_whole_way_was_gone(encrypted):
    home, ops, _ = encrypted
    assert stages(ops) == {
        "acme-robotics-nda.r1": "executed",
        "blue-fjord-msa.r1": "superseded",
        "blue-fjord-msa.r2": "ready_for_signature",
        "blue-fjord-sow-1.r1": "ready_for_signature",
        "kestrel-bio-nda.r1": "ready_for_signature",
    }
    assert sorted(p.name for p in home.processed_dir.iterdir()) == [
        "01-mutual-nda.yaml.enc",
        f"{NDA}.pdf.enc",
    ]
    assert sorted(p.name for p in home.quarantine_dir.iterdir()) == [
        f"{BAD.name}.enc",
        f"{BAD.name}.error.json",
    ]


def test_no_file_outside_the_documents_holds_personal_data_in_clear(encrypted):
    home, _, _ = encrypted
    approvers = home.config_dir / "approvers.yaml"  # staff directory: approvers' own emails
    found = {}
    for path in outside_documents(home):
        data = path.read_bytes()
        leaked = clear_values(data, SIGNATORIES) | (
            set() if path == approvers else clear_values(data, REQUESTERS)
        )
        if leaked:
            found[str(path.relative_to(home.root))] = sorted(leaked)
    assert found == {}
    database = database_text()
    assert clear_values(database, SIGNATORIES | REQUESTERS) == set()
    # On PostgreSQL the rows were read: the request's metadata is there, withheld fields too.
    assert not os.environ.get(DATABASE_ENV) or b"withheld: personal data" in database
    assert len(outside_documents(home)) > 30  # the walk saw the home, Dagster's files included


def test_the_scan_would_see_the_values_where_they_belong(encrypted):
    """The documents and the signature package keep them: the search finds clear text."""
    _, ops, _ = encrypted
    package = ops.status_of(ops.workspace.registry.get(NDA)).package
    manifest = Path(package.path_of("manifest")).read_bytes()
    assert clear_values(manifest, SIGNATORIES) >= {"maria.gomez@acme-robotics.example", "Maria Gomez"}


def test_state_files_are_owner_only(encrypted):
    home, _, _ = encrypted
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o700
    dagster = home.dagster_home
    for path in home.root.rglob("*"):
        if dagster in path.parents:
            continue  # Dagster's own files: private by the 0700 folder (the CLI sets umask 077)
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_without_the_key_the_console_names_the_missing_key(encrypted):
    home, _, _ = encrypted
    result = cli("status", home=home, extra_env={KEY_ENV: ""})
    assert result.returncode == 2
    assert KEY_ENV in result.stderr and "is encrypted" in result.stderr
    assert "Traceback" not in result.stderr
    keyed = cli("status", home=home)
    assert keyed.returncode == 0 and "data encryption: on" in keyed.stdout


def test_decrypt_prints_a_record_and_a_kept_file_in_plaintext(encrypted):
    home, _, _ = encrypted
    record = cli("decrypt", "acme-robotics-nda.r1", home=home)
    assert record.returncode == 0, record.stderr
    envelope = json.loads(record.stdout)
    assert envelope["model"] == "Revision"
    assert envelope["data"]["request"]["counterparty"]["signatory"]["email"] == "maria.gomez@acme-robotics.example"
    kept = cli("decrypt", str(home.processed_dir / "01-mutual-nda.yaml.enc"), home=home)
    assert kept.stdout == (SAMPLES / "01-mutual-nda.yaml").read_text()


def test_a_run_without_the_key_fails_once_naming_the_key(encrypted, monkeypatch):
    home, ops, _ = encrypted
    monkeypatch.setenv(KEY_ENV, "")
    job = build_definitions(home).resolve_job_def("contract_pipeline")

    result = job.execute_in_process(
        instance=ops.instance,
        partition_key="kestrel-bio-nda.r1",
        asset_selection=[AssetKey("risk_assessment")],
        raise_on_error=False,
    )

    assert not result.success
    assert not [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    (failure,) = result.get_step_failure_events()
    assert "is encrypted and no data key is configured" in failure.step_failure_data.error.to_string()
    assert KEY_ENV in failure.step_failure_data.error.to_string()


def test_rotate_key_is_refused_while_the_daemon_or_a_run_may_write(encrypted):
    """A process started with the old key list would write under the key about to go."""
    home, ops, old = encrypted
    new = new_key()
    before = {p: p.read_bytes() for p in (home.root / "storage").rglob("*") if p.is_file()}
    beat = DaemonHeartbeat(timestamp=time.time(), daemon_type="SENSOR", daemon_id="d", errors=[])
    ops.instance.add_daemon_heartbeat(beat)

    refused = cli("rotate-key", home=home, extra_env={KEY_ENV: f"{new},{old}"})

    assert refused.returncode == 1
    assert "daemon is running" in refused.stderr and "nothing was re-encrypted" in refused.stderr
    assert {p: p.read_bytes() for p in (home.root / "storage").rglob("*") if p.is_file()} == before

    ops.instance.add_daemon_heartbeat(beat._replace(timestamp=time.time() - 600))  # stopped
    job = build_definitions(home).resolve_job_def("contract_pipeline")
    going = ops.instance.create_run_for_job(
        job_def=job, tags={"dagster/partition": "kestrel-bio-nda.r1"}, status=DagsterRunStatus.STARTED
    )
    refused = cli("rotate-key", home=home, extra_env={KEY_ENV: f"{new},{old}"})
    assert refused.returncode == 1
    assert "runs are going for kestrel-bio-nda.r1" in refused.stderr
    ops.instance.delete_run(going.run_id)


# Last: it changes the home's key.
def test_rotate_key_moves_every_record_to_the_new_key(encrypted):
    home, ops, old = encrypted
    before = stages(ops)
    new = new_key()

    rotated = cli("rotate-key", home=home, extra_env={KEY_ENV: f"{new},{old}"})

    assert rotated.returncode == 0, rotated.stderr
    only_new = cli("status", "--json", home=home, extra_env={KEY_ENV: new})
    assert only_new.returncode == 0, only_new.stderr
    assert {row["partition_key"]: row["stage"] for row in json.loads(only_new.stdout)} == before
    tokens = 0
    for root in RECORDS:
        for path in (p for p in (home.root / root).rglob("*") if p.is_file()):
            if path.name.startswith(".") or path.name.endswith((".error.json", ".parquet")):
                continue  # error reports name fields only; the register holds no personal data
            data = path.read_bytes()
            token = json.loads(data)["encrypted"].encode() if path.suffix == ".json" else data
            Fernet(new).decrypt(token)
            with pytest.raises(InvalidToken):
                Fernet(old).decrypt(token)
            tokens += 1
    for record in Workspace(home).records.list(RevisionRegistry.KIND):
        token = json.loads(record.body)["encrypted"].encode()
        Fernet(new).decrypt(token)
        with pytest.raises(InvalidToken):
            Fernet(old).decrypt(token)
        tokens += 1
    assert tokens > 40
