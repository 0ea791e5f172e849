"""A contract home on a real Dagster instance (SQLite, or PostgreSQL by choice) in a
temporary directory, and the programs a user runs on it (daemon, webserver, console), for tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from contract_assets.approvals.approvals import (
    DecisionPayload,
    SignedDecision,
    sign_decision,
)
from contract_assets.cli import open_instance
from contract_assets.platform.defs.database import create_database, drop_database
from contract_assets.platform.defs.clock import Clock
from contract_assets.platform.defs.resources import Settings, Workspace
from contract_assets.platform.home import DATABASE_ENV, ContractHome
from contract_assets_tests.services import PIPELINE, Operations

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
def backend(monkeypatch: pytest.MonkeyPatch, new_instance: bool = False) -> Iterator[None]:
    """The storage backend the suite runs on ($CONTRACT_ASSETS_TEST_BACKEND): SQLite, or a
    fresh PostgreSQL database for each home, dropped afterwards (a copy of this process's
    empty instance, unless `new_instance`)."""
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    if BACKEND == "sqlite":
        yield
        return
    url = f"{TEST_SERVER}/ca_test_{uuid.uuid4().hex[:12]}"
    try:
        if new_instance:
            create_database(url)
        else:
            _copy_database(_empty_instance_template(), url)
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
def contract_home(root: Path, monkeypatch: pytest.MonkeyPatch, new_instance: bool = False) -> Iterator[ContractHome]:
    """A contract home at `root` on the suite's backend. Its Dagster instance is a copy of
    an empty one this test process made once (creating Dagster's schema costs 0.5-1.5 s a
    home, over a thousand homes a run); `new_instance` leaves it to be created as a
    deployment's first program creates it."""
    monkeypatch.setenv("CONTRACT_ASSETS_HOME", str(root))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with backend(monkeypatch, new_instance):
        home = ContractHome(root.resolve()).ensure()
        if BACKEND == "sqlite" and not new_instance:
            shutil.copytree(_empty_instance_template() / "storage", home.dagster_home / "storage")
        yield home


# One empty Dagster instance per test process, copied into each test home: a folder of
# SQLite files, or a PostgreSQL template database. Made on first use; removed at exit.
_TEMPLATE: dict[str, Any] = {}


def _empty_instance_template():
    if BACKEND not in _TEMPLATE:
        import atexit
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="ca_empty_instance_"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        saved = {name: os.environ.pop(name, None) for name in (DATABASE_ENV, "DAGSTER_HOME")}
        try:
            if BACKEND == "sqlite":
                home = ContractHome(root / "home").ensure()
                with open_instance(home):
                    pass
                _TEMPLATE[BACKEND] = home.dagster_home
            else:
                url = f"{TEST_SERVER}/ca_template_{uuid.uuid4().hex[:12]}"
                create_database(url)
                atexit.register(drop_database, url)
                os.environ[DATABASE_ENV] = url
                with open_instance(ContractHome(root / "home").ensure()):
                    pass
                _TEMPLATE[BACKEND] = url
        finally:
            for name, value in saved.items():
                os.environ.pop(name, None)
                if value is not None:
                    os.environ[name] = value
    return _TEMPLATE[BACKEND]


def _copy_database(template_url: str, url: str) -> None:
    """CREATE DATABASE ... TEMPLATE: PostgreSQL copies the files, no schema is built."""
    import psycopg2
    from psycopg2 import sql

    server, template = template_url.rsplit("/", 1)
    connection = psycopg2.connect(f"{server}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(url.rsplit("/", 1)[1]), sql.Identifier(template)
                )
            )
    finally:
        connection.close()


@contextmanager
def operations_for(home: ContractHome, settings: Settings = Settings()) -> Iterator[Operations]:
    """The tests' handle on `home`, its workspace configured by `settings` (the defaults: as
    a deployment with nothing configured)."""
    with open_instance(home) as instance:
        yield Operations(Workspace(home, settings), instance)


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


