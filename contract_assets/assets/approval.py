"""Stage 4: who must approve, from the playbook; auto-approval when nobody must."""

from datetime import UTC, datetime

from dagster import AssetExecutionContext, asset

from contract_assets.domain.models import ApprovalRouting, Revision, RiskAssessment
from contract_assets.domain.playbook import required_approvals
from contract_assets.partitions import revision_partitions
from contract_assets.resources import ContractWorkspace


@asset(partitions_def=revision_partitions, group_name="contracts", kinds={"python"})
def approval_routing(
    context: AssetExecutionContext,
    contracts: ContractWorkspace,
    contract_request: Revision,
    risk_assessment: RiskAssessment,
) -> ApprovalRouting:
    """The approvals this revision needs, bound to its content hash.

    With none needed the revision is approved automatically, recorded with the playbook
    version; otherwise it waits at awaiting_approval for the people named.
    """
    playbook = contracts.workspace().playbook
    needed = required_approvals(risk_assessment.rules, playbook)
    routing = ApprovalRouting(
        partition_key=context.partition_key,
        content_hash=contract_request.content_hash,
        status="awaiting_approval" if needed else "approved",
        required_approvals=needed,
        auto_approved=not needed,
        playbook_version=playbook.version,
        decided_at=None if needed else datetime.now(UTC),
    )
    context.add_output_metadata(
        {
            "status": routing.status,
            "required_approvals": [f"{a.role} (tier {a.tier})" for a in needed],
            "playbook_version": playbook.version,
        }
    )
    return routing
