"""Sensors: requests start when they arrive, revisions go on when their decisions are in."""



from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from contract_assets.documents.defs.jobs import executed_copy_job
from contract_assets.pipeline.defs.jobs import contract_pipeline
from contract_assets.register.defs.assets import contract_register
from contract_assets.register.defs.jobs import register_job


@sensor(
    job=register_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Rebuilds the contract register after revisions have run (at most every 30 s).",
)
def register_sensor(context: SensorEvaluationContext) -> SensorResult:
    """One register run for the newest finished revision run it has not yet seen, unless
    the register was built after that run ended (by `contract-assets run` or the demo before
    the daemon started): an up-to-date register is not rebuilt."""
    finished = [
        record
        for job_name in (contract_pipeline.name, executed_copy_job.name)
        for record in context.instance.get_run_records(
            RunsFilter(job_name=job_name, statuses=[DagsterRunStatus.SUCCESS]), limit=1
        )
    ]
    if not finished:
        return SensorResult(skip_reason=SkipReason("no finished revision run yet"))
    newest = max(finished, key=lambda record: record.storage_id)
    latest = newest.dagster_run.run_id
    if latest == context.cursor:
        return SensorResult(skip_reason=SkipReason("register is up to date"))
    built = context.instance.get_latest_materialization_event(contract_register.key)
    built_by = context.instance.get_run_record_by_id(built.run_id) if built else None
    started, ended = (built_by.start_time if built_by else None), newest.end_time
    if started and ended and started >= ended:
        why = "register was built after the newest revision run"
        return SensorResult(skip_reason=SkipReason(why), cursor=latest)
    return SensorResult(run_requests=[RunRequest(run_key=f"register:{latest}")], cursor=latest)
