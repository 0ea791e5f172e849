"""Schedules' jobs and the failure sensor: alerts reach the home's log once, not once a tick."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dagster import AssetKey, DagsterEventType, build_run_status_sensor_context
from ruamel.yaml import YAML

from contract_assets import schedules
from contract_assets import resources as draft_module  # where drafts are assembled
from contract_assets.domain.approvals import Approver
from contract_assets.domain.notify import Notifier, NotifierConfig
from contract_assets.domain.reminders import approval_request_alerts
from contract_assets.domain.signing import read_private_key, read_public_key, write_keypair
from contract_assets.definitions import build_definitions
from contract_assets.domain.register import add_months
from contract_assets.domain.register_report import RegisterReport
from contract_assets.schedules import approval_request_sensor
from contract_assets_tests.harness import SAMPLES, record_approval
from contract_assets_tests.test_pipeline import run_revision
from contract_assets_tests.test_sensors import tick


def alerts(home) -> list[dict]:
    """Every alert logged in the home, oldest first, as the webhook would receive it."""
    logged = Notifier(NotifierConfig.for_home(home)).logged()
    return [alert.model_dump(mode="json") for alert in logged]


def run_job(home, ops, name: str):
    return build_definitions(home).resolve_job_def(name).execute_in_process(instance=ops.instance)


class _Later(datetime):
    """`datetime` whose now() is some hours ahead, to age pending approvals in tests."""

    hours = 0

    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + timedelta(hours=cls.hours)


def test_approval_sla_escalates_once_then_expires_after_seven_days(home, ops, monkeypatch):
    key = ops.submit(SAMPLES / "04-one-way-nda-long.yaml").revision.partition_key
    run_revision(home, ops.instance, key)
    monkeypatch.setattr(schedules, "datetime", _Later)

    _Later.hours = 47
    assert run_job(home, ops, "approval_sla_job").success
    assert alerts(home) == []

    _Later.hours = 49
    run_job(home, ops, "approval_sla_job")
    run_job(home, ops, "approval_sla_job")
    assert [a["kind"] for a in alerts(home)] == ["sla_escalation"]
    assert alerts(home)[0]["partition_key"] == key
    assert ops.statuses()[0].stage.value == "awaiting_approval"

    _Later.hours = 24 * 7 + 1
    run_job(home, ops, "approval_sla_job")
    assert [a["kind"] for a in alerts(home)] == ["sla_escalation", "expired"]
    assert ops.statuses()[0].stage.value == "expired"


def test_renewal_reminder_sent_once_for_an_executed_contract(home, ops, tmp_path):
    yaml = YAML(typ="safe", pure=True)
    request = yaml.load((SAMPLES / "01-mutual-nda.yaml").read_text())
    today = datetime.now(UTC).date()
    # Ends in 20 days; the 30-day notice date was 10 days ago.
    request["effective_date"] = add_months(today + timedelta(days=20), -12).isoformat()
    request["term_months"] = 12
    path = tmp_path / "renewing.yaml"
    with path.open("w") as handle:
        yaml.dump(request, handle)
    key = ops.submit(path).revision.partition_key
    run_revision(home, ops.instance, key)
    pdf = ops.statuses()[0].documents.path_of("pdf")
    (home.executed_dir / f"{key}.pdf").write_bytes(open(pdf, "rb").read())
    job = build_definitions(home).resolve_job_def("executed_copy_job")
    assert job.execute_in_process(instance=ops.instance, partition_key=key).success
    assert ops.statuses()[0].stage.value == "executed"
    assert run_job(home, ops, "contract_register_job").success
    report = ops.workspace.layout.read_model("register_report", None, RegisterReport)
    assert (report.in_force, report.renewal_notices_due) == (1, 1)
    assert "acme-robotics-nda" in Path(report.path_of("register_report")).read_text()
    figures = ops.instance.get_latest_materialization_event(AssetKey("register_report"))
    metadata = figures.asset_materialization.metadata
    assert metadata["renewal_notices_due"].value == 1 and metadata["status_executed"].value == 1

    run_job(home, ops, "renewal_reminders_job")
    run_job(home, ops, "renewal_reminders_job")

    sent = alerts(home)
    assert [a["kind"] for a in sent] == ["renewal"]
    assert sent[0]["contract_id"] == "acme-robotics-nda"
    assert date.fromisoformat(sent[0]["alert_id"].rsplit(":", 1)[1]) == today - timedelta(days=10)


def test_failure_sensor_sends_one_alert_naming_the_revision(home, ops, monkeypatch):
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key

    def broken(**_):
        raise RuntimeError("clause library unreadable")

    monkeypatch.setattr(draft_module, "assemble_draft", broken)
    result = run_revision(home, ops.instance, key, raise_on_error=False)
    assert not result.success
    failure = next(
        e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE
    )
    run = ops.instance.get_run_by_id(result.run_id)
    context = build_run_status_sensor_context(
        sensor_name="failure_alert_sensor",
        dagster_event=failure,
        dagster_instance=ops.instance,
        dagster_run=run,
        resources={
            name: build_definitions(home).resources[name] for name in ("notifier", "contracts")
        },
    ).for_run_failure()

    schedules.failure_alert_sensor(context)
    schedules.failure_alert_sensor(context)

    (alert,) = alerts(home)
    assert alert["kind"] == "run_failure" and alert["partition_key"] == key
    assert alert["contract_id"] == "acme-robotics-nda"
    (logged,) = [e for e in ops.workspace.audit.entries() if e.action == "run_failed"]
    assert logged.revision == key and logged.details["run_id"] == result.run_id


def test_approvers_are_asked_once_per_tier_and_never_the_requester(home, ops, tmp_path):
    yaml = YAML(typ="safe", pure=True)
    request = yaml.load((SAMPLES / "02-msa-high-value.yaml").read_text())
    request["value"]["amount"] = "1200000.00"  # very high value: finance, then executive
    path = tmp_path / "very-high.yaml"
    with path.open("w") as handle:
        yaml.dump(request, handle)
    key = ops.submit(path).revision.partition_key
    run_revision(home, ops.instance, key)
    keys = {}
    for name, email, roles in (
        ("fiona", "fiona@orbital.example", ["finance"]),
        ("erin", "erin@orbital.example", ["executive"]),
        ("sam", request["requested_by"], ["finance", "executive"]),  # asked for it: may not decide
    ):
        public = write_keypair(tmp_path / f"{name}.key")
        ops.workspace.approvers.add(
            Approver(name=name, email=email, roles=roles, public_key=read_public_key(public))
        )
        keys[name] = read_private_key(tmp_path / f"{name}.key")

    def requests_sent() -> list[dict]:
        tick(approval_request_sensor, home, ops.instance)
        tick(approval_request_sensor, home, ops.instance)  # a second tick sends nothing new
        return [a for a in alerts(home) if a["kind"] == "approval_request"]

    (first,) = requests_sent()
    assert first["alert_id"] == f"approval_request:{key}:tier1"
    assert "- finance: fiona\n" in first["body"] and "executive" not in first["body"]
    assert f"contract-assets approve {key} --role ROLE" in first["body"]

    record_approval(ops, key, "fiona", "finance", keys["fiona"])
    first_again, second = requests_sent()
    assert first_again == first
    assert second["alert_id"] == f"approval_request:{key}:tier2"
    assert "- executive: erin\n" in second["body"]

    ops.workspace.approvers.path.write_text("")  # nobody left who may decide
    assert ops.open_tiers()[0].approvers == {"executive": []}
    text = approval_request_alerts(ops.open_tiers(), datetime.now(UTC))[0].body
    assert "executive: nobody who may decide is configured" in text
