"""`demo`: the sample requests submitted and run one after another, then where each stands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from contract_assets.cli import presentation
from contract_assets.cli.registry import EXIT_INVALID, RUN, SUBMIT, Call, verb
from contract_assets.cli.revisions import run, status, submit

REQUEST_SUFFIXES = {".yaml", ".yml", ".json"}


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path)


@verb(
    "demo", "submit and run the sample requests, then show status",
    arguments=_demo_arguments, permissions=[SUBMIT, RUN], on_instance=True,
)  # fmt: skip
def demo(call: Call) -> int:
    """Submit each sample request in order, running the pipeline after each arrival."""
    from contract_assets.documents.sealing import create_trial_seal, passphrase_from_env
    from contract_assets.register.defs.assets import contract_register, register_report
    from contract_assets.register.register_report import FILE_KIND, RegisterReport

    home, workspace, directory = call.home, call.workspace, call.args.directory
    files = request_files([directory])
    if not files:
        print(f"no request files in {directory}", file=sys.stderr)
        return EXIT_INVALID
    print(f"contract home: {home.root}")
    if not workspace.seal_files.exists():
        print("no organisation seal yet: making a self-signed trial one (`init-signing`)")
        organisation = next(iter(workspace.entities.values())).legal_name
        seal = create_trial_seal(workspace.seal_files, organisation, passphrase_from_env())
        presentation.seal_description(seal, workspace.seal_files)
    code = 0
    for path in files:
        code = max(code, submit(call, [path], as_json=False))
        code = max(code, run(call))
    print()
    status(call, None, as_json=False)
    layout = workspace.layout
    print(f"\nregister:  {layout.value_path(contract_register.key.to_user_string(), None, '.parquet')}")
    report = layout.read_model(register_report.key.to_user_string(), None, RegisterReport)
    if report is not None:
        print(f"report:    {report.path_of(FILE_KIND)}")
    print(f"documents: {layout.base_dir / 'documents'}")
    print("UI:        make ui   (then open http://127.0.0.1:3000)")
    return code


def request_files(paths: Sequence[Path]) -> list[Path]:
    """The request files given, a folder standing for the request files in it."""
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in REQUEST_SUFFIXES)
        else:
            files.append(path)
    return files
