"""Sensors: requests start when they arrive, revisions go on when their decisions are in."""


import json
import time

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from contract_assets.intake.defs.revision_intake import RevisionIntake
from contract_assets.intake.inbox import (
    archive,
    arrivals,
    file_owner,
    quarantine,
    refused_link,
)
from contract_assets.intake.requests import DOCUMENT, FieldError, InvalidRequest
from contract_assets.pipeline.defs.jobs import contract_pipeline
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.platform.access import AccessDenied, Permission
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.platform.files import sha256_file

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
