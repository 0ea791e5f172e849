"""The console itself: each verb declared once with its permissions, a verb it does not know
refused with the usage, and the light verbs started without loading Dagster."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from contract_assets.cli.command import HELP_ORDER, declared_verbs, main
from contract_assets.cli.registry import GROUPS
from contract_assets.platform.access import Permission
from contract_assets_tests.harness import REPO

CONSOLE = str(Path(sys.executable).parent / "contract-assets")

# What each verb needs of the access policy (config/access.yaml); every other verb needs nothing.
REQUIRED = {
    "submit": [Permission.SUBMIT],
    "run": [Permission.RUN],
    "resume": [Permission.RUN],
    "demo": [Permission.SUBMIT, Permission.RUN],
    "approvers add": [Permission.ADMINISTER],
    "rotate-key": [Permission.ADMINISTER],
    "decrypt": [Permission.ADMINISTER],
    "init-signing": [Permission.ADMINISTER],
}


def console(*args: str, home: Path, python_flags: Sequence[str] = ()) -> CompletedProcess:
    """Run the installed console command with `home` as the contract home."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["CONTRACT_ASSETS_HOME"] = str(home)
    command = [sys.executable, *python_flags, CONSOLE, *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_each_verb_declares_the_permissions_the_access_policy_checks():
    verbs = declared_verbs()
    declared = {name: list(verb.permissions) for name, verb in verbs.items() if verb.permissions}

    assert declared == REQUIRED
    # A verb that needs a permission is checked on the operations (where refusals are audited).
    assert all(verbs[name].on_instance for name in REQUIRED)


def test_help_lists_every_verb_once_in_its_order():
    top = {name.split(" ")[0] for name in declared_verbs()}

    assert set(HELP_ORDER) == top and len(HELP_ORDER) == len(top)
    assert set(GROUPS) == {"approvers", "audit"}


def test_the_seal_passphrase_named_in_help_is_the_one_the_seal_reads():
    from contract_assets.cli.seal import PASSPHRASE_ENV
    from contract_assets.documents.sealing import PASSPHRASE_ENV as READ

    assert PASSPHRASE_ENV == READ


@pytest.mark.parametrize("args", [["no-such-verb"], [], ["audit"], ["approvers", "remove"]])
def test_an_unknown_or_missing_verb_exits_2_with_the_usage(args, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONTRACT_ASSETS_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit) as exited:
        main(args)

    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "usage: contract-assets" in captured.err
    assert not (tmp_path / "home").exists()


def test_an_unknown_verb_from_the_command_line_is_not_the_demo(tmp_path):
    result = console("examples/requests", home=tmp_path / "home")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: contract-assets") and "invalid choice" in result.stderr
    assert not (tmp_path / "home").exists()


def imported_modules(result: CompletedProcess) -> set[str]:
    """The modules a `python -X importtime` run imported, from its standard error."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize(
    ("args", "not_loaded"),
    [(["--help"], {"dagster", "pydantic", "cryptography"}),
     (["new-data-key"], {"dagster", "pydantic"})],
)  # fmt: skip
def test_help_and_a_new_data_key_start_without_dagster(args, not_loaded, tmp_path):
    result = console(*args, home=tmp_path / "home", python_flags=("-X", "importtime"))

    assert result.returncode == 0, result.stderr[-2000:]
    modules = imported_modules(result)
    assert "contract_assets.cli.command" in modules  # the run was measured
    assert {m for m in modules if m.split(".")[0] in not_loaded} == set()
    if args == ["new-data-key"]:
        assert len(result.stdout.strip()) == 44  # a Fernet key, urlsafe base64 of 32 bytes
