"""The acceptance run of the workflow: `contract-assets daemon` on a temporary home, requests
dropped into the inbox, approvals signed on the command line, nothing else."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter

from contract_assets.domain.home import ContractHome
from contract_assets.operations import PIPELINE
from contract_assets_tests.harness import SAMPLE_FILES, cli, contract_home, operations_for

pytestmark = pytest.mark.slow

CONTRACT_ASSETS = str(Path(sys.executable).parent / "contract-assets")


def stages(home: ContractHome) -> dict[str, dict]:
    result = cli("status", "--json", home=home)
    assert result.returncode == 0, result.stderr[-2000:]
    return {row["partition_key"]: row for row in json.loads(result.stdout)}


def wait_for(home: ContractHome, expected: dict[str, str], timeout: float = 240) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    rows: dict[str, dict] = {}
    while time.monotonic() < deadline:
        rows = stages(home)
        if all(rows.get(key, {}).get("stage") == stage for key, stage in expected.items()):
            return rows
        time.sleep(2)
    got = {key: rows.get(key, {}).get("stage") for key in expected}
    raise AssertionError(f"timed out waiting for {expected}; got {got}")


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    with contract_home(tmp_path / "home", monkeypatch) as home, running_daemon(home, tmp_path):
        yield home


@contextmanager
def running_daemon(home: ContractHome, tmp_path: Path):
    """`contract-assets daemon` on `home` until the block ends (then SIGTERM, as a user stops it)."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    log = (tmp_path / "daemon.log").open("a")
    process = subprocess.Popen(
        [CONTRACT_ASSETS, "daemon"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield home
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def drop(home: ContractHome, path: Path) -> None:
    """The inbox convention: write `name.part`, then rename it into place."""
    part = home.inbox_dir / (path.name + ".part")
    part.write_bytes(path.read_bytes())
    part.rename(home.inbox_dir / path.name)


def test_inbox_to_signature_under_the_daemon(daemon, tmp_path):
    home = daemon
    for path in SAMPLE_FILES:
        drop(home, path)
        time.sleep(3)

    rows = wait_for(
        home,
        {
            "acme-robotics-nda.r1": "ready_for_signature",
            "blue-fjord-msa.r1": "superseded",
            "blue-fjord-msa.r2": "awaiting_approval",
            "blue-fjord-sow-1.r1": "blocked",
            "kestrel-bio-nda.r1": "awaiting_approval",
        },
    )
    assert rows["blue-fjord-msa.r2"]["required_approvals"] == [
        {"role": "finance", "tier": 1},
        {"role": "legal", "tier": 1},
    ]
    assert rows["kestrel-bio-nda.r1"]["required_approvals"] == [{"role": "legal", "tier": 1}]
    assert sorted(p.name for p in home.processed_dir.iterdir()) == [p.name for p in SAMPLE_FILES]
    assert list(home.inbox_dir.iterdir()) == []

    for name, role in (("fiona", "finance"), ("leo", "legal")):
        key = tmp_path / f"{name}.key"
        assert cli("keygen", name, "--out", str(key), home=home).returncode == 0
        added = cli(
            "approvers", "add", name, "--email", f"{name}@orbital.example", "--role", role,
            "--public-key", f"{key}.pub", home=home,
        )
        assert added.returncode == 0, added.stderr
        approved = cli(
            "approve", "blue-fjord-msa.r2", "--role", role, "--approver", name, "--key", str(key),
            home=home,
        )
        assert approved.returncode == 0, approved.stderr

    rows = wait_for(
        home,
        {"blue-fjord-msa.r2": "ready_for_signature", "blue-fjord-sow-1.r1": "ready_for_signature"},
    )
    for key in ("blue-fjord-msa.r2", "blue-fjord-sow-1.r1"):
        for kind in ("html", "pdf", "docx", "manifest"):
            assert Path(rows[key]["artifacts"][kind]).is_file()
    assert rows["blue-fjord-msa.r2"]["approval"]["status"] == "approved"


def approve(home: ContractHome, tmp_path: Path, key: str, name: str, role: str) -> None:
    private = tmp_path / f"{name}.key"
    assert cli("keygen", name, "--out", str(private), home=home).returncode == 0
    added = cli(
        "approvers", "add", name, "--email", f"{name}@orbital.example", "--role", role,
        "--public-key", f"{private}.pub", home=home,
    )
    assert added.returncode == 0, added.stderr
    approved = cli("approve", key, "--role", role, "--approver", name, "--key", str(private), home=home)
    assert approved.returncode == 0, approved.stderr


def test_stopping_and_restarting_the_daemon_loses_nothing(tmp_path, monkeypatch):
    """Work that arrives while the daemon is down (an approval, an inbox file, a revision
    pending its decision) is all taken up once it is back, and nothing runs twice."""
    msa, sow = SAMPLE_FILES[1], SAMPLE_FILES[2]
    with contract_home(tmp_path / "home", monkeypatch) as home:
        with running_daemon(home, tmp_path):
            drop(home, msa)
            wait_for(home, {"blue-fjord-msa.r1": "awaiting_approval"})

        # Daemon stopped: the decision and the SOW arrive now.
        approve(home, tmp_path, "blue-fjord-msa.r1", "fiona", "finance")
        drop(home, sow)
        assert stages(home)["blue-fjord-msa.r1"]["stage"] == "awaiting_approval"

        with running_daemon(home, tmp_path):
            rows = wait_for(
                home,
                {"blue-fjord-msa.r1": "ready_for_signature", "blue-fjord-sow-1.r1": "ready_for_signature"},
            )
        assert rows["blue-fjord-msa.r1"]["approval"]["decisions"][0]["approver"] == "fiona"
        assert list(home.inbox_dir.iterdir()) == []
        with operations_for(home) as ops:
            for key in ("blue-fjord-msa.r1", "blue-fjord-sow-1.r1"):
                for asset in PIPELINE:
                    if asset == "contract_redline":
                        continue
                    records = ops.instance.fetch_materializations(
                        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[key]),
                        limit=10,
                    ).records
                    assert len(records) == 1, (key, asset, len(records))  # nothing ran twice
