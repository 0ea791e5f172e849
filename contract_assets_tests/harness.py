"""A contract home on a real SQLite Dagster instance in a temporary directory, for tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from contract_assets.cli import open_operations
from contract_assets.database import create_database, drop_database
from contract_assets.domain.home import DATABASE_ENV, ContractHome
from contract_assets.operations import ContractOperations

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "examples" / "requests"
INVALID = REPO / "examples" / "invalid"
SAMPLE_FILES = sorted(SAMPLES.glob("*.yaml"))

# What a refused request leaves in a home: its audit entries (SQLite backend).
AUDIT_FILES = frozenset({"records.db", "audit/head.json"})

# The audit trail of one auto-approved revision taken to signature, in order.
AUTO_APPROVED_ACTIONS = [
    "revision_registered",
    "draft_assembled",
    "risk_assessed",
    "approval_recorded",
    "documents_rendered",
    "package_sealed",
]


BACKEND = os.environ.get("CONTRACT_ASSETS_TEST_BACKEND", "sqlite")
TEST_SERVER = os.environ.get("CONTRACT_ASSETS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@contextmanager
def backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The storage backend the suite runs on ($CONTRACT_ASSETS_TEST_BACKEND): SQLite, or a
    fresh PostgreSQL database for each home, dropped afterwards."""
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    if BACKEND == "sqlite":
        yield
        return
    url = f"{TEST_SERVER}/ca_test_{uuid.uuid4().hex[:12]}"
    try:
        create_database(url)
    except Exception as exc:  # the service is down: fail in CI, skip elsewhere
        message = f"PostgreSQL at {TEST_SERVER} is not reachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    monkeypatch.setenv(DATABASE_ENV, url)
    try:
        yield
    finally:
        drop_database(url)


@contextmanager
def contract_home(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractHome]:
    monkeypatch.setenv("CONTRACT_ASSETS_HOME", str(root))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with backend(monkeypatch):
        yield ContractHome(root.resolve()).ensure()


@contextmanager
def operations_for(home: ContractHome) -> Iterator[ContractOperations]:
    with open_operations(home) as operations:
        yield operations


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


def require_binary(name: str) -> str:
    """The path of an external program; a missing one fails under CI and skips elsewhere."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (scripts/system-deps.sh test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def cli(*args: str, home: ContractHome, cwd: Path = REPO, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed console command (as a user would) against `home`."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["CONTRACT_ASSETS_HOME"] = str(home.root)
    env.update(extra_env or {})
    command = [str(Path(sys.executable).parent / "contract-assets"), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
