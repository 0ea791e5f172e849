"""Signed approvals (PRODUCT.md section 5, issue 3): which decisions count, and what they change.

Every refusal must name its own rule, leave the accepted decisions untouched and leave a
refusal record behind; the happy paths walk tiers, rejections and change requests.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from contract_assets.platform.records import RecordStore
from contract_assets.approvals.approvals import (
    Approver,
    ApproverConfigError,
    ApproverDirectory,
    DecisionLog,
    DecisionPayload,
    SignedDecision,
    approval_state,
    record_decision,
    sign_decision,
    verify_decision,
)
from contract_assets.platform.models import ApprovalRouting, RequiredApproval, Revision
from contract_assets.intake.revisions import content_hash, partition_key
from contract_assets.approvals.signing import generate_keypair

REQUESTER = "dana.lee@orbital.example"  # requested_by of every request in conftest

PEOPLE = {
    "alice": ("alice@orbital.example", ["finance"]),
    "bob": ("bob@orbital.example", ["legal"]),
    "carol": ("carol@orbital.example", ["executive"]),
    "dana": ("Dana.Lee@Orbital.example", ["finance", "legal"]),  # the requester
    "erin": ("erin@orbital.example", ["finance", "legal"]),
    "frank": ("frank@orbital.example", ["finance", "privacy"]),
}
FULL_ROUTING = [("finance", 1), ("legal", 1), ("executive", 2)]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[bytes, bytes]]:
    return {name: generate_keypair() for name in [*PEOPLE, "mallory"]}


@pytest.fixture
def approvers(keys) -> dict[str, Approver]:
    return {
        name: Approver(name=name, email=email, roles=roles, public_key=keys[name][1].decode())
        for name, (email, roles) in PEOPLE.items()
    }


@pytest.fixture
def make_revision(validate, make_raw):
    def build(number: int = 1) -> Revision:
        # each revision number has a different value, so a different content hash
        amount = str(Decimal("1500000.00") + number)
        changes = {"contract_id": "blue-fjord-msa", "value.amount": amount}
        request = validate(make_raw("msa", changes))
        return Revision(
            contract_id="blue-fjord-msa",
            revision=number,
            partition_key=partition_key("blue-fjord-msa", number),
            content_hash=content_hash(request),
            submitted_at=T0,
            request=request,
        )

    return build


def routing_for(revision: Revision, roles=FULL_ROUTING) -> ApprovalRouting:
    return ApprovalRouting(
        partition_key=revision.partition_key,
        content_hash=revision.content_hash,
        status="awaiting_approval" if roles else "approved",
        required_approvals=[RequiredApproval(role=r, tier=t, rules=["rule"]) for r, t in roles],
        auto_approved=not roles,
        playbook_version="test",
    )


class Desk:
    """One revision in front of the approvers: sign decisions and record them."""

    def __init__(self, log, revision, routing, approvers, keys):
        self.log, self.revision, self.routing = log, revision, routing
        self.approvers, self.keys = approvers, keys
        self.superseded = False
        self._clock = T0

    def sign(self, approver, role, decision="approve", *, revision=None, key_of=None):
        revision = revision or self.revision
        self._clock += timedelta(minutes=1)
        payload = DecisionPayload(
            partition_key=revision.partition_key,
            content_hash=revision.content_hash,
            role=role,
            approver=approver,
            decision=decision,
            signed_at=self._clock,
        )
        return sign_decision(payload, self.keys[key_of or approver][0])

    def record(self, signed):
        return record_decision(
            signed,
            log=self.log,
            routing=self.routing,
            revision=self.revision,
            approvers=self.approvers,
            superseded=self.superseded,
        )

    def decide(self, approver, role, decision="approve"):
        counted, reason, state = self.record(self.sign(approver, role, decision))
        assert counted, reason
        return state

    def accepted(self):
        return self.log.accepted(self.revision.partition_key)

    def refused(self):
        return self.log.refused(self.revision.partition_key)


@pytest.fixture
def log(tmp_path) -> DecisionLog:
    return DecisionLog(RecordStore(f"sqlite:///{tmp_path / 'records.db'}"))


@pytest.fixture
def make_desk(log, make_revision, approvers, keys):
    """Revision 2 of blue-fjord-msa, routed to `roles` ((role, tier) pairs)."""

    def build(roles=FULL_ROUTING) -> Desk:
        revision = make_revision(2)
        return Desk(log, revision, routing_for(revision, roles), approvers, keys)

    return build


@pytest.fixture
def desk(make_desk) -> Desk:
    return make_desk()


def assert_refused(desk: Desk, signed: SignedDecision, rule: str) -> str:
    """`signed` is refused for `rule`; nothing changed but one new refusal record."""
    accepted_before = desk.accepted()
    refused_before = desk.refused()
    state_before = approval_state(desk.routing, accepted_before)
    counted, reason, state = desk.record(signed)
    assert counted is False
    assert reason is not None and reason.startswith(rule + ":"), reason
    assert desk.accepted() == accepted_before
    assert state == state_before
    assert desk.refused() == [*refused_before, (signed, reason)]
    return reason


# --- refusals: each with its own reason, none changing the state -------------------------


def test_forged_signature_is_refused(desk):
    forged = desk.sign("alice", "finance", key_of="mallory")
    reason = assert_refused(desk, forged, "forged signature")
    assert "alice" in reason


def test_altered_decision_is_a_forged_signature(desk):
    signed = desk.sign("alice", "finance", "reject")
    altered = SignedDecision(
        payload=signed.payload.model_copy(update={"decision": "approve"}),
        signature=signed.signature,
    )
    assert_refused(desk, altered, "forged signature")


def test_unknown_approver_is_refused(desk):
    reason = assert_refused(desk, desk.sign("mallory", "finance"), "unknown approver")
    assert "mallory" in reason


def test_role_the_approver_lacks_is_refused(desk):
    reason = assert_refused(desk, desk.sign("bob", "finance"), "role not held")
    assert "'bob'" in reason and "legal" in reason


def test_role_this_revision_does_not_need_is_refused(desk):
    reason = assert_refused(desk, desk.sign("frank", "privacy"), "role not required")
    assert "finance, legal, executive" in reason


def test_second_tier_before_the_first_is_done_is_refused(desk):
    assert_refused(desk, desk.sign("carol", "executive"), "tier not open yet")
    desk.decide("alice", "finance")
    reason = assert_refused(desk, desk.sign("carol", "executive"), "tier not open yet")
    assert "legal" in reason and "finance" not in reason.split("waiting for")[1]


def test_r1_decision_applied_to_r2_is_refused(desk, make_revision):
    r1 = make_revision(1)
    signed_for_r1 = desk.sign("alice", "finance", revision=r1)
    reason = assert_refused(desk, signed_for_r1, "wrong revision")
    assert "blue-fjord-msa.r1" in reason and "blue-fjord-msa.r2" in reason
    assert desk.log.accepted("blue-fjord-msa.r1") == []  # filed under r2, where it was applied


def test_decision_with_another_revisions_content_hash_is_refused(desk, make_revision):
    stale = make_revision(1).model_copy(update={"partition_key": desk.revision.partition_key})
    assert_refused(desk, desk.sign("alice", "finance", revision=stale), "wrong revision")


def test_same_decision_recorded_twice_is_a_replay(desk):
    signed = desk.sign("alice", "finance")
    counted, _, _ = desk.record(signed)
    assert counted
    assert_refused(desk, signed, "replay")
    assert len(desk.accepted()) == 1


def test_a_refused_decision_cannot_be_replayed_once_it_would_count(desk):
    early = desk.sign("carol", "executive")
    assert_refused(desk, early, "tier not open yet")
    desk.decide("alice", "finance")
    desk.decide("bob", "legal")
    assert_refused(desk, early, "replay")


def test_re_encoded_signature_is_still_a_replay(desk):
    signed = desk.sign("alice", "finance")
    desk.record(signed)
    respelled = SignedDecision.model_validate(
        {"payload": signed.payload.model_dump(mode="json"), "signature": signed.signature}
    )
    assert respelled.decision_id == signed.decision_id
    assert_refused(desk, respelled, "replay")


def test_approval_by_the_requester_is_refused(desk):
    reason = assert_refused(desk, desk.sign("dana", "finance"), "own request")
    # "dana" is listed as Dana.Lee@Orbital.example: emails compare case-insensitively.
    # The reason names the approver, not the email: refusals reach Dagster's event log.
    assert "'dana'" in reason and "@" not in reason


def test_rejection_by_the_requester_is_refused(desk):
    assert_refused(desk, desk.sign("dana", "legal", "reject"), "own request")


def test_one_person_cannot_approve_a_second_role(desk):
    desk.decide("erin", "finance")
    reason = assert_refused(desk, desk.sign("erin", "legal"), "second approval by the same person")
    assert "'finance'" in reason


def test_same_person_under_another_name_cannot_approve_twice(desk, keys):
    desk.decide("erin", "finance")
    alias = Approver(
        name="erin2",
        email="ERIN@orbital.example",
        roles=["legal"],
        public_key=keys["erin"][1].decode(),
    )
    desk.approvers = {**desk.approvers, "erin2": alias}
    signed = desk.sign("erin2", "legal", key_of="erin")
    assert_refused(desk, signed, "second approval by the same person")


def test_a_role_already_approved_is_refused(desk):
    desk.decide("alice", "finance")
    reason = assert_refused(desk, desk.sign("erin", "finance"), "role already decided")
    assert "alice" in reason


def test_decision_on_a_superseded_revision_is_refused(desk):
    desk.superseded = True
    reason = assert_refused(desk, desk.sign("alice", "finance"), "revision not pending")
    assert "superseded" in reason


@pytest.mark.parametrize(
    ("closing", "status"), [("reject", "rejected"), ("request_changes", "changes requested")]
)
def test_decisions_after_a_final_state_are_refused(desk, closing, status):
    desk.decide("alice", "finance", closing)
    reason = assert_refused(desk, desk.sign("bob", "legal"), "revision not pending")
    assert status in reason


def test_decisions_after_approval_are_refused(desk):
    for approver, role in [("alice", "finance"), ("bob", "legal"), ("carol", "executive")]:
        desk.decide(approver, role)
    assert_refused(desk, desk.sign("erin", "legal", "reject"), "revision not pending")


def test_every_refusal_names_a_different_rule(desk, make_revision):
    desk.decide("erin", "finance")
    replayed = desk.accepted()[0]
    attempts = [
        desk.sign("alice", "legal", key_of="mallory"),
        desk.sign("mallory", "legal"),
        desk.sign("alice", "legal"),
        desk.sign("frank", "privacy"),
        desk.sign("carol", "executive"),
        desk.sign("bob", "legal", revision=make_revision(1)),
        replayed,
        desk.sign("dana", "legal"),
        desk.sign("erin", "legal"),
        desk.sign("alice", "finance"),
    ]
    reasons = [desk.record(signed)[1] for signed in attempts]
    rules = [reason.split(":")[0] for reason in reasons]
    assert len(set(rules)) == len(attempts), rules
    assert len(desk.accepted()) == 1


# --- happy paths -------------------------------------------------------------------------


@pytest.mark.parametrize("order", [["alice", "bob"], ["bob", "alice"]])
def test_tier_1_in_parallel_approves_only_when_both_are_in(make_desk, order):
    desk = make_desk([("finance", 1), ("legal", 1)])
    role_of = {"alice": "finance", "bob": "legal"}
    first = desk.decide(order[0], role_of[order[0]])
    assert first.status == "awaiting_approval"
    assert first.open_tier == 1
    assert [r.role for r in first.pending_roles] == [role_of[order[1]]]
    second = desk.decide(order[1], role_of[order[1]])
    assert second.status == "approved"
    assert second.open_tier is None and second.pending_roles == []
    assert [d.payload.approver for d in second.approvals] == order


def test_tier_2_opens_after_tier_1(make_desk):
    desk = make_desk([("finance", 1), ("executive", 2)])
    assert approval_state(desk.routing, []).open_tier == 1
    counted, _, _ = desk.record(desk.sign("carol", "executive"))
    assert not counted
    after_finance = desk.decide("alice", "finance")
    assert after_finance.status == "awaiting_approval" and after_finance.open_tier == 2
    assert desk.decide("carol", "executive").status == "approved"


def test_full_routing_needs_all_three(desk):
    desk.decide("bob", "legal")
    desk.decide("alice", "finance")
    state = desk.decide("carol", "executive")
    assert state.status == "approved"
    assert [d.payload.role for d in desk.accepted()] == ["legal", "finance", "executive"]


def test_one_rejection_rejects(desk):
    desk.decide("alice", "finance")
    state = desk.decide("bob", "legal", "reject")
    assert state.status == "rejected"
    assert state.open_tier is None and state.pending_roles == []
    assert state.approvals[-1].payload.decision == "reject"


def test_request_changes_closes_the_revision(desk):
    state = desk.decide("bob", "legal", "request_changes")
    assert state.status == "changes_requested"
    assert state.open_tier is None


def test_auto_approved_routing_is_approved(make_revision):
    revision = make_revision(1)
    state = approval_state(routing_for(revision, []), [])
    assert state.status == "approved"
    assert state.pending_roles == [] and state.open_tier is None


def test_auto_approved_revision_refuses_decisions(make_desk):
    desk = make_desk([])
    reason = assert_refused(desk, desk.sign("alice", "finance"), "revision not pending")
    assert "approved" in reason


# --- the decision log --------------------------------------------------------------------


def test_accepted_decisions_are_kept_in_the_order_accepted(desk):
    desk.decide("bob", "legal")
    desk.decide("alice", "finance")
    records = desk.log.store.list(DecisionLog.ACCEPTED, "blue-fjord-msa.r2")
    assert [r.name for r in records] == [d.decision_id for d in desk.accepted()]
    assert [d.payload.approver for d in desk.accepted()] == ["bob", "alice"]


def test_recording_an_accepted_decision_again_is_idempotent(desk):
    signed = desk.sign("alice", "finance")
    assert desk.log.record(signed, None) is True
    assert desk.log.record(signed, None) is False
    assert desk.accepted() == [signed]


def test_refusal_record_keeps_the_signed_decision_and_reason(desk):
    signed = desk.sign("mallory", "finance")
    desk.record(signed)
    assert desk.log.recorded_ids("blue-fjord-msa.r2") == {signed.decision_id}
    [record] = desk.log.store.list(DecisionLog.REFUSED, "blue-fjord-msa.r2")
    assert record.name.endswith(f"-{signed.decision_id}")
    assert b"unknown approver" in record.body


def test_decision_log_survives_reopening(desk, tmp_path):
    desk.decide("alice", "finance")
    reopened = DecisionLog(RecordStore(desk.log.store.url))
    assert reopened.accepted("blue-fjord-msa.r2") == desk.accepted()


def test_concurrent_decisions_cannot_both_take_the_last_slot(make_desk):
    desk = make_desk([("finance", 1)])
    contenders = [desk.sign("alice", "finance"), desk.sign("erin", "finance")]
    start = threading.Barrier(len(contenders))
    results = []

    def decide(signed):
        start.wait()
        results.append(desk.record(signed))

    threads = [threading.Thread(target=decide, args=(s,)) for s in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counted for counted, _, _ in results) == [False, True]
    assert len(desk.accepted()) == 1
    assert [state.status for _, _, state in results] == ["approved", "approved"]


@pytest.mark.parametrize("key", ["../etc", "a/b.r1", "blue-fjord-msa"])
def test_decisions_are_filed_only_under_revision_keys(log, key):
    with pytest.raises(ValueError, match="not a revision key"):
        log.accepted(key)


def test_routing_of_another_revision_is_a_programming_error(desk, make_revision):
    other = make_revision(1)
    with pytest.raises(ValueError, match="does not belong"):
        record_decision(
            desk.sign("alice", "finance"),
            log=desk.log,
            routing=routing_for(other),
            revision=desk.revision,
            approvers=desk.approvers,
            superseded=False,
        )


# --- the signed payload ------------------------------------------------------------------


def test_payload_time_must_carry_a_time_zone_and_is_kept_in_utc(desk):
    fields = {
        "partition_key": "blue-fjord-msa.r2",
        "content_hash": desk.revision.content_hash,
        "role": "finance",
        "approver": "alice",
        "decision": "approve",
    }
    with pytest.raises(ValidationError):
        DecisionPayload(**fields, signed_at=datetime(2026, 3, 2, 9, 0))
    plus_one = timezone(timedelta(hours=1))
    berlin = DecisionPayload(**fields, signed_at=datetime(2026, 3, 2, 10, 0, tzinfo=plus_one))
    utc = DecisionPayload(**fields, signed_at=T0)
    assert berlin.message() == utc.message()


def test_signed_decision_survives_a_json_round_trip(desk, approvers):
    signed = desk.sign("alice", "finance")
    again = SignedDecision.model_validate_json(signed.model_dump_json())
    assert again.decision_id == signed.decision_id
    reason = verify_decision(
        again,
        routing=desk.routing,
        revision=desk.revision,
        approvers=approvers,
        accepted=[],
        recorded_ids=set(),
        superseded=False,
    )
    assert reason is None


def test_request_changes_is_spelled_with_an_underscore(desk):
    with pytest.raises(ValidationError):
        desk.sign("bob", "legal", "request-changes")


# --- the approver directory --------------------------------------------------------------


def test_directory_round_trip_and_add_replaces_by_name(tmp_path, approvers, keys):
    directory = ApproverDirectory(tmp_path / "config")
    assert directory.load() == {}
    directory.add(approvers["alice"])
    directory.add(approvers["bob"])
    promoted = approvers["alice"].model_copy(update={"roles": ["finance", "executive"]})
    directory.add(promoted)
    loaded = ApproverDirectory(tmp_path / "config").load()
    assert list(loaded) == ["alice", "bob"]
    assert loaded["alice"] == promoted
    text = (tmp_path / "config" / "approvers.yaml").read_text()
    assert "public_key: |\n    -----BEGIN PUBLIC KEY-----" in text  # the PEM, readable as is


def test_invalid_directory_names_the_file_and_the_field(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "approvers.yaml").write_text(
        "approvers:\n- name: alice\n  email: alice@orbital.example\n  roles: [finance]\n"
        "  public_key: not a key\n"
    )
    with pytest.raises(ApproverConfigError, match=r"approvers\.yaml: invalid approvers") as info:
        ApproverDirectory(config).load()
    assert "public_key" in str(info.value)


def test_broken_yaml_names_the_file(tmp_path):
    (tmp_path / "approvers.yaml").write_text("approvers: [\n")
    with pytest.raises(ApproverConfigError, match=r"approvers\.yaml: not valid YAML"):
        ApproverDirectory(tmp_path).load()


def test_duplicate_names_in_the_file_are_refused(tmp_path, approvers):
    entry = approvers["alice"].model_dump(mode="json")
    # JSON is YAML
    (tmp_path / "approvers.yaml").write_text(json.dumps({"approvers": [entry, entry]}))
    with pytest.raises(ApproverConfigError, match="alice more than once"):
        ApproverDirectory(tmp_path).load()


def test_approver_fields_are_checked(keys):
    public = keys["alice"][1].decode()
    with pytest.raises(ValidationError, match="not a valid email"):
        Approver(name="alice", email="alice", roles=["finance"], public_key=public)
    with pytest.raises(ValidationError, match="roles"):
        Approver(name="alice", email="alice@orbital.example", roles=[], public_key=public)
    with pytest.raises(ValidationError, match="PEM public key"):
        Approver(
            name="alice",
            email="alice@orbital.example",
            roles=["finance"],
            public_key=keys["alice"][0].decode(),  # the private half
        )
