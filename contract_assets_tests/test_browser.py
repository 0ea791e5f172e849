"""The Dagster UI as a person uses it, in Debian's Chromium driven by Playwright, over
`contract-assets dev` on a home where the samples were run (`contract-assets demo`).

The steps run in order on one server and one browser page (one xdist group): the asset
graph, the stage view of the revision that awaits an approval, that approval recorded from
the launchpad, and the re-execution of a run made on the console. A screenshot of each step
goes to $CI_ARTIFACTS (default .ci/artifacts/), under browser-<backend>/.

Never downloads a browser (no `playwright install`): /usr/bin/chromium comes from Debian
(`scripts/system-deps.sh test`); without it the test fails under CI=true and skips elsewhere.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dagster import RunsFilter
from playwright.sync_api import Page, Response, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from contract_assets.cli import open_instance
from contract_assets.platform.home import ContractHome
from contract_assets_tests.harness import (
    BACKEND,
    CONTRACT_ASSETS,
    REPO,
    SAMPLES,
    cli,
    contract_home,
    free_port,
    graphql,
    service_env,
    stages,
    wait_until_loaded,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

CHROMIUM = Path("/usr/bin/chromium")
# No background traffic: no updates, no sync, no QUIC probes; headless on a machine with no GPU.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(os.environ.get("CI_ARTIFACTS") or REPO / ".ci" / "artifacts")
SCREENSHOTS = ARTIFACTS / f"browser-{BACKEND}"

# The samples' high-value MSA, revision 2: it waits for finance (and legal) to approve.
AWAITING = "blue-fjord-msa.r2"
# An auto-approved NDA the demo ran on the console, to re-execute from the UI.
CONSOLE_RUN_PARTITION = "acme-robotics-nda.r1"
APPROVER = "fiona"
TERMINAL = ("SUCCESS", "FAILURE", "CANCELED")
UI_TIMEOUT_MS = 60_000  # a loaded 2-core machine renders the UI slowly


@dataclass
class UI:
    """`contract-assets dev` on a samples home, and what the steps share."""

    home: ContractHome
    port: int
    keys: Path
    # partition -> a run made before the UI started, so on the console
    console_runs: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def chromium_or_skip() -> Path:
    if CHROMIUM.is_file():
        return CHROMIUM
    message = f"{CHROMIUM} is missing (Debian: chromium; scripts/system-deps.sh test installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    chromium_or_skip()  # before minutes of set-up
    root = tmp_path_factory.mktemp("browser")
    with pytest.MonkeyPatch.context() as patch, contract_home(root / "home", patch) as home:
        demo = cli("demo", str(SAMPLES), home=home)
        assert demo.returncode == 0, demo.stderr[-3000:]
        keys = root / "keys"
        keys.mkdir()
        private = keys / f"{APPROVER}.key"
        assert cli("keygen", APPROVER, "--out", str(private), home=home).returncode == 0
        added = cli(
            "approvers", "add", APPROVER, "--email", f"{APPROVER}@orbital.example",
            "--role", "finance", "--public-key", f"{private}.pub", home=home,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        with open_instance(home) as instance:  # every run so far was made on the console
            records = instance.get_run_records(
                RunsFilter(
                    job_name="contract_pipeline", tags={"dagster/partition": CONSOLE_RUN_PARTITION}
                )
            )
        ui = UI(home, free_port(), keys, {CONSOLE_RUN_PARTITION: records[0].dagster_run.run_id})
        log_path = root / "dev.log"
        with log_path.open("a") as log:
            process = subprocess.Popen(
                [CONTRACT_ASSETS, "dev", "--port", str(ui.port)], cwd=root, env=service_env(home),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            wait_until_loaded(process, ui.port, log_path)
            yield ui
        finally:
            stop_as_a_service_manager_does(process, log_path)


def stop_as_a_service_manager_does(
    process: subprocess.Popen, log_path: Path, grace: float = 60
) -> None:
    """SIGTERM `contract-assets dev` alone (as `kill PID` from a script does); it and every
    process it started must be gone within `grace` seconds. Whatever is left is killed, and
    the teardown fails saying so."""
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = True
    while time.monotonic() < deadline:
        process.poll()  # reaped, the leader no longer counts as a member of its group
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            left = False
            break
        time.sleep(0.5)
    if left:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=grace)
    assert not left, (
        f"contract-assets dev (or a process it started) still ran {grace:.0f}s after SIGTERM:\n"
        + log_path.read_text()[-2000:]
    )


@dataclass
class Browser:
    """One Chromium page, with what went wrong on it: uncaught script errors and failed
    GraphQL requests."""

    page: Page
    versions: str
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    graphql_responses: list[Response] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def graphql_errors(self) -> list[str]:
        """GraphQL answers that carried an error (the UI shows them as a banner or a red box)."""
        errors = []
        for response in self.graphql_responses:
            try:
                body = response.text()
            except Exception:  # the page navigated on; its body is gone
                continue
            if json.loads(body).get("errors") or '"PythonError"' in body:
                errors.append(f"{response.url}: {body[:500]}")
        return errors


@pytest.fixture(scope="module")
def browser(ui: UI) -> Iterator[Browser]:
    chromium = chromium_or_skip()
    playwright_version = importlib.metadata.version("playwright")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_FLAGS)
        versions = f"Chromium {launched.version} ({chromium}), Playwright {playwright_version}"
        print(f"browser test: {versions}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / "versions.txt").write_text(versions + "\n")
        context = launched.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)
        found = Browser(page, versions)
        page.on("pageerror", lambda error: found.page_errors.append(str(error)))
        page.on("response", lambda response: note_graphql_response(found, response))
        dismiss_the_newsletter_dialog(page, ui)
        try:
            yield found
        finally:
            context.close()
            launched.close()


def dismiss_the_newsletter_dialog(page: Page, ui: UI) -> None:
    """Dagster asks a first visitor to join its newsletter in a dialog over the page; skip it
    once (the browser context remembers)."""
    page.goto(f"{ui.url}/overview")
    try:
        page.get_by_role("button", name="Skip").click(timeout=20_000)
    except PlaywrightTimeout:
        pass  # not asked: nothing covers the page
    page.get_by_text("Join the Dagster community").wait_for(state="hidden")


def note_graphql_response(found: Browser, response: Response) -> None:
    if "/graphql" not in response.url:
        return
    if response.status >= 400:
        found.failed_requests.append(f"HTTP {response.status} {response.url}")
    else:
        found.graphql_responses.append(response)


def test_the_asset_graph_loads_with_no_error(ui: UI, browser: Browser, record_property):
    record_property("browser", browser.versions)  # conftest prints it after the run
    page = browser.page
    page.goto(f"{ui.url}/asset-groups")
    expect(page.get_by_text("Global asset lineage").first).to_be_visible()
    for group in ("contracts", "register"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Materialize all"))).to_be_visible()
    expect(page.get_by_text("fetching statuses")).to_have_count(0)
    browser.shot("1-asset-graph")

    assert browser.page_errors == []
    assert browser.failed_requests == []
    assert browser.graphql_errors() == []


def open_stage_view(ui: UI, browser: Browser, partition_key: str, shot: str) -> dict[str, str]:
    """The view the README names: Assets > revision_stage > Partitions > the revision; the
    panel's metadata, name -> text."""
    page = browser.page
    page.goto(f"{ui.url}/assets")
    page.get_by_role("link", name="revision_stage").first.click()
    page.get_by_role("tab", name="Partitions").click()
    shown: dict[str, str] = {}
    try:
        page.get_by_text(partition_key, exact=True).first.click()
        expect(page).to_have_url(re.compile(rf"partition={re.escape(partition_key)}"))
        for name in ("stage", "waiting_for", "reason"):
            label = page.get_by_role("cell", name=name, exact=True)
            row = page.get_by_role("row").filter(has=label)
            expect(row).to_have_count(1)
            shown[name] = row.first.get_by_role("cell").nth(1).inner_text().strip()
    finally:
        browser.shot(shot)
    return shown


