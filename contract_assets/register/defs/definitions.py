"""The register's definitions: the register and its report, their job, sensor and refresh
schedule, and renewal reminders."""

from dagster import Definitions

from contract_assets.platform.defs.versioning import CodeVersions
from contract_assets.register.defs.assets import contract_register, register_report
from contract_assets.register.defs.jobs import register_job
from contract_assets.register.defs.schedules import (
    register_refresh,
    renewal_reminders,
    renewal_reminders_job,
)
from contract_assets.register.defs.sensors import register_sensor


def definitions(versions: CodeVersions) -> Definitions:
    return Definitions(
        assets=versions.of_code(contract_register, register_report),
        jobs=[register_job, renewal_reminders_job],
        sensors=[register_sensor],
        schedules=[register_refresh, renewal_reminders],
    )
