"""The run launcher's worker health check, and Dagster's run monitoring acting on it: a run
whose process died is marked failed instead of staying STARTED for ever."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import pytest
from dagster import DagsterEvent, DagsterEventType, DagsterRunStatus
from dagster._core.events import EngineEventData
from dagster._core.events.log import EventLogEntry
from dagster._core.launcher import WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG, WILL_RETRY_TAG
from dagster._daemon.monitoring.run_monitoring import monitor_started_run

from contract_assets.definitions import build_definitions
from contract_assets.platform.files import process_started_at
from contract_assets.platform.defs.launcher import LocalRunLauncher
from contract_assets.pipeline.defs.resume import mark_dead_run_failed
from contract_assets_tests.harness import SAMPLES

ON_THIS_MACHINE = json.dumps({"host": "localhost", "port": 4266})


def started_run(home, ops, grpc_info: str | None = ON_THIS_MACHINE):
    """A pipeline run marked STARTED, as the daemon's launcher leaves one; no worker yet."""
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    job = build_definitions(home).resolve_job_def("contract_pipeline")
    tags = {"dagster/partition": key, **({GRPC_INFO_TAG: grpc_info} if grpc_info else {})}
    run = ops.instance.create_run_for_job(job_def=job, tags=tags)
    ops.instance.run_storage.handle_run_event(
        run.run_id, DagsterEvent(event_type_value="PIPELINE_START", job_name=run.job_name)
    )
    return ops.instance.get_run_by_id(run.run_id)


def record_worker(instance, run, pid: int, at: float | None = None) -> None:
    """The engine event Dagster writes when a code server starts a run's process."""
    event = DagsterEvent(
        event_type_value=DagsterEventType.ENGINE_EVENT.value,
        job_name=run.job_name,
        message=f"Started process for run (pid: {pid}).",
        event_specific_data=EngineEventData.in_process(pid),
    )
    instance.store_event(
        EventLogEntry(
            error_info=None,
            level=logging.DEBUG,
            user_message=event.message,
            run_id=run.run_id,
            timestamp=time.time() if at is None else at,
            dagster_event=event,
            job_name=run.job_name,
        )
    )


@pytest.fixture
def worker():
    """A live process standing in for a run worker; killed at the end if still alive."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def test_the_home_instance_uses_the_launcher_with_monitoring_on(ops):
    assert isinstance(ops.instance.run_launcher, LocalRunLauncher)
    assert ops.instance.run_monitoring_enabled
    assert ops.instance.run_launcher.supports_check_run_worker_health


def test_a_live_worker_is_running_and_a_killed_one_failed(home, ops, worker):
    run = started_run(home, ops)
    record_worker(ops.instance, run, worker.pid)
    assert ops.instance.run_launcher.check_run_worker_health(run).status is WorkerStatus.RUNNING

    worker.kill()
    worker.wait()
    health = ops.instance.run_launcher.check_run_worker_health(run)
    assert health.status is WorkerStatus.FAILED
    assert str(worker.pid) in health.msg


def test_a_pid_now_held_by_a_newer_process_counts_as_gone(home, ops):
    """After a reboot or a long while, the recorded pid may be another program's."""
    run = started_run(home, ops)
    mine = os.getpid()
    record_worker(ops.instance, run, mine, at=process_started_at(mine) - 60)
    assert ops.instance.run_launcher.check_run_worker_health(run).status is WorkerStatus.FAILED


def test_a_worker_that_says_it_exited_while_the_run_is_started_failed(home, ops, worker):
    run = started_run(home, ops)
    record_worker(ops.instance, run, worker.pid)
    ops.instance.report_engine_event(f"Process for run exited (pid: {worker.pid}).", run)
    assert ops.instance.run_launcher.check_run_worker_health(run).status is WorkerStatus.FAILED


@pytest.mark.parametrize(
    "grpc_info, why",
    [
        (None, "no launcher recorded it and no console tagged it: nothing to judge it by"),
        (json.dumps({"host": "code.contracts.internal", "port": 4000}), "another machine"),
    ],
)
def test_runs_it_cannot_judge_are_left_running(home, ops, grpc_info, why):
    run = started_run(home, ops, grpc_info)
    record_worker(ops.instance, run, 999_999_999)  # no such process here
    assert ops.instance.run_launcher.check_run_worker_health(run).status is WorkerStatus.RUNNING, why


def test_a_run_whose_worker_has_not_started_is_left_to_the_start_timeout(home, ops):
    run = started_run(home, ops)
    assert ops.instance.run_launcher.check_run_worker_health(run).status is WorkerStatus.RUNNING


def test_run_monitoring_marks_a_run_with_a_dead_worker_failed(home, ops, worker):
    run = started_run(home, ops)
    record_worker(ops.instance, run, worker.pid)
    record = ops.instance.get_run_record_by_id(run.run_id)
    monitor_started_run(ops.instance, None, record, logging.getLogger("test"))
    assert ops.instance.get_run_by_id(run.run_id).status is DagsterRunStatus.STARTED

    worker.kill()
    worker.wait()
    monitor_started_run(ops.instance, None, record, logging.getLogger("test"))
    assert ops.instance.get_run_by_id(run.run_id).status is DagsterRunStatus.FAILURE
    status = ops.statuses()[0]
    assert status.stage.value == "failed"
    assert f"process {worker.pid} is gone" in status.error


def test_the_console_recovers_a_daemon_run_whose_worker_died(home, ops, worker):
    """`contract-assets run` need not wait for the monitoring daemon either."""
    run = started_run(home, ops)
    record_worker(ops.instance, run, worker.pid)
    assert not mark_dead_run_failed(ops.instance, run.run_id)
    worker.kill()
    worker.wait()
    assert mark_dead_run_failed(ops.instance, run.run_id)
    failed = ops.instance.get_run_by_id(run.run_id)
    assert failed.status is DagsterRunStatus.FAILURE
    # The console resumes it; the daemon, back later, must not retry it as well.
    assert ops.instance.run_retries_enabled
    assert failed.tags[WILL_RETRY_TAG] == "false"


def test_a_run_failed_by_run_monitoring_is_left_to_run_retries(home, ops, worker):
    run = started_run(home, ops)
    record_worker(ops.instance, run, worker.pid)
    worker.kill()
    worker.wait()
    record = ops.instance.get_run_record_by_id(run.run_id)
    monitor_started_run(ops.instance, None, record, logging.getLogger("test"))
    assert ops.instance.get_run_by_id(run.run_id).tags[WILL_RETRY_TAG] == "true"
