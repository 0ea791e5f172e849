"""`contract-assets resume`: Dagster's re-execution from failure, keeping the partition."""

from __future__ import annotations

import logging
import time

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterEvent,
    DagsterEventType,
    DagsterRunStatus,
)
from dagster._core.events import StepMaterializationData
from dagster._core.events.log import EventLogEntry

from contract_assets.approvals.defs import risk as risk_module
from contract_assets.definitions import build_definitions
from contract_assets.pipeline.defs.asset_graph import PIPELINE_STEPS
from contract_assets.platform.defs.console_runs import WORKER_OF_TAG, console_runs
from contract_assets.pipeline.defs.resume import (
    PID_TAG,
    ResumeRefused,
    mark_dead_run_failed,
    resume_run,
    steps_to_resume,
    worker_tags,
)
from contract_assets_tests.harness import SAMPLES, assert_materialized_once


def failed_run(home, ops, monkeypatch) -> tuple[str, str]:
    """A console run of a new NDA that failed at its risk assessment."""
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    with monkeypatch.context() as patch, console_runs(ops.instance) as runs:
        patch.setattr(risk_module, "assess_risk", lambda **_: 1 / 0)
        run = runs.create("contract_pipeline", tags={"dagster/partition": key})
        assert not runs.execute(run)
    return key, run.run_id


def test_resume_reexecutes_from_failure_keeping_the_partition(home, ops, monkeypatch):
    key, run_id = failed_run(home, ops, monkeypatch)

    outcome = resume_run(ops.instance, run_id)

    assert outcome.success
    child = ops.instance.get_run_by_id(outcome.run_id)
    assert child.tags["dagster/partition"] == key
    assert child.parent_run_id == run_id
    # The steps that finished before the failure were not computed again.
    assert_materialized_once(ops.instance, [key])
    assert ops.statuses()[0].stage.value == "ready_for_signature"


def test_a_run_marked_started_whose_process_is_gone_is_failed_then_resumed(home, ops, monkeypatch):
    key, run_id = failed_run(home, ops, monkeypatch)
    run = ops.instance.get_run_by_id(run_id)
    # As if SIGKILLed mid-run: still STARTED, and its process no longer exists.
    ops.instance.add_run_tags(run_id, {PID_TAG: "999999999"})
    ops.instance.run_storage.handle_run_event(
        run_id,
        DagsterEvent(event_type_value="PIPELINE_START", job_name=run.job_name),
    )
    assert ops.instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED

    assert mark_dead_run_failed(ops.instance, run_id)
    assert ops.instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE


def test_resume_refuses_a_successful_or_unknown_run(home, ops):
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    job = build_definitions(home).resolve_job_def("contract_pipeline")
    done = job.execute_in_process(instance=ops.instance, partition_key=key, asset_selection=[AssetKey(PIPELINE_STEPS[0])])
    with pytest.raises(ResumeRefused, match="not failed"):
        resume_run(ops.instance, done.run_id)
    with pytest.raises(ResumeRefused, match="no such run"):
        resume_run(ops.instance, "0" * 36)


def test_a_step_stored_before_the_kill_is_not_run_again(home, ops, monkeypatch):
    """Killed between storing a step's materialization and marking the step done: re-execution
    from failure would run that step again; resume leaves it out."""
    key, run_id = failed_run(home, ops, monkeypatch)
    run = ops.instance.get_run_by_id(run_id)
    assert "risk_assessment" in steps_to_resume(ops.instance, run)

    stored = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name=run.job_name,
        step_key="risk_assessment",
        event_specific_data=StepMaterializationData(
            AssetMaterialization(asset_key="risk_assessment", partition=key)
        ),
    )
    ops.instance.store_event(
        EventLogEntry(
            error_info=None, level=logging.INFO, user_message="", run_id=run_id,
            timestamp=time.time(), step_key="risk_assessment", job_name=run.job_name,
            dagster_event=stored,
        )
    )

    steps = steps_to_resume(ops.instance, run)
    assert "risk_assessment" not in steps
    assert "approval_routing" in steps  # what came after it still runs


def test_a_run_created_but_never_started_by_a_killed_console_is_marked_failed(home, ops):
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    job = build_definitions(home).resolve_job_def("contract_pipeline")
    gone = {**worker_tags("orphan"), PID_TAG: "999999999"}
    gone.pop(WORKER_OF_TAG)  # as a console of an earlier version tagged its runs
    orphan = ops.instance.create_run_for_job(job_def=job, tags={"dagster/partition": key, **gone})
    queued_by_daemon = ops.instance.create_run_for_job(job_def=job, tags={"dagster/partition": key})

    assert mark_dead_run_failed(ops.instance, orphan.run_id)
    assert ops.instance.get_run_by_id(orphan.run_id).status == DagsterRunStatus.FAILURE
    # A run with no console's pid belongs to a launcher that will start it: left alone.
    assert not mark_dead_run_failed(ops.instance, queued_by_daemon.run_id)
    assert ops.instance.get_run_by_id(queued_by_daemon.run_id).status == DagsterRunStatus.NOT_STARTED
