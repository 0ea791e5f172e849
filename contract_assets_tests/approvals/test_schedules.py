"""Schedules' jobs and the failure sensor: alerts reach the home's log once, not once a tick."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, build_run_status_sensor_context, serialize_value
from ruamel.yaml import YAML

from contract_assets.pipeline.defs.alerts import failure_alert_sensor
from contract_assets.drafting.defs import assets as draft_module  # where drafts are assembled
from contract_assets.approvals.approvals import Approver, DecisionPayload, sign_decision
from contract_assets.platform.notify import ALERT, Notifier, NotifierConfig
from contract_assets.platform.protection import DataProtection, new_key
from contract_assets.platform.records import RecordStore, records_url
from contract_assets.approvals.signing import read_private_key, read_public_key, write_keypair
from contract_assets.definitions import build_definitions
from contract_assets.register.register import add_months
from contract_assets.register.register_report import RegisterReport
from contract_assets.pipeline.defs.revision_stage import latest_stage
from contract_assets.approvals.defs.sla import approval_request_sensor
from contract_assets_tests.platform.test_notify import smtp_sink, webhook  # noqa: F401 (fixtures)
from contract_assets_tests.harness import BACKEND, SAMPLES, ClockAhead, record_approval
from contract_assets_tests.pipeline.test_pipeline import run_revision
from contract_assets_tests.intake.test_sensors import tick


def alerts(home) -> list[dict]:
    """Every alert logged in the home, oldest first, as the webhook would receive it."""
    logged = Notifier(NotifierConfig.for_home(home)).logged()
    return [alert.model_dump(mode="json") for alert in logged]


def run_job(home, ops, name: str, **replaced):
    return build_definitions(home, **replaced).resolve_job_def(name).execute_in_process(instance=ops.instance)


def test_approval_sla_escalates_once_then_expires_after_seven_days(home, ops, monkeypatch):
    key = ops.submit(SAMPLES / "04-one-way-nda-long.yaml").revision.partition_key
    run_revision(home, ops.instance, key)
    assert run_job(home, ops, "approval_sla_job", clock=ClockAhead(hours=47)).success
    assert alerts(home) == []

    run_job(home, ops, "approval_sla_job", clock=ClockAhead(hours=49))
    run_job(home, ops, "approval_sla_job", clock=ClockAhead(hours=49))
    assert [a["kind"] for a in alerts(home)] == ["sla_escalation"]
    assert alerts(home)[0]["partition_key"] == key
    assert ops.statuses()[0].stage.value == "awaiting_approval"

    run_job(home, ops, "approval_sla_job", clock=ClockAhead(hours=24 * 7 + 1))
    assert [a["kind"] for a in alerts(home)] == ["sla_escalation", "expired"]
    assert ops.statuses()[0].stage.value == "expired"
    # The UI's stage view hears of it too, not only `status`.
    assert latest_stage(ops.instance, key).asset_observation.metadata["stage"].value == "expired"


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
            name: build_definitions(home).resources[name] for name in ("notifier", "contracts", "clock")
        },
    ).for_run_failure()

    failure_alert_sensor(context)
    failure_alert_sensor(context)

    (alert,) = alerts(home)
    assert alert["kind"] == "run_failure" and alert["partition_key"] == key
    assert alert["contract_id"] == "acme-robotics-nda"
    (logged,) = [e for e in ops.workspace.audit.entries() if e.action == "run_failed"]
    assert logged.revision == key and logged.details["run_id"] == result.run_id


REQUESTER = "sam.okafor@orbital.example"  # requested_by of the blue-fjord samples
TEAM = "legal-ops@orbital.example"  # the deployment's list


@pytest.fixture
def mail(monkeypatch, smtp_sink):
    """The home's notifier sends email to a loopback SMTP sink; the deployment's list is TEAM."""
    monkeypatch.setenv("CONTRACT_ASSETS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CONTRACT_ASSETS_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("CONTRACT_ASSETS_SMTP_SENDER", "contracts@orbital.example")
    monkeypatch.setenv("CONTRACT_ASSETS_SMTP_RECIPIENTS", TEAM)
    return smtp_sink


def add_approver(ops, tmp_path, name: str, email: str, roles: list[str]) -> bytes:
    public = write_keypair(tmp_path / f"{name}.key")
    ops.workspace.approvers.add(Approver(name=name, email=email, roles=roles, public_key=read_public_key(public)))
    return read_private_key(tmp_path / f"{name}.key")


def very_high_value_msa(home, ops, tmp_path) -> str:
    """An MSA awaiting finance (tier 1), then executive (tier 2), requested by REQUESTER."""
    yaml = YAML(typ="safe", pure=True)
    request = yaml.load((SAMPLES / "02-msa-high-value.yaml").read_text())
    assert request["requested_by"] == REQUESTER
    request["value"]["amount"] = "1200000.00"
    path = tmp_path / "very-high.yaml"
    with path.open("w") as handle:
        yaml.dump(request, handle)
    key = ops.submit(path).revision.partition_key
    run_revision(home, ops.instance, key)
    return key


class Ticks:
    """The approval sensor's ticks in a row, its cursor handed on as the daemon does."""

    def __init__(self, home, ops):
        self.home, self.ops, self.cursor, self.messages = home, ops, None, []

    def __call__(self):
        result = tick(approval_request_sensor, self.home, self.ops.instance, self.cursor)
        self.cursor = result.cursor
        self.messages.append(result.skip_message or "")
        return result


