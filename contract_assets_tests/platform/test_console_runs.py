"""Console runs (`contract-assets run`, `demo`, `resume`) are first-class Dagster runs, and the
console's long-running commands stop cleanly.

A console run is made from the UI's code location (job origin, `.dagster/repository` tag),
so the UI lists and re-executes it; the daemon never retries it, `contract-assets run`
resumes it; a run the daemon retries is left to the daemon. `contract-assets dev` stops on
SIGTERM and SIGINT with everything it started, and its daemon does not rebuild a register
the console has just built.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEvent, DagsterRunStatus, RunsFilter, build_sensor_context
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG, WILL_RETRY_TAG
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import should_retry
from dagster._daemon.monitoring.run_monitoring import monitor_started_run

from contract_assets.cli.revisions import QUIET_RUN
from contract_assets.platform.defs.console_runs import LOCATION_NAME, PID_TAG, console_runs
from contract_assets.pipeline.defs.asset_graph import PIPELINE_STEPS
from contract_assets.register.defs.sensors import register_sensor
from contract_assets_tests.harness import (
    CONTRACT_ASSETS,
    LOCATIONS,
    SAMPLE_FILES,
    assert_materialized_once,
    cli,
    contract_home,
    free_port,
    graphql,
    materialization_count,
    operations_for,
    service_env,
)
from contract_assets_tests.platform.test_launcher import record_worker, started_run

NDA = SAMPLE_FILES[0]
NDA_KEY = "acme-robotics-nda.r1"
REPOSITORY_LABEL = f"__repository__@{LOCATION_NAME}"


def test_a_console_run_carries_its_job_origin_partition_and_selection(home, ops):
    key = ops.submit(NDA).revision.partition_key
    with console_runs(ops.instance) as runs:
        run = runs.create(
            "contract_pipeline", tags={"dagster/partition": key}, assets=PIPELINE_STEPS[:2], run_config=QUIET_RUN
        )
        assert runs.execute(run)
    stored = ops.instance.get_run_by_id(run.run_id)
    assert stored.status is DagsterRunStatus.SUCCESS
    origin = stored.remote_job_origin
    assert (origin.location_name, origin.job_name) == (LOCATION_NAME, "contract_pipeline")
    label = ops.instance.get_run_records(RunsFilter(tags={REPOSITORY_LABEL_TAG: REPOSITORY_LABEL}))
    assert [r.dagster_run.run_id for r in label] == [run.run_id]
    assert stored.tags["dagster/partition"] == key
    assert stored.asset_selection == {AssetKey(a) for a in PIPELINE_STEPS[:2]}
    assert stored.run_config == QUIET_RUN
    assert materialization_count(ops.instance, "contract_draft", key) == 1
    assert materialization_count(ops.instance, "risk_assessment", key) == 0


def register_builds(instance) -> int:
    return len(instance.fetch_materializations(AssetKey("contract_register"), limit=100).records)


def _as_killed(ops, run_id: str) -> None:
    """As if the console executing the run was SIGKILLed mid-run: STARTED, its process gone."""
    ops.instance.add_run_tags(run_id, {PID_TAG: "999999999"})
    run = ops.instance.get_run_by_id(run_id)
    ops.instance.run_storage.handle_run_event(
        run_id, DagsterEvent(event_type_value="PIPELINE_START", job_name=run.job_name)
    )


@pytest.mark.programs
def test_a_dead_console_run_is_failed_by_run_monitoring_and_resumed_by_the_console_only(home, ops):
    """The daemon's run monitoring marks it failed (so the UI can re-execute it); the daemon's
    run retries leave it; `contract-assets run` resumes it, once."""
    key = ops.submit(NDA).revision.partition_key
    with console_runs(ops.instance) as runs:
        run = runs.create("contract_pipeline", tags={"dagster/partition": key}, assets=PIPELINE_STEPS)
    _as_killed(ops, run.run_id)

    monitor_started_run(ops.instance, None, ops.instance.get_run_record_by_id(run.run_id), logging.getLogger())
    failed = ops.instance.get_run_by_id(run.run_id)
    assert failed.status is DagsterRunStatus.FAILURE
    assert not should_retry(failed, ops.instance)  # the daemon's run retries pass it by
    assert failed.tags[WILL_RETRY_TAG] == "false"

    assert cli("run", home=home).returncode == 0
    assert cli("run", home=home).returncode == 0  # a second pass finds nothing to do
    runs_of_key = ops.instance.get_runs(RunsFilter(tags={"dagster/partition": key}))
    # The console's run of the missing steps, after the killed one; nothing else.
    assert [r.status for r in runs_of_key] == [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE]
    assert runs_of_key[1].run_id == run.run_id
    assert_materialized_once(ops.instance, [key])


@pytest.mark.programs
def test_a_run_the_daemon_retries_is_not_resumed_by_the_console(home, ops, tmp_path):
    """A daemon run whose worker died: run monitoring fails it and Dagster marks it for the
    daemon's run retries; `contract-assets run` leaves it to them, and says so."""
    run = started_run(home, ops)
    worker = subprocess.Popen(["sleep", "60"])
    record_worker(ops.instance, run, worker.pid)
    worker.kill()
    worker.wait()
    monitor_started_run(ops.instance, None, ops.instance.get_run_record_by_id(run.run_id), logging.getLogger())
    failed = ops.instance.get_run_by_id(run.run_id)
    assert failed.status is DagsterRunStatus.FAILURE and should_retry(failed, ops.instance)

    result = cli("run", home=home)
    assert result.returncode == 0, result.stderr
    assert f"contract-assets resume {run.run_id}" in result.stdout
    assert [r.run_id for r in ops.instance.get_runs(RunsFilter(job_name="contract_pipeline"))] == [run.run_id]

    # `resume` takes it from the daemon's retries first: one of the two re-executes it.
    resumed = cli("resume", run.run_id, home=home)
    assert resumed.returncode == 0, resumed.stderr
    assert not should_retry(ops.instance.get_run_by_id(run.run_id), ops.instance)


