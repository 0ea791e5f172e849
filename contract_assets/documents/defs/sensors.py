"""Sensors: requests start when they arrive, revisions go on when their decisions are in."""



from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from contract_assets.documents.defs.jobs import executed_copy_job
from contract_assets.intake.inbox import archive, quarantine
from contract_assets.intake.requests import DOCUMENT, FieldError
from contract_assets.pipeline.defs.revision_state import RevisionState
from contract_assets.pipeline.stages import Stage
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.platform.files import sha256_file


@sensor(
    job=executed_copy_job,
    minimum_interval_seconds=10,
    default_status=DefaultSensorStatus.RUNNING,
    description="Marks a revision executed when its countersigned PDF is dropped into "
    "$CONTRACT_ASSETS_HOME/executed as <partition_key>.pdf.",
)
def executed_sensor(context: SensorEvaluationContext, contracts: ContractWorkspace) -> SensorResult:
    """Start one run per countersigned copy (the run key holds its hash); copies of a
    revision that is not ready for signature are quarantined with the reason."""
    workspace = contracts.workspace()
    home = workspace.home
    state = RevisionState(workspace, context.instance)
    requests = []
    for path in sorted(home.executed_dir.glob("*.pdf")):
        key = path.stem
        try:
            status = state.status_of(workspace.registry.get(key))
        except (KeyError, ValueError):
            quarantine(
                path,
                [FieldError(DOCUMENT, f"no revision '{key}' to execute")],
                home.quarantine_dir,
                workspace.protection,
            )
            continue
        if status.stage is Stage.EXECUTED:
            # Stored already; the drop is done with.
            archive(path, home.processed_dir, workspace.protection)
        elif status.stage is not Stage.READY_FOR_SIGNATURE:
            reason = f"{key} is {status.stage.value}; only a revision ready for signature can be executed"
            quarantine(path, [FieldError(DOCUMENT, reason)], home.quarantine_dir, workspace.protection)
        else:
            requests.append(RunRequest(partition_key=key, run_key=f"{key}:executed:{sha256_file(path)[:16]}"))
    if not requests:
        return SensorResult(skip_reason=SkipReason("no countersigned copy waiting"))
    return SensorResult(run_requests=requests)