def test_each_approver_is_asked_once_by_their_own_email_and_those_added_later_too(home, ops, tmp_path, mail):
    key = very_high_value_msa(home, ops, tmp_path)
    keys = {"fiona": add_approver(ops, tmp_path, "fiona", "fiona@orbital.example", ["finance"])}
    add_approver(ops, tmp_path, "sam", REQUESTER, ["finance", "executive"])  # asked for it: may not decide
    ticks = Ticks(home, ops)

    def mails_since(count: int) -> list[tuple[list[str], str]]:
        ticks()
        ticks()  # a second tick sends nothing new
        return [(m.recipients, m.message["X-Contract-Assets-Alert-Id"].strip()) for m in mail.mails[count:]]

    assert mails_since(0) == [(["fiona@orbital.example"], f"approval_request:{key}:tier1:fiona")]
    body = mail.mails[0].message.get_content()
    assert "- finance: fiona" in body.splitlines() and "executive" not in body and "sam" not in body
    assert f"contract-assets approve {key} --role ROLE" in body

    # An approver added while tier 1 is open is asked on the next tick; fiona is not asked again.
    add_approver(ops, tmp_path, "fred", "fred@orbital.example", ["finance"])
    assert mails_since(1) == [(["fred@orbital.example"], f"approval_request:{key}:tier1:fred")]

    # Tier 2: nobody but the requester holds executive; the team hears it, once.
    record_approval(ops, key, "fiona", "finance", keys["fiona"])
    assert mails_since(2) == [([TEAM], f"approval_request:{key}:tier2:nobody:executive")]
    assert "nobody who may decide is configured" in mail.mails[2].message.get_content()

    add_approver(ops, tmp_path, "erin", "erin@orbital.example", ["executive"])
    assert mails_since(3) == [(["erin@orbital.example"], f"approval_request:{key}:tier2:erin")]
    assert all(REQUESTER not in m.recipients for m in mail.mails)
    assert ticks.messages[-1] == "0 approval request(s) and 0 outcome notice(s) sent; 1 tier(s) open"




@pytest.fixture(params=["no data key", "data key"])
def data_key(request, monkeypatch) -> DataProtection:
    """Personal data at rest: plaintext (masked where personal), or encrypted with a key."""
    monkeypatch.delenv("CONTRACT_ASSETS_DATA_KEY_FILE", raising=False)
    if request.param == "no data key":
        monkeypatch.delenv("CONTRACT_ASSETS_DATA_KEY", raising=False)
    else:
        monkeypatch.setenv("CONTRACT_ASSETS_DATA_KEY", new_key())
    return DataProtection.from_env()


