"""Sensors: requests start when they arrive, revisions go on when their decisions are in."""


import json
import time

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    DagsterRunStatus,
    RunFailureSensorContext,
    RunRequest,
    RunStatusSensorContext,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)

from contract_assets.domain.files import sha256_file
from contract_assets.domain.access import AccessDenied, Permission
from contract_assets.domain.inbox import archive, arrivals, file_owner, quarantine, refused_link
from contract_assets.domain.requests import DOCUMENT, FieldError, InvalidRequest
from contract_assets.domain.revisions import parse_partition_key
from contract_assets.domain.stages import Stage
from contract_assets.jobs import contract_pipeline, executed_copy_job, register_job
from contract_assets.assets.register import contract_register
from contract_assets.revision_intake import RevisionIntake
from contract_assets.revision_stage import record_stages
from contract_assets.revision_state import RevisionState
from contract_assets.run_planning import RunPlanner
from contract_assets.partitions import revision_partitions
from contract_assets.resources import ContractWorkspace

# Bounded ticks: Dagster cancels a sensor evaluation after 60 s by default.
INBOX_BATCH = 200
INBOX_BUDGET_SECONDS = 20.0


def _intake_run_key(partition_key: str, content_hash: str) -> str:
    return f"{partition_key}:{content_hash[:16]}:intake"


@sensor(
    job=contract_pipeline,
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    description="Registers request files dropped into $CONTRACT_ASSETS_HOME/inbox and starts "
    "their runs; invalid files go to quarantine/ beside an error report.",
)
def inbox_sensor(context: SensorEvaluationContext, contracts: ContractWorkspace) -> SensorResult:
    """Take inbox files in order of arrival, at most a bounded batch per tick.

    Registered files leave the inbox one tick later, once Dagster has stored this tick's
    run requests and cursor: after a crash in between they are read again, find their
    revision already registered, and ask for runs under the same run keys, which Dagster
    does not start twice.
    """
    workspace = contracts.workspace()
    home = workspace.home
    handled = json.loads(context.cursor) if context.cursor else []
    for entry in handled:  # the previous tick's files, now safely recorded
        path = home.inbox_dir / entry["name"]
        if path.exists() and sha256_file(path) == entry["sha256"]:
            archive(path, home.processed_dir, workspace.protection)

    intake = RevisionIntake(workspace, context.instance)
    deadline = time.monotonic() + INBOX_BUDGET_SECONDS
    registered, run_requests, new_keys, quarantined = [], [], [], 0
    for path in arrivals(home.inbox_dir)[:INBOX_BATCH]:
        if time.monotonic() > deadline:
            break
        try:
            if link := refused_link(path):
                raise InvalidRequest([link])
            # Whoever dropped the file submits it: its owner must be allowed to.
            owner = file_owner(path)
            intake.guard.authorize(Permission.SUBMIT, actor=owner)
            revision, created = intake.register(path, actor=owner)
        except AccessDenied as exc:
            target = quarantine(path, [FieldError(DOCUMENT, str(exc))], home.quarantine_dir, workspace.protection)
            context.log.warning(f"{path.name}: refused, moved to {target}")
            quarantined += 1
            continue
        except InvalidRequest as exc:
            target = quarantine(path, exc.errors, home.quarantine_dir, workspace.protection)
            context.log.warning(f"{path.name}: rejected, moved to {target}")
            quarantined += 1
            continue
        except OSError as exc:  # vanished or unreadable: try again next tick
            context.log.warning(f"{path.name}: cannot read it yet ({exc})")
            continue
        registered.append({"name": path.name, "sha256": sha256_file(path)})
        if revision.partition_key in new_keys:
            continue  # the same content twice in one tick: one revision, one run
        new_keys.append(revision.partition_key)
        if created or not context.instance.get_run_records(
            _runs_of(revision.partition_key), limit=1
        ):
            run_requests.append(
                RunRequest(
                    partition_key=revision.partition_key,
                    run_key=_intake_run_key(revision.partition_key, revision.content_hash),
                    tags={"contract_assets/source": "inbox"},
                )
            )
    if not registered and not quarantined and not handled:
        return SensorResult(skip_reason=SkipReason("inbox is empty"), cursor=json.dumps([]))
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[revision_partitions.build_add_request(list(dict.fromkeys(new_keys)))]
        if new_keys
        else [],
        cursor=json.dumps(registered),
    )


def _runs_of(partition_key: str) -> RunsFilter:
    return RunsFilter(tags={"dagster/partition": partition_key})


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
