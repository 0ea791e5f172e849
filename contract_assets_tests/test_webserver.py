"""The daemon and the webserver together, as a team runs them: stopped and restarted in the
middle of a flow, and a failed revision re-executed from failure the way the UI does it.

A revision is made to fail the way a production one can: its documents folder is a link to
a share that is not mounted, so writing the review copy and the documents fails. Mounting
the share (creating the link's target) is the fix, after which a re-execution succeeds.
"""

from __future__ import annotations

import json
import uuid
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from contract_assets.platform.home import ContractHome
from contract_assets.platform.notify import AlertLedger, Notifier, NotifierConfig
from contract_assets.platform.storage import StorageLayout
from contract_assets_tests.harness import (
    IN_FLIGHT,
    ClockAhead,
    SAMPLE_FILES,
    approve,
    assert_materialized_once,
    contract_home,
    drop,
    free_port,
    graphql,
    operations_for,
    running_daemon,
    running_webserver,
    stages,
    wait_for,
)

pytestmark = pytest.mark.slow

NDA, MSA, SOW = SAMPLE_FILES[0], SAMPLE_FILES[1], SAMPLE_FILES[2]
NDA_KEY, MSA_KEY, SOW_KEY = "acme-robotics-nda.r1", "blue-fjord-msa.r1", "blue-fjord-sow-1.r1"
PARTITION_TAG = "dagster/partition"

RUNS = """
query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
    runId status jobName parentRunId rootRunId tags { key value } stepStats { stepKey status } } } } }
"""
PARTITIONS = """
{ assetNodeOrError(assetKey: {path: ["contract_request"]}) { ... on AssetNode { partitionKeys } } }
"""
SENSOR_TICKS = """
query Ticks($after: Float) { repositoriesOrError { ... on RepositoryConnection { nodes {
    sensors { name sensorState { ticks(limit: 500, afterTimestamp: $after) { tickId timestamp } } }
} } } }
"""
REEXECUTE = """
mutation Reexecute($parentRunId: String!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $parentRunId, strategy: FROM_FAILURE}) {
    __typename
    ... on LaunchRunSuccess { run { runId status parentRunId rootRunId tags { key value } } }
    ... on Error { message }
  }
}
"""


def runs(port: int, **run_filter) -> list[dict]:
    return graphql(port, RUNS, {"filter": run_filter})["runsOrError"]["results"]


def partition_of(run: dict) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == PARTITION_TAG), None)


def pipeline_runs_of(port: int, partition_key: str) -> list[dict]:
    partition = {"key": PARTITION_TAG, "value": partition_key}
    return runs(port, pipelineName="contract_pipeline", tags=[partition])


def sensor_ticks(port: int, after: float = 0.0) -> dict[str, list[dict]]:
    nodes = graphql(port, SENSOR_TICKS, {"after": after})["repositoriesOrError"]["nodes"]
    return {s["name"]: s["sensorState"]["ticks"] for node in nodes for s in node["sensors"]}


def wait_until(what: str, condition, timeout: float = 240, every: float = 2):
    """Poll `condition` until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(every)


def wait_until_quiet(port: int) -> list[dict]:
    """All runs, once none is queued or running (checked twice, a sensor interval apart)."""

    def settled() -> list[dict] | None:
        if any(r["status"] in IN_FLIGHT for r in runs(port)):
            return None
        time.sleep(10)
        latest = runs(port)
        return None if any(r["status"] in IN_FLIGHT for r in latest) else latest

    return wait_until("no run is queued or running", settled)


def block_documents(home: ContractHome, partition_key: str, share: Path) -> None:
    """Make the revision's documents folder a link to `share`, which does not exist yet."""
    folder = StorageLayout(home.storage_dir).documents_dir(partition_key)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(share, target_is_directory=True)


def alert_lines(home: ContractHome, alert_id: str) -> list[dict]:
    """The alert log's entries for one alert id (the log is in the project's database)."""
    logged = Notifier(NotifierConfig.for_home(home)).logged()
    return [alert.model_dump(mode="json") for alert in logged if alert.alert_id == alert_id]