def test_the_stage_view_shows_the_revision_awaiting_approval_and_who_must_act(
    ui: UI, browser: Browser
):
    expected = stages(ui.home)[AWAITING]
    assert expected["stage"] == "awaiting_approval"
    assert "finance" in expected.get("waiting_for", ""), expected  # what `status` says to expect

    shown = open_stage_view(ui, browser, AWAITING, "2-stage-view-awaiting-approval")

    assert shown["stage"] == "awaiting_approval"
    assert "finance" in shown["waiting_for"] and shown["waiting_for"] == expected["waiting_for"]
    assert browser.failed_requests == []


def wait_for_run(ui: UI, run_id: str, timeout: float = 300) -> dict:
    """The run's status, tags and parent once it has finished."""
    query = """query ($id: ID!) { runOrError(runId: $id) { __typename
        ... on Run { runId status parentRunId rootRunId tags { key value } } } }"""
    deadline = time.monotonic() + timeout
    while True:
        run = graphql(ui.port, query, {"id": run_id})["runOrError"]
        if run.get("status") in TERMINAL:
            return run
        assert time.monotonic() < deadline, f"run {run_id} did not finish in {timeout:.0f}s: {run}"
        time.sleep(2)


def run_id_in(url: str) -> str:
    found = re.search(r"/runs/([0-9a-f-]{36})", url)
    assert found, f"not a run page: {url}"
    return found.group(1)


