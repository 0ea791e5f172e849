"""Crash safety: `contract-assets run` killed with SIGKILL at a random point, then run again.

Each trial registers a new revision, starts a run in a separate process, kills it at a
random moment, and runs again. Afterwards every revision is finished, each step was
materialized exactly once (finished steps are not computed again), every manifest matches
its files and every package (sealed PDF, signed manifest) verifies, no temporary file is left behind, and the audit trail verifies with each action
of each revision logged exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from contract_assets.domain.files import sha256_file
from contract_assets.domain.packaging import verify_package
from contract_assets.domain.sealing import SealFiles, read_certificates
from contract_assets_tests.harness import (
    AUTO_APPROVED_ACTIONS,
    CONTRACT_ASSETS,
    SAMPLES,
    assert_materialized_once,
    cli,
    contract_home,
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
            assert_materialized_once(ops.instance, keys)
            for key in keys:
                assert statuses[key].stage.value == "ready_for_signature", (key, statuses[key].error)
                manifest_path = Path(statuses[key].package.path_of("manifest"))
                manifest = json.loads(manifest_path.read_text())
                for entry in manifest["files"]:
                    assert sha256_file(manifest_path.parent.parent / entry["path"]) == entry["sha256"]
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
