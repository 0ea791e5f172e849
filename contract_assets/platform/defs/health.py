"""`contract-assets health`: is this deployment working, seen from outside the daemon.

Reads the Dagster instance (heartbeats, runs) and the home's inbox; never the definitions,
so it answers even when the code location cannot load, and quickly enough for a probe.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from contract_assets.intake.inbox import backlog
from contract_assets.platform.home import ContractHome
from contract_assets.platform.watch import (
    Check,
    failures_check,
    heartbeat_check,
    inbox_check,
    queue_check,
)

DEFAULT_MAX_QUEUED = 100
DEFAULT_MAX_FAILED = 0


def health_checks(
    instance: DagsterInstance,
    home: ContractHome,
    *,
    max_queued: int = DEFAULT_MAX_QUEUED,
    max_failed: int = DEFAULT_MAX_FAILED,
    now: datetime | None = None,
) -> list[Check]:
    """The checks, in order: daemon heartbeat, queued runs, oldest inbox file, failed runs
    in the last hour."""
    now = now or datetime.now(UTC)
    beats = [beat.timestamp for beat in instance.get_daemon_heartbeats().values()]
    newest = datetime.fromtimestamp(max(beats), UTC) if beats else None
    queued = instance.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.QUEUED]))
    failed = instance.get_runs_count(
        RunsFilter(statuses=[DagsterRunStatus.FAILURE], updated_after=now - timedelta(hours=1))
    )
    return [
        heartbeat_check(newest, now),
        queue_check(queued, max_queued),
        inbox_check(backlog(home.inbox_dir), now),
        failures_check(failed, max_failed),
    ]
