"""`contract-assets resume`: Dagster's re-execution from failure, keeping the partition."""

from __future__ import annotations

import pytest
from dagster import AssetKey, DagsterEvent, DagsterRunStatus

from contract_assets.assets import risk as risk_module
from contract_assets.definitions import build_definitions
from contract_assets.operations import PIPELINE
from contract_assets.resume import PID_TAG, ResumeRefused, mark_dead_run_failed, resume_run, worker_tags
from contract_assets_tests.harness import SAMPLES, assert_materialized_once


def failed_run(home, ops, monkeypatch) -> tuple[str, str]:
    key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
    job = build_definitions(home).resolve_job_def("contract_pipeline")
    with monkeypatch.context() as patch:
        patch.setattr(risk_module, "assess_risk", lambda **_: 1 / 0)
        result = job.execute_in_process(
            instance=ops.instance, partition_key=key, tags=worker_tags(), raise_on_error=False
        )
    assert not result.success
    return key, result.run_id


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
    done = job.execute_in_process(instance=ops.instance, partition_key=key, asset_selection=[AssetKey(PIPELINE[0])])
    with pytest.raises(ResumeRefused, match="not failed"):
        resume_run(ops.instance, done.run_id)
    with pytest.raises(ResumeRefused, match="no such run"):
        resume_run(ops.instance, "0" * 36)
