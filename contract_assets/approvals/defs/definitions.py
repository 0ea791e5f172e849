"""Approvals' definitions: risk and routing (made from the playbook), the approval record,
the record_approval job, approval requests and the SLA."""

from dagster import Definitions

from contract_assets.approvals.defs.approval_job import record_approval
from contract_assets.approvals.defs.risk import risk_assessment
from contract_assets.approvals.defs.routing import approval_record, approval_routing
from contract_assets.approvals.defs.sla import (
    approval_request_sensor,
    approval_sla,
    approval_sla_job,
)
from contract_assets.platform.defs.versioning import CodeVersions


def definitions(versions: CodeVersions) -> Definitions:
    return Definitions(
        assets=versions.made_from_playbook(risk_assessment, approval_routing) + versions.of_code(approval_record),
        jobs=[record_approval, approval_sla_job],
        sensors=[approval_request_sensor],
        schedules=[approval_sla],
    )
