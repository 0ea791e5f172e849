"""The console command and the plain Dagster commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance

from contract_assets.platform.home import ContractHome, instance_yaml
from contract_assets.pipeline.defs.partitions import REVISIONS
from contract_assets.platform.defs.resources import Workspace
from contract_assets_tests.harness import AUDIT_FILES, INVALID, REPO, SAMPLES, cli, files_under

DAGSTER = str(Path(sys.executable).parent / "dagster")


def instance_of(home) -> DagsterInstance:
    return DagsterInstance.from_config(str(home.dagster_home))


@pytest.mark.programs
def test_invalid_request_exits_2_names_every_path_and_leaves_nothing(home):
    before = files_under(home.root)

    result = cli("submit", "--json", str(INVALID / "bad-email-and-type-mismatch.yaml"), home=home)

    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["file"].endswith("bad-email-and-type-mismatch.yaml")
    assert {e["path"] for e in report["errors"]} == {"counterparty.signatory.email", "nda"}
    assert all(e["message"] for e in report["errors"])
    after = files_under(home.root)
    new_files = {f for f in after - before if not f.startswith("dagster/")}
    assert new_files <= AUDIT_FILES  # the rejection is audited; nothing else is kept
    with instance_of(home) as instance:
        assert instance.get_dynamic_partitions(REVISIONS) == []
        assert instance.get_runs() == []
    actions = [(e.action, e.details.get("fields")) for e in Workspace(home).audit.entries()]
    assert ("input_rejected", ["counterparty.signatory.email", "nda"]) in actions


@pytest.mark.programs
def test_invalid_request_in_plain_text_goes_to_stderr_with_paths(home):
    result = cli("submit", str(INVALID / "bad-email-and-type-mismatch.yaml"), home=home)
    assert result.returncode == 2
    assert "counterparty.signatory.email" in result.stderr
    assert "no revision was registered" in result.stderr


@pytest.mark.programs
def test_submit_registers_once_and_equal_content_is_the_same_revision(home, tmp_path):
    first = cli("submit", "--json", str(SAMPLES / "01-mutual-nda.yaml"), home=home)
    # The same content with other comments, key order and spelling of defaults.
    copy = tmp_path / "same.yaml"
    copy.write_text(
        (SAMPLES / "01-mutual-nda.yaml").read_text().replace("# A plain", "# Still a plain")
        + "auto_renew: false\n"
    )
    second = cli("submit", "--json", str(copy), home=home)

    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert {k: one[k] for k in ("contract_id", "revision", "partition_key", "stage")} == {
        "contract_id": "acme-robotics-nda",
        "revision": 1,
        "partition_key": "acme-robotics-nda.r1",
        "stage": "received",
    }
    assert two["partition_key"] == "acme-robotics-nda.r1" and two["created"] is False
    with instance_of(home) as instance:
        assert instance.get_dynamic_partitions(REVISIONS) == ["acme-robotics-nda.r1"]


@pytest.mark.programs
def test_env_prints_exports_for_the_home(home):
    result = cli("env", home=home)
    assert result.returncode == 0
    assert f"export CONTRACT_ASSETS_HOME={home.root}" in result.stdout
    assert f"export DAGSTER_HOME={home.root / 'dagster'}" in result.stdout
    assert (home.root / "dagster" / "dagster.yaml").exists()


def test_top_level_dagster_yaml_points_at_the_default_home():
    text = (REPO / "dagster.yaml").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    expected = "\n".join(
        line for line in instance_yaml(".contract_assets/dagster").splitlines() if not line.startswith("#")
    )
    assert body.strip() == expected.strip()


@pytest.mark.programs
def test_dagster_job_execute_runs_one_revision_with_nothing_set(tmp_path, monkeypatch):
    """From a directory holding the project's dagster.yaml, with no DAGSTER_HOME, the plain
    Dagster command uses the default contract home's instance, as from the repo root."""
    monkeypatch.delenv("CONTRACT_ASSETS_DATABASE_URL", raising=False)  # the SQLite default
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "dagster.yaml", project / "dagster.yaml")
    env_home = project / ".contract_assets"
    home = ContractHome(env_home)
    submitted = cli("submit", str(SAMPLES / "01-mutual-nda.yaml"), home=home, cwd=project)
    assert submitted.returncode == 0, submitted.stderr

    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "CONTRACT_ASSETS_HOME")}
    result = subprocess.run(
        [
            DAGSTER, "job", "execute",
            "-m", "contract_assets.definitions",
            "-j", "contract_pipeline",
            "--tags", json.dumps({"dagster/partition": "acme-robotics-nda.r1"}),
        ],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    status = cli("status", "--json", home=home, cwd=project)
    (row,) = json.loads(status.stdout)
    assert row["stage"] == "ready_for_signature"
    assert Path(row["artifacts"]["pdf"]).is_relative_to(env_home.resolve())


@pytest.mark.programs
def test_dagster_definitions_validate_passes():
    result = subprocess.run(
        [DAGSTER, "definitions", "validate", "-m", "contract_assets.definitions"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Validation successful" in result.stderr + result.stdout


@pytest.mark.programs
@pytest.mark.parametrize(
    ("text", "message"),
    [("Acme \x07 LLC", "control character U+0007"), ("Acme 𓀀 LLC", "no installed font can print")],
)
def test_text_a_contract_cannot_show_is_refused_at_submit(home, tmp_path, text, message):
    request = (SAMPLES / "01-mutual-nda.yaml").read_text().replace(
        "legal_name: Acme Robotics LLC", f'legal_name: "{text.replace(chr(7), chr(92) + "a")}"'
    )
    path = tmp_path / "request.yaml"
    path.write_text(request, encoding="utf-8")

    result = cli("submit", "--json", str(path), home=home)

    assert result.returncode == 2
    (error,) = json.loads(result.stdout)["errors"]
    assert error["path"] == "counterparty.legal_name" and message in error["message"]
    assert Workspace(home).registry.revisions("acme-robotics-nda") == []


# --- the UI's command line (built, not started) ---------------------------------------


@pytest.fixture
def ui_launch(monkeypatch, tmp_path):
    """Runs `contract-assets dev ...` in process and returns the command it would start."""
    import contract_assets.cli as cli_module
    import contract_assets.cli.serve as serve_module

    monkeypatch.setenv("CONTRACT_ASSETS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(serve_module.UI_HOST_ENV, raising=False)
    started = []
    monkeypatch.setattr(
        serve_module, "exec_dagster", lambda home, command, **how: started.append(command) or 0
    )

    def launch(*args: str) -> list[str]:
        assert cli_module.main(["dev", *args]) == 0
        (command,) = started[-1:]
        return command

    return launch


def _host(command: list[str]) -> str:
    return command[command.index("-h") + 1]


def test_ui_binds_to_loopback_by_default(ui_launch, capsys):
    command = ui_launch()
    assert command[:2] == ["dagster", "dev"] and _host(command) == "127.0.0.1"
    assert command.count("-h") == 1 and "0.0.0.0" not in command
    assert capsys.readouterr().err == ""


def test_ui_host_from_option_or_environment_warns_off_loopback(ui_launch, monkeypatch, capsys):
    assert _host(ui_launch("--host", "10.1.2.3")) == "10.1.2.3"
    assert "authenticating proxy" in capsys.readouterr().err
    monkeypatch.setenv("CONTRACT_ASSETS_UI_HOST", "0.0.0.0")
    assert _host(ui_launch()) == "0.0.0.0"
    assert _host(ui_launch("--host", "127.0.0.1")) == "127.0.0.1"  # the option wins


def test_ui_read_only_runs_the_webserver_with_its_read_only_flag(ui_launch):
    command = ui_launch("--read-only", "--port", "3100")
    assert command[0] == "dagster-webserver" and command[-1] == "--read-only"
    assert _host(command) == "127.0.0.1" and command[command.index("-p") + 1] == "3100"


@pytest.mark.programs
@pytest.mark.parametrize(
    ("program", "flags"),
    [("dagster-webserver", ["-h, --host", "-p, --port", "--read-only", "-m, --module-name"]),
     ("dagster", ["-h, --host", "-p, --port", "-m, --module-name"])],
)  # fmt: skip
def test_the_ui_flags_exist_in_the_installed_dagster(program, flags):
    args = ["dev", "--help"] if program == "dagster" else ["--help"]
    result = subprocess.run(
        [str(Path(sys.executable).parent / program), *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for flag in flags:
        assert flag in result.stdout, f"{program} has no {flag}"



# Opens the home's instance at the time given, after the slow imports, so that the
# processes create it at the same moment.
OPEN_AT = """
import sys, time
from contract_assets.cli import open_instance
from contract_assets.platform.home import ContractHome
home = ContractHome.from_env()
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
with open_instance(home) as instance:
    instance.get_runs(limit=1)
"""


@pytest.mark.programs
def test_programs_opening_a_new_instance_at_once_leave_it_readable(home_without_instance):
    """A daemon, a webserver and their code servers starting together create the same new
    instance at once; unserialized, SQLite's schema gets two versions and none opens it."""
    home = home_without_instance
    assert not (home.dagster_home / "storage").exists()
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["CONTRACT_ASSETS_HOME"] = str(home.root)
    at = str(time.time() + 15)
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN_AT, at], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    outcomes = [(p.wait(timeout=300), p.communicate()[1][-1500:]) for p in processes]
    assert [code for code, _ in outcomes] == [0] * 6, outcomes
    with instance_of(home) as instance:
        assert instance.get_dynamic_partitions(REVISIONS) == []