@pytest.fixture
def webhook(monkeypatch) -> Iterator[list[dict]]:
    """A webhook endpoint on 127.0.0.1, set for the services, that keeps every alert posted to it."""
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CONTRACT_ASSETS_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/alerts")
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def daemon_and_webserver(home: ContractHome, log_dir: Path, port: int) -> Iterator[int]:
    with running_daemon(home, log_dir), running_webserver(home, log_dir, port):
        yield port


def test_stopping_and_restarting_daemon_and_webserver_loses_nothing(tmp_path, monkeypatch, webhook):
    """Stopped while a revision awaits approval and a failure alert is out; meanwhile a
    decision and a new request arrive. After the restart the approval completes, the request
    is taken once, the alert is neither lost nor sent again, and the UI shows the same runs."""
    with contract_home(tmp_path / "home", monkeypatch) as home:
        port = free_port()
        block_documents(home, NDA_KEY, tmp_path / "unmounted-share")
        with daemon_and_webserver(home, tmp_path, port):
            drop(home, MSA)
            drop(home, NDA)
            wait_for(home, {MSA_KEY: "awaiting_approval", NDA_KEY: "failed"})
            [failed] = pipeline_runs_of(port, NDA_KEY)
            alert_id = f"run_failure:{failed['runId']}"
            wait_until("the failure alert is logged", lambda: alert_lines(home, alert_id))
            # Nobody holds finance yet: the team is told so, once.
            request_id = f"approval_request:{MSA_KEY}:tier1:nobody:finance"
            wait_until("finance is reported unstaffed", lambda: alert_lines(home, request_id))
            before = {r["runId"]: r for r in wait_until_quiet(port)}
            partitions_before = graphql(port, PARTITIONS)["assetNodeOrError"]["partitionKeys"]
            inbox_ticks_before = {t["tickId"] for t in sensor_ticks(port)["inbox_sensor"]}
        assert sorted(a["alert_id"] for a in webhook) == sorted([alert_id, request_id])
        assert sorted(partitions_before) == sorted([MSA_KEY, NDA_KEY])

        # Both stopped: the decision and the statement of work arrive now.
        approve(home, tmp_path, MSA_KEY, "fiona", "finance")
        drop(home, SOW)
        assert stages(home)[MSA_KEY]["stage"] == "awaiting_approval"

        restarted_at = time.time()
        with daemon_and_webserver(home, tmp_path, port):
            rows = wait_for(home, {MSA_KEY: "ready_for_signature", SOW_KEY: "ready_for_signature"})
            # The failure sensor has looked at the runs again since the restart.
            wait_until(
                "the failure sensor ticked after the restart",
                lambda: sensor_ticks(port, after=restarted_at)["failure_alert_sensor"],
            )
            after = {r["runId"]: r for r in runs(port)}
            partitions_after = graphql(port, PARTITIONS)["assetNodeOrError"]["partitionKeys"]
            ticks_after = sensor_ticks(port)
            from_inbox = {"key": "contract_assets/source", "value": "inbox"}
            sow_intake = runs(port, tags=[{"key": PARTITION_TAG, "value": SOW_KEY}, from_inbox])
            nda_runs = pipeline_runs_of(port, NDA_KEY)

        # The pending approval was completed by the decision given while everything was down.
        assert rows[MSA_KEY]["approval"]["decisions"][0]["approver"] == "fiona"
        assert rows[NDA_KEY]["stage"] == "failed"  # left for a person, not retried by itself
        assert [r["runId"] for r in nda_runs] == [failed["runId"]]
        # The request dropped while the daemon was down was taken exactly once.
        assert list(home.inbox_dir.iterdir()) == []
        assert list(home.quarantine_dir.iterdir()) == []
        taken = sorted(p.name for p in home.processed_dir.iterdir())
        assert taken == sorted([NDA.name, MSA.name, SOW.name])
        assert sorted(rows) == sorted([MSA_KEY, NDA_KEY, SOW_KEY])  # no second revision of the SOW
        assert len(sow_intake) == 1
        assert inbox_ticks_before <= {t["tickId"] for t in ticks_after["inbox_sensor"]}
        with operations_for(home) as ops:
            assert_materialized_once(ops.instance, [MSA_KEY, SOW_KEY])
        # The alerts raised before the stop are in the log once, in the ledger, and were not
        # sent again (the approval asked for then was given while everything was down).
        for sent in (alert_id, request_id):
            assert len(alert_lines(home, sent)) == 1
            assert sent in AlertLedger.for_home(home).sent_ids()
        assert sorted(a["alert_id"] for a in webhook) == sorted([alert_id, request_id])
        # The UI, restarted, shows every earlier run as it was, and the partitions plus the new one.
        for run_id, run in before.items():
            assert run_id in after, f"run {run_id} is gone after the restart"
            now = after[run_id]
            assert (now["status"], partition_of(now)) == (run["status"], partition_of(run))
        assert sorted(partitions_after) == sorted([MSA_KEY, NDA_KEY, SOW_KEY])


