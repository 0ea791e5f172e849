"""Where each revision stands, in the Dagster UI: one observation of `revision_stage` per
revision each time its stage, its reason or who must act changes.

Partition dots say only "materialized" or "missing", and a run that stops at an approval is
green; this asset says the rest. No run computes it (like `audit_trail`): the console, the
decision recorder and the run-status sensors report it from outside runs, each change as an
observation and, with the same metadata, a reported materialization, because the UI's
partition panel shows a materialization's metadata only. Read it in the UI under
Assets > revision_stage > Partitions, one revision at a time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    AssetRecordsFilter,
    AssetSpec,
    DagsterInstance,
    EventLogRecord,
    MetadataValue,
)

from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.pipeline.stages import StageReport
from contract_assets.platform.markdown import literal
from contract_assets.platform.protection import without_emails

if TYPE_CHECKING:
    from contract_assets.pipeline.defs.revision_state import RevisionState
    from contract_assets.pipeline.defs.revision_status import RevisionStatus

REVISION_STAGE = AssetKey("revision_stage")
# The values that make a new observation; `since` and the last run do not.
COMPARED = ("stage", "reason", "waiting_for", "approvals")

revision_stage_spec = AssetSpec(
    REVISION_STAGE,
    group_name="stages",
    partitions_def=revision_partitions,
    description="Where each revision stands: open a revision under Partitions to read its "
    "stage, the reason, who must act (waiting_for) and since when, and each required "
    "approval (who decided what, when, with the comment, and what is still open). "
    "Reported from outside runs on each change; a partition dot here means only that a "
    "stage was recorded.",
)


def stage_metadata(report: StageReport, approvals_text: str) -> dict[str, Any]:
    """The observation's compared values (without `since`)."""
    return {
        "stage": report.stage.value,
        "reason": report.reason,
        "waiting_for": report.waiting_for,
        "approvals": MetadataValue.md(approvals_text),
    }


def approvals_table(status: RevisionStatus) -> str:
    """The per-role approvals as a Markdown table (approvers by configured name only)."""
    if status.routing is None:
        return "Not routed yet: the risk assessment decides who must approve."
    if not status.routing.required_approvals:
        return f"None needed: approved automatically by playbook {literal(status.routing.playbook_version)}."
    rows = [
        "| role | tier | decision | by | when | comment |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for approval in status.approvals:
        when = approval.decided_at.strftime("%Y-%m-%d %H:%M UTC") if approval.decided_at else ""
        comment = literal(without_emails(approval.comment)) if approval.comment else ""
        rows.append(
            f"| {literal(approval.role)} | {approval.tier} | {literal(approval.state)} | "
            f"{literal(approval.approver or '')} | {when} | {comment} |"
        )
    return "\n".join(rows)


def latest_stage(instance: DagsterInstance, partition_key: str) -> EventLogRecord | None:
    """The newest observation of one revision's stage (one indexed query, not a scan)."""
    records = instance.fetch_observations(
        AssetRecordsFilter(asset_key=REVISION_STAGE, asset_partitions=[partition_key]), limit=1
    ).records
    return records[0] if records else None


def record_stage(instance: DagsterInstance, status: RevisionStatus) -> bool:
    """Observe `status`'s stage when it differs from the revision's latest observation;
    True when an observation was recorded. `since` carries over while the stage stays."""
    key = status.revision.partition_key
    report = status.stage_report
    metadata = stage_metadata(report, approvals_table(status))
    latest = latest_stage(instance, key)
    before = latest.asset_observation.metadata if latest else {}
    if before and all(_value(before.get(name)) == _value(metadata[name]) for name in COMPARED):
        return False
    same_stage = _value(before.get("stage")) == report.stage.value
    since = before["since"].value if same_stage and "since" in before else time.time()
    metadata["since"] = MetadataValue.timestamp(since)
    if status.last_run_id:
        metadata["last_run"] = MetadataValue.dagster_run(status.last_run_id)
    instance.report_runless_asset_event(
        AssetObservation(asset_key=REVISION_STAGE, partition=key, metadata=metadata)
    )
    # The same values as a reported materialization, after the observation: the UI's
    # partition panel shows only the latest materialization's metadata (and observations
    # newer than it), never an observation alone.
    instance.report_runless_asset_event(
        AssetMaterialization(asset_key=REVISION_STAGE, partition=key, metadata=metadata)
    )
    return True


def record_stages(state: RevisionState, contract_id: str) -> list[RevisionStatus]:
    """Observe the stage of each revision of a contract that moved, on the state's instance;
    returns their statuses. Costs the contract's revisions, not the register."""
    statuses = state.statuses(contract_id)
    for status in statuses:
        record_stage(state.instance, status)
    return statuses


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)
