"""Sensors: requests start when they arrive, revisions go on when their decisions are in."""



from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)

from contract_assets.documents.defs.jobs import executed_copy_job
from contract_assets.intake.revisions import parse_partition_key
from contract_assets.pipeline.defs.jobs import contract_pipeline
from contract_assets.pipeline.defs.revision_stage import record_stages
from contract_assets.pipeline.defs.revision_state import RevisionState
from contract_assets.pipeline.defs.run_planning import RunPlanner
from contract_assets.pipeline.stages import Stage
from contract_assets.platform.defs.resources import ContractWorkspace


@sensor(
    job=contract_pipeline,
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    description="Continues revisions whose approval decisions are final, and statements of "
    "work whose parent MSA has been approved.",
)
def progress_sensor(context: SensorEvaluationContext, contracts: ContractWorkspace) -> SensorResult:
    """One run per state that makes work due (the run key names that state): decided
    approvals go on to rendering, unblocked SOWs to drafting. New and failed revisions are
    left to the inbox sensor and to people."""
    planner = RunPlanner(contracts.workspace(), context.instance)
    busy = planner.state.partitions_in_flight()
    requests = [
        RunRequest(
            partition_key=item.status.revision.partition_key,
            run_key=item.key,
            asset_selection=[AssetKey(step) for step in item.steps],
        )
        for item in planner.pending()
        if item.status.stage not in (Stage.RECEIVED, Stage.FAILED)
        and item.status.revision.partition_key not in busy  # its run is not over yet
    ]
    if not requests:
        return SensorResult(skip_reason=SkipReason("no revision has new work"))
    return SensorResult(run_requests=requests)


# The runs after which a revision's stage may have moved. record_approval is not among them:
# recording a decision observes the stage itself, from the console and the launchpad alike.
STAGE_JOBS = [contract_pipeline, executed_copy_job]


def _observe_stage_after(context: RunStatusSensorContext, contracts: ContractWorkspace) -> SkipReason | None:
    """Observe the stage of the run's revision (and its contract's other revisions) once
    the run is over: one finished run costs its contract's revisions, never the register."""
    key = context.dagster_run.tags.get("dagster/partition")
    try:
        contract_id, _ = parse_partition_key(key or "")
    except ValueError:
        return SkipReason(f"run {context.dagster_run.run_id} is not for a revision")
    record_stages(RevisionState(contracts.workspace(), context.instance), contract_id)
    return None


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=STAGE_JOBS,
    default_status=DefaultSensorStatus.RUNNING,
    description="After a revision's run succeeds (also when it stopped at an approval or a "
    "block), observes where the revision stands: revision_stage.",
)
def stage_after_success(context: RunStatusSensorContext, contracts: ContractWorkspace) -> SkipReason | None:
    return _observe_stage_after(context, contracts)


@run_failure_sensor(
    monitored_jobs=STAGE_JOBS,
    default_status=DefaultSensorStatus.RUNNING,
    description="After a revision's run fails, observes the failure as its stage: revision_stage.",
)
def stage_after_failure(context: RunFailureSensorContext, contracts: ContractWorkspace) -> SkipReason | None:
    return _observe_stage_after(context, contracts)