def require_binary(name: str) -> str:
    """The path of an external program (this environment's first); a missing one fails
    under CI and skips elsewhere."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
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


CONTRACT_ASSETS = str(Path(sys.executable).parent / "contract-assets")
WORKSPACE = REPO / "workspace.yaml"
IN_FLIGHT = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


def materialization_count(instance: DagsterInstance, asset: str, partition_key: str) -> int:
    return len(
        instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition_key]), limit=100
        ).records
    )


def assert_materialized_once(instance: DagsterInstance, partition_keys: Iterable[str]) -> None:
    """Every pipeline asset of each revision was materialized exactly once: nothing ran twice
    (a first revision's redline too, stored as not applicable)."""
    counts = {
        (key, asset): materialization_count(instance, asset, key)
        for key in partition_keys
        for asset in PIPELINE
    }
    assert {where: n for where, n in counts.items() if n != 1} == {}, "materialized other than once"


DATA_VERSION_TAG = "dagster/data_version"  # where Dagster keeps a materialization's data version


def data_versions(instance: DagsterInstance, asset: str, partition_key: str) -> list[str | None]:
    """The data version of each materialization of the asset's partition, oldest first."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition_key]),
        limit=100,
        ascending=True,
    ).records
    return [r.asset_materialization.tags.get(DATA_VERSION_TAG) for r in records]


def assert_repeats_were_harmless(ops: Operations, partition_keys: Iterable[str]) -> None:
    """Dagster runs a step at least once: one cut off after storing its output but before
    recording its success is run again. What that may repeat must be harmless: every
    pipeline asset of each revision is materialized, the latest materialization's data
    version equal to the first's; one folder each of review copy, documents and package
    (one seal); each audited action of the revision logged once."""
    changed, missing, folders, repeated = {}, [], {}, {}
    layout = ops.workspace.layout
    for key in partition_keys:
        for asset in PIPELINE:
            versions = data_versions(ops.instance, asset, key)
            if not versions:
                if not (asset == "contract_redline" and key.endswith(".r1")):  # nothing to compare with
                    missing.append((key, asset))
            elif versions[-1] != versions[0] or None in versions:
                changed[(key, asset)] = versions
        packages = {p.parent for p in layout.issued(key, f"{key}.manifest.json")}
        documents = {p.parent for p in layout.issued(key, f"{key}.docx")} - packages
        seals = {p.parent for p in layout.issued(key, f"{key}.sealed.pdf")}
        for what, found, expected in (
            ("package", packages, 1),
            ("sealed pdf", seals, min(len(seals), 1)),  # at most one seal (none without a seal set up)
            ("documents", documents, 1),
            ("review copy", {p.parent for p in layout.issued(key, f"{key}.review.html")}, 1),
        ):
            if len(found) != expected:
                folders[(key, what)] = sorted(p.name for p in found)
        actions = Counter(entry.action for entry in ops.workspace.audit.entries(key))
        repeated.update({(key, action): n for action, n in actions.items() if n != 1})
    assert missing == [], f"never materialized: {missing}"
    assert changed == {}, f"a repeated step stored another data version: {changed}"
    assert folders == {}, f"other than one folder: {folders}"
    assert repeated == {}, f"audited other than once: {repeated}"


def stages(home: ContractHome) -> dict[str, dict]:
    """`contract-assets status --json`, by partition key."""
    result = cli("status", "--json", home=home)
    assert result.returncode == 0, result.stderr[-2000:]
    return {row["partition_key"]: row for row in json.loads(result.stdout)}


def stages_in_process(home: ContractHome) -> dict[str, str]:
    """Each revision's stage, read in this process (what `status --json` prints, without
    starting a program): cheap enough to poll while a daemon works."""
    with operations_for(home) as ops:
        return {s.revision.partition_key: s.as_json()["stage"] for s in ops.statuses()}


def wait_for(home: ContractHome, expected: dict[str, str], timeout: float = 240) -> dict[str, dict]:
    """Poll until each revision is at its expected stage as `contract-assets status --json`
    prints it (or fail naming where they are). The polling reads in process, and the console
    command is asked once the stages are reached: a program started every poll would take a
    core of the two from the daemon being waited for."""
    deadline = time.monotonic() + timeout
    rows: dict[str, dict] = {}
    while time.monotonic() < deadline:
        try:
            now = stages_in_process(home)
        except Exception:  # caught mid-write: ask the console command, as a user would
            now = {key: row.get("stage") for key, row in stages(home).items()}
        if all(now.get(key) == stage for key, stage in expected.items()):
            rows = stages(home)
            if all(rows.get(key, {}).get("stage") == stage for key, stage in expected.items()):
                return rows
        time.sleep(1)
    rows = stages(home)
    got = {key: rows.get(key, {}).get("stage") for key in expected}
    raise AssertionError(f"timed out waiting for {expected}; got {got}")


def drop(home: ContractHome, path: Path) -> None:
    """The inbox convention: write `name.part`, then rename it into place."""
    part = home.inbox_dir / (path.name + ".part")
    part.write_bytes(path.read_bytes())
    part.rename(home.inbox_dir / path.name)


def approve(home: ContractHome, keys_dir: Path, key: str, name: str, role: str) -> None:
    """Make `name` an approver for `role` and record their signed approval of revision `key`,
    through the console command (for a home other processes hold; in process: `record_approval`)."""
    private = keys_dir / f"{name}.key"
    assert cli("keygen", name, "--out", str(private), home=home).returncode == 0
    added = cli(
        "approvers", "add", name, "--email", f"{name}@orbital.example", "--role", role,
        "--public-key", f"{private}.pub", home=home,
    )
    assert added.returncode == 0, added.stderr
    approved = cli("approve", key, "--role", role, "--approver", name, "--key", str(private), home=home)
    assert approved.returncode == 0, approved.stderr


def signed_decision(
    ops: Operations,
    key: str,
    approver: str,
    role: str,
    private_pem: bytes,
    decision: str = "approve",
    content_of: str | None = None,
) -> SignedDecision:
    """`approver`'s `decision` as `role` on revision `key`, signed now with `private_pem`, bound
    to the content hash of revision `content_of` (default: `key`)."""
    revision = ops.workspace.registry.get(content_of or key)
    payload = DecisionPayload(
        partition_key=key,
        content_hash=revision.content_hash,
        role=role,
        approver=approver,
        decision=decision,
        signed_at=datetime.now(UTC),
    )
    return sign_decision(payload, private_pem)


def record_approval(ops: Operations, key: str, approver: str, role: str, private_pem: bytes) -> None:
    """Record `approver`'s signed approval as `role` of revision `key`, in process; it must count."""
    counted, reason, _ = ops.record_decision(signed_decision(ops, key, approver, role, private_pem))
    assert counted, reason


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process_group(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM the group `process` leads (as a user stops a service), SIGKILL what is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:  # children (code servers, run workers) exit after it
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=grace)


