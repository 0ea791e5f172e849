"""Alerts: a failed run (one alert and one audit entry each), and things stuck while nothing
fails: a file quarantined, an inbox not drained, a revision left blocked or unsigned. Each
sensor sends through the notifier and starts no run.

A dead daemon cannot say it is dead: `contract-assets health` is the check from outside.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from contract_assets.approvals.reminders import run_failure_alert
from contract_assets.audit.defs.auditing import trail_for
from contract_assets.documents.defs.assets import signature_package
from contract_assets.documents.defs.executed import executed_copy
from contract_assets.drafting.defs.assets import contract_draft
from contract_assets.intake.defs.assets import contract_request
from contract_assets.intake.inbox import Backlog, backlog
from contract_assets.intake.revisions import parse_partition_key
from contract_assets.pipeline.defs.failures import run_failure_text
from contract_assets.pipeline.defs.partitions import REVISIONS
from contract_assets.pipeline.defs.revision_state import RevisionState
from contract_assets.pipeline.stages import Stage
from contract_assets.platform.defs.clock import Clock
from contract_assets.platform.defs.notifier import AlertNotifier, AlertPolicy
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.platform.notify import AlertLedger
from contract_assets.platform.watch import (
    StuckRevision,
    inbox_alert,
    quarantine_alert,
    stuck_alert,
    stuck_alert_id,
)

# A folder changed less than this long ago may change again within its timestamp's
# resolution: its listing is not reused on the next tick.
SETTLE_NS = 2_000_000_000


# On a sensor's first tick, quarantine reports older than this predate it: not alerted.
QUARANTINE_LOOKBACK = timedelta(days=1)


REPORT_SUFFIX = ".error.json"


def _folder_stamp(folder: Path) -> int | None:
    """The folder's modification time (ns), which changes whenever a file enters or leaves it;
    None when there is no folder."""
    try:
        return folder.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def _settled(stamp: int | None) -> int | None:
    """`stamp` if the folder has been still long enough for its listing to be reused."""
    return stamp if stamp is not None and time.time_ns() - stamp > SETTLE_NS else None


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Tells people, once per file, when a request or executed copy is quarantined "
    "(with the reasons from its report). Looks into quarantine/ only when it changed.",
)
def quarantine_alert_sensor(
    context: SensorEvaluationContext, contracts: ContractWorkspace, notifier: AlertNotifier, clock: Clock
) -> SensorResult:
    """One alert per quarantine report written since the last tick.

    The reports on disk are the record: this reads them, so a quarantine by any sensor or
    command is covered, and a crash between quarantining and alerting loses nothing.
    """
    folder = contracts.workspace().home.quarantine_dir
    cursor = json.loads(context.cursor) if context.cursor else {}
    stamp = _folder_stamp(folder)
    if stamp is None or stamp == cursor.get("folder"):
        return SensorResult(skip_reason=SkipReason("nothing newly quarantined"), cursor=context.cursor)
    now = clock.now()
    newest = cursor.get("newest", int((now - QUARANTINE_LOOKBACK).timestamp() * 1e9))
    reports = sorted(
        (entry.stat(follow_symlinks=False).st_mtime_ns, entry.name)
        for entry in os.scandir(folder)
        if entry.name.endswith(REPORT_SUFFIX) and entry.is_file(follow_symlinks=False)
    )
    # `>=`: a report written in the same clock tick as the newest seen; the ledger drops repeats.
    fresh = [(modified, name) for modified, name in reports if modified >= newest]
    alerts = []
    for modified, name in fresh:
        try:
            report = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            report = {}
        alerts.append(quarantine_alert(name, report if isinstance(report, dict) else {}, modified, now))
    sent = notifier.send_all(alerts, context.log.warning)
    next_cursor = {"folder": _settled(stamp), "newest": max([newest, *(m for m, _ in fresh)])}
    return SensorResult(
        skip_reason=SkipReason(f"{sent} quarantine alert(s) sent"), cursor=json.dumps(next_cursor)
    )


@sensor(
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Tells people when the oldest file in the inbox has waited more than 10 "
    "minutes: once until the inbox is drained again.",
)
def inbox_alert_sensor(
    context: SensorEvaluationContext, contracts: ContractWorkspace, notifier: AlertNotifier, clock: Clock
) -> SensorResult:
    """One alert per episode of an undrained inbox (named by the oldest file when it began).

    The inbox is listed only when it changed since the last listing: an idle inbox costs
    one `stat` a tick.
    """
    inbox = contracts.workspace().home.inbox_dir
    cursor = json.loads(context.cursor) if context.cursor else {}
    stamp = _folder_stamp(inbox)
    if stamp is not None and stamp == cursor.get("folder") and cursor.get("backlog"):
        waiting = Backlog(**cursor["backlog"])
    else:
        waiting = backlog(inbox)
    alert = inbox_alert(waiting, clock.now())
    episode, sent = cursor.get("episode"), 0
    if alert is None:
        episode = None
    elif episode is None:  # a new episode; one going on was alerted when it began
        sent = notifier.send_all([alert], context.log.warning)
        episode = alert.alert_id
    next_cursor = {
        "folder": _settled(stamp),
        "backlog": {
            "files": waiting.files,
            "oldest": waiting.oldest,
            "oldest_mtime_ns": waiting.oldest_mtime_ns,
        },
        "episode": episode,
    }
    reason = "inbox drained" if alert is None else f"inbox not drained ({sent} alert(s) sent)"
    return SensorResult(skip_reason=SkipReason(reason), cursor=json.dumps(next_cursor))


# Each watched stage, the step whose materialization puts a revision there, and the step
# whose materialization takes it on.
WATCHED = [
    (Stage.BLOCKED, contract_request.key, contract_draft.key),
    (Stage.READY_FOR_SIGNATURE, signature_package.key, executed_copy.key),
]


@sensor(
    minimum_interval_seconds=900,
    default_status=DefaultSensorStatus.RUNNING,
    description="Tells people once when a revision has been blocked, or ready for signature, "
    "longer than the configured days (CONTRACT_ASSETS_ALERT_BLOCKED_DAYS, default 7; "
    "CONTRACT_ASSETS_ALERT_READY_FOR_SIGNATURE_DAYS, default 14).",
)
def stuck_revision_sensor(
    context: SensorEvaluationContext,
    contracts: ContractWorkspace,
    notifier: AlertNotifier,
    alert_policy: AlertPolicy,
    clock: Clock,
) -> SkipReason:
    """One alert per revision and stay in a watched stage, once it has lasted too long.

    Candidates come from which steps are materialized (a few queries, whatever the number of
    revisions); only a candidate past its limit and not yet alerted has its stage read.
    """
    workspace = contracts.workspace()
    instance = context.instance
    ledger = AlertLedger.for_home(workspace.home)
    state = RevisionState(workspace, instance)
    latest: dict[str, int] = {}
    for contract_id, number in _revision_numbers(instance.get_dynamic_partitions(REVISIONS)):
        latest[contract_id] = max(latest.get(contract_id, 0), number)
    now, alerts = clock.now(), []
    for stage, entered_by, left_by in WATCHED:
        limit = alert_policy.limit_days(stage)
        keys = instance.get_materialized_partitions(entered_by) - (
            instance.get_materialized_partitions(left_by)
        )
        for key, (contract_id, number) in zip(sorted(keys), _revision_numbers(sorted(keys))):
            if not contract_id or number < latest.get(contract_id, number):
                continue  # no revision key, or superseded: nobody will act on it
            since = _last_materialized(instance, entered_by, key)
            if since is None or now - since <= timedelta(days=limit):
                continue
            if stuck_alert_id(key, stage, since) in ledger:
                continue
            try:
                status = state.status_of(workspace.registry.get(key))
            except KeyError:  # a partition added by hand, never registered
                continue
            if status.stage is not stage:
                continue
            revision = StuckRevision(key, contract_id, stage, since, status.blocked_on)
            alerts.append(stuck_alert(revision, now, limit))
    sent = notifier.send_all([alert for alert in alerts if alert], context.log.warning)
    return SkipReason(f"{sent} stuck revision alert(s) sent")


def _revision_numbers(keys) -> list[tuple[str, int]]:
    """(contract id, revision number) of each key; ("", 0) for a partition added by hand that
    is no revision key (never a candidate: it has no registered revision)."""
    numbers = []
    for key in keys:
        try:
            numbers.append(parse_partition_key(key))
        except ValueError:
            numbers.append(("", 0))
    return numbers


def _last_materialized(instance, asset: AssetKey, partition_key: str) -> datetime | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset, asset_partitions=[partition_key]), limit=1
    ).records
    return datetime.fromtimestamp(records[0].timestamp, UTC) if records else None


ALERT_SENSORS = [quarantine_alert_sensor, inbox_alert_sensor, stuck_revision_sensor]


@run_failure_sensor(
    # Every job, and runs with no code location too (`dagster job execute`, console runs):
    # a list of jobs here is one more place a new job can be forgotten.
    monitor_all_code_locations=True,
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
)
def failure_alert_sensor(
    context: RunFailureSensorContext, notifier: AlertNotifier, contracts: ContractWorkspace, clock: Clock
) -> None:
    """One alert and one audit entry per failed run, naming the revision and the error."""
    run = context.dagster_run
    partition_key = run.tags.get("dagster/partition")
    error = run_failure_text(context.get_step_failure_events(), context.failure_event.message or "the run failed")
    trail_for(contracts.workspace(), context.instance).append(
        "run_failed",
        key=f"run_failed:{run.run_id}",
        actor="sensor:failure_alert_sensor",
        revision=partition_key,
        details={"run_id": run.run_id, "job": run.job_name, "error": error[:500]},
    )
    notifier.send_once(
        run_failure_alert(
            run_id=run.run_id,
            job_name=run.job_name,
            error=error,
            failed_at=clock.now(),
            contract_id=partition_key.rpartition(".r")[0] if partition_key else None,
            partition_key=partition_key,
        )
    )
