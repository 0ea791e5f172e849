"""Periodic work: the register, renewal reminders and the approval SLA; and alerts: approval
requests and failed runs."""

import pandas as pd
from dagster import (
    DefaultScheduleStatus,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)

from contract_assets.approvals.reminders import (
    renewal_alerts,
)
from contract_assets.platform.defs.clock import Clock
from contract_assets.platform.defs.notifier import AlertNotifier
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.register.defs.assets import contract_register
from contract_assets.register.defs.jobs import register_job


@op
def send_renewal_reminders(
    context: OpExecutionContext, contracts: ContractWorkspace, notifier: AlertNotifier, clock: Clock
) -> None:
    """One alert per contract whose renewal notice date comes within 30 days (not one a day)."""
    layout = contracts.workspace().layout
    path = layout.value_path(contract_register.key.to_user_string(), None, suffix=".parquet")
    if not path.exists():
        context.log.info("no register yet: nothing to remind")
        return
    alerts = renewal_alerts(pd.read_parquet(path), clock.now().date())
    context.log.info(f"{notifier.send_all(alerts, context.log.warning)} renewal alert(s) sent of {len(alerts)} due")


@job(description="Send renewal reminders from the contract register.")
def renewal_reminders_job() -> None:
    send_renewal_reminders()


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
