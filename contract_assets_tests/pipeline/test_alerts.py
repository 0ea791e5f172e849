"""Alerts for what is stuck while nothing fails (a file quarantined, an inbox not drained, a
revision left blocked or unsigned), failed runs of every job, and SMTP login from the
environment: each sensor ticked on a real instance, as the daemon ticks it."""

from __future__ import annotations

import os
import shutil
import time
from datetime import timedelta

import pytest
from dagster import DagsterInstance, build_sensor_context

from contract_assets.pipeline.defs import alerts as alerts_module
from contract_assets.platform.defs.notifier import alert_policy_from_env
from contract_assets.pipeline.defs.alerts import (
    inbox_alert_sensor,
    quarantine_alert_sensor,
    stuck_revision_sensor,
)
from contract_assets.definitions import build_definitions, resources_for
from contract_assets.pipeline.defs.alerts import failure_alert_sensor
from contract_assets.intake.defs.sensors import inbox_sensor
from contract_assets_tests.platform.test_notify import smtp_sink  # noqa: F401 (a fixture)
from contract_assets_tests.harness import INVALID, SAMPLES, ClockAhead
from contract_assets_tests.pipeline.test_pipeline import run_revision
from contract_assets_tests.approvals.test_schedules import alerts
from contract_assets_tests.intake.test_sensors import tick

BAD = INVALID / "bad-email-and-type-mismatch.yaml"
NDA = SAMPLES / "01-mutual-nda.yaml"
MSA = SAMPLES / "02-msa-high-value.yaml"
SOW = SAMPLES / "03-sow-under-msa.yaml"


def of_kind(home, kind: str) -> list[dict]:
    return [alert for alert in alerts(home) if alert["kind"] == kind]


def later(**delta) -> ClockAhead:
    """The clock resource moved ahead by `delta` (timedelta arguments), for the alert sensors."""
    return ClockAhead(hours=timedelta(**delta).total_seconds() / 3600)


# --- a file quarantined ------------------------------------------------------------------


def test_a_quarantined_file_is_alerted_once_with_its_reasons(home, ops):
    shutil.copyfile(BAD, home.inbox_dir / "order.yaml")
    tick(inbox_sensor, home, ops.instance)
    assert (home.quarantine_dir / "order.yaml.error.json").exists()

    first = tick(quarantine_alert_sensor, home, ops.instance)
    tick(quarantine_alert_sensor, home, ops.instance, first.cursor)
    tick(quarantine_alert_sensor, home, ops.instance)  # a sensor reset: the ledger remembers

    (alert,) = of_kind(home, "quarantined")
    assert alert["subject"] == "File quarantined: order.yaml"
    assert "counterparty.signatory.email" in alert["body"]  # the field path from its report
    assert "orbital.example" not in alert["body"]  # no email from the file reaches the alert

    # The same name again is another file, and another alert.
    shutil.copyfile(BAD, home.inbox_dir / "order.yaml")
    tick(inbox_sensor, home, ops.instance)
    tick(quarantine_alert_sensor, home, ops.instance, first.cursor)
    assert [a["subject"] for a in of_kind(home, "quarantined")] == [
        "File quarantined: order.yaml",
        "File quarantined: order.2.yaml",
    ]


def test_quarantine_reports_older_than_a_day_at_the_first_tick_are_not_alerted(home, ops):
    shutil.copyfile(BAD, home.inbox_dir / "old.yaml")
    tick(inbox_sensor, home, ops.instance)
    report = home.quarantine_dir / "old.yaml.error.json"
    two_days_ago = time.time() - 2 * 86400
    os.utime(report, (two_days_ago, two_days_ago))

    tick(quarantine_alert_sensor, home, ops.instance)

    assert of_kind(home, "quarantined") == []


# --- the inbox not drained ---------------------------------------------------------------


def drop_aged(home, name: str, minutes: float) -> None:
    target = home.inbox_dir / name
    shutil.copyfile(NDA, target)
    arrived = time.time() - minutes * 60
    os.utime(target, (arrived, arrived))


