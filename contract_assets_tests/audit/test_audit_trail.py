"""The audit trail on a real home and instance: what the pipeline logs, and what
`contract-assets audit verify` catches, the newest entry included."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, update

from contract_assets.audit.defs.auditing import event_log_heads
from contract_assets.platform.records import audit_table
from contract_assets_tests.harness import AUTO_APPROVED_ACTIONS, INVALID, SAMPLES, cli
from contract_assets_tests.pipeline.test_pipeline import run_revision

NDA = "acme-robotics-nda.r1"


@pytest.fixture
def audited(home, ops):
    """One NDA taken to signature, one invalid file refused: the trail they leave."""
    ops.submit(SAMPLES / "01-mutual-nda.yaml")
    assert run_revision(home, ops.instance, NDA).success
    with pytest.raises(Exception):
        ops.submit(INVALID / "bad-email-and-type-mismatch.yaml")
    return ops


def test_every_action_of_a_revision_is_logged_once_in_order(audited):
    entries = list(audited.workspace.audit.entries())
    actions = [entry.action for entry in entries]

    assert actions == [
        "configuration_changed",
        "request_received",
        *AUTO_APPROVED_ACTIONS,
        "request_received",
        "input_rejected",
    ]
    assert all(entry.revision == NDA for entry in entries[2:8])
    assert entries[0].details["library"] == audited.workspace.library.content_hash
    assert entries[0].details["playbook"] == audited.workspace.playbook_hash


def test_the_head_is_witnessed_in_dagster_and_in_the_manifest(audited):
    entries = list(audited.workspace.audit.entries())
    heads = {head.seq: head.hash for head in event_log_heads(audited.instance)}
    manifest_path = audited.status_of(audited.workspace.registry.get(NDA)).package.path_of("manifest")
    manifest = json.loads(open(manifest_path).read())

    assert heads == {entry.seq: entry.hash for entry in entries}
    sealed = next(e for e in entries if e.action == "package_sealed")
    assert manifest["audit_head"] == {"seq": sealed.seq - 1, "hash": entries[sealed.seq - 2].hash}


def test_no_personal_data_in_the_trail(audited):
    exported = "\n".join(json.dumps(e.as_json()) for e in audited.workspace.audit.entries())
    request = audited.workspace.registry.get(NDA).request

    assert request.counterparty.signatory.email not in exported
    assert "not-an-email" not in exported  # the rejected file's bad value


@pytest.mark.programs
def test_audit_verify_passes_then_names_an_edited_entry(home, audited):
    assert cli("audit", "verify", home=home).returncode == 0
    with audited.workspace.audit.engine.begin() as connection:
        connection.execute(update(audit_table).where(audit_table.c.seq == 5).values(actor="mallory"))

    result = cli("audit", "verify", home=home)

    assert result.returncode == 1
    assert "entry 5:" in result.stderr


@pytest.mark.programs
def test_cutting_off_the_newest_entry_is_caught_by_dagster_even_without_the_head_file(home, audited):
    newest = list(audited.workspace.audit.entries())[-1]
    with audited.workspace.audit.engine.begin() as connection:
        connection.execute(delete(audit_table).where(audit_table.c.seq == newest.seq))
    audited.workspace.audit.head_file.unlink()

    result = cli("audit", "verify", home=home)

    assert result.returncode == 1
    assert f"entry {newest.seq}: missing" in result.stderr
    assert "Dagster's event log" in result.stderr


@pytest.mark.programs
def test_audit_export_writes_json_lines(home, audited, tmp_path):
    out = tmp_path / "audit.jsonl"

    assert cli("audit", "export", "--out", str(out), home=home).returncode == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert len(lines) == len(list(audited.workspace.audit.entries()))
