"""Runs the console makes (`run`, `demo`, `resume`), made as `dagster job launch` makes a run.

A run made by `execute_in_process` or `execute_job` records no job origin: the UI leaves it
off the job's Runs tab and the Overview timeline, and re-executing it fails. So each console
run is created from the code location the UI loads (`contract_assets.definitions`, the name
in workspace.yaml and `contract-assets dev`), with its origin and snapshots, and then
executed in the console's own process, as a run worker executes a launched run. The code
location is loaded in this process: no code server starts.

The console process is the run's worker: the run carries its pid, host and start time, and
the id of the run they were written for (a re-execution copies its parent's tags; copied
ones name another run and are ignored), so a run whose console died is told apart. The
daemon never retries a console run (`dagster/max_retries` 0); `contract-assets run` resumes
it, and the UI can re-execute it.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from dagster import AssetKey, DagsterInstance, DagsterRun
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.execution.api import execute_run
from dagster._core.execution.plan.state import KnownExecutionState
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.storage.tags import (
    MAX_RETRIES_TAG,
    PARENT_RUN_ID_TAG,
    RESUME_RETRY_TAG,
    ROOT_RUN_ID_TAG,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_run_id

from contract_assets.platform.files import process_started_at

# The code location as the UI names it (workspace.yaml, `contract-assets dev -m`).
LOCATION_NAME = "contract_assets.definitions"
# Its Definitions for the home in the environment now (the module's `defs` is the one of
# the environment the module was first imported in).
DEFINITIONS_FUNCTION = "home_definitions"

PID_TAG = "contract_assets/pid"
HOST_TAG = "contract_assets/host"
STARTED_TAG = "contract_assets/pid_started_at"
WORKER_OF_TAG = "contract_assets/worker_of"
# /proc gives a process's start time to about a second.
CLOCK_SLACK_SECONDS = 2.0


def worker_tags(run_id: str) -> dict[str, str]:
    """Tags naming this process as the worker of run `run_id`."""
    started = process_started_at(os.getpid())
    return {
        PID_TAG: str(os.getpid()),
        HOST_TAG: socket.gethostname(),
        STARTED_TAG: f"{started or 0.0:.0f}",
        WORKER_OF_TAG: run_id,
    }


def console_worker_alive(run: DagsterRun) -> bool | None:
    """Whether the console process executing `run` still lives; None when `run` is not
    executed by a console on this machine (a launched run, a re-execution that copied its
    parent's tags, a console elsewhere)."""
    tags = run.tags
    if PID_TAG not in tags or tags.get(HOST_TAG) != socket.gethostname():
        return None
    if tags.get(WORKER_OF_TAG, run.run_id) != run.run_id:
        return None  # copied from the parent run by a re-execution
    started = process_started_at(int(tags[PID_TAG]))
    if started is None:
        return False
    if STARTED_TAG not in tags or not started:  # runs of earlier versions; no /proc
        return True
    return abs(started - float(tags[STARTED_TAG])) <= CLOCK_SLACK_SECONDS


class ConsoleRuns:
    """The code location, loaded once in this process, and the runs made from it."""

    def __init__(self, instance: DagsterInstance, location: CodeLocation):
        self.instance = instance
        self.location = location
        [self.repository] = location.get_repositories().values()

    def create(
        self,
        job_name: str,
        *,
        tags: Mapping[str, str] | None = None,
        run_config: Mapping[str, object] | None = None,
        assets: Iterable[str] | None = None,
        parent: DagsterRun | None = None,
        steps: list[str] | None = None,
    ) -> DagsterRun:
        """Create a run of `job_name` (for `assets` only, when given) with its job origin,
        ready to execute here. With `parent`, a re-execution of it running `steps` only."""
        run_id = make_new_run_id()
        selection = frozenset(AssetKey(a) for a in assets) if assets else None
        if parent is not None:
            selection = parent.asset_selection
            run_config = parent.run_config
        remote_job = self.location.get_job(
            JobSubsetSelector(
                location_name=self.location.name,
                repository_name=self.repository.name,
                job_name=job_name,
                op_selection=None,
                asset_selection=selection,
            )
        )
        run_tags = {**remote_job.tags, **(tags or {}), **worker_tags(run_id), MAX_RETRIES_TAG: "0"}
        known_state = None
        if parent is not None:
            _, known_state = KnownExecutionState.build_resume_retry_reexecution(
                self.instance, parent
            )
            root = parent.root_run_id or parent.run_id
            run_tags.update(
                {PARENT_RUN_ID_TAG: parent.run_id, ROOT_RUN_ID_TAG: root, RESUME_RETRY_TAG: "true"}
            )
        plan = self.location.get_execution_plan(
            remote_job,
            run_config or {},
            step_keys_to_execute=steps,
            known_state=known_state,
            instance=self.instance,
        )
        return self.instance.create_run(
            job_name=job_name,
            run_id=run_id,
            run_config=run_config or {},
            status=None,
            tags=run_tags,
            root_run_id=(parent.root_run_id or parent.run_id) if parent else None,
            parent_run_id=parent.run_id if parent else None,
            step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
            execution_plan_snapshot=plan.execution_plan_snapshot,
            job_snapshot=remote_job.job_snapshot,
            parent_job_snapshot=remote_job.parent_job_snapshot,
            asset_selection=selection,
            asset_check_selection=None,
            resolved_op_selection=remote_job.resolved_op_selection,
            op_selection=None,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            asset_graph=self.repository.asset_graph,
        )

    def execute(self, run: DagsterRun) -> bool:
        """Execute a run created here in this process, as a run worker would; whether it
        succeeded."""
        job = self.location.get_reconstructable_job(self.repository.name, run.job_name)
        return execute_run(job, run, self.instance).success


@contextmanager
def console_runs(instance: DagsterInstance) -> Iterator[ConsoleRuns]:
    """The UI's code location loaded in this process, for making and executing runs."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=LOCATION_NAME,
            attribute=DEFINITIONS_FUNCTION,
            working_directory=os.getcwd(),
        ),
        location_name=LOCATION_NAME,
    )
    with origin.create_location(instance) as location:
        yield ConsoleRuns(instance, location)
