"""Periodic work: the register, renewal reminders and the approval SLA; and alerts: approval
requests and failed runs."""

import json

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    job,
    op,
    sensor,
)

from contract_assets.approvals.reminders import (
    PendingRevision,
    approval_request_alerts,
    requester_notices,
    sla_alerts,
)
from contract_assets.intake.revisions import parse_partition_key
from contract_assets.pipeline.defs.revision_stage import record_stages
from contract_assets.pipeline.defs.revision_state import RevisionState
from contract_assets.platform.defs.clock import Clock
from contract_assets.platform.defs.notifier import AlertNotifier
from contract_assets.platform.defs.resources import ContractWorkspace


@op
def enforce_approval_sla(
    context: OpExecutionContext, contracts: ContractWorkspace, notifier: AlertNotifier, clock: Clock
) -> None:
    """Escalate revisions pending past the SLA (once each); expire those pending 7 days."""
    workspace = contracts.workspace()
    state = RevisionState(workspace, context.instance)
    pending = [
        PendingRevision(
            partition_key=status.revision.partition_key,
            contract_id=status.revision.contract_id,
            awaiting_since=since,
            required_roles=[a.role for a in status.routing.required_approvals],
        )
        for status, since in state.awaiting_approval()
    ]
    now = clock.now()
    alerts, expired = sla_alerts(pending, now)
    for key in expired:
        workspace.decisions.expire(key, now)
        record_stages(state, parse_partition_key(key)[0])  # revision_stage shows it expired
        context.log.info(f"{key} expired: no decision within 7 days")
    context.log.info(f"{notifier.send_all(alerts, context.log.warning)} SLA alert(s) sent, {len(expired)} expired")


@job(description="Escalate and expire revisions waiting too long for approval.")
def approval_sla_job() -> None:
    enforce_approval_sla()


approval_sla = ScheduleDefinition(
    name="approval_sla",
    job=approval_sla_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Asks each approver who may decide an open tier, once per person and tier, "
    "by their own email; tells each requester the outcome of their revision, once per "
    "outcome (approved, rejected, changes requested, ready for signature).",
)
def approval_request_sensor(
    context: SensorEvaluationContext, contracts: ContractWorkspace, notifier: AlertNotifier, clock: Clock
) -> SkipReason:
    """Approval requests to the people who may decide now (an approver added later is asked
    on the next tick), and outcome notices to the requester (never to the shared channels).

    Nothing personal is written to the tick's log: counts only. On its first tick (no
    cursor) the sensor tells no requester about outcomes reached before it ran: a deployment
    that upgrades does not mail every past requester at once.
    """
    state = RevisionState(contracts.workspace(), context.instance)
    ledger = notifier.ledger()
    already = ledger.sent_ids()
    now = clock.now()
    notices = requester_notices(state.requester_outcomes(already), now)
    if context.cursor is None:
        ledger.skip(notice.alert_id for notice in notices if notice.alert_id not in already)
        notices = []
        context.update_cursor(json.dumps({"outcomes_told_from": now.isoformat()}))
    open_tiers = state.open_tiers()
    requests = approval_request_alerts(open_tiers, now)
    # Read before write: a tick with nothing new takes no write lock.
    asked = notifier.send_all([a for a in requests if a.alert_id not in already], context.log.warning)
    told = notifier.send_all([n for n in notices if n.alert_id not in already], context.log.warning)
    # Sending is the work: the sensor starts no run.
    return SkipReason(
        f"{asked} approval request(s) and {told} outcome notice(s) sent; {len(open_tiers)} tier(s) open"
    )
