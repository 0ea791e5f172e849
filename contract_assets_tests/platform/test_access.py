"""Access policy (config/access.yaml): who may submit, run and administer; every refusal
is audited, and a refused command changes nothing else."""

from __future__ import annotations

import json
import os
import pwd
import shutil

import pytest

from contract_assets.platform.access import AccessConfigError, AccessControl, AccessPolicy, Permission
from contract_assets.pipeline.defs.partitions import REVISIONS
from contract_assets.platform.defs.resources import Workspace
from contract_assets.intake.defs.sensors import inbox_sensor
from contract_assets_tests.harness import SAMPLES, cli
from contract_assets_tests.intake.test_sensors import tick

POLICY = """\
submit: [alice]
run: [alice, ops-bot]
administer: [root-admin]
"""


@pytest.fixture
def policy(home):
    home.config_dir.mkdir(parents=True, exist_ok=True)
    (home.config_dir / "access.yaml").write_text(POLICY)
    return home


def refusals(home):
    return [e for e in Workspace(home).audit.entries() if e.action == "access_refused"]


def test_no_policy_file_lets_everyone_and_a_listed_star_lets_anyone(tmp_path):
    assert AccessControl(tmp_path).policy().allows("anyone", Permission.ADMINISTER)
    assert AccessPolicy(submit=["*"], run=[], administer=[]).allows("x", Permission.SUBMIT)


def test_a_permission_left_out_of_the_file_is_granted_to_nobody(tmp_path):
    (tmp_path / "access.yaml").write_text("submit: [alice]\n")
    control = AccessControl(tmp_path)

    assert control.policy().allows("alice", Permission.SUBMIT)
    assert not control.policy().allows("alice", Permission.RUN)


def test_an_invalid_policy_file_is_an_error_naming_it(tmp_path):
    (tmp_path / "access.yaml").write_text("submit: alice\nsuperuser: [bob]\n")

    with pytest.raises(AccessConfigError, match="access.yaml"):
        AccessControl(tmp_path).policy()


@pytest.mark.programs
def test_submit_by_someone_not_listed_is_refused_audited_and_stores_nothing(policy):
    result = cli("submit", str(SAMPLES / "01-mutual-nda.yaml"), home=policy,
                 extra_env={"CONTRACT_ASSETS_ACTOR": "bob"})

    assert result.returncode == 3
    assert "'bob' may not submit" in result.stderr
    assert Workspace(policy).registry.all() == []
    [refusal] = refusals(policy)
    assert refusal.actor == "bob" and refusal.details["permission"] == "submit"


@pytest.mark.programs
def test_a_listed_submitter_may_submit_but_not_run(policy):
    env = {"CONTRACT_ASSETS_ACTOR": "alice"}
    assert cli("submit", str(SAMPLES / "01-mutual-nda.yaml"), home=policy, extra_env=env).returncode == 0

    ops_bot = cli("approvers", "add", "x", "--email", "x@orbital.example", "--role", "legal",
                  "--public-key", "/nonexistent", home=policy, extra_env={"CONTRACT_ASSETS_ACTOR": "ops-bot"})
    assert ops_bot.returncode == 3 and "may not administer" in ops_bot.stderr
    assert [r.details["permission"] for r in refusals(policy)] == ["administer"]


def test_an_inbox_file_whose_owner_may_not_submit_is_quarantined_and_audited(policy, ops):
    dropped = policy.inbox_dir / "nda.yaml"
    shutil.copy(SAMPLES / "01-mutual-nda.yaml", dropped)
    owner = _me()

    result = tick(inbox_sensor, policy, ops.instance)

    assert not result.run_requests
    assert ops.instance.get_dynamic_partitions(REVISIONS) == []
    report = json.loads((policy.quarantine_dir / "nda.yaml.error.json").read_text())
    assert f"{owner!r} may not submit" in report["errors"][0]["message"]
    assert [r.actor for r in refusals(policy)] == [owner]


def test_an_inbox_file_whose_owner_may_submit_is_registered_in_their_name(policy, ops):
    owner = _me()
    (policy.config_dir / "access.yaml").write_text(f"submit: [{owner}]\nrun: []\nadminister: []\n")
    shutil.copy(SAMPLES / "01-mutual-nda.yaml", policy.inbox_dir / "nda.yaml")

    result = tick(inbox_sensor, policy, ops.instance)

    assert len(result.run_requests) == 1
    registered = [e for e in ops.workspace.audit.entries() if e.action == "revision_registered"]
    assert [e.actor for e in registered] == [owner]


def _me() -> str:
    """The name the system gives this process's user (what owns the files it writes)."""
    return pwd.getpwuid(os.getuid()).pw_name
