"""Fixtures shared by the Dagster-level tests: a contract home on a temporary instance; the
order tests start in; and, for `make test-fast`, a guard against starting programs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract_assets_tests.harness import contract_home, operations_for

# `make test-fast` sets it: a test that starts a program fails, saying to mark it `programs`.
NO_PROGRAMS_ENV = "CONTRACT_ASSETS_TEST_NO_PROGRAMS"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh contract home (and, with CONTRACT_ASSETS_TEST_BACKEND=postgres, database)."""
    with contract_home(tmp_path / "home", monkeypatch) as home:
        yield home


@pytest.fixture
def ops(home):
    """The operations of `home` on its Dagster instance."""
    with operations_for(home) as operations:
        yield operations


# What test-fast leaves out: the project's and Dagster's programs, LibreOffice, Chromium,
# poppler, and this interpreter made to import the project or Dagster. Dagster's own helpers
# of an in-process run (`tail -F` and its orphan watcher for the compute logs) stay allowed.
PROGRAMS = (
    "contract-assets", "dagster", "soffice", "libreoffice", "lowriter", "chromium", "pdftoppm", "node",
)


def _a_program(args) -> str | None:
    """The command line `args` if it starts one of PROGRAMS, else None."""
    argv = [str(a) for a in args] if isinstance(args, list | tuple) else str(args).split()
    name = Path(argv[0]).name
    python_importing = (
        (name.startswith("python") or argv[0] == sys.executable)
        and len(argv) > 2
        and argv[1] in ("-m", "-c")
        and ("contract_assets" in argv[2] or "dagster" in argv[2])
    )
    if name.startswith(PROGRAMS) or python_importing:
        return " ".join(argv)[:200]
    return None


@pytest.fixture(autouse=True)
def _no_programs_in_the_fast_suite(request, monkeypatch):
    """Under $CONTRACT_ASSETS_TEST_NO_PROGRAMS=1 (`make test-fast`), starting a program
    fails the test: it belongs in the `programs` mark (or `slow`), which test-fast leaves out."""
    if os.environ.get(NO_PROGRAMS_ENV) != "1":
        yield
        return
    started: list[str] = []
    original = subprocess.Popen.__init__

    def refuse(self, args, *rest, **options):
        program = _a_program(args)
        if program is None:
            return original(self, args, *rest, **options)
        started.append(program)
        raise RuntimeError(f"test-fast starts no program; this test started {program}")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    yield
    if started:
        pytest.fail(
            f"{request.node.nodeid} started {started[0]}: mark it `programs` (or `slow`)",
            pytrace=False,
        )


# Under `make test` (pytest-xdist, --dist loadgroup --no-loadscope-reorder) a worker takes
# the next test, or the next group, in this order when it is free: the tests that take
# minutes start first, so no worker is left running one alone at the end; the rest keep
# their file order. Only the order changes, never what runs.
LONG_FIRST = (
    "test_crash.py::test_runs_killed_at_random_points",
    "test_browser.py",
    "test_webserver.py",
    "test_daemon.py",
    "test_console_runs.py",
    "test_demo_end_to_end.py",
    "test_data_at_rest.py",
    "test_crash.py",
    "test_documents_end_to_end.py",
)


def _rank(item: pytest.Item) -> int:
    for place, prefix in enumerate(LONG_FIRST):
        if prefix in item.nodeid:
            return place
    return len(LONG_FIRST) + (0 if item.get_closest_marker("slow") else 1)


def _module_scoped(item: pytest.Item) -> bool:
    """Whether the test uses a fixture made once per module."""
    definitions = getattr(item, "_fixtureinfo", None)
    return definitions is not None and any(
        defs and defs[-1].scope == "module" for defs in definitions.name2fixturedefs.values()
    )


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """A module whose tests share a module-scoped fixture (a demo run, a key pair) runs as
    one group on one worker, so the fixture is made once rather than once per worker."""
    for item in items:
        if _module_scoped(item) and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(Path(item.path).stem))
    items.sort(key=_rank)


def pytest_terminal_summary(terminalreporter):
    """The browser and driver versions the browser test ran with (it records them)."""
    versions = {
        value
        for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
        for name, value in getattr(report, "user_properties", ())
        if name == "browser"
    }
    for line in sorted(versions):
        terminalreporter.write_line(f"browser test ran with {line}")