def test_an_approval_recorded_from_the_launchpad_moves_the_revision_on(ui: UI, browser: Browser):
    signed = cli(
        "approve", AWAITING, "--role", "finance", "--approver", APPROVER,
        "--key", str(ui.keys / f"{APPROVER}.key"), "--sign-only", home=ui.home,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    page = browser.page
    page.goto(f"{ui.url}/jobs")
    page.get_by_role("link", name="record_approval").first.click()
    page.get_by_role("tab", name="Launchpad").click()
    editor = page.get_by_text("resources:", exact=True).first  # the scaffolded config
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(signed.stdout)  # as pasted: the config `--sign-only` printed
    expect(page.get_by_text("No errors", exact=True)).to_be_visible()
    browser.shot("3a-launchpad-config")
    page.get_by_role("button", name="Launch Run").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    run = wait_for_run(ui, run_id_in(page.url))
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    browser.shot("3b-approval-run")
    assert run["status"] == "SUCCESS", run

    after = stages(ui.home)[AWAITING]
    finance = [a for a in after.get("approvals", []) if a["role"] == "finance"]
    assert [(a["state"], a["approver"]) for a in finance] == [("approved", APPROVER)], after
    assert "finance" not in after["waiting_for"], after
    shown = open_stage_view(ui, browser, AWAITING, "3c-stage-view-after-approval")
    assert "finance" not in shown["waiting_for"] and shown["waiting_for"] == after["waiting_for"]
    assert shown["stage"] == after["stage"]
    assert browser.failed_requests == []


def test_a_console_run_re_executes_from_the_ui(ui: UI, browser: Browser):
    console_run = ui.console_runs[CONSOLE_RUN_PARTITION]
    page = browser.page
    page.goto(f"{ui.url}/runs/{console_run}")
    expect(page.get_by_text(CONSOLE_RUN_PARTITION).first).to_be_visible()
    browser.shot("4a-console-run")
    page.get_by_role("button", name=re.compile("Re-execute all")).click()
    try:
        expect(page).not_to_have_url(re.compile(console_run))
    finally:
        browser.shot("4b-re-executed")
        assert browser.failed_requests == []
    new_run = run_id_in(page.url)
    run = wait_for_run(ui, new_run)
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    browser.shot("4c-re-execution-succeeded")

    assert run["status"] == "SUCCESS", run
    assert run["parentRunId"] == console_run
    assert {t["key"]: t["value"] for t in run["tags"]}["dagster/partition"] == CONSOLE_RUN_PARTITION


def test_a_missing_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(f"{__name__}.CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium is missing"):
        chromium_or_skip()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="chromium is missing"):
        chromium_or_skip()
