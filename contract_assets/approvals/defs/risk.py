"""Stage 3: the risk assessment under the approval playbook."""

from dagster import AssetExecutionContext, MetadataValue, Output, asset

from contract_assets.approvals.playbook import assess_risk
from contract_assets.audit.defs.auditing import audit_step
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.platform.defs.versioning import versioned
from contract_assets.platform.markdown import literal
from contract_assets.platform.models import ContractDraft, Revision, RiskAssessment


@asset(partitions_def=revision_partitions, group_name="contracts", kinds={"python"})
def risk_assessment(
    context: AssetExecutionContext,
    contracts: ContractWorkspace,
    contract_request: Revision,
    contract_draft: ContractDraft,
) -> Output[RiskAssessment]:
    """Score 0-100, level, the playbook rules that fired and the draft's deviations."""
    workspace = contracts.workspace()
    risk = assess_risk(
        partition_key=context.partition_key,
        request=contract_request.request,
        deviations=contract_draft.deviations,
        playbook=workspace.playbook,
    )
    audited = audit_step(
        context,
        workspace,
        "risk_assessed",
        {"score": risk.score, "level": risk.level, "rules": [hit.rule for hit in risk.rules]},
    )
    context.add_output_metadata(
        {
            **audited,
            "score": risk.score,
            "level": risk.level,
            "rules": [hit.rule for hit in risk.rules],
            "why": MetadataValue.md(
                "\n".join(f"- **{literal(h.rule)}**: {literal('; '.join(h.reasons))}" for h in risk.rules)
                + "".join(f"\n- deviation: {literal(d.description)}" for d in risk.deviations)
                or "No playbook rule fired and no deviation."
            ),
        }
    )
    return versioned(risk)
