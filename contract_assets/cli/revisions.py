"""Verbs on the revisions: submit request files, run the pipeline, resume a run, show status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from contract_assets.cli import presentation
from contract_assets.cli.registry import EXIT_INVALID, RUN, SUBMIT, Call, verb

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from contract_assets.platform.home import ContractHome

# The console shows one progress line per revision; Dagster's own log goes to the instance.
QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
PARTITION_TAG, PARTITION_SET_TAG = "dagster/partition", "dagster/partition_set"
PIPELINE_PARTITION_SET = "contract_pipeline_partition_set"  # as Dagster names it for the job


def _submit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON object per file and line")


@verb(
    "submit", "validate and register request files as revisions",
    arguments=_submit_arguments, permissions=[SUBMIT], on_instance=True,
)  # fmt: skip
def submit_verb(call: Call) -> int:
    return submit(call, call.args.files, call.args.json)


def submit(call: Call, files: Sequence[Path], as_json: bool) -> int:
    from contract_assets.intake.defs.revision_intake import RevisionIntake
    from contract_assets.intake.requests import InvalidRequest

    intake = call.service(RevisionIntake)

    exit_code = 0
    for path in files:
        try:
            result = intake.submit(path)
        except InvalidRequest as exc:
            exit_code = EXIT_INVALID
            presentation.request_rejected(path, exc.errors, as_json)
            continue
        except OSError as exc:
            exit_code = EXIT_INVALID
            presentation.request_unreadable(path, f"cannot read the file: {exc.strerror}", as_json)
            continue
        presentation.request_registered(path, result, as_json)
    return exit_code


@verb(
    "run", "materialize every registered revision that is not settled",
    permissions=[RUN], on_instance=True,
)  # fmt: skip
def run_verb(call: Call) -> int:
    return run(call)


def run(call: Call) -> int:
    from contract_assets.pipeline.defs.revision_runs import RevisionRunner
    from contract_assets.pipeline.defs.run_planning import RunPlanner
    from contract_assets.platform.defs.console_runs import console_runs
    from contract_assets.register.defs.assets import contract_register

    instance = call.instance
    _recover(call.home, instance)
    with console_runs(instance) as runs:

        def execute(partition_key: str, steps: list[str]) -> bool:
            tags = {PARTITION_TAG: partition_key, PARTITION_SET_TAG: PIPELINE_PARTITION_SET}
            run = runs.create("contract_pipeline", tags=tags, run_config=QUIET_RUN, assets=steps)
            return runs.execute(run)

        results = call.service(RevisionRunner).run(execute, progress=lambda s: print(presentation.progress_line(s), flush=True))
        if results or not instance.get_latest_materialization_event(contract_register.key):
            runs.execute(runs.create("contract_register_job", run_config=QUIET_RUN))
    for status, run_id in RunPlanner(call.workspace, instance).left_to_run_retries():
        print(presentation.retry_line(status, run_id))
    if not results:
        print("nothing to run: every revision is settled or waiting")
    return 1 if any(r.stage.value == "failed" for r in results) else 0


def _recover(home: ContractHome, instance: DagsterInstance) -> None:
    """After a crash: runs whose process is gone are marked failed, half-written temporary
    files removed. Everything finished stays; what was not is run again."""
    from dagster import DagsterRunStatus, RunsFilter

    from contract_assets.pipeline.defs.resume import mark_dead_run_failed
    from contract_assets.platform.files import sweep_temp_files

    for record in instance.get_run_records(
        # NOT_STARTED too: a console killed between creating its run and starting it.
        RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED])
    ):
        if mark_dead_run_failed(instance, record.dagster_run.run_id):
            print(f"run {record.dagster_run.run_id} was interrupted; marked failed", file=sys.stderr)
    sweep_temp_files(home.root)


def _resume_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id")


@verb(
    "resume", "re-execute a failed or killed run from its failure",
    arguments=_resume_arguments, permissions=[RUN], on_instance=True,
)  # fmt: skip
def resume(call: Call) -> int:
    """Re-execute a failed (or killed) run from its failure, keeping its partition."""
    from contract_assets.pipeline.defs.resume import ResumeRefused, resume_run

    run_id = call.args.run_id
    try:
        outcome = resume_run(call.instance, run_id)
    except ResumeRefused as exc:
        print(f"cannot resume {run_id}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{run_id} resumed as {outcome.run_id}: {'success' if outcome.success else 'failed'}")
    return 0 if outcome.success else 1


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("contract_id", nargs="?")
    parser.add_argument("--json", action="store_true", help="one JSON array, an object per revision")


@verb("status", "where each revision stands", arguments=_status_arguments, on_instance=True)
def status_verb(call: Call) -> int:
    return status(call, call.args.contract_id, call.args.json)


def status(call: Call, contract_id: str | None, as_json: bool) -> int:
    from contract_assets.pipeline.defs.revision_state import RevisionState

    statuses = RevisionState(call.workspace, call.instance).statuses(contract_id)
    if as_json:
        presentation.statuses_json(statuses)
        return 0
    if not statuses:
        print("no revisions registered" + (f" for {contract_id}" if contract_id else ""))
        return 0
    presentation.statuses_table(statuses)
    print(f"\n{call.workspace.protection.describe()}")
    return 0
