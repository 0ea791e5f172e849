"""`contract-assets`: the verbs Dagster has no command for (submit, run, status, env, demo)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dagster import AssetKey, DagsterInstance

from contract_assets.definitions import build_definitions
from contract_assets.domain.home import ContractHome
from contract_assets.domain.requests import InvalidRequest
from contract_assets.operations import ContractOperations, RevisionStatus
from contract_assets.resources import Workspace

EXIT_INVALID = 2
# The console shows one progress line per revision; Dagster's own log goes to the instance.
QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
REQUEST_SUFFIXES = {".yaml", ".yml", ".json"}


@contextmanager
def open_operations(home: ContractHome) -> Iterator[ContractOperations]:
    """The operations on the home's Dagster instance (an explicit DAGSTER_HOME wins)."""
    home.ensure()
    if os.environ.get("DAGSTER_HOME"):
        instance = DagsterInstance.get()
    else:
        instance = DagsterInstance.from_config(str(home.dagster_home))
    with instance:
        yield ContractOperations(Workspace(home), instance)


def _submit(operations: ContractOperations, files: Sequence[Path], as_json: bool) -> int:
    exit_code = 0
    for path in files:
        try:
            result = operations.submit(path)
        except InvalidRequest as exc:
            exit_code = EXIT_INVALID
            if as_json:
                print(json.dumps({"file": str(path), "errors": [e.as_dict() for e in exc.errors]}))
            else:
                print(f"{path}: rejected, nothing was stored", file=sys.stderr)
                for error in exc.errors:
                    print(f"  {error.path}: {error.message}", file=sys.stderr)
            continue
        except OSError as exc:
            exit_code = EXIT_INVALID
            message = f"cannot read the file: {exc.strerror}"
            if as_json:
                print(json.dumps({"file": str(path), "errors": [{"path": "(document)", "message": message}]}))
            else:
                print(f"{path}: {message}", file=sys.stderr)
            continue
        if as_json:
            print(json.dumps(result.as_json()))
        else:
            verb = "registered as" if result.created else "is already"
            print(f"{path}: {verb} {result.revision.partition_key} ({result.stage.value})")
    return exit_code


def _progress_line(status: RevisionStatus) -> str:
    line = f"{status.revision.partition_key:<28} {status.stage.value}"
    if status.routing and status.routing.required_approvals and status.stage.value == "awaiting_approval":
        line += " (" + ", ".join(a.role for a in status.routing.required_approvals) + ")"
    if status.blocked_on:
        line += f" ({status.blocked_on})"
    if status.error:
        line += f": {status.error}"
    return line


def _run(home: ContractHome, operations: ContractOperations) -> int:
    defs = build_definitions(home)
    pipeline = defs.resolve_job_def("contract_pipeline")
    instance = operations.instance

    def execute(partition_key: str, steps: list[str]) -> bool:
        result = pipeline.execute_in_process(
            instance=instance,
            partition_key=partition_key,
            asset_selection=[AssetKey(step) for step in steps],
            run_config=QUIET_RUN,
            raise_on_error=False,
        )
        return result.success

    results = operations.run(execute, progress=lambda s: print(_progress_line(s), flush=True))
    if results or not instance.get_latest_materialization_event(AssetKey("contract_register")):
        defs.resolve_job_def("contract_register_job").execute_in_process(
            instance=instance, run_config=QUIET_RUN
        )
    if not results:
        print("nothing to run: every revision is settled or waiting")
    return 1 if any(r.stage.value == "failed" for r in results) else 0


def _status(operations: ContractOperations, contract_id: str | None, as_json: bool) -> int:
    statuses = operations.statuses(contract_id)
    if as_json:
        print(json.dumps([s.as_json() for s in statuses], indent=2, ensure_ascii=False))
        return 0
    if not statuses:
        print("no revisions registered" + (f" for {contract_id}" if contract_id else ""))
        return 0
    print(f"{'REVISION':<28} {'STAGE':<20} {'RISK':<12} {'APPROVALS':<24} DOCUMENTS")
    for status in statuses:
        data = status.as_json()
        risk = f"{data['risk']['score']} {data['risk']['level']}" if data["risk"] else "-"
        approvals = ", ".join(f"{a['role']}({a['tier']})" for a in data["required_approvals"]) or "-"
        artifacts = data["artifacts"]
        where = artifacts["pdf"] or artifacts["review_html"] or data.get("blocked_on") or data.get("error") or "-"
        print(f"{data['partition_key']:<28} {data['stage']:<20} {risk:<12} {approvals:<24} {where}")
        if artifacts["manifest"]:
            print(f"{'':<86} {artifacts['manifest']}")
    return 0


def _request_files(paths: Sequence[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in REQUEST_SUFFIXES)
        else:
            files.append(path)
    return files


def _demo(home: ContractHome, operations: ContractOperations, directory: Path) -> int:
    """Submit each sample request in order, running the pipeline after each arrival."""
    files = _request_files([directory])
    if not files:
        print(f"no request files in {directory}", file=sys.stderr)
        return EXIT_INVALID
    print(f"contract home: {home.root}")
    code = 0
    for path in files:
        code = max(code, _submit(operations, [path], as_json=False))
        code = max(code, _run(home, operations))
    print()
    _status(operations, None, as_json=False)
    print(f"\nregister:  {operations.workspace.layout.value_path('contract_register', None, '.parquet')}")
    print(f"documents: {operations.workspace.layout.base_dir / 'documents'}")
    print("UI:        make ui   (then open http://127.0.0.1:3000)")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="contract-assets",
        description="Contract requests in, approved and rendered contracts out (a Dagster project).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="print the export lines for the current contract home")
    submit = commands.add_parser("submit", help="validate and register request files as revisions")
    submit.add_argument("files", nargs="+", type=Path)
    submit.add_argument("--json", action="store_true", help="one JSON object per file and line")
    commands.add_parser("run", help="materialize every registered revision that is not settled")
    status = commands.add_parser("status", help="where each revision stands")
    status.add_argument("contract_id", nargs="?")
    status.add_argument("--json", action="store_true", help="one JSON array, an object per revision")
    demo = commands.add_parser("demo", help="submit and run the sample requests, then show status")
    demo.add_argument("directory", type=Path)
    args = parser.parse_args(argv)

    home = ContractHome.from_env()
    if args.command == "env":
        home.ensure()
        print(home.env_exports(), end="")
        return 0
    with open_operations(home) as operations:
        if args.command == "submit":
            return _submit(operations, args.files, args.json)
        if args.command == "run":
            return _run(home, operations)
        if args.command == "status":
            return _status(operations, args.contract_id, args.json)
        return _demo(home, operations, args.directory)


if __name__ == "__main__":
    sys.exit(main())
