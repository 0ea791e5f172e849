"""What the people running contract_assets are told when something is stuck, and the checks
of `contract-assets health`.

Pure functions: the caller passes the time and the figures. Each alert id names one episode
(a quarantined file, the oldest file of an undrained inbox, a revision's stay in a stage), so
evaluating again every tick yields the same id and the alert ledger lets it out once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contract_assets.intake.inbox import DRAIN_LIMIT, Backlog
from contract_assets.pipeline.stages import Stage
from contract_assets.platform.models import shown
from contract_assets.platform.notify import Alert

# dagster-daemon writes a heartbeat every 30 s: none for 90 s means it is stopped or hung.
HEARTBEAT_LIMIT = timedelta(seconds=90)
# The stages a revision can sit in unnoticed, and how long by default (days) before an alert.
STUCK_DEFAULT_DAYS = {Stage.BLOCKED: 7, Stage.READY_FOR_SIGNATURE: 14}


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _minutes(age: timedelta) -> int:
    return int(age.total_seconds() // 60)


# --- alerts ----------------------------------------------------------------------------------


def quarantine_alert(report_name: str, report: dict[str, Any], modified_ns: int, now: datetime) -> Alert:
    """The alert for one quarantine report (`<file>.error.json`), id
    `quarantined:<report>:<its modification time>`: a later file kept under the same name
    is a new alert."""
    kept = report_name.removesuffix(".error.json")
    listed = report.get("errors")
    errors = [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []
    lines = "\n".join(f"- {shown(e.get('path'), 120)}: {shown(e.get('message'), 300)}" for e in errors[:20])
    if len(errors) > 20:
        lines += f"\n- ... and {len(errors) - 20} more in the report"
    return Alert(
        alert_id=f"quarantined:{shown(report_name, 250)}:{modified_ns}",
        kind="quarantined",
        subject=f"File quarantined: {shown(kept, 120)}",
        body=(
            f"The file {shown(kept, 200)} was not accepted and was moved to quarantine/ "
            f"(at {_utc_text(now)}), beside its report {shown(report_name, 200)}:\n"
            f"{lines or '- (the report lists no reason)'}\n\n"
            "Nothing was registered from it. Fix it and drop it again: a request into inbox/, "
            "a countersigned copy into executed/.\n"
        ),
        contract_id=None,
        created_at=now,
    )


def inbox_alert(backlog: Backlog, now: datetime) -> Alert | None:
    """The alert for an inbox not drained: its oldest request file has waited longer than
    DRAIN_LIMIT. None while it is drained. The id names that oldest file, so one episode of
    an undrained inbox is one alert, however long it lasts."""
    age = backlog.oldest_age(now)
    if age is None or age <= DRAIN_LIMIT:
        return None
    return Alert(
        alert_id=f"inbox_not_drained:{shown(backlog.oldest, 250)}:{backlog.oldest_mtime_ns}",
        kind="inbox_not_drained",
        subject=f"Inbox not drained: the oldest file has waited {_minutes(age)} minutes",
        body=(
            f"{backlog.files} request file(s) wait in the inbox; the oldest, "
            f"{shown(backlog.oldest, 200)}, has waited {_minutes(age)} minutes "
            f"(the limit is {_minutes(DRAIN_LIMIT)}).\n\n"
            "The inbox sensor is off, failing, or behind. Check its ticks in the Dagster UI "
            "(Automation, inbox_sensor) and run `contract-assets health`.\n"
        ),
        contract_id=None,
        created_at=now,
    )


@dataclass(frozen=True)
class StuckRevision:
    """A revision in `stage` since `since` (when the step that put it there last ran)."""

    partition_key: str
    contract_id: str
    stage: Stage
    since: datetime
    reason: str | None = None  # what it waits for (an sow's parent MSA), when known


def stuck_alert_id(partition_key: str, stage: Stage, since: datetime) -> str:
    return f"stuck:{partition_key}:{stage.value}:{since.astimezone(UTC).isoformat()}"


def stuck_alert(revision: StuckRevision, now: datetime, limit_days: int) -> Alert | None:
    """The alert for a revision in `blocked` or `ready_for_signature` longer than `limit_days`,
    id `stuck:<partition_key>:<stage>:<since>`: once per stay in the stage; entering it anew
    (a new package, a request validated again) is a new stay."""
    waited = now - revision.since
    if waited <= timedelta(days=limit_days):
        return None
    key, stage = revision.partition_key, revision.stage
    days = waited.days
    if stage is Stage.BLOCKED:
        subject = f"Blocked for {days} days: {key}"
        what = f"has been blocked since {_utc_text(revision.since)}"
        action = (
            f"It waits for: {revision.reason or 'its parent MSA to be approved'}. Approve "
            "the parent MSA, or withdraw the statement of work."
        )
    else:
        subject = f"Awaiting signature for {days} days: {key}"
        what = f"has been ready for signature since {_utc_text(revision.since)}"
        action = (
            "Chase the countersignature, then drop the signed PDF into the home's executed/ "
            f"folder as {key}.pdf; `contract-assets status {revision.contract_id}` shows the package."
        )
    return Alert(
        alert_id=stuck_alert_id(key, stage, revision.since),
        kind="revision_stuck",
        subject=subject,
        body=(
            f"Revision {key} of contract {revision.contract_id} {what} ({days} days; the "
            f"limit is {limit_days}).\n\n{action}\n"
        ),
        contract_id=revision.contract_id,
        partition_key=key,
        created_at=now,
    )


# --- health checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One line of `contract-assets health`: what was checked, whether it passed, the figure."""

    key: str  # what `contract-assets health --check KEY` selects it by
    name: str
    ok: bool
    figure: str

    def line(self) -> str:
        """`OK   name: figure` or `FAIL name: figure`."""
        return f"{'OK' if self.ok else 'FAIL':<4} {self.name}: {self.figure}"


def heartbeat_check(newest: datetime | None, now: datetime) -> Check:
    if newest is None:
        never = "none recorded: the daemon never ran on this instance"
        return Check("daemon", "daemon heartbeat", False, never)
    age = int((now - newest).total_seconds())
    limit = int(HEARTBEAT_LIMIT.total_seconds())
    return Check("daemon", "daemon heartbeat", age <= limit, f"{age} s old (limit {limit} s)")


def queue_check(queued: int, limit: int) -> Check:
    return Check("queue", "queued runs", queued <= limit, f"{queued} (limit {limit})")


def inbox_check(backlog: Backlog, now: datetime) -> Check:
    age = backlog.oldest_age(now)
    if age is None:
        return Check("inbox", "oldest inbox file", True, "inbox empty")
    limit = _minutes(DRAIN_LIMIT)
    seconds = max(int(age.total_seconds()), 0)
    return Check(
        "inbox",
        "oldest inbox file",
        age <= DRAIN_LIMIT,
        f"{seconds} s old, {backlog.files} file(s) waiting (limit {limit} min)",
    )


def failures_check(failed: int, limit: int) -> Check:
    return Check("failures", "failed runs in the last hour", failed <= limit, f"{failed} (limit {limit})")