@pytest.mark.programs
def test_the_register_sensor_leaves_a_register_built_after_the_newest_run(home, ops):
    """`contract-assets run` (or the demo) builds the register; the daemon's first tick must
    not build it again. A revision run that ends later makes it due again."""
    assert cli("submit", str(NDA), home=home).returncode == 0
    assert cli("run", home=home).returncode == 0
    assert register_builds(ops.instance) == 1

    first = register_sensor.evaluate_tick(build_sensor_context(instance=ops.instance))
    assert first.run_requests == []

    assert cli("submit", str(SAMPLE_FILES[3]), home=home).returncode == 0
    with console_runs(ops.instance) as runs:
        key = ops.workspace.registry.all()[-1].partition_key
        runs.execute(runs.create("contract_pipeline", tags={"dagster/partition": key}, assets=PIPELINE_STEPS[:1]))
    later = register_sensor.evaluate_tick(build_sensor_context(instance=ops.instance, cursor=first.cursor))
    assert len(later.run_requests) == 1


def _descendants(pid: int) -> set[int]:
    """Every process started, directly or not, by `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parent = int(text[text.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, queue = set(), [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            if child not in found:
                found.add(child)
                queue.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _ignore_sigint() -> None:
    """What a shell does to a job a script starts in the background."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


SENSOR_TICKS = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    sensors { name sensorState { ticks(limit: 10) { status } } } } } } }
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_dev_stops_cleanly_on_a_signal_and_leaves_the_consoles_register(tmp_path, monkeypatch, signum):
    """`contract-assets dev` started from a script, after `contract-assets run` built the
    register: its daemon's first register tick builds nothing; the signal stops it, its
    webserver, daemon and code servers promptly, exit code 0."""
    with contract_home(tmp_path / "home", monkeypatch) as home:
        assert cli("submit", str(NDA), home=home).returncode == 0
        assert cli("run", home=home).returncode == 0
        port = free_port()
        log = (tmp_path / "dev.log").open("w")
        dev = subprocess.Popen(
            [CONTRACT_ASSETS, "dev", "--port", str(port)], env=service_env(home), cwd=tmp_path,
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_ignore_sigint,
        )  # fmt: skip
        started: set[int] = set()
        try:
            _wait_for_register_tick(dev, port, tmp_path / "dev.log")
            started = _descendants(dev.pid)
            assert len(started) >= 3, started  # dagster dev, its webserver and daemon (and code servers)
            dev.send_signal(signum)
            code = dev.wait(timeout=90)
            deadline = time.monotonic() + 30
            while any(map(_alive, started)) and time.monotonic() < deadline:
                time.sleep(0.5)  # children are waited for; grandchildren may be a moment behind
            left = sorted(pid for pid in started if _alive(pid))
        finally:  # whatever is left, this test's own processes only
            for pid in {dev.pid, *started, *_descendants(dev.pid)}:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            dev.wait()
        log_text = (tmp_path / "dev.log").read_text()
        assert code == 0, log_text[-3000:]
        assert left == [], f"left running: {left}\n{log_text[-3000:]}"
        with operations_for(home) as ops:
            assert register_builds(ops.instance) == 1
            register_runs = ops.instance.get_runs(RunsFilter(job_name="contract_register_job"))
            assert [r.tags.get("dagster/sensor_name") for r in register_runs] == [None]


