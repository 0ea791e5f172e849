"""Per-role approvals and a stage in words (pure: no Dagster)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contract_assets.platform.models import RecordedDecision, RequiredApproval, Revision
from contract_assets.pipeline.stages import Stage, explain_stage, role_approvals

FINANCE, EXECUTIVE = RequiredApproval(role="finance", tier=1, rules=[]), RequiredApproval(role="executive", tier=2, rules=[])
LEGAL = RequiredApproval(role="legal", tier=1, rules=[])
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def msa(submitted) -> Revision:
    request = submitted["acme-msa"]
    return Revision(
        contract_id=request.contract_id,
        revision=1,
        partition_key=f"{request.contract_id}.r1",
        content_hash="0" * 64,
        submitted_at=AT,
        request=request,
    )


def decided(role: str, decision: str, approver: str, comment: str | None = None) -> RecordedDecision:
    return RecordedDecision(
        decision_id=f"{role}-{approver}", approver=approver, role=role, decision=decision, signed_at=AT, comment=comment
    )


def test_a_later_tier_waits_until_the_open_one_is_decided():
    before = role_approvals([FINANCE, EXECUTIVE], [])
    after = role_approvals([FINANCE, EXECUTIVE], [decided("finance", "approve", "ana")])

    assert [(a.role, a.state) for a in before] == [("finance", "open"), ("executive", "waiting for tier 1")]
    assert [a.short() for a in before] == ["finance open", "executive after tier 1"]
    assert [(a.role, a.state, a.approver, a.decided_at) for a in after] == [
        ("finance", "approved", "ana", AT),
        ("executive", "open", None, None),
    ]
    assert [a.short() for a in after] == ["finance ✓ ana", "executive open"]


def test_one_rejection_closes_every_undecided_role():
    approvals = role_approvals([FINANCE, LEGAL], [decided("legal", "reject", "lex", "Cap too high")])

    assert [(a.role, a.state) for a in approvals] == [("finance", "closed"), ("legal", "rejected")]
    assert approvals[1].as_json()["comment"] == "Cap too high"


def test_a_superseded_revisions_undecided_roles_are_void():
    approvals = role_approvals([FINANCE], [], void="superseded")

    assert [a.state for a in approvals] == ["superseded"]


def test_changes_requested_names_who_asked_and_waits_for_the_requester(msa):
    revision = msa
    approvals = role_approvals(
        [FINANCE, LEGAL], [decided("legal", "request_changes", "lex", "Use our standard cap; ask lex@orbital.example")]
    )

    report = explain_stage(revision, Stage.CHANGES_REQUESTED, approvals)

    assert report.reason.startswith("changes requested by legal (lex): Use our standard cap")
    assert "orbital.example" not in report.reason  # no email in what Dagster keeps
    assert report.waiting_for == "requester"


def test_awaiting_approval_names_the_open_roles_and_what_is_in(msa):
    revision = msa
    approvals = role_approvals([FINANCE, LEGAL], [decided("finance", "approve", "ana")])

    report = explain_stage(revision, Stage.AWAITING_APPROVAL, approvals)

    assert report.reason == "waiting for legal (tier 1); finance approved by ana"
    assert report.waiting_for == "legal"
