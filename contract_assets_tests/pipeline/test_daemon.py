"""The acceptance run of the workflow: `contract-assets daemon` on a temporary home, requests
dropped into the inbox, approvals signed on the command line, nothing else."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from contract_assets.platform.home import MARK, instance_yaml
from contract_assets.platform.records import DATABASE_ENV
from contract_assets.pipeline.defs.revision_stage import latest_stage
from contract_assets_tests.harness import (
    CONTRACT_ASSETS,
    SAMPLE_FILES,
    approve,
    assert_materialized_once,
    assert_repeats_were_harmless,
    contract_home,
    drop,
    operations_for,
    running_daemon,
    service,
    service_env,
    stages,
    wait_for,
)

pytestmark = pytest.mark.slow

PARTITION_TAG = "dagster/partition"
GOING = (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED)
FINISHED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    with contract_home(tmp_path / "home", monkeypatch) as home, running_daemon(home, tmp_path):
        yield home


def observed_stage(home, key: str, stage: str, timeout: float = 120) -> dict:
    """The latest revision_stage observation of `key` once it says `stage` (or fail)."""
    deadline = time.monotonic() + timeout
    values: dict = {}
    while time.monotonic() < deadline:
        with operations_for(home) as ops:
            record = latest_stage(ops.instance, key)
        values = {k: v.value for k, v in record.asset_observation.metadata.items()} if record else {}
        if values.get("stage") == stage:
            return values
        time.sleep(2)
    raise AssertionError(f"{key} was not observed at {stage}: {values}")


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
        approve(home, tmp_path, "blue-fjord-msa.r2", name, role)

    rows = wait_for(
        home,
        {"blue-fjord-msa.r2": "ready_for_signature", "blue-fjord-sow-1.r1": "ready_for_signature"},
    )
    for key in ("blue-fjord-msa.r2", "blue-fjord-sow-1.r1"):
        for kind in ("html", "pdf", "docx", "manifest"):
            assert Path(rows[key]["artifacts"][kind]).is_file()
    assert rows["blue-fjord-msa.r2"]["approval"]["status"] == "approved"
    # Runs the daemon launched are observed by the run-status sensors (the UI's stage view).
    assert observed_stage(home, "blue-fjord-sow-1.r1", "ready_for_signature")["waiting_for"] == "signatories"
    assert observed_stage(home, "kestrel-bio-nda.r1", "awaiting_approval")["waiting_for"] == "legal"


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
            assert_materialized_once(ops.instance, ["blue-fjord-msa.r1", "blue-fjord-sow-1.r1"])


def runs_of(instance: DagsterInstance, partition_key: str) -> list[DagsterRun]:
    """The revision's runs, newest first."""
    records = instance.get_run_records(RunsFilter(tags={PARTITION_TAG: partition_key}))
    return [record.dagster_run for record in records]


@pytest.mark.parametrize(
    "kill, left_as",
    [(False, DagsterRunStatus.FAILURE), (True, DagsterRunStatus.STARTED)],
    ids=["stopped", "killed"],
)
def test_a_run_cut_off_with_the_daemon_is_retried_from_failure(tmp_path, monkeypatch, kill, left_as):
    """Stopping the daemon while a revision's run is going fails that run. SIGKILL to the
    daemon and everything it started (the OOM killer, a power cut) leaves it STARTED with no
    process: the daemon, back, finds that process gone (run monitoring with the project's
    launcher) and marks it failed. Either way the daemon retries it from its failure
    (`run_retries`). A step cut off after storing its output is computed again (Dagster's
    steps run at least once); that repeats nothing a user sees: the same data version, one
    folder each of documents and package, one audit entry per action.

    A small run can finish between seeing it start and the cut landing: then the premise
    did not hold, and the next revision is tried (a few at most)."""
    with contract_home(tmp_path / "home", monkeypatch) as home:
        if kill:
            monitor_every_two_seconds(home)
        for attempt in range(CUT_OFF_ATTEMPTS):
            key, cut_off = _stop_the_daemon_mid_run(home, tmp_path, attempt, kill=kill)
            with operations_for(home) as ops:
                status = ops.instance.get_run_by_id(cut_off).status
            if status is left_as:
                break
            assert status is DagsterRunStatus.SUCCESS, status
        else:
            pytest.fail(f"each of {CUT_OFF_ATTEMPTS} runs finished before the daemon was cut off")

        with running_daemon(home, tmp_path):
            try:
                wait_for(home, {key: "ready_for_signature"})
            except AssertionError as timed_out:
                raise AssertionError(f"{timed_out}\n{what_the_daemon_did(home, key, tmp_path)}") from None
        with operations_for(home) as ops:
            assert [(r.parent_run_id, r.status) for r in runs_of(ops.instance, key)] == [
                (cut_off, DagsterRunStatus.SUCCESS),
                (None, DagsterRunStatus.FAILURE),
            ]
            if kill:
                failure = ops.instance.all_logs(cut_off, of_type=DagsterEventType.RUN_FAILURE)
                assert "is gone" in failure[-1].dagster_event.message
            assert_repeats_were_harmless(ops, [key])