def test_the_requester_hears_each_outcome_once_and_their_email_stays_out_of_dagster(
    data_key, home, ops, tmp_path, mail, webhook, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("CONTRACT_ASSETS_WEBHOOK_URL", webhook.url)
    nda = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    run_revision(home, ops.instance, nda)  # approved automatically: ready before the sensor's first tick
    yaml = YAML(typ="safe", pure=True)
    request = yaml.load((SAMPLES / "02-msa-high-value.yaml").read_text())
    approved = ops.submit(SAMPLES / "02-msa-high-value.yaml").revision.partition_key
    request["contract_id"] = "north-star-msa"
    with (tmp_path / "north-star.yaml").open("w") as handle:
        yaml.dump(request, handle)
    rejected = ops.submit(tmp_path / "north-star.yaml").revision.partition_key
    for key in (approved, rejected):
        run_revision(home, ops.instance, key)
    fiona = add_approver(ops, tmp_path, "fiona", "fiona@orbital.example", ["finance"])
    ticks = Ticks(home, ops)
    ticks()  # the first tick: the NDA's outcome predates it, so nobody is told of it

    record_approval(ops, approved, "fiona", "finance", fiona)
    revision = ops.workspace.registry.get(rejected)
    payload = DecisionPayload(
        partition_key=rejected, content_hash=revision.content_hash, role="finance", approver="fiona",
        decision="reject", signed_at=datetime.now(UTC), comment="A cap of 2x is more than we carry.",
    )
    assert ops.record_decision(sign_decision(payload, fiona))[0]
    ticks()
    ops.run(lambda key, steps: run_revision(home, ops.instance, key, steps).success, progress=lambda s: None)
    assert ops.status_of(ops.workspace.registry.get(approved)).stage.value == "ready_for_signature"
    ticks()
    ticks()

    told = [m for m in mail.mails if m.message["X-Contract-Assets-Alert-Id"].strip().startswith("approval_outcome:")]
    assert [(m.recipients, m.message["X-Contract-Assets-Alert-Id"].strip()) for m in told] == [
        ([REQUESTER], f"approval_outcome:{approved}:approved"),
        ([REQUESTER], f"approval_outcome:{rejected}:rejected"),
        ([REQUESTER], f"approval_outcome:{approved}:ready_for_signature"),
    ]
    assert "was rejected by fiona (finance)" in told[1].message.get_content()
    assert "A cap of 2x is more than we carry." in told[1].message.get_content()
    assert not [body for _, _, body in webhook.received if b"approval_outcome" in body]

    # The requester's email: in no run's events, no tick's words, no log line; the alert
    # log keeps it sealed with the data key, or masked without one.
    address = REQUESTER.encode()
    for record in ops.instance.get_run_records():
        for entry in ops.instance.all_logs(record.dagster_run.run_id):
            assert address not in serialize_value(entry).encode()
    assert REQUESTER not in " ".join(ticks.messages + [ticks.cursor or ""]) + caplog.text
    if BACKEND == "sqlite":
        for path in home.dagster_home.rglob("*"):
            assert not path.is_file() or address not in path.read_bytes(), path
    stored = RecordStore(records_url(home.root)).list(ALERT)
    assert stored and not [r.name for r in stored if address in r.body]
    notices = [a for a in Notifier(NotifierConfig.for_home(home)).logged() if a.kind == "approval_outcome"]
    assert [a.recipients for a in notices] == [["s***@orbital.example"]] * 3
    if data_key.enabled:
        assert [a.open_recipients(data_key) for a in notices] == [[REQUESTER]] * 3
    else:
        assert [a.recipients_sealed for a in notices] == [None] * 3
