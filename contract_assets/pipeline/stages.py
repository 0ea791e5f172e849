"""The stages of a revision (PRODUCT.md section 4), spelled as the console reports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from contract_assets.intake.revisions import RevisionRegistry
from contract_assets.platform.models import (
    ApprovalRecord,
    ContractType,
    RecordedDecision,
    RequiredApproval,
    Revision,
)
from contract_assets.platform.protection import without_emails


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

# The stages a revision reaches as its steps are stored, in order (the Dagster layer says which
# step reaches which: revision_state.STAGE_REACHED).
PROGRESSION: list[Stage] = [
    Stage.VALIDATED,
    Stage.DRAFTED,
    Stage.RISK_ASSESSED,
    Stage.AWAITING_APPROVAL,
    Stage.APPROVED,
    Stage.RENDERED,
    Stage.READY_FOR_SIGNATURE,
    Stage.EXECUTED,
]


def approved_revision(
    contract_id: str, registry: RevisionRegistry, approval_record_of: Callable[[str], ApprovalRecord | None]
) -> Revision | None:
    """The contract's revision currently approved: its latest revision, if that is approved.

    An older approved revision does not count: a newer revision supersedes it and voids
    its approvals.
    """
    revisions = registry.revisions(contract_id)
    if not revisions:
        return None
    latest = revisions[-1]
    record = approval_record_of(latest.partition_key)
    return latest if record is not None and record.status == "approved" else None


def blocked_on(
    revision: Revision, registry: RevisionRegistry, approval_record_of: Callable[[str], ApprovalRecord | None]
) -> str | None:
    """Why an sow cannot be drafted yet, or None when nothing blocks it."""
    request = revision.request
    if request.type is not ContractType.SOW or request.sow is None:
        return None
    parent = request.sow.parent_contract_id
    if approved_revision(parent, registry, approval_record_of) is None:
        return f"parent msa '{parent}' has no approved revision"
    return None


def derive_stage(
    *,
    reached: set[Stage],
    record: ApprovalRecord | None,
    superseded: bool,
    failed: bool,
    blocked: bool,
    expired: bool = False,
    draft_checked: bool = False,
) -> Stage:
    """Where a revision stands, from the stages its stored steps reach and what happened last.

    `expired`: its approval window passed before every decision was in; `draft_checked`:
    its last run stored the draft and the draft passed its blocking checks.
    """
    if superseded and Stage.EXECUTED not in reached:
        return Stage.SUPERSEDED
    if failed:
        return Stage.FAILED
    stage = Stage.RECEIVED
    for step_stage in PROGRESSION:
        if step_stage not in reached:
            break
        stage = step_stage
        if step_stage is Stage.APPROVED and record is not None and record.status != "approved":
            return Stage(record.status)  # rejected or changes_requested: nothing follows
    if stage is Stage.VALIDATED and blocked:
        return Stage.BLOCKED
    if stage is Stage.AWAITING_APPROVAL and expired:
        return Stage.EXPIRED
    if stage is Stage.DRAFTED and draft_checked:
        return Stage.CHECKED
    return stage


# --- who decided what, per required role ---------------------------------------------------

_DECIDED = {"approve": "approved", "reject": "rejected", "request_changes": "changes_requested"}


@dataclass(frozen=True)
class RoleApproval:
    """One required approval of a revision: decided (by whom, when, with what comment), open
    now, or waiting for an earlier tier; `closed` once another role rejected or asked for
    changes."""

    role: str
    tier: int
    # approved, rejected, changes_requested, open, waiting for tier N; for an undecided role
    # of a revision nobody may decide any more: closed, superseded or expired
    state: str
    approver: str | None = None
    decided_at: datetime | None = None
    comment: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "tier": self.tier,
            "state": self.state,
            "approver": self.approver,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "comment": self.comment,
        }

    def short(self) -> str:
        """`finance ✓ ana`, `legal open`, `executive after tier 1`: one table cell's worth."""
        if self.state == "approved":
            return f"{self.role} ✓ {self.approver}"
        if self.state in ("rejected", "changes_requested"):
            return f"{self.role} {self.state.replace('_', ' ')} by {self.approver}"
        if self.state.startswith("waiting for tier"):
            return f"{self.role} after tier {self.state.rsplit(' ', 1)[-1]}"
        return f"{self.role} {self.state}"