@contextmanager
def service(
    command: list[str], log_path: Path, env: dict[str, str], cwd: Path
) -> Iterator[subprocess.Popen]:
    """A long-running program in its own process group, stopped with everything it started."""
    with log_path.open("a") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop_process_group(process)


def service_env(home: ContractHome) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["CONTRACT_ASSETS_HOME"] = str(home.root)
    return env


@contextmanager
def running_daemon(home: ContractHome, log_dir: Path) -> Iterator[ContractHome]:
    """`contract-assets daemon` on `home` until the block ends (then stopped as a user stops it)."""
    with service([CONTRACT_ASSETS, "daemon"], log_dir / "daemon.log", service_env(home), log_dir):
        yield home


@contextmanager
def running_webserver(
    home: ContractHome, log_dir: Path, port: int, timeout: float = 240
) -> Iterator[int]:
    """`dagster-webserver` on 127.0.0.1:`port` over the project's workspace.yaml and the home's
    instance, once it answers GraphQL with the code location loaded."""
    program = require_binary("dagster-webserver")
    with open_instance(home):
        pass  # a webserver started on its own finds the instance made (README: the UI)
    env = dict(service_env(home), DAGSTER_HOME=str(home.dagster_home))
    log_path = log_dir / "webserver.log"
    command = [program, "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)]
    with service(command, log_path, env, log_dir) as process:
        wait_until_loaded(process, port, log_path, timeout)
        yield port


def wait_until_loaded(process: subprocess.Popen, port: int, log_path: Path, timeout: float = 240) -> None:
    """Wait until the UI `process` serves GraphQL on `port` with every code location loaded
    (fails with the end of its log if it exits, a location fails to load, or time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log = log_path.read_text()[-3000:]
            raise AssertionError(f"the webserver exited ({process.returncode}):\n{log}")
        try:
            entries = graphql(port, LOCATIONS, timeout=10)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                loaded = "RepositoryLocation"
                errors = [e for e in entries if e["locationOrLoadError"]["__typename"] != loaded]
                assert not errors, f"the code location did not load: {errors}"
                return
        except (OSError, urllib.error.URLError):
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise AssertionError(f"the webserver did not come up:\n{log_path.read_text()[-3000:]}")
        time.sleep(1)


LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def graphql(
    port: int, query: str, variables: dict[str, Any] | None = None, timeout: float = 60
) -> dict:
    """POST a query to the webserver's /graphql, as the UI does; fails on any GraphQL error."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.loads(response.read())
    assert not payload.get("errors"), payload["errors"]
    return payload["data"]


class ClockAhead(Clock):
    """The clock resource set `hours` ahead of the system's: a later day, for a test."""

    hours: float = 0

    def now(self) -> datetime:
        return super().now() + timedelta(hours=self.hours)
