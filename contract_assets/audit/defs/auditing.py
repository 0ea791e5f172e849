"""The audit trail in Dagster: each new head observed in the event log, steps that log once.

The chain itself is `domain.audit`; this module gives it witnesses Dagster keeps (an
observation of the `audit_trail` asset per entry, and the head in every signature
manifest) and the idempotency keys that keep a resumed step from logging twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
    AssetSpec,
    DagsterEventType,
    DagsterInstance,
    EventLogEntry,
)

from contract_assets.audit.trail import AuditEntry, AuditHead, AuditReport, AuditTrail
from contract_assets.platform.defs.resources import Workspace

AUDIT_TRAIL = AssetKey("audit_trail")
PIPELINE_ACTOR = "pipeline"

audit_trail_spec = AssetSpec(
    AUDIT_TRAIL,
    group_name="audit",
    kinds={"sql"},
    description="The hash-chained audit trail (contract_assets_audit table). Each entry's "
    "sequence number and hash is observed here, so cutting entries off the table is "
    "detected by `contract-assets audit verify`.",
)


def instance_witness(instance: DagsterInstance) -> Callable[[AuditEntry], None]:
    """Record each new head in Dagster's event log as an observation of `audit_trail`."""

    def witness(entry: AuditEntry) -> None:
        instance.report_runless_asset_event(
            AssetObservation(
                asset_key=AUDIT_TRAIL,
                metadata={
                    "seq": entry.seq,
                    "hash": entry.hash,
                    "action": entry.action,
                    "revision": entry.revision or "",
                },
            )
        )

    return witness


def trail_for(workspace: Workspace, instance: DagsterInstance) -> AuditTrail:
    """The workspace's trail, witnessed by `instance`'s event log."""
    return AuditTrail(workspace.audit.url, workspace.audit.head_file, witness=instance_witness(instance))


def audit_step(
    context: AssetExecutionContext,
    workspace: Workspace,
    action: str,
    details: dict[str, Any],
) -> dict[str, Any]:
    """Log what this asset step did, once however often the step is retried or resumed.

    The key names the materialization this step adds to: the partition's latest one whose
    step finished. A step retried after its output was stored (the process killed between
    storing it and recording the step's success, which Dagster then runs again) finds its
    entry, while a deliberate re-materialization later is a new action and a new entry.
    Returns the metadata that puts the entry on the materialization.
    """
    after = _latest_finished_materialization(context)
    entry = trail_for(workspace, context.instance).append(
        action,
        key=f"{action}:{context.partition_key}:after:{after}",
        actor=PIPELINE_ACTOR,
        revision=context.partition_key,
        details={**details, "run_id": context.run.run_id},
    )
    return {"audit_seq": entry.seq, "audit_hash": entry.hash}


def _latest_finished_materialization(context: AssetExecutionContext) -> int:
    """The storage id of the partition's newest materialization whose step recorded its
    success (0: none). Newer ones are this step's own earlier attempts, cut off after
    storing their output."""
    instance = context.instance
    records_filter = AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=[context.partition_key])
    cursor = None
    while True:
        page = instance.fetch_materializations(records_filter, limit=20, cursor=cursor)
        for record in page.records:
            if _step_finished(instance, record.event_log_entry):
                return record.storage_id
        if not page.has_more:
            return 0
        cursor = page.cursor


def _step_finished(instance: DagsterInstance, entry: EventLogEntry) -> bool:
    if not entry.run_id or not entry.step_key:  # reported outside a run's steps
        return True
    successes = instance.all_logs(entry.run_id, of_type=DagsterEventType.STEP_SUCCESS)
    return any(success.step_key == entry.step_key for success in successes)


def event_log_heads(instance: DagsterInstance) -> Iterator[AuditHead]:
    """Every head Dagster's event log saw, newest first."""
    cursor = None
    while True:
        result = instance.fetch_observations(AssetRecordsFilter(asset_key=AUDIT_TRAIL), limit=1000, cursor=cursor)
        for record in result.records:
            metadata = record.asset_observation.metadata
            if "seq" in metadata and "hash" in metadata:
                yield AuditHead(
                    int(metadata["seq"].value),
                    str(metadata["hash"].value),
                    witness=f"Dagster's event log (event {record.storage_id})",
                )
        if not result.has_more:
            return
        cursor = result.cursor


def manifest_heads(workspace: Workspace) -> Iterator[AuditHead]:
    """The head recorded in every signature manifest issued."""
    documents = workspace.layout.base_dir / "documents"
    for manifest in sorted(documents.rglob("*.manifest.json")):
        head = json.loads(manifest.read_bytes()).get("audit_head")
        if head:
            yield AuditHead(int(head["seq"]), str(head["hash"]), witness=str(manifest))


def verify_audit(workspace: Workspace, instance: DagsterInstance) -> AuditReport:
    """The chain checked against its head file, Dagster's event log and every manifest."""
    return workspace.audit.verify([*event_log_heads(instance), *manifest_heads(workspace)])