def role_approvals(
    required: list[RequiredApproval], decisions: list[RecordedDecision], *, void: str | None = None
) -> list[RoleApproval]:
    """Each required role with its decision, or whether it may decide now.

    The rule is `approvals.approval_state`'s: one rejection or change request closes the
    revision; the lowest tier with a role undecided is the one open. `void` (superseded,
    expired) is the state of every undecided role of a revision nobody may decide any more.
    """
    by_role = {d.role: d for d in decisions}
    closed = void or ("closed" if any(d.decision != "approve" for d in decisions) else None)
    open_tier = min((r.tier for r in required if r.role not in by_role), default=None)
    approvals = []
    for needed in required:
        decision = by_role.get(needed.role)
        if decision is not None:
            approvals.append(
                RoleApproval(
                    role=needed.role,
                    tier=needed.tier,
                    state=_DECIDED[decision.decision],
                    approver=decision.approver,
                    decided_at=decision.signed_at,
                    comment=decision.comment,
                )
            )
        elif closed:
            approvals.append(RoleApproval(needed.role, needed.tier, closed))
        elif needed.tier == open_tier:
            approvals.append(RoleApproval(needed.role, needed.tier, "open"))
        else:
            approvals.append(RoleApproval(needed.role, needed.tier, f"waiting for tier {open_tier}"))
    return approvals


# --- where a revision stands, in words ------------------------------------------------------

NOBODY = "nobody"

# What runs next on its own from each stage the pipeline passes through.
_NEXT = {
    Stage.RECEIVED: "received: validation runs next",
    Stage.VALIDATED: "validated: drafting runs next",
    Stage.DRAFTED: "drafted: the clause check and the risk assessment run next",
    Stage.CHECKED: "checked: the risk assessment runs next",
    Stage.RISK_ASSESSED: "risk assessed: approval routing runs next",
    Stage.APPROVED: "approved: the documents are rendered next",
    Stage.RENDERED: "rendered: the signature package is made next",
}


@dataclass(frozen=True)
class StageReport:
    """A revision's stage, why it is there, who must act next ("nobody" when the pipeline
    goes on by itself or nothing more happens) and its per-role approvals."""

    stage: Stage
    reason: str
    waiting_for: str
    approvals: tuple[RoleApproval, ...] = ()


def explain_stage(
    revision: Revision,
    stage: Stage,
    approvals: list[RoleApproval],
    *,
    blocked_on: str | None = None,
    error: str | None = None,
    superseded_by: str | None = None,
) -> StageReport:
    """The reason and who must act for `revision` at `stage` (no personal data: approvers
    by their configured name, emails in comments and errors withheld)."""
    key = revision.partition_key

    def report(reason: str, waiting_for: str = NOBODY) -> StageReport:
        return StageReport(stage, without_emails(reason), waiting_for, tuple(approvals))

    if stage in _NEXT:
        return report(_NEXT[stage])
    if stage is Stage.AWAITING_APPROVAL:
        open_roles = [a for a in approvals if a.is_open]
        if not open_roles:
            return report("every decision is in: the approval is recorded next")
        decided = [a for a in approvals if a.approver]
        reason = f"waiting for {', '.join(a.role for a in open_roles)} (tier {open_roles[0].tier})"
        if decided:
            reason += "; " + ", ".join(f"{a.role} {a.state} by {a.approver}" for a in decided)
        return report(reason, ", ".join(a.role for a in open_roles))
    if stage in (Stage.REJECTED, Stage.CHANGES_REQUESTED):
        closing = next((a for a in approvals if a.state == stage.value), None)
        reason = stage.value.replace("_", " ")
        if closing is not None:
            reason += f" by {closing.role} ({closing.approver})"
            reason += f": {closing.comment}" if closing.comment else ""
        if stage is Stage.CHANGES_REQUESTED:
            return report(reason + "; a new revision of the request is needed", "requester")
        return report(reason)
    if stage is Stage.READY_FOR_SIGNATURE:
        return report(
            "ready for signature: the executed copy stays missing until the countersigned PDF "
            f"is dropped into executed/{key}.pdf",
            "signatories",
        )
    if stage is Stage.EXECUTED:
        return report("executed: the countersigned copy is stored")
    if stage is Stage.BLOCKED:
        parent = revision.request.sow.parent_contract_id if revision.request.sow else "its parent"
        return report(f"blocked: {blocked_on}", f"approvers of {parent}")
    if stage is Stage.FAILED:
        return report(f"failed: {error}", "operator")
    if stage is Stage.SUPERSEDED:
        return report(f"superseded by {superseded_by}: its approvals and package are void")
    if stage is Stage.EXPIRED:
        return report("expired: the approval window passed before every decision was in")
    raise ValueError(f"no explanation for stage {stage.value}")
