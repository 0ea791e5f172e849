"""The stages of a revision (PRODUCT.md section 4), spelled as the console reports them."""

from __future__ import annotations

from enum import Enum

from contract_assets.domain.models import ApprovalRecord, ContractType, Revision
from contract_assets.domain.revisions import RevisionRegistry
from contract_assets.domain.storage import StorageLayout


class Stage(str, Enum):
    RECEIVED = "received"
    VALIDATED = "validated"
    DRAFTED = "drafted"
    CHECKED = "checked"
    RISK_ASSESSED = "risk_assessed"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    RENDERED = "rendered"
    READY_FOR_SIGNATURE = "ready_for_signature"
    EXECUTED = "executed"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    BLOCKED = "blocked"
    FAILED = "failed"


# Stages in which nothing more happens without a person or a new revision
# (awaiting_approval moves on once the decisions recorded for it are final).
SETTLED = {
    Stage.AWAITING_APPROVAL,
    Stage.READY_FOR_SIGNATURE,
    Stage.EXECUTED,
    Stage.REJECTED,
    Stage.CHANGES_REQUESTED,
    Stage.EXPIRED,
    Stage.SUPERSEDED,
}

# The pipeline's assets in order, and the stage a revision reaches when each is stored.
ASSET_STAGES: list[tuple[str, Stage]] = [
    ("contract_request", Stage.VALIDATED),
    ("contract_draft", Stage.DRAFTED),
    ("risk_assessment", Stage.RISK_ASSESSED),
    ("approval_routing", Stage.AWAITING_APPROVAL),
    ("approval_record", Stage.APPROVED),
    ("contract_documents", Stage.RENDERED),
    ("signature_package", Stage.READY_FOR_SIGNATURE),
    ("executed_copy", Stage.EXECUTED),
]


def approved_revision(
    contract_id: str, registry: RevisionRegistry, layout: StorageLayout
) -> Revision | None:
    """The contract's revision currently approved: its latest revision, if that is approved.

    An older approved revision does not count: a newer revision supersedes it and voids
    its approvals.
    """
    revisions = registry.revisions(contract_id)
    if not revisions:
        return None
    latest = revisions[-1]
    record = layout.read_model("approval_record", latest.partition_key, ApprovalRecord)
    return latest if record is not None and record.status == "approved" else None


def blocked_on(revision: Revision, registry: RevisionRegistry, layout: StorageLayout) -> str | None:
    """Why an sow cannot be drafted yet, or None when nothing blocks it."""
    request = revision.request
    if request.type is not ContractType.SOW or request.sow is None:
        return None
    parent = request.sow.parent_contract_id
    if approved_revision(parent, registry, layout) is None:
        return f"parent msa '{parent}' has no approved revision"
    return None


def derive_stage(
    *,
    materialized: set[str],
    record: ApprovalRecord | None,
    superseded: bool,
    failed: bool,
    blocked: bool,
) -> Stage:
    """Where a revision stands, from what has been stored for it and what happened last."""
    if superseded and "executed_copy" not in materialized:
        return Stage.SUPERSEDED
    if failed:
        return Stage.FAILED
    stage = Stage.RECEIVED
    for asset, reached in ASSET_STAGES:
        if asset not in materialized:
            break
        stage = reached
        if asset == "approval_record" and record is not None and record.status != "approved":
            return Stage(record.status)  # rejected or changes_requested: nothing follows
    if stage is Stage.VALIDATED and blocked:
        return Stage.BLOCKED
    return stage
