"""Signed approvals on a real home and instance (issue 3 acceptance): which decisions are
refused, with what reason, and what an accepted one sets going.

The state: blue-fjord-msa r1 ran to awaiting_approval (finance), then r2 arrived and ran to
awaiting_approval (finance and legal, tier 1); the SOW under it is blocked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from contract_assets.definitions import build_definitions
from contract_assets.approvals.approvals import Approver, SignedDecision, record_decision
from contract_assets.approvals.signing import read_private_key, read_public_key, write_keypair
from contract_assets_tests.harness import SAMPLES, cli, signed_decision
from contract_assets_tests.pipeline.test_pipeline import run_revision

MSA_R1, MSA_R2 = "blue-fjord-msa.r1", "blue-fjord-msa.r2"
SOW = "blue-fjord-sow-1.r1"
REQUESTER = "sam.okafor@orbital.example"  # requested_by of the blue-fjord samples

# name: (email, roles); "mallory" has a key but is not a registered approver.
PEOPLE = {
    "fin": ("fin@orbital.example", ["finance"]),
    "lex": ("lex@orbital.example", ["legal"]),
    "erin": ("erin@orbital.example", ["finance", "legal"]),
    "erin-legal": ("Erin@Orbital.example", ["legal"]),  # the same person under a second name
    "sam": (REQUESTER, ["finance"]),
    "exe": ("exe@orbital.example", ["executive"]),
}


@dataclass
class Keys:
    files: dict[str, Path]

    def pem(self, name: str) -> bytes:
        return read_private_key(self.files[name])


@pytest.fixture
def keys(ops, tmp_path) -> Keys:
    files = {}
    for name in [*PEOPLE, "mallory"]:
        files[name] = tmp_path / "keys" / f"{name}.key"
        public = write_keypair(files[name])
        if name in PEOPLE:
            email, roles = PEOPLE[name]
            ops.workspace.approvers.add(
                Approver(name=name, email=email, roles=roles, public_key=read_public_key(public))
            )
    return Keys(files)


@pytest.fixture
def msa_pending(home, ops, keys) -> None:
    for sample in ("02-msa-high-value.yaml", "05-msa-revision-2.yaml", "03-sow-under-msa.yaml"):
        key = ops.submit(SAMPLES / sample).revision.partition_key
        assert run_revision(home, ops.instance, key).success
    assert stage(ops, MSA_R2) == "awaiting_approval"
    assert stage(ops, SOW) == "blocked"
    routing = ops.status_of(ops.workspace.registry.get(MSA_R2)).routing
    assert [(a.role, a.tier) for a in routing.required_approvals] == [("finance", 1), ("legal", 1)]


def stage(ops, key: str) -> str:
    return ops.status_of(ops.workspace.registry.get(key)).stage.value


def signed(
    ops,
    keys: Keys,
    approver: str,
    role: str,
    key: str = MSA_R2,
    decision: str = "approve",
    signer: str | None = None,
    content_of: str | None = None,
) -> SignedDecision:
    """`approver`'s decision on revision `key`, signed with `signer`'s key (default: their own),
    bound to the content hash of `content_of` (default: `key`)."""
    return signed_decision(ops, key, approver, role, keys.pem(signer or approver), decision, content_of)


def accept(ops, decision: SignedDecision) -> str:
    counted, reason, status = ops.record_decision(decision)
    assert counted, reason
    return status


def assert_refused(ops, decision: SignedDecision, rule: str, key: str = MSA_R2) -> str:
    """Record `decision`, expect it refused under `rule`, and nothing changed but the refusal log."""
    log = ops.workspace.decisions
    accepted_before = [d.decision_id for d in log.accepted(MSA_R2)]
    refused_before = log.refused(key)
    stage_before = stage(ops, MSA_R2)

    counted, reason, _ = ops.record_decision(decision)

    assert not counted
    assert reason.startswith(f"{rule}:"), reason
    refused_after = log.refused(key)
    assert len(refused_after) == len(refused_before) + 1
    assert refused_after[-1] == (decision, reason)
    assert [d.decision_id for d in log.accepted(MSA_R2)] == accepted_before
    assert stage(ops, MSA_R2) == stage_before == "awaiting_approval"
    assert MSA_R2 not in [item.status.revision.partition_key for item in ops.pending()]
    return reason


def run_all(home, ops):
    return ops.run(
        lambda key, steps: run_revision(home, ops.instance, key, steps).success,
        progress=lambda status: None,
    )


# --- refusals --------------------------------------------------------------------------


def test_forged_signature_is_refused(ops, keys, msa_pending):
    reason = assert_refused(ops, signed(ops, keys, "fin", "finance", signer="mallory"), "forged signature")
    assert "'fin'" in reason


def test_decision_altered_after_signing_is_refused(ops, keys, msa_pending):
    genuine = signed(ops, keys, "fin", "finance", decision="reject")
    altered = SignedDecision(
        payload=genuine.payload.model_copy(update={"decision": "approve"}),
        signature=genuine.signature,
    )
    assert_refused(ops, altered, "forged signature")


def test_unknown_approver_is_refused(ops, keys, msa_pending):
    reason = assert_refused(ops, signed(ops, keys, "mallory", "finance"), "unknown approver")
    assert "mallory" in reason


def test_role_the_approver_does_not_hold_is_refused(ops, keys, msa_pending):
    reason = assert_refused(ops, signed(ops, keys, "lex", "finance"), "role not held")
    assert "finance" in reason


def test_role_this_revision_does_not_need_is_refused(ops, keys, msa_pending):
    reason = assert_refused(ops, signed(ops, keys, "exe", "executive"), "role not required")
    assert "finance" in reason and "legal" in reason  # what it does need


def test_approval_by_the_requester_is_refused(ops, keys, msa_pending):
    assert_refused(ops, signed(ops, keys, "sam", "finance"), "own request")


def test_the_same_decision_recorded_twice_is_refused_the_second_time(ops, keys, msa_pending):
    decision = signed(ops, keys, "fin", "finance")
    assert accept(ops, decision) == "awaiting_approval"

    assert_refused(ops, decision, "replay")
    assert len(ops.workspace.decisions.accepted(MSA_R2)) == 1


def test_one_person_approving_a_second_role_is_refused(ops, keys, msa_pending):
    accept(ops, signed(ops, keys, "erin", "finance"))

    assert_refused(ops, signed(ops, keys, "erin", "legal"), "second approval by the same person")
    # The same person under another approver name (same email, any case) is still one person.
    assert_refused(ops, signed(ops, keys, "erin-legal", "legal"), "second approval by the same person")
    assert accept(ops, signed(ops, keys, "lex", "legal")) == "approved"


def test_r1_decision_does_not_count_for_r2(ops, keys, msa_pending):
    r1_decision = signed(ops, keys, "fin", "finance", key=MSA_R1)

    # Recorded as it is: it names r1, which r2 superseded.
    reason = assert_refused(ops, r1_decision, "revision not pending", key=MSA_R1)
    assert "superseded" in reason

    # Applied to r2: the signature binds it to r1's key and content.
    log = ops.workspace.decisions
    status = ops.status_of(ops.workspace.registry.get(MSA_R2))
    counted, reason, state = record_decision(
        r1_decision,
        log=log,
        routing=status.routing,
        revision=status.revision,
        approvers=ops.workspace.approvers.load(),
        superseded=False,
    )
    assert not counted and reason.startswith("wrong revision:"), reason
    assert state.status == "awaiting_approval"
    assert log.accepted(MSA_R2) == [] and log.refused(MSA_R2)[-1] == (r1_decision, reason)

    # Re-addressed to r2 by editing the payload: the signature no longer verifies.
    readdressed = SignedDecision(
        payload=r1_decision.payload.model_copy(update={"partition_key": MSA_R2}),
        signature=r1_decision.signature,
    )
    assert_refused(ops, readdressed, "forged signature")

    # Signed for r2 by name but over r1's content.
    assert_refused(ops, signed(ops, keys, "fin", "finance", content_of=MSA_R1), "wrong revision")


def test_second_tier_decision_before_the_first_tier_is_refused(home, ops, keys, tmp_path):
    text = (SAMPLES / "02-msa-high-value.yaml").read_text()
    text = text.replace("contract_id: blue-fjord-msa", "contract_id: big-fjord-msa")
    text = text.replace('amount: "480000.00"', 'amount: "1500000.00"')
    request = tmp_path / "big.yaml"
    request.write_text(text)
    key = ops.submit(request).revision.partition_key
    assert run_revision(home, ops.instance, key).success
    routing = ops.status_of(ops.workspace.registry.get(key)).routing
    assert [(a.role, a.tier) for a in routing.required_approvals] == [("finance", 1), ("executive", 2)]
    log = ops.workspace.decisions

    counted, reason, status = ops.record_decision(signed(ops, keys, "exe", "executive", key=key))

    assert not counted and reason.startswith("tier not open yet:"), reason
    assert "finance" in reason
    assert status is None or status == "awaiting_approval"
    assert log.accepted(key) == [] and len(log.refused(key)) == 1
    assert stage(ops, key) == "awaiting_approval"

    # Once tier 1 is in, tier 2 may decide, and the revision is approved.
    assert accept(ops, signed(ops, keys, "fin", "finance", key=key)) == "awaiting_approval"
    assert accept(ops, signed(ops, keys, "exe", "executive", key=key)) == "approved"


# --- outcomes --------------------------------------------------------------------------


def test_approved_msa_gets_its_documents_and_its_sow_finishes(home, ops, keys, msa_pending):
    assert accept(ops, signed(ops, keys, "fin", "finance")) == "awaiting_approval"
    assert accept(ops, signed(ops, keys, "lex", "legal")) == "approved"

    ran = run_all(home, ops)

    assert [s.revision.partition_key for s in ran] == [MSA_R2, SOW]
    msa = ops.status_of(ops.workspace.registry.get(MSA_R2)).as_json()
    assert msa["stage"] == "ready_for_signature"
    assert msa["approval"]["status"] == "approved"
    assert sorted(d["role"] for d in msa["approval"]["decisions"]) == ["finance", "legal"]
    for kind in ("html", "pdf", "docx", "manifest"):
        assert Path(msa["artifacts"][kind]).is_file(), kind
    assert stage(ops, SOW) == "ready_for_signature"
    assert stage(ops, MSA_R1) == "superseded"
    assert run_all(home, ops) == []  # exactly once

    # Once approved, further decisions are refused and change nothing.
    counted, reason, _ = ops.record_decision(signed(ops, keys, "erin", "legal"))
    assert not counted and reason.startswith("revision not pending:"), reason


def test_rejection_leaves_no_documents_and_the_sow_blocked(home, ops, keys, msa_pending):
    assert accept(ops, signed(ops, keys, "fin", "finance", decision="reject")) == "rejected"

    run_all(home, ops)

    status = ops.status_of(ops.workspace.registry.get(MSA_R2))
    assert status.stage.value == "rejected"
    assert status.documents is None and status.package is None
    assert "contract_documents" not in status.materialized
    assert not list(ops.workspace.layout.documents_dir(MSA_R2).rglob("*.pdf"))
    assert stage(ops, SOW) == "blocked"
    counted, reason, _ = ops.record_decision(signed(ops, keys, "lex", "legal"))
    assert not counted and "rejected" in reason


def test_request_changes_closes_the_revision(home, ops, keys, msa_pending):
    status = accept(ops, signed(ops, keys, "lex", "legal", decision="request_changes"))
    assert status == "changes_requested"

    run_all(home, ops)

    revision_status = ops.status_of(ops.workspace.registry.get(MSA_R2))
    assert revision_status.stage.value == "changes_requested"
    assert revision_status.documents is None
    assert stage(ops, SOW) == "blocked"
    assert ops.pending() == []


# --- the record_approval job and the console command -----------------------------------


def sign_only(home, keys: Keys, approver: str, role: str, signer: str | None = None) -> dict:
    result = cli(
        "approve", MSA_R2, "--role", role, "--approver", approver,
        "--key", str(keys.files[signer or approver]), "--sign-only", home=home,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def record_approval(home, ops, run_config: dict):
    job = build_definitions(home).resolve_job_def("record_approval")
    return job.execute_in_process(run_config=run_config, instance=ops.instance, raise_on_error=False)


@pytest.mark.programs
def test_record_approval_job_records_a_signed_decision(home, ops, keys, msa_pending):
    config = sign_only(home, keys, "fin", "finance")
    assert ops.workspace.decisions.accepted(MSA_R2) == []  # signing alone records nothing

    result = record_approval(home, ops, config)

    assert result.success
    (decision,) = ops.workspace.decisions.accepted(MSA_R2)
    assert (decision.payload.approver, decision.payload.role) == ("fin", "finance")
    assert decision.signature == config["ops"]["record_signed_decision"]["config"]["signature"]


@pytest.mark.programs
def test_record_approval_job_fails_with_the_reason_for_a_forged_decision(home, ops, keys, msa_pending):
    config = sign_only(home, keys, "fin", "finance", signer="mallory")

    result = record_approval(home, ops, config)

    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "forged signature" in failure.step_failure_data.error.to_string()
    assert ops.workspace.decisions.accepted(MSA_R2) == []
    assert len(ops.workspace.decisions.refused(MSA_R2)) == 1
    assert stage(ops, MSA_R2) == "awaiting_approval"


@pytest.mark.programs
def test_approve_command_exits_non_zero_and_prints_the_reason_on_refusal(home, ops, keys, msa_pending):
    forged = cli(
        "approve", MSA_R2, "--role", "finance", "--approver", "fin",
        "--key", str(keys.files["mallory"]), home=home,
    )
    assert forged.returncode != 0
    assert "forged signature" in forged.stderr

    lacking = cli(
        "approve", MSA_R2, "--role", "legal", "--approver", "fin",
        "--key", str(keys.files["fin"]), home=home,
    )
    assert lacking.returncode != 0
    assert "role not held" in lacking.stderr
    assert ops.workspace.decisions.accepted(MSA_R2) == []
    assert len(ops.workspace.decisions.refused(MSA_R2)) == 2

    accepted = cli(
        "approve", MSA_R2, "--role", "finance", "--approver", "fin",
        "--key", str(keys.files["fin"]), home=home,
    )
    assert accepted.returncode == 0, accepted.stderr
    assert len(ops.workspace.decisions.accepted(MSA_R2)) == 1


# --- the redline -----------------------------------------------------------------------


@pytest.mark.programs
def test_redline_of_msa_r2_shows_exactly_what_changed(home, ops, msa_pending):
    result = cli("status", "blue-fjord-msa", "--json", home=home)
    assert result.returncode == 0, result.stderr
    by_key = {entry["partition_key"]: entry for entry in json.loads(result.stdout)}

    assert "changes" not in by_key[MSA_R1]  # the first revision has nothing to compare with
    r2 = by_key[MSA_R2]
    assert [(c["clause_id"], c["kind"]) for c in r2["changes"]] == [
        ("msa-fees-payment", "changed"),
        ("custom-1", "added"),
    ]
    fees, custom = r2["changes"]
    assert "520,000.00" in fees["summary"] and "75" in fees["summary"]
    assert custom["title"] == "Service credits"
    html = Path(r2["redline"]).read_text()
    assert "Service credits" in html and "520,000.00" in html


# --- a refused decision from the launchpad reads as a refusal, not a crash ---------------


def sign_config(ops, keys: Keys, approver: str, role: str) -> dict:
    """The launchpad config of `approver`'s approval as `role` on MSA_R2, signed now."""
    decision = signed(ops, keys, approver, role)
    config = {**decision.payload.model_dump(mode="json"), "signature": decision.signature}
    return {"ops": {"record_signed_decision": {"config": config}}}


