"""`contract-assets health`, as a cron job, systemd unit or Kubernetes probe runs it: one line
per check, exit 0 when all pass and 1 when any fails."""

from __future__ import annotations

import os
import re
import shutil
import time

import pytest
from dagster import DagsterRunStatus
from dagster._core.remote_origin import (
    RegisteredCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._daemon.types import DaemonHeartbeat

from contract_assets.definitions import build_definitions
from contract_assets_tests.harness import SAMPLES, cli


def beat(instance, seconds_ago: float) -> None:
    instance.add_daemon_heartbeat(
        DaemonHeartbeat(timestamp=time.time() - seconds_ago, daemon_type="SENSOR", daemon_id="d", errors=[])
    )


@pytest.mark.programs
def test_health_where_no_daemon_ever_ran_fails_and_says_so(home):
    result = cli("health", home=home)

    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "FAIL daemon heartbeat: none recorded: the daemon never ran on this instance",
        "OK   queued runs: 0 (limit 100)",
        "OK   oldest inbox file: inbox empty",
        "OK   failed runs in the last hour: 0 (limit 0)",
    ]
    # A probe may ask for some checks only: the others neither print nor fail it.
    inbox_only = cli("health", "--check", "inbox", home=home)
    assert (inbox_only.returncode, inbox_only.stdout) == (0, "OK   oldest inbox file: inbox empty\n")


@pytest.mark.programs
def test_health_passes_when_all_is_well_and_names_each_check_that_fails(home, ops):
    beat(ops.instance, seconds_ago=5)
    healthy = cli("health", home=home)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert [line.split(":")[0] for line in healthy.stdout.splitlines()] == [
        "OK   daemon heartbeat",
        "OK   queued runs",
        "OK   oldest inbox file",
        "OK   failed runs in the last hour",
    ]

    job = build_definitions(home).resolve_job_def("contract_register_job")
    # A queued run, as the UI's launch leaves one (Dagster wants its code location named).
    location = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("contract_assets"), "__repository__")
    ops.instance.create_run_for_job(
        job_def=job, status=DagsterRunStatus.QUEUED, remote_job_origin=RemoteJobOrigin(location, job.name)
    )
    failed = ops.instance.create_run_for_job(job_def=job)
    ops.instance.report_run_failed(failed)
    stale = home.inbox_dir / "waiting.yaml"
    shutil.copyfile(SAMPLES / "01-mutual-nda.yaml", stale)
    eleven_minutes_ago = time.time() - 11 * 60
    os.utime(stale, (eleven_minutes_ago, eleven_minutes_ago))
    beat(ops.instance, seconds_ago=120)

    sick = cli("health", "--max-queued", "0", home=home)

    assert sick.returncode == 1
    lines = sick.stdout.splitlines()
    assert len(lines) == 4
    heartbeat = re.fullmatch(r"FAIL daemon heartbeat: (\d+) s old \(limit 90 s\)", lines[0])
    assert heartbeat and int(heartbeat[1]) >= 120, lines[0]
    assert lines[1] == "FAIL queued runs: 1 (limit 0)"
    inbox = re.fullmatch(
        r"FAIL oldest inbox file: (\d+) s old, 1 file\(s\) waiting \(limit 10 min\)", lines[2]
    )
    assert inbox and int(inbox[1]) >= 660, lines[2]
    assert lines[3] == "FAIL failed runs in the last hour: 1 (limit 0)"

    # Allowed by the limits given: exit 0 again once the daemon beats.
    beat(ops.instance, seconds_ago=0)
    stale.unlink()
    tolerant = cli("health", "--max-queued", "5", "--max-failed", "3", home=home)
    assert tolerant.returncode == 0, tolerant.stdout
