"""Where one revision stands: its stage, what is stored for it, and the status JSON.

The values stored for it are read when first asked for; the revision state
(revision_state.py) makes these in bulk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dagster import AssetsDefinition

from contract_assets.approvals.approvals import SignedDecision
from contract_assets.approvals.defs.risk import risk_assessment
from contract_assets.approvals.defs.routing import approval_routing
from contract_assets.documents.defs.assets import (
    contract_documents,
    review_copy,
    signature_package,
)
from contract_assets.documents.defs.executed import executed_copy
from contract_assets.documents.defs.redline import contract_redline
from contract_assets.documents.packaging import ExecutedCopy
from contract_assets.documents.redline import Redline
from contract_assets.drafting.defs.assets import contract_draft
from contract_assets.pipeline.stages import (
    RoleApproval,
    Stage,
    StageReport,
    explain_stage,
    role_approvals,
)
from contract_assets.platform.models import (
    ApprovalRecord,
    ApprovalRouting,
    ContractDraft,
    RecordedDecision,
    RenderedDocuments,
    Revision,
    RiskAssessment,
    SignaturePackage,
)


class _Stored:
    """A value stored for the revision by one asset, read on first use and kept."""

    def __init__(self, asset: AssetsDefinition, model: type):
        self.asset, self.model = asset.key.to_user_string(), model

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, status: RevisionStatus | None, owner: type | None = None) -> Any:
        if status is None:
            return self
        value = status.__dict__[self.name] = status.read(self.asset, self.model)
        return value


@dataclass
class RevisionStatus:
    """Where a revision stands. The values stored for it (draft, risk, documents...) are
    read when first asked for: a sensor deciding what is due reads few of them."""

    revision: Revision
    stage: Stage
    materialized: set[str]
    record: ApprovalRecord | None = None
    error: str | None = None
    blocked_on: str | None = None
    last_run_id: str | None = None
    superseded_by: str | None = None
    read: Callable[[str, type], Any] = field(default=lambda asset, model: None, repr=False)
    judge_freshness: Callable[[RevisionStatus], list[str]] = field(
        default=lambda status: [], repr=False
    )
    read_refusals: Callable[[], list[tuple[SignedDecision, str]]] = field(default=lambda: [], repr=False)
    # The decisions that counted so far (the approval record's, once there is one).
    decided: Callable[[RevisionStatus], list[RecordedDecision]] = field(
        default=lambda status: [], repr=False
    )

    draft = _Stored(contract_draft, ContractDraft)
    risk = _Stored(risk_assessment, RiskAssessment)
    routing = _Stored(approval_routing, ApprovalRouting)
    review = _Stored(review_copy, RenderedDocuments)
    documents = _Stored(contract_documents, RenderedDocuments)
    package = _Stored(signature_package, SignaturePackage)
    redline = _Stored(contract_redline, Redline)
    executed = _Stored(executed_copy, ExecutedCopy)

    @cached_property
    def out_of_date(self) -> list[str]:
        """What changed since its draft and risk assessment were made."""
        return self.judge_freshness(self)

    @cached_property
    def refusals(self) -> list[tuple[SignedDecision, str]]:
        """Decisions on this revision that did not count, oldest first, with the reason."""
        return self.read_refusals()

    @cached_property
    def approvals(self) -> list[RoleApproval]:
        """Each required role: who decided what and when, with the comment, or still open."""
        if self.routing is None:
            return []
        void = self.stage.value if self.stage in (Stage.SUPERSEDED, Stage.EXPIRED) else None
        return role_approvals(self.routing.required_approvals, self.decided(self), void=void)

    @cached_property
    def stage_report(self) -> StageReport:
        """The stage in words: why it is there and who must act."""
        return explain_stage(
            self.revision,
            self.stage,
            self.approvals,
            blocked_on=self.blocked_on,
            error=self.error,
            superseded_by=self.superseded_by,
        )

    @property
    def sealed_pdf(self) -> str | None:
        return self.package.path_of("sealed_pdf") if self.package else None

    def as_json(self) -> dict[str, Any]:
        """The object `contract-assets status --json` prints for one revision."""
        rendered_pdf = self.documents.path_of("pdf") if self.documents else None
        data: dict[str, Any] = {
            "contract_id": self.revision.contract_id,
            "revision": self.revision.revision,
            "partition_key": self.revision.partition_key,
            "type": self.revision.request.type.value,
            "counterparty": self.revision.request.counterparty.legal_name,
            "stage": self.stage.value,
            "content_hash": self.revision.content_hash,
            "submitted_at": self.revision.submitted_at.isoformat(),
            "risk": {
                "score": self.risk.score,
                "level": self.risk.level,
                "rules": [hit.rule for hit in self.risk.rules],
            }
            if self.risk
            else None,
            "deviations": [d.description for d in self.risk.deviations] if self.risk else [],
            "required_approvals": [
                {"role": a.role, "tier": a.tier} for a in self.routing.required_approvals
            ]
            if self.routing
            else [],
            "approval": {
                "status": self.record.status,
                "decided_at": self.record.decided_at.isoformat(),
                "decisions": [d.model_dump(mode="json") for d in self.record.decisions],
            }
            if self.record
            else None,
            # Per required role: approved / rejected / changes_requested / open /
            # waiting for tier N / closed, with who, when and the comment.
            "approvals": [a.as_json() for a in self.approvals],
            "reason": self.stage_report.reason,
            "waiting_for": self.stage_report.waiting_for,
            "out_of_date": bool(self.out_of_date),
            "out_of_date_because": self.out_of_date,
            "annexes": [a.annex_id for a in self.draft.annexes] if self.draft else [],
            # The executed revision this one amends and restates, if any.
            "amends": self.draft.amends if self.draft else None,
            "library_version": self.draft.library_version if self.draft else None,
            "library_hash": self.draft.library_hash if self.draft else None,
            # None until the signature package exists; false when it was made without a seal.
            "sealed": self.package.sealed if self.package else None,
            "seal_certificate_sha256": self.package.seal_certificate_sha256 if self.package else None,
            "artifacts": {
                "review_html": self.review.path_of("review_html") if self.review else None,
                "html": self.documents.path_of("html") if self.documents else None,
                # The PDF to send: the sealed one once the package is sealed.
                "pdf": self.sealed_pdf or rendered_pdf,
                "rendered_pdf": rendered_pdf,
                "docx": self.documents.path_of("docx") if self.documents else None,
                "manifest": self.package.path_of("manifest") if self.package else None,
                "manifest_signature": (
                    self.package.path_of("manifest_signature") if self.package else None
                ),
                "executed_pdf": self.executed.path_of("executed_pdf") if self.executed else None,
            },
        }
        if self.redline:
            data["redline"] = self.redline.path_of("redline")
            data["changes"] = [c.model_dump(mode="json") for c in self.redline.changes]
            data["changes_summary"] = self.redline.summary
        if self.refusals:
            data["refused_decisions"] = [
                {"role": d.payload.role, "approver": d.payload.approver, "decision": d.payload.decision, "reason": reason}
                for d, reason in self.refusals
            ]
        if self.blocked_on:
            data["blocked_on"] = self.blocked_on
        if self.error:
            data["error"] = self.error
        return data