def _wait_for_register_tick(dev: subprocess.Popen, port: int, log: Path, timeout: float = 240) -> None:
    """Until the UI answers and the daemon's register sensor has ticked at least once."""
    deadline = time.monotonic() + timeout
    while True:
        assert dev.poll() is None, f"dev exited ({dev.returncode}):\n{log.read_text()[-3000:]}"
        try:
            graphql(port, LOCATIONS, timeout=10)
            nodes = graphql(port, SENSOR_TICKS)["repositoriesOrError"]["nodes"]
            ticks = {s["name"]: s["sensorState"]["ticks"] for node in nodes for s in node["sensors"]}
            if [t for t in ticks.get("register_sensor", []) if t["status"] != "STARTED"]:
                return
        except OSError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"no register tick:\n{log.read_text()[-3000:]}"
        time.sleep(1)


# The query of a job's Runs tab: the job's runs in its code location (the `.dagster/repository`
# tag Dagster gives runs with a job origin).
JOB_RUNS = """
query JobRuns($filter: RunsFilter) { runsOrError(filter: $filter, limit: 25) { ... on Runs { results {
    runId status jobName parentRunId tags { key value } stepStats { stepKey status } } } } }
"""
REEXECUTE = """
mutation Reexecute($parentRunId: String!, $strategy: ReexecutionStrategy!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $parentRunId, strategy: $strategy}) {
    __typename
    ... on LaunchRunSuccess { run { runId parentRunId tags { key value } } }
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""


@pytest.mark.slow
def test_the_ui_lists_a_console_run_and_reexecutes_it_keeping_the_partition(tmp_path, monkeypatch):
    """`contract-assets run` fails on an unmounted documents share; the job's Runs tab lists
    the run; re-executed from failure once the share is back, then all steps, each time for
    the same partition, launched by the daemon."""
    from contract_assets_tests.test_webserver import (
        IN_FLIGHT,
        block_documents,
        daemon_and_webserver,
        partition_of,
        runs,
        wait_until,
    )

    with contract_home(tmp_path / "home", monkeypatch) as home:
        share = tmp_path / "unmounted-share"
        block_documents(home, NDA_KEY, share)
        assert cli("submit", str(NDA), home=home).returncode == 0
        assert cli("run", home=home).returncode == 1  # the revision failed
        with daemon_and_webserver(home, tmp_path, free_port()) as port:
            label = {"key": REPOSITORY_LABEL_TAG, "value": REPOSITORY_LABEL}
            tab = {"pipelineName": "contract_pipeline", "tags": [label]}
            # One run: `run` does not run a revision that failed again in the same pass.
            [parent] = graphql(port, JOB_RUNS, {"filter": tab})["runsOrError"]["results"]
            assert (parent["status"], partition_of(parent)) == ("FAILURE", NDA_KEY)
            finished = {s["stepKey"] for s in parent["stepStats"] if s["status"] == "SUCCESS"}
            assert {"contract_request", "approval_record"} <= finished
            share.mkdir()  # the share is back

            children = {}
            for strategy in ("FROM_FAILURE", "ALL_STEPS"):
                answer = graphql(port, REEXECUTE, {"parentRunId": parent["runId"], "strategy": strategy})
                launched = answer["launchRunReexecution"]
                assert launched["__typename"] == "LaunchRunSuccess", launched
                child = launched["run"]
                assert (child["parentRunId"], partition_of(child)) == (parent["runId"], NDA_KEY)

                def finished_child(run_id=child["runId"]) -> dict | None:
                    [run] = runs(port, runIds=[run_id])
                    return None if run["status"] in IN_FLIGHT else run

                done = wait_until(f"the {strategy} re-execution finished", finished_child)
                assert done["status"] == "SUCCESS", done
                children[strategy] = {s["stepKey"] for s in done["stepStats"]}
            listed = graphql(port, JOB_RUNS, {"filter": tab})["runsOrError"]["results"]

        assert children["FROM_FAILURE"].isdisjoint(finished)
        assert {"review_copy", "contract_documents", "signature_package"} <= children["FROM_FAILURE"]
        assert finished | children["FROM_FAILURE"] <= children["ALL_STEPS"]
        assert len(listed) == 3 and {partition_of(r) for r in listed} == {NDA_KEY}
        with operations_for(home) as ops:
            [status] = ops.statuses()
            assert status.stage.value == "ready_for_signature"