def test_an_inbox_not_drained_for_ten_minutes_is_alerted_once_per_episode(home, ops):
    drop_aged(home, "fresh.yaml", minutes=9)
    result = tick(inbox_alert_sensor, home, ops.instance)
    assert of_kind(home, "inbox_not_drained") == []

    drop_aged(home, "stuck.yaml", minutes=11)
    result = tick(inbox_alert_sensor, home, ops.instance, result.cursor)
    (alert,) = of_kind(home, "inbox_not_drained")
    assert "stuck.yaml" in alert["body"] and "2 request file(s)" in alert["body"]

    # Still undrained, even with another old file: the same episode, no second alert.
    drop_aged(home, "older.yaml", minutes=30)
    result = tick(inbox_alert_sensor, home, ops.instance, result.cursor)
    (home.inbox_dir / "older.yaml").unlink()
    result = tick(inbox_alert_sensor, home, ops.instance, result.cursor)
    assert len(of_kind(home, "inbox_not_drained")) == 1

    # Drained; then a file stuck again: a new episode.
    for path in home.inbox_dir.iterdir():
        path.unlink()
    result = tick(inbox_alert_sensor, home, ops.instance, result.cursor)
    drop_aged(home, "again.yaml", minutes=12)
    tick(inbox_alert_sensor, home, ops.instance, result.cursor)
    assert ["again.yaml" in a["body"] for a in of_kind(home, "inbox_not_drained")] == [False, True]


def test_an_idle_inbox_is_not_listed_again(home, ops, monkeypatch):
    drop_aged(home, "stuck.yaml", minutes=5)
    settled = time.time() - 60
    os.utime(home.inbox_dir, (settled, settled))  # nothing entered or left for a minute
    result = tick(inbox_alert_sensor, home, ops.instance)

    def listing(_):
        raise AssertionError("the unchanged inbox was listed again")

    monkeypatch.setattr(alerts_module, "backlog", listing)
    clock = later(minutes=6)  # the file is now 11 minutes old
    tick(inbox_alert_sensor, home, ops.instance, result.cursor, clock=clock)

    (alert,) = of_kind(home, "inbox_not_drained")
    assert "stuck.yaml" in alert["body"]


# --- revisions left blocked or unsigned ----------------------------------------------------


def test_a_revision_blocked_longer_than_the_configured_days_is_alerted_once(home, ops, monkeypatch):
    monkeypatch.setenv("CONTRACT_ASSETS_ALERT_BLOCKED_DAYS", "3")
    ops.submit(MSA)  # needs approval: its SOW stays blocked
    key = ops.submit(SOW).revision.partition_key
    run_revision(home, ops.instance, key, ["contract_request"])
    assert ops.status_of(ops.workspace.registry.get(key)).stage.value == "blocked"

    clock = later(days=2)
    tick(stuck_revision_sensor, home, ops.instance, clock=clock)
    assert of_kind(home, "revision_stuck") == []

    clock = later(days=4)
    tick(stuck_revision_sensor, home, ops.instance, clock=clock)
    tick(stuck_revision_sensor, home, ops.instance, clock=clock)
    (alert,) = of_kind(home, "revision_stuck")
    assert alert["partition_key"] == key and alert["subject"] == f"Blocked for 4 days: {key}"
    assert "parent msa 'blue-fjord-msa' has no approved revision" in alert["body"]


def test_a_revision_ready_for_signature_too_long_is_alerted_again_only_when_it_enters_anew(
    home, ops, monkeypatch
):
    key = ops.submit(NDA).revision.partition_key
    run_revision(home, ops.instance, key)
    assert ops.status_of(ops.workspace.registry.get(key)).stage.value == "ready_for_signature"

    clock = later(days=13)  # the default limit is 14 days
    tick(stuck_revision_sensor, home, ops.instance, clock=clock)
    assert of_kind(home, "revision_stuck") == []
    clock = later(days=15)
    tick(stuck_revision_sensor, home, ops.instance, clock=clock)
    tick(stuck_revision_sensor, home, ops.instance, clock=clock)
    assert [a["subject"] for a in of_kind(home, "revision_stuck")] == [
        f"Awaiting signature for 15 days: {key}"
    ]

    run_revision(home, ops.instance, key, ["signature_package"])  # a new package: a new stay
    clock = later(days=13)
    tick(stuck_revision_sensor, home, ops.instance, clock=clock)
    assert len(of_kind(home, "revision_stuck")) == 1
    clock = later(days=15)
    tick(stuck_revision_sensor, home, ops.instance, clock=clock)
    tick(stuck_revision_sensor, home, ops.instance, clock=clock)
    first, second = of_kind(home, "revision_stuck")
    assert second["subject"] == first["subject"] and second["alert_id"] != first["alert_id"]


