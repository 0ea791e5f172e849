"""Resuming a run from its failure, keeping its partition, and finding runs whose process is gone.

Dagster re-executes from failure only in its UI; from Python, `ReexecutionOptions.from_failure`
does not carry the partition tag over. `resume_run` makes the re-execution itself, as a
console run (console_runs.py): with the parent's partition and asset selection, running the
steps that had not finished, with its job origin so the UI shows it.

Who resumes a failed run, so that it never runs twice: a console run (`run`, `demo`,
`resume`) is never retried by the daemon (it carries `dagster/max_retries` 0), and
`contract-assets run` resumes it; a run the daemon launched is retried by the daemon's run
retries when Dagster said so when it failed (`dagster/will_retry`), and the console leaves it
to them. `contract-assets resume RUN_ID` takes a run from the daemon's retries first.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
)
from dagster._core.execution.plan.state import KnownExecutionState
from dagster._core.storage.tags import (
    MAX_RETRIES_TAG,
    PARENT_RUN_ID_TAG,
    WILL_RETRY_TAG,
)

from contract_assets.platform.defs.console_runs import (
    HOST_TAG,
    PID_TAG,
    ConsoleRuns,
    console_runs,
    console_worker_alive,
    worker_tags,
)

__all__ = ["HOST_TAG", "PID_TAG", "worker_tags"]

PARTITION_TAG = "dagster/partition"
CARRIED_TAGS = (PARTITION_TAG, "dagster/partition_set")
RESUMABLE = {DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
# Marked as going, perhaps by a process that is gone (NOT_STARTED: killed between creating
# its run and starting it).
RECOVERABLE = {DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED}


class ResumeRefused(Exception):
    """Why a run cannot be resumed (no such run, not failed, not a pipeline run)."""


@dataclass(frozen=True)
class Resumed:
    run_id: str
    success: bool


def retried_by_the_daemon(run: DagsterRun) -> bool:
    """Whether the daemon's run retries start this failed run again (Dagster decides when
    the run fails: a run it launched whose process died, not a console's, not bad data)."""
    return run.status is DagsterRunStatus.FAILURE and run.tags.get(WILL_RETRY_TAG) == "true"


def mark_dead_run_failed(instance: DagsterInstance, run_id: str) -> bool:
    """If `run_id` is marked running but its process is gone, mark it failed; True if so."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.status not in RECOVERABLE:
        return False
    alive = console_worker_alive(run)
    if alive is None:
        if run.status is DagsterRunStatus.NOT_STARTED:
            return False  # a launcher (the daemon's) will start it, not a console
        if not instance.run_launcher.supports_check_run_worker_health:
            return False
        health = instance.run_launcher.check_run_worker_health(run)
        alive = health.status.value not in ("FAILED", "NOT_FOUND", "UNKNOWN")
    if alive:
        return False
    # The caller resumes this run itself: the daemon's run retries must not start it again.
    instance.add_run_tags(run_id, {MAX_RETRIES_TAG: "0"})
    instance.report_run_failed(
        instance.get_run_by_id(run_id), message="the run's process is gone (killed or crashed)"
    )
    return True


def resume_run(instance: DagsterInstance, run_id: str, runs: ConsoleRuns | None = None) -> Resumed:
    """Re-execute `run_id` from its failure here: finished steps are not computed again."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise ResumeRefused("no such run on this instance")
    if run.job_name != "contract_pipeline":
        raise ResumeRefused(f"it is a {run.job_name} run; only contract_pipeline runs resume")
    mark_dead_run_failed(instance, run_id)
    run = instance.get_run_by_id(run_id)
    if run.status not in RESUMABLE:
        raise ResumeRefused(f"it is {run.status.value}, not failed or canceled")
    # Taken from the daemon's run retries first, then checked: one of the two re-executes it.
    instance.add_run_tags(run_id, {WILL_RETRY_TAG: "false", MAX_RETRIES_TAG: "0"})
    children = instance.get_runs(RunsFilter(tags={PARENT_RUN_ID_TAG: run_id}), limit=1)
    if children:
        child = children[0]
        raise ResumeRefused(
            f"it was re-executed already as {child.run_id} ({child.status.value}); resume that one"
        )
    steps = steps_to_resume(instance, run)
    if not steps:
        raise ResumeRefused("every step of it finished before it stopped; nothing is left to run")
    tags = {key: run.tags[key] for key in CARRIED_TAGS if key in run.tags}
    if runs is not None:
        return _resume_with(runs, run, tags, steps)
    with console_runs(instance) as loaded:
        return _resume_with(loaded, run, tags, steps)


def _resume_with(runs: ConsoleRuns, parent: DagsterRun, tags: dict, steps: list[str]) -> Resumed:
    child = runs.create(parent.job_name, tags=tags, parent=parent, steps=steps)
    return Resumed(child.run_id, runs.execute(child))


def steps_to_resume(instance: DagsterInstance, run: DagsterRun) -> list[str]:
    """The steps re-execution from failure would run, less those whose materialization the
    run already recorded: a process killed after storing a step's output but before
    marking the step done must not compute (and issue) it a second time."""
    # Dagster's own selection for "from failure" (failed, skipped and never-started steps).
    retry, _ = KnownExecutionState.build_resume_retry_reexecution(instance=instance, parent_run=run)
    stored = {
        entry.step_key
        for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    }
    return [step for step in retry if step not in stored]
