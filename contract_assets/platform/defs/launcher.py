"""The run launcher: Dagster's default one, able to tell when a run's process has died.

Dagster's `DefaultRunLauncher` starts each run in a process of a code server on this
machine but cannot say whether that process still lives, so run monitoring cannot use it:
a run whose process was killed (the daemon's process group killed, the kernel's OOM killer,
a reboot) stays STARTED for ever, and its revision looks busy to every sensor and console.
This launcher answers run monitoring's health check from the process id Dagster records
when it starts a run, so the monitoring daemon marks such a run failed and run retries
(dagster.yaml) start it again from its failure. A run a console executes in its own process
(`contract-assets run`) is judged by the console process its tags name: one whose console
died is marked failed too, for `contract-assets run` to resume or the UI to re-execute
(the daemon does not retry it).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from typing import Any

from dagster import DagsterEventType, DagsterRun, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._serdes import ConfigurableClassData

from contract_assets.platform.defs.console_runs import PID_TAG, console_worker_alive
from contract_assets.platform.files import process_started_at

# A recorded pid is another process's once that process started after the record; /proc's
# boot time is whole seconds, so start times are known to about a second.
CLOCK_SLACK_SECONDS = 2.0
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class LocalRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` with a run worker health check, for code servers on this machine.

    A run launched on a code server elsewhere (by host name or address) is reported as
    running: its process ids mean nothing here.
    """

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> LocalRunLauncher:
        return cls(inst_data=inst_data)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        console = console_worker_alive(run)
        if console is not None:  # executed in a console's own process, on this machine
            pid = run.tags[PID_TAG]
            if console:
                return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=pid)
            return CheckRunHealthResult(
                WorkerStatus.FAILED, f"its console process {pid} is gone (killed or crashed)"
            )
        if not _launched_on_this_machine(run):
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not launched on this machine")
        worker = _run_worker(self._instance, run)
        if worker is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "its process has not started yet")
        pid, recorded_at, exited = worker
        if exited:
            return CheckRunHealthResult(WorkerStatus.FAILED, f"process {pid} exited mid-run")
        started_at = process_started_at(pid)
        if started_at is None or started_at > recorded_at + CLOCK_SLACK_SECONDS:
            return CheckRunHealthResult(
                WorkerStatus.FAILED, f"process {pid} is gone (killed, or the machine restarted)"
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))


def _launched_on_this_machine(run: DagsterRun) -> bool:
    try:
        info = json.loads(run.tags.get(GRPC_INFO_TAG) or "null")
    except ValueError:
        return False
    if not isinstance(info, dict):
        return False  # executed in a console elsewhere: its process ids mean nothing here
    if "socket" in info:
        return True
    return info.get("host") in LOCAL_HOSTS | {socket.gethostname(), socket.getfqdn()}


def _run_worker(instance, run: DagsterRun) -> tuple[int, float, bool] | None:
    """The pid of the run's newest worker process, when it was recorded, and whether that
    process has said it exited; None if no worker has started."""
    worker = None
    for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        if event is None or event.step_key is not None:
            continue  # a step's own subprocess, not the run's worker
        metadata = event.engine_event_data.metadata or {}
        if "pid" in metadata:
            pid = int(metadata["pid"].value)
            worker = (pid, record.timestamp, False)
        elif worker is not None and (event.message or "").startswith("Process for run exited"):
            worker = (worker[0], worker[1], True)
    return worker