def test_the_stuck_limits_come_from_the_environment_and_bad_values_name_the_variable(monkeypatch):
    assert (alert_policy_from_env().blocked_days, alert_policy_from_env().ready_for_signature_days) == (7, 14)
    monkeypatch.setenv("CONTRACT_ASSETS_ALERT_READY_FOR_SIGNATURE_DAYS", "30")
    assert alert_policy_from_env().ready_for_signature_days == 30
    monkeypatch.setenv("CONTRACT_ASSETS_ALERT_BLOCKED_DAYS", "0")
    with pytest.raises(ValueError, match="CONTRACT_ASSETS_ALERT_BLOCKED_DAYS: must be a whole number"):
        alert_policy_from_env()


# --- failed runs: every job ----------------------------------------------------------------


# Jobs that cannot start without run config (a new one fails the test until listed here).
DECISION = ("approver", "content_hash", "decision", "partition_key", "role", "signature", "signed_at")
RUN_CONFIG = {
    "record_approval": {"ops": {"record_signed_decision": {"config": {f: "x" for f in DECISION}}}}
}


def test_a_failed_run_of_every_job_in_the_definitions_is_alerted(home, ops):
    """Enumerates the definitions' jobs (the UI's asset job too): a new job cannot be left out."""
    instance: DagsterInstance = ops.instance
    defs = build_definitions(home)
    jobs = defs.get_repository_def().get_all_jobs()
    assert {"record_approval", "executed_copy_job", "contract_pipeline"} <= {j.name for j in jobs}

    def evaluate(cursor):
        context = build_sensor_context(
            instance=instance, cursor=cursor, resources=resources_for(home), definitions=defs
        )
        failure_alert_sensor.evaluate_tick(context)
        return context.cursor

    cursor = evaluate(None)  # the first tick starts from the newest event
    failed = {}
    for job in jobs:
        run = instance.create_run_for_job(job_def=job, run_config=RUN_CONFIG.get(job.name))
        instance.report_run_failed(run, message=f"{job.name} broke")
        failed[run.run_id] = job.name
    while (after := evaluate(cursor)) != cursor:  # Dagster takes at most 5 runs a tick
        cursor = after

    sent = {a["alert_id"]: a for a in of_kind(home, "run_failure")}
    assert set(sent) == {f"run_failure:{run_id}" for run_id in failed}
    for run_id, job_name in failed.items():
        assert sent[f"run_failure:{run_id}"]["subject"] == f"Run failed: {job_name}"


# --- SMTP login from the environment ---------------------------------------------------------


def test_smtp_login_comes_from_the_environment(home, ops, monkeypatch, smtp_sink):  # noqa: F811
    for name, value in {
        "HOST": "127.0.0.1",
        "PORT": str(smtp_sink.port),
        "SENDER": "contracts@orbital.example",
        "RECIPIENTS": "ops@orbital.example",
        "USERNAME": "contracts-relay",
        "PASSWORD": "s3cret-relay-word",
    }.items():
        monkeypatch.setenv(f"CONTRACT_ASSETS_SMTP_{name}", value)
    shutil.copyfile(BAD, home.inbox_dir / "order.yaml")
    tick(inbox_sensor, home, ops.instance)

    tick(quarantine_alert_sensor, home, ops.instance)

    assert smtp_sink.logins == [("contracts-relay", "s3cret-relay-word")]
    (mail,) = smtp_sink.mails
    assert mail.recipients == ["ops@orbital.example"]
    assert mail.message["Subject"] == "File quarantined: order.yaml"

