"""Crash safety: `contract-assets run` killed with SIGKILL at a random point, then run again.

Each trial registers a new revision, starts a run in a separate process, kills it at a
random moment, and runs again. Afterwards every revision is finished; a step computed again
(cut off after storing its output, before its success was recorded: Dagster's steps run at
least once) stored the same data version and made no second folder, seal or audit entry;
every manifest matches its files and every package (sealed PDF, signed manifest) verifies,
no temporary file is left behind, and the audit trail verifies with each action of each
revision logged exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import ReexecutionOptions, RunsFilter, execute_job, reconstructable
from ruamel.yaml import YAML

from contract_assets.definitions import contract_pipeline_job
from contract_assets.platform.files import sha256_file
from contract_assets.documents.packaging import verify_package
from contract_assets.documents.sealing import SealFiles, read_certificates
from contract_assets_tests.pipeline.cut_off_after_storing import KILLED
from contract_assets_tests.harness import (
    AUTO_APPROVED_ACTIONS,
    CONTRACT_ASSETS,
    REPO,
    SAMPLES,
    assert_repeats_were_harmless,
    cli,
    contract_home,
    data_versions,
    operations_for,
)

pytestmark = pytest.mark.slow

TRIALS = 20


def test_runs_killed_at_random_points_resume_to_exactly_one_finish(tmp_path, monkeypatch):
    rng = random.Random(20261125)
    yaml = YAML(typ="safe", pure=True)
    base = yaml.load((SAMPLES / "01-mutual-nda.yaml").read_text())
    with contract_home(tmp_path / "home", monkeypatch) as home:
        env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
        assert cli("init-signing", home=home).returncode == 0  # packages are sealed too
        keys, kills = [], 0
        for trial in range(TRIALS):
            request = tmp_path / f"trial-{trial}.yaml"
            with request.open("w") as handle:
                yaml.dump(dict(base, contract_id=f"crash-trial-{trial:02d}"), handle)
            with operations_for(home) as ops:
                keys.append(ops.submit(request).revision.partition_key)

            process = subprocess.Popen(
                [CONTRACT_ASSETS, "run"], env=env, cwd=tmp_path,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.3, 3.5))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait()

            resumed = cli("run", home=home)
            assert resumed.returncode == 0, resumed.stdout + resumed.stderr

        assert kills >= TRIALS // 2, f"only {kills} of {TRIALS} runs were still going when killed"
        trusted = read_certificates(SealFiles(home.keys_dir).certificate)
        with operations_for(home) as ops:
            statuses = {s.revision.partition_key: s for s in ops.statuses()}
            assert_repeats_were_harmless(ops, keys)
            for key in keys:
                assert statuses[key].stage.value == "ready_for_signature", (key, statuses[key].error)
                manifest_path = Path(statuses[key].package.path_of("manifest"))
                manifest = json.loads(manifest_path.read_text())
                for entry in manifest["files"]:
                    assert sha256_file(manifest_path.parent / entry["path"]) == entry["sha256"]
                assert statuses[key].package.sealed
                verified = verify_package(manifest_path, trusted)
                assert verified.ok, (key, verified.problems)
            for key in keys:
                actions = [entry.action for entry in ops.workspace.audit.entries(key)]
                assert sorted(actions) == sorted(AUTO_APPROVED_ACTIONS), (key, actions)
        leftovers = [p for p in home.root.rglob("*.tmp")]
        assert leftovers == []
        verified = cli("audit", "verify", home=home)
        assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize(
    "asset", ["contract_request", "approval_record", "contract_documents", "signature_package"]
)
def test_a_step_cut_off_after_storing_its_output_and_run_again_repeats_nothing(
    tmp_path, monkeypatch, asset
):
    """The daemon's retry from failure runs again a step whose output was stored but whose
    success was not (Dagster's steps run at least once). The second run of it stores the
    same data version, and issues no second document or package folder, seal or audit entry."""
    with contract_home(tmp_path / "home", monkeypatch) as home:
        assert cli("init-signing", home=home).returncode == 0
        with operations_for(home) as ops:
            key = ops.submit(SAMPLES / "01-mutual-nda.yaml").revision.partition_key
        env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
        cut = subprocess.run(
            [sys.executable, "-m", "contract_assets_tests.pipeline.cut_off_after_storing", asset],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
        )
        assert cut.returncode == KILLED, cut.stdout + cut.stderr

        with operations_for(home) as ops:
            instance = ops.instance
            (run,) = instance.get_runs(RunsFilter(tags={"dagster/partition": key}))
            instance.report_run_failed(run, "its process is gone")  # as run monitoring marks it
            retried = execute_job(
                reconstructable(contract_pipeline_job),
                instance=instance,
                tags={"dagster/partition": key},  # execute_job drops it; the daemon keeps it
                reexecution_options=ReexecutionOptions.from_failure(run.run_id, instance),
            )
            assert retried.success
            assert len(data_versions(instance, asset, key)) == 2  # it did run again
            assert_repeats_were_harmless(ops, [key])
            actions = [entry.action for entry in ops.workspace.audit.entries(key)]
            assert sorted(actions) == sorted(AUTO_APPROVED_ACTIONS)
            package = ops.statuses()[0].package
            trusted = read_certificates(SealFiles(home.keys_dir).certificate)
            assert verify_package(Path(package.path_of("manifest")), trusted).ok
