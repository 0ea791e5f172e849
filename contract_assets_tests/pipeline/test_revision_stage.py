"""Where each revision stands (issue 9, items 4 and 5): the `revision_stage` observation
read back from the instance, per-role approvals in `status`, the stop reason in the run's
log, and a first revision's redline stored as not applicable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    build_run_status_sensor_context,
)

from contract_assets.cli.revisions import status as show_status
from contract_assets.definitions import build_definitions
from contract_assets.approvals.approvals import Approver, DecisionPayload, sign_decision
from contract_assets.platform.models import NotApplicable
from contract_assets.documents.redline import Redline
from contract_assets.platform.serialization import StoredTypeMismatch
from contract_assets.approvals.signing import read_private_key, read_public_key, write_keypair
from contract_assets.drafting.assembly import AssemblyError
from contract_assets.drafting.defs import assets as draft_module  # where drafts are assembled
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.pipeline.defs.revision_stage import REVISION_STAGE, latest_stage
from contract_assets.pipeline.defs.sensors import stage_after_success
from contract_assets_tests.harness import SAMPLES
from contract_assets_tests.pipeline.test_pipeline import run_revision

NDA, NDA_LEGAL = "acme-robotics-nda.r1", "kestrel-bio-nda.r1"
MSA_R1, MSA_R2, SOW = "blue-fjord-msa.r1", "blue-fjord-msa.r2", "blue-fjord-sow-1.r1"


def run_console(home, ops, *samples: str) -> None:
    """Submit each sample and run it as `contract-assets run` does."""
    job = build_definitions(home).resolve_job_def("contract_pipeline")

    def execute(key: str, steps: list[str]) -> bool:
        return job.execute_in_process(
            instance=ops.instance,
            partition_key=key,
            asset_selection=[AssetKey(step) for step in steps],
            raise_on_error=False,
        ).success

    for sample in samples:
        ops.submit(SAMPLES / sample)
        ops.run(execute, progress=lambda status: None)


def observed(instance: DagsterInstance, key: str) -> dict:
    """The latest `revision_stage` observation of `key`, as plain values; the UI's partition
    panel shows the latest materialization of it, which must say the same."""
    record = latest_stage(instance, key)
    assert record is not None, f"no revision_stage observation of {key}"
    values = {name: entry.value for name, entry in record.asset_observation.metadata.items()}
    shown = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=REVISION_STAGE, asset_partitions=[key]), limit=1
    ).records[0]
    assert shown.timestamp >= record.timestamp
    assert {n: e.value for n, e in shown.asset_materialization.metadata.items()} == values
    return values


def observation_count(instance: DagsterInstance, key: str) -> int:
    return len(
        instance.fetch_observations(
            AssetRecordsFilter(asset_key=REVISION_STAGE, asset_partitions=[key]), limit=100
        ).records
    )


def approve_as(ops, tmp_path: Path, key: str, name: str, role: str, comment: str | None = None) -> None:
    """Register `name` as an approver for `role` and record their signed approval of `key`."""
    private = tmp_path / f"{name}.key"
    public = write_keypair(private)
    ops.workspace.approvers.add(
        Approver(name=name, email=f"{name}@orbital.example", roles=[role], public_key=read_public_key(public))
    )
    revision = ops.workspace.registry.get(key)
    payload = DecisionPayload(
        partition_key=key,
        content_hash=revision.content_hash,
        role=role,
        approver=name,
        decision="approve",
        signed_at=datetime.now(UTC),
        comment=comment,
    )
    counted, reason, _ = ops.record_decision(sign_decision(payload, read_private_key(private)))
    assert counted, reason


def test_a_revision_awaiting_legal_is_observed_with_legal_to_act(home, ops):
    run_console(home, ops, "04-one-way-nda-long.yaml")

    stage = observed(ops.instance, NDA_LEGAL)
    assert stage["stage"] == "awaiting_approval"
    assert stage["waiting_for"] == "legal"
    assert stage["reason"] == "waiting for legal (tier 1)"
    assert "| legal | 1 | open |" in stage["approvals"]
    assert stage["since"] > 0 and stage["last_run"]


def test_a_partial_approval_shows_who_approved_and_what_is_open(home, ops, tmp_path, capsys):
    run_console(home, ops, "02-msa-high-value.yaml", "05-msa-revision-2.yaml")
    before = observed(ops.instance, MSA_R2)
    assert before["waiting_for"] == "finance, legal"

    approve_as(ops, tmp_path, MSA_R2, "fin", "finance", comment="Within the budget, see fin@orbital.example")

    stage = observed(ops.instance, MSA_R2)
    assert stage["stage"] == "awaiting_approval"
    assert stage["waiting_for"] == "legal"
    assert stage["reason"] == "waiting for legal (tier 1); finance approved by fin"
    assert "| finance | 1 | approved | fin |" in stage["approvals"]
    assert "Within the budget" in stage["approvals"]
    assert "orbital.example" not in stage["approvals"]  # no email in Dagster's event log
    assert "| legal | 1 | open |" in stage["approvals"]
    assert stage["since"] == before["since"]  # still the same stage

    row = next(r for r in (s.as_json() for s in ops.statuses("blue-fjord-msa")) if r["partition_key"] == MSA_R2)
    assert row["approval"] is None  # no final record yet
    assert [(a["role"], a["tier"], a["state"], a["approver"]) for a in row["approvals"]] == [
        ("finance", 1, "approved", "fin"),
        ("legal", 1, "open", None),
    ]
    assert row["approvals"][0]["decided_at"] and row["approvals"][0]["comment"].startswith("Within the budget")
    assert row["waiting_for"] == "legal"

    show_status(ops, "blue-fjord-msa", as_json=False)
    table = capsys.readouterr().out
    assert "finance ✓ fin, legal open" in table
    assert "finance: approved by fin" in table
    assert "superseded" in table and "finance superseded" in table  # r1: nobody decides it now


def test_a_blocked_sow_is_observed_naming_its_msa(home, ops):
    run_console(home, ops, "02-msa-high-value.yaml", "03-sow-under-msa.yaml")

    stage = observed(ops.instance, SOW)
    assert stage["stage"] == "blocked"
    assert "blue-fjord-msa" in stage["reason"]
    assert stage["waiting_for"] == "approvers of blue-fjord-msa"


def test_a_revision_ready_for_signature_says_why_its_executed_copy_is_missing(home, ops):
    run_console(home, ops, "01-mutual-nda.yaml")

    stage = observed(ops.instance, NDA)
    assert stage["stage"] == "ready_for_signature"
    assert stage["waiting_for"] == "signatories"
    assert f"executed/{NDA}.pdf" in stage["reason"]
    assert NDA not in ops.instance.get_materialized_partitions(AssetKey("executed_copy"))


def test_a_failed_run_is_observed_with_its_error(home, ops, monkeypatch):
    def broken(workspace, revision, *, partition_key=None):
        raise AssemblyError("clause termination: undefined variable 'notice_days'")

    monkeypatch.setattr(draft_module, "assemble_revision", broken)
    run_console(home, ops, "01-mutual-nda.yaml")

    stage = observed(ops.instance, NDA)
    assert stage["stage"] == "failed"
    assert stage["reason"].startswith("failed: ") and "undefined variable 'notice_days'" in stage["reason"]
    assert stage["waiting_for"] == "operator"


def test_the_stage_is_observed_once_per_change(home, ops):
    run_console(home, ops, "04-one-way-nda-long.yaml")
    count = observation_count(ops.instance, NDA_LEGAL)

    ops.record_stages("kestrel-bio-nda")
    run_console(home, ops, "04-one-way-nda-long.yaml")  # the same request again: nothing moves

    assert observation_count(ops.instance, NDA_LEGAL) == count


def test_a_daemon_run_is_observed_by_the_run_status_sensor(home, ops):
    ops.submit(SAMPLES / "04-one-way-nda-long.yaml")
    result = run_revision(home, ops.instance, NDA_LEGAL)  # a run nobody observes by itself
    assert observed(ops.instance, NDA_LEGAL)["stage"] == "received"

    success = next(
        record.dagster_event
        for record in ops.instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_SUCCESS)
    )
    context = build_run_status_sensor_context(
        sensor_name="stage_after_success",
        dagster_event=success,
        dagster_instance=ops.instance,
        dagster_run=ops.instance.get_run_by_id(result.run_id),
    )
    stage_after_success(context, contracts=ContractWorkspace(home=str(home.root)))

    assert observed(ops.instance, NDA_LEGAL)["stage"] == "awaiting_approval"


@pytest.mark.parametrize(
    "samples, key, line",
    [
        (["04-one-way-nda-long.yaml"], NDA_LEGAL, "stopped: awaiting approval from legal (tier 1)"),
        (
            ["02-msa-high-value.yaml", "03-sow-under-msa.yaml"],
            SOW,
            "stopped: blocked: parent msa 'blue-fjord-msa' has no approved revision",
        ),
    ],
)
def test_a_run_that_stops_says_why_in_its_log(home, ops, samples, key, line):
    for sample in samples:
        ops.submit(SAMPLES / sample)
    result = run_revision(home, ops.instance, key)

    assert result.success  # Dagster's run is green: its log says why it stopped
    messages = [record.user_message for record in ops.instance.all_logs(result.run_id)]
    assert line in messages


def test_a_first_revisions_redline_is_stored_as_not_applicable(home, ops):
    run_console(home, ops, "02-msa-high-value.yaml", "05-msa-revision-2.yaml")

    by_partition = {
        r.partition_key: r.asset_materialization.metadata
        for r in ops.instance.fetch_materializations(AssetKey("contract_redline"), limit=10).records
    }
    assert set(by_partition) == {MSA_R1, MSA_R2}
    assert by_partition[MSA_R1]["applies"].value is False
    assert "first revision" in by_partition[MSA_R1]["reason"].value
    assert by_partition[MSA_R2]["applies"].value is True

    layout = ops.workspace.layout
    assert isinstance(layout.read_model("contract_redline", MSA_R1, NotApplicable), NotApplicable)
    with pytest.raises(StoredTypeMismatch, match="holds a NotApplicable, but a Redline"):
        layout.read_model("contract_redline", MSA_R1, Redline)  # no reader takes it for a redline
    assert not any("redline" in path.name for path in layout.documents_dir(MSA_R1).rglob("*"))

    rows = {r["partition_key"]: r for r in (s.as_json() for s in ops.statuses())}
    assert "redline" not in rows[MSA_R1]
    assert Path(rows[MSA_R2]["redline"]).is_file()


def test_status_of_an_unknown_contract_says_so(home, ops, capsys):
    assert show_status(ops, "no-such-contract", as_json=False) == 0
    assert "no revisions registered for no-such-contract" in capsys.readouterr().out