def test_reexecute_from_failure_in_the_ui_keeps_the_partition(tmp_path, monkeypatch):
    """The UI's "Re-execute from failure" (its GraphQL mutation) on a failed revision run:
    the daemon launches the re-execution from the queue, for the same partition, running
    only the steps that had not finished; the revision ends ready for signature."""
    with contract_home(tmp_path / "home", monkeypatch) as home:
        share = tmp_path / "unmounted-share"
        block_documents(home, NDA_KEY, share)
        with daemon_and_webserver(home, tmp_path, free_port()) as port:
            drop(home, NDA)
            wait_for(home, {NDA_KEY: "failed"})
            [parent] = pipeline_runs_of(port, NDA_KEY)
            assert parent["status"] == "FAILURE"
            unfinished = {s["stepKey"] for s in parent["stepStats"] if s["status"] != "SUCCESS"}
            finished = {s["stepKey"] for s in parent["stepStats"] if s["status"] == "SUCCESS"}
            assert {"review_copy", "contract_documents"} <= unfinished
            assert {"contract_request", "contract_draft", "approval_record"} <= finished

            share.mkdir()  # the share is back
            answer = graphql(port, REEXECUTE, {"parentRunId": parent["runId"]})
            launched = answer["launchRunReexecution"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            child = launched["run"]
            assert child["status"] == "QUEUED"  # the daemon's queue launches it
            assert partition_of(child) == NDA_KEY
            assert (child["parentRunId"], child["rootRunId"]) == (parent["runId"], parent["runId"])

            def finished_child() -> dict | None:
                [run] = runs(port, runIds=[child["runId"]])
                return None if run["status"] in IN_FLIGHT else run

            done = wait_until("the re-execution finished", finished_child)
            assert done["status"] == "SUCCESS"
            ran = {s["stepKey"] for s in done["stepStats"]}
            assert ran.isdisjoint(finished), ran & finished  # finished steps are not run again
            assert {"review_copy", "contract_documents", "signature_package"} <= ran
            rows = wait_for(home, {NDA_KEY: "ready_for_signature"})
            # Only the two runs: nothing else (no sensor) ran the failed revision again.
            ran_nda = [r["runId"] for r in pipeline_runs_of(port, NDA_KEY)]
            assert ran_nda == [child["runId"], parent["runId"]]
        with operations_for(home) as ops:
            assert_materialized_once(ops.instance, [NDA_KEY])
        assert Path(rows[NDA_KEY]["artifacts"]["manifest"]).is_file()


# --- secrets never reach what the UI shows ------------------------------------------------

REPOSITORIES = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    name location { name } pipelines { name } } } } }
"""
RESOURCES = """
query Resources($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    ... on ResourceDetailsList { results { name configuredValues { key value type } } } } }
"""
DEFAULT_CONFIG = """
query Defaults($selector: PipelineSelector!) {
  runConfigSchemaOrError(selector: $selector) { ... on RunConfigSchema { rootDefaultYaml } } }