@pytest.mark.programs
@pytest.mark.parametrize(
    ("approver", "role", "rule"),
    [
        ("fin", "legal", "role not held"),
        ("fin", "finance", "replay"),
        ("sam", "finance", "own request"),
    ],
)
def test_refused_decision_fails_the_run_with_the_reason_and_no_traceback(
    home, ops, keys, msa_pending, approver, role, rule
):
    from dagster import DagsterEventType, build_run_status_sensor_context

    from contract_assets.pipeline.defs.alerts import failure_alert_sensor
    from contract_assets.platform.notify import Notifier, NotifierConfig

    config = sign_config(ops, keys, approver, role)
    if rule == "replay":  # the same signed decision a second time
        assert record_approval(home, ops, config).success

    result = record_approval(home, ops, config)

    assert not result.success
    (_, reason) = ops.workspace.decisions.refused(MSA_R2)[-1]
    assert reason.startswith(f"{rule}:")
    (failure,) = result.get_step_failure_events()
    told = failure.step_failure_data.user_failure_data
    assert told.description == reason
    assert {name: value.value for name, value in told.metadata.items()} == {
        "reason": reason, "role": role, "approver": approver, "partition": MSA_R2,
    }
    events = ops.instance.all_logs(result.run_id)
    assert not [e for e in events if e.dagster_event and e.dagster_event.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    run_failure = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE)
    assert run_failure.job_failure_data.first_step_failure_event.step_failure_data.user_failure_data.description == reason
    assert stage(ops, MSA_R2) == "awaiting_approval"

    # The failure alert and its audit entry say the reason, and only the reason.
    context = build_run_status_sensor_context(
        sensor_name="failure_alert_sensor",
        dagster_event=run_failure,
        dagster_instance=ops.instance,
        dagster_run=ops.instance.get_run_by_id(result.run_id),
        resources={name: build_definitions(home).resources[name] for name in ("notifier", "contracts", "clock")},
    ).for_run_failure()
    failure_alert_sensor(context)
    (alert,) = [a for a in Notifier(NotifierConfig.for_home(home)).logged() if a.kind == "run_failure"]
    (run_failed,) = [e for e in ops.workspace.audit.entries() if e.action == "run_failed"]
    refusal = [e for e in ops.workspace.audit.entries() if e.action == "decision_refused"][-1]
    assert run_failed.details["error"] == reason == refusal.details["reason"]
    assert f"\n\n{reason}\n\n" in alert.body
    status = cli("status", "blue-fjord-msa", home=home)
    assert f"last decision refused ({role}, {approver}): {reason}" in status.stdout
    (shown,) = [s for s in json.loads(cli("status", "--json", home=home).stdout) if s["partition_key"] == MSA_R2]
    assert shown["refused_decisions"][-1] == {"role": role, "approver": approver, "decision": "approve", "reason": reason}
    for text in (alert.body, str(run_failed.details), str(refusal.details), status.stdout):
        assert "Traceback" not in text and "Stack Trace" not in text and "dagster._core" not in text