def what_the_daemon_did(home, key: str, log_dir: Path) -> str:
    """The evidence when a cut-off run was not retried in time: the revision's runs (status,
    parent, retry tags), the engine events of each, the daemon's cursors, the daemon's log."""
    lines = []
    with operations_for(home) as ops:
        instance = ops.instance
        for run in runs_of(instance, key):
            tags = {k: v for k, v in run.tags.items() if k.startswith("dagster/") and k != PARTITION_TAG}
            lines.append(f"run {run.run_id} {run.status.value} parent={run.parent_run_id} tags={tags}")
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is not None and (event.is_run_failure or event.event_type_value == "ENGINE_EVENT"):
                    lines.append(f"  {entry.timestamp:.1f} {event.event_type_value}: {event.message}")
        cursors = instance.daemon_cursor_storage.get_cursor_values(
            {f"EVENT_LOG_CONSUMER_CURSOR-{t.value}" for t in (DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_SUCCESS)}
        )
        lines.append(f"event log consumer cursors: {cursors}")
        lines.append(f"newest event id: {instance.event_log_storage.get_maximum_record_id()}")
        failures = instance.event_log_storage.get_logs_for_all_runs_by_log_id(
            after_cursor=-1, dagster_event_type={DagsterEventType.RUN_FAILURE}
        )
        lines.append(f"run failure events (id: run): { {i: e.run_id for i, e in failures.items()} }")
    # Both daemons append to one log; what decides a retry is in a few of its lines.
    log = (log_dir / "daemon.log").read_text(errors="replace").splitlines()
    deciding = ("EventLogConsumer", "MonitoringDaemon", "retry", "Retry", "Error", "error", "heartbeat", "configured with")
    lines.append("daemon.log, the lines about retries, monitoring and errors:")
    lines += [line[:400] for line in log if any(word in line for word in deciding)][-120:]
    return "\n".join(lines)


def monitor_every_two_seconds(home) -> None:
    """The home's instance with run monitoring polling every 2 s instead of 30 (a file
    without contract-assets' mark line is kept as it is)."""
    text = instance_yaml(str(home.dagster_home), postgres=bool(os.environ.get(DATABASE_ENV)))
    assert "poll_interval_seconds: 30" in text
    text = text.replace(MARK + "\n", "").replace("poll_interval_seconds: 30", "poll_interval_seconds: 2")
    (home.dagster_home / "dagster.yaml").write_text(text)


CUT_OFF_ATTEMPTS = 4


def _stop_the_daemon_mid_run(
    home, tmp_path: Path, attempt: int, kill: bool = False
) -> tuple[str, str]:
    """Drop a new NDA, stop the daemon as soon as its run is going (with `kill`, SIGKILL the
    daemon and all it started once the run has started); its key and run id."""
    contract_id = f"cut-off-{attempt}"
    request = tmp_path / f"{contract_id}.yaml"
    request.write_text(
        SAMPLE_FILES[0].read_text().replace("contract_id: acme-robotics-nda", f"contract_id: {contract_id}")
    )
    key = f"{contract_id}.r1"
    going = (DagsterRunStatus.STARTED,) if kill else GOING
    daemon = [CONTRACT_ASSETS, "daemon"]
    with service(daemon, tmp_path / "daemon.log", service_env(home), tmp_path) as process:
        with operations_for(home) as ops:
            drop(home, request)
            deadline = time.monotonic() + 240
            while True:  # stop as soon as its run is launched, before it can finish
                runs = runs_of(ops.instance, key)
                if runs and runs[0].status in going:
                    if kill:
                        os.killpg(process.pid, signal.SIGKILL)
                    return key, runs[0].run_id
                if runs and runs[0].status in FINISHED:
                    return key, runs[0].run_id  # too quick this time
                assert time.monotonic() < deadline, "no run was launched"
                time.sleep(0.1)