"""
RUN_AND_LOGS = """
query RunAndLogs($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { jobName runConfigYaml tags { key value } } }
  logsForRun(runId: $runId, limit: 10000) { ... on EventConnection { events {
    __typename
    ... on MessageEvent { message level }
    ... on ExecutionStepFailureEvent { error { message stack } }
    ... on RunFailureEvent { error { message } }
    ... on MaterializationEvent { metadataEntries {
        label description
        ... on TextMetadataEntry { text }
        ... on JsonMetadataEntry { jsonString }
        ... on MarkdownMetadataEntry { mdStr }
        ... on PathMetadataEntry { path }
        ... on UrlMetadataEntry { url }
        ... on BoolMetadataEntry { boolValue } } }
  } } }
}
"""


def test_the_ui_never_shows_the_webhook_url_smtp_password_or_seal_passphrase(tmp_path, monkeypatch):
    """With the three secrets set to unique strings for every program, none appears in the
    GraphQL answers the UI reads: the resources' configuration, each job's default run config,
    and the run config and logs of a sealed pipeline run and of a run whose alert delivery
    failed (its warning names the channels that failed)."""
    from contract_assets.definitions import build_definitions
    from contract_assets_tests.harness import cli
    from contract_assets_tests.pipeline.test_pipeline import run_revision

    token = uuid.uuid4().hex
    secrets = {
        "CONTRACT_ASSETS_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hooks/T0-{token}-hook",
        "CONTRACT_ASSETS_SMTP_PASSWORD": f"smtp-{token}-password",
        "CONTRACT_ASSETS_SEAL_PASSPHRASE": f"seal-{token}-passphrase",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    for name, value in {
        "HOST": "127.0.0.1", "PORT": str(free_port()), "SENDER": "contracts@orbital.example",
        "RECIPIENTS": "ops@orbital.example", "USERNAME": "contracts-relay",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"CONTRACT_ASSETS_SMTP_{name}", value)

    with contract_home(tmp_path / "home", monkeypatch) as home:
        assert cli("init-signing", home=home).returncode == 0  # a seal under the passphrase
        with operations_for(home) as ops:
            sealed = ops.submit(NDA).revision.partition_key
            pending = ops.submit(SAMPLE_FILES[3]).revision.partition_key  # needs legal
            sealed_run = run_revision(home, ops.instance, sealed)
            assert ops.status_of(ops.workspace.registry.get(sealed)).sealed_pdf
            run_revision(home, ops.instance, pending)
            # 49 hours on: past the approval SLA, an escalation, whose delivery fails
            later = build_definitions(home, clock=ClockAhead(hours=49))
            sla_run = later.resolve_job_def("approval_sla_job").execute_in_process(
                instance=ops.instance
            )
        with running_webserver(home, tmp_path, free_port()) as port:
            (repository,) = graphql(port, REPOSITORIES)["repositoriesOrError"]["nodes"]
            selector = {
                "repositoryLocationName": repository["location"]["name"],
                "repositoryName": repository["name"],
            }
            resources = graphql(port, RESOURCES, {"selector": selector})
            answers = [json.dumps(resources)]
            for job in repository["pipelines"]:
                defaults = {"selector": {**selector, "pipelineName": job["name"]}}
                answers.append(json.dumps(graphql(port, DEFAULT_CONFIG, defaults)))
            logs = {}
            for run_id in (sealed_run.run_id, sla_run.run_id):
                logs[run_id] = json.dumps(graphql(port, RUN_AND_LOGS, {"runId": run_id}))
            answers += logs.values()

    everything = "\n".join(answers)
    for name, value in secrets.items():
        assert value not in everything, f"{name}'s value is shown by the UI"
        assert token not in everything
    # What the UI shows instead: the variables' names, as environment variables.
    notifier = next(
        r for r in resources["allTopLevelResourceDetailsOrError"]["results"] if r["name"] == "notifier"
    )
    configured = {v["key"]: (v["type"], v["value"]) for v in notifier["configuredValues"]}
    assert configured["webhook_url"] == ("ENV_VAR", "CONTRACT_ASSETS_WEBHOOK_URL")
    assert configured["smtp_password"] == ("ENV_VAR", "CONTRACT_ASSETS_SMTP_PASSWORD")
    # The runs did touch the secrets: a sealed package, an alert whose delivery was tried.
    entries = [
        entry
        for event in json.loads(logs[sealed_run.run_id])["logsForRun"]["events"]
        for entry in event.get("metadataEntries", [])
    ]
    assert {"label": "sealed", "description": None, "boolValue": True} in entries
    assert "was not delivered (webhook: " in logs[sla_run.run_id]
    assert "; email: " in logs[sla_run.run_id]
