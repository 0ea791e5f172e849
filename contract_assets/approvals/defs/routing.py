"""Stage 4: who must approve, from the playbook; auto-approval when nobody must."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from dagster import AssetExecutionContext, Output, asset

from contract_assets.approvals.approvals import ApprovalState, approval_state, recorded
from contract_assets.approvals.playbook import required_approvals
from contract_assets.audit.defs.auditing import audit_step
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.platform.defs.resources import (
    ContractWorkspace,
    Workspace,
    missing_key_fails_once,
)
from contract_assets.platform.defs.versioning import versioned
from contract_assets.platform.models import (
    ApprovalRecord,
    ApprovalRouting,
    Revision,
    RiskAssessment,
)


@asset(partitions_def=revision_partitions, group_name="contracts", kinds={"python"})
def approval_routing(
    context: AssetExecutionContext,
    contracts: ContractWorkspace,
    contract_request: Revision,
    risk_assessment: RiskAssessment,
) -> Output[ApprovalRouting]:
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
    )
    context.add_output_metadata(
        {
            "status": routing.status,
            "required_approvals": [f"{a.role} (tier {a.tier})" for a in needed],
            "playbook_version": playbook.version,
        }
    )
    return versioned(routing)


def awaiting(state: ApprovalState) -> str:
    """`awaiting approval from legal (tier 1)`, and the later tiers after it."""
    tiers = sorted({r.tier for r in state.pending_roles})
    parts = [
        f"{', '.join(r.role for r in state.pending_roles if r.tier == tier)} (tier {tier})"
        for tier in tiers
    ]
    return "awaiting approval from " + parts[0] + "".join(f", then {p}" for p in parts[1:])


@asset(
    partitions_def=revision_partitions,
    group_name="contracts",
    output_required=False,
    dagster_type=ApprovalRecord,
    kinds={"python"},
)
def approval_record(
    context: AssetExecutionContext,
    contracts: ContractWorkspace,
    approval_routing: ApprovalRouting,
) -> Iterator[Output[ApprovalRecord]]:
    """The decision on this revision, once there is one: approved (automatically or by every
    required person, tier by tier), rejected, or closed with changes requested.

    While approvals are missing nothing is produced and the run stops here; the approval
    sensor starts the rest when the last verified decision is recorded.
    """
    workspace = contracts.workspace()
    key = context.partition_key
    if approval_routing.auto_approved:
        decided_at, status, decisions = _auto_approved_at(workspace, approval_routing), "approved", []
    else:
        state = approval_state(approval_routing, workspace.decisions.accepted(key))
        if state.status == "awaiting_approval":
            context.log.info(f"stopped: {awaiting(state)}")
            return
        status = state.status
        decisions = [recorded(signed) for signed in state.approvals]
        decided_at = max(d.signed_at for d in decisions)
    record = ApprovalRecord(
        partition_key=key,
        content_hash=approval_routing.content_hash,
        status=status,
        auto_approved=approval_routing.auto_approved,
        playbook_version=approval_routing.playbook_version,
        decided_at=decided_at,
        decisions=decisions,
    )
    audited = audit_step(
        context,
        workspace,
        "approval_recorded",
        {
            "status": status,
            "auto_approved": record.auto_approved,
            "playbook_version": record.playbook_version,
            "decisions": [d.decision_id for d in decisions],
        },
    )
    yield versioned(
        record,
        {
            **audited,
            "status": status,
            "decided_at": decided_at.isoformat(),
            "decisions": [f"{d.role}: {d.decision} by {d.approver}" for d in decisions],
        },
    )


def approval_record_reader(workspace: Workspace) -> Callable[[str], ApprovalRecord | None]:
    """A reader of a revision's stored approval record (None while it has none)."""
    return lambda partition_key: workspace.layout.read_model(
        approval_record.key.to_user_string(), partition_key, ApprovalRecord
    )


def _auto_approved_at(workspace: Workspace, routing: ApprovalRouting) -> datetime:
    """When the playbook approved the revision: the stored record's time if it already did
    (a step retried after storing its record stores the same record), else now."""
    with missing_key_fails_once():
        stored = approval_record_reader(workspace)(routing.partition_key)
    if (
        stored is not None
        and stored.auto_approved
        and stored.content_hash == routing.content_hash
        and stored.playbook_version == routing.playbook_version
    ):
        return stored.decided_at
    return datetime.now(UTC)
