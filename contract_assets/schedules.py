"""Periodic work: the register, renewal reminders and the approval SLA; and alerts: approval
requests and failed runs."""

from datetime import UTC, datetime

import pandas as pd
from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    RunFailureSensorContext,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    job,
    op,
    run_failure_sensor,
    sensor,
)

from contract_assets.auditing import trail_for
from contract_assets.domain.reminders import (
    PendingRevision,
    approval_request_alerts,
    renewal_alerts,
    run_failure_alert,
    sla_alerts,
)
from contract_assets.jobs import register_job
from contract_assets.notifier import AlertNotifier
from contract_assets.operations import ContractOperations
from contract_assets.resources import ContractWorkspace


def _send(context: OpExecutionContext | SensorEvaluationContext, notifier: AlertNotifier, alerts) -> int:
    """Send each alert once; a failed delivery is logged (the alert is in the home's log)."""
    return notifier.send_all(alerts, context.log.warning)


@op
def send_renewal_reminders(
    context: OpExecutionContext, contracts: ContractWorkspace, notifier: AlertNotifier
) -> None:
    """One alert per contract whose renewal notice date comes within 30 days (not one a day)."""
    layout = contracts.workspace().layout
    path = layout.value_path("contract_register", None, suffix=".parquet")
    if not path.exists():
        context.log.info("no register yet: nothing to remind")
        return
    alerts = renewal_alerts(pd.read_parquet(path), datetime.now(UTC).date())
    context.log.info(f"{_send(context, notifier, alerts)} renewal alert(s) sent of {len(alerts)} due")


@op
def enforce_approval_sla(
    context: OpExecutionContext, contracts: ContractWorkspace, notifier: AlertNotifier
) -> None:
    """Escalate revisions pending past the SLA (once each); expire those pending 7 days."""
    workspace = contracts.workspace()
    operations = ContractOperations(workspace, context.instance)
    pending = [
        PendingRevision(
            partition_key=status.revision.partition_key,
            contract_id=status.revision.contract_id,
            awaiting_since=since,
            required_roles=[a.role for a in status.routing.required_approvals],
        )
        for status, since in operations.awaiting_approval()
    ]
    now = datetime.now(UTC)
    alerts, expired = sla_alerts(pending, now)
    for key in expired:
        workspace.decisions.expire(key, now)
        context.log.info(f"{key} expired: no decision within 7 days")
    context.log.info(f"{_send(context, notifier, alerts)} SLA alert(s) sent, {len(expired)} expired")


@job(description="Send renewal reminders from the contract register.")
def renewal_reminders_job() -> None:
    send_renewal_reminders()


@job(description="Escalate and expire revisions waiting too long for approval.")
def approval_sla_job() -> None:
    enforce_approval_sla()


register_refresh = ScheduleDefinition(
    name="register_refresh",
    job=register_job,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
renewal_reminders = ScheduleDefinition(
    name="renewal_reminders",
    job=renewal_reminders_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
approval_sla = ScheduleDefinition(
    name="approval_sla",
    job=approval_sla_job,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)


@run_failure_sensor(
    # Every job, and runs with no code location too (`dagster job execute`, console runs):
    # a list of jobs here is one more place a new job can be forgotten.
    monitor_all_code_locations=True,
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
)
def failure_alert_sensor(
    context: RunFailureSensorContext, notifier: AlertNotifier, contracts: ContractWorkspace
) -> None:
    """One alert and one audit entry per failed run, naming the revision and the error."""
    run = context.dagster_run
    partition_key = run.tags.get("dagster/partition")
    trail_for(contracts.workspace(), context.instance).append(
        "run_failed",
        key=f"run_failed:{run.run_id}",
        actor="sensor:failure_alert_sensor",
        revision=partition_key,
        details={"run_id": run.run_id, "job": run.job_name, "error": (context.failure_event.message or "")[:500]},
    )
    notifier.send_once(
        run_failure_alert(
            run_id=run.run_id,
            job_name=run.job_name,
            error=context.failure_event.message or "the run failed",
            failed_at=datetime.now(UTC),
            contract_id=partition_key.rpartition(".r")[0] if partition_key else None,
            partition_key=partition_key,
        )
    )


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Tells the approvers of each revision awaiting approval, once per tier, who "
    "may decide and how (through the notifier: log, webhook, email).",
)
def approval_request_sensor(
    context: SensorEvaluationContext, contracts: ContractWorkspace, notifier: AlertNotifier
) -> SkipReason:
    """One approval request per revision and open tier: tier 2 when tier 1 is done."""
    operations = ContractOperations(contracts.workspace(), context.instance)
    alerts = approval_request_alerts(operations.open_tiers(), datetime.now(UTC))
    sent = _send(context, notifier, alerts)
    # Sending is the work: the sensor starts no run.
    return SkipReason(f"{sent} approval request(s) sent; {len(alerts)} tier(s) open")
