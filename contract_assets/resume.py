"""Resuming a run from its failure with Dagster's own re-execution, keeping its partition.

Dagster re-executes from failure only in its UI; from Python, `ReexecutionOptions.from_failure`
needs a FAILURE or CANCELED run and does not carry the partition tag over. A run whose
process was killed stays STARTED: ours carry the process id and host, so a run whose
process is gone is marked failed first.
"""

from __future__ import annotations

import os
import socket

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    ReexecutionOptions,
    execute_job,
    reconstructable,
)
from dagster._core.execution.execution_result import ExecutionResult
from dagster._core.execution.plan.state import KnownExecutionState
from dagster._core.storage.tags import MAX_RETRIES_TAG

from contract_assets.domain.files import process_alive

PID_TAG = "contract_assets/pid"
HOST_TAG = "contract_assets/host"
PARTITION_TAG = "dagster/partition"
CARRIED_TAGS = (PARTITION_TAG, "dagster/partition_set")
RESUMABLE = {DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
# Marked as going, perhaps by a process that is gone (NOT_STARTED: killed between creating
# its run and starting it).
RECOVERABLE = {DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED}


class ResumeRefused(Exception):
    """Why a run cannot be resumed (no such run, not failed, not a pipeline run)."""


def worker_tags() -> dict[str, str]:
    """Tags naming the process that runs a run in-process, so a killed one can be told apart."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def mark_dead_run_failed(instance: DagsterInstance, run_id: str) -> bool:
    """If `run_id` is marked running but its process is gone, mark it failed; True if so."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.status not in RECOVERABLE:
        return False
    pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
    if run.status is DagsterRunStatus.NOT_STARTED and pid is None:
        return False  # created by a launcher that will start it (the daemon's), not by a console
    if pid is not None and host == socket.gethostname():
        if process_alive(int(pid)):
            return False
    elif instance.run_launcher.supports_check_run_worker_health:
        health = instance.run_launcher.check_run_worker_health(run)
        if health.status.value not in ("FAILED", "NOT_FOUND", "UNKNOWN"):
            return False
    else:
        return False
    # The caller resumes this run itself: the daemon's run retries must not start it again.
    instance.add_run_tags(run_id, {MAX_RETRIES_TAG: "0"})
    instance.report_run_failed(
        instance.get_run_by_id(run_id), message="the run's process is gone (killed or crashed)"
    )
    return True


def resume_run(instance: DagsterInstance, run_id: str) -> ExecutionResult:
    """Re-execute `run_id` from its failure: finished steps are not computed again."""
    from contract_assets.definitions import contract_pipeline_job

    run = instance.get_run_by_id(run_id)
    if run is None:
        raise ResumeRefused("no such run on this instance")
    if run.job_name != "contract_pipeline":
        raise ResumeRefused(f"it is a {run.job_name} run; only contract_pipeline runs resume")
    mark_dead_run_failed(instance, run_id)
    run = instance.get_run_by_id(run_id)
    if run.status not in RESUMABLE:
        raise ResumeRefused(f"it is {run.status.value}, not failed or canceled")
    tags = {key: run.tags[key] for key in CARRIED_TAGS if key in run.tags}
    steps = steps_to_resume(instance, run)
    if not steps:
        raise ResumeRefused("every step of it finished before it stopped; nothing is left to run")
    return execute_job(
        reconstructable(contract_pipeline_job),
        instance=instance,
        tags={**tags, **worker_tags()},
        reexecution_options=ReexecutionOptions(parent_run_id=run_id, step_selection=steps),
    )


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
