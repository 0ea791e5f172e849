"""Fixtures shared by the tests: a contract home on a temporary instance, and sample requests
(`sample_requests`); the order tests start in; and, for `make test-fast`, a guard against
starting programs.

The tests mirror the package: `contract_assets_tests/<capability>/` tests
`contract_assets/<capability>/`; the console's tests are in `cli/`, and the tests of the
whole system (the demo, the UI, the architecture page) at the top."""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract_assets_tests.harness import contract_home, operations_for
from contract_assets_tests.sample_requests import error_paths, make_raw, submitted, validate  # noqa: F401 (fixtures)

# `make test-fast` sets it: a test that starts a program fails, saying to mark it `programs`.
NO_PROGRAMS_ENV = "CONTRACT_ASSETS_TEST_NO_PROGRAMS"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh contract home (and, with CONTRACT_ASSETS_TEST_BACKEND=postgres, database)."""
    with contract_home(tmp_path / "home", monkeypatch) as home:
        yield home


@pytest.fixture
def home_without_instance(tmp_path, monkeypatch):
    """A fresh contract home whose Dagster instance does not exist yet (the first program to
    open it creates it), for tests of that first opening."""
    with contract_home(tmp_path / "home", monkeypatch, new_instance=True) as home:
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


# Under `make test` (pytest-xdist, --dist loadgroup --no-loadscope-reorder) a free worker
# takes the next test, or the next group (see below), in this order: the tests that take
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
    # the longest of make test-fast: a property test rendering every format, and the
    # approval tests, each running three revisions first
    "test_request_properties.py::test_every_accepted_request_renders",
    "test_approval_flow.py",
)


def _rank(item: pytest.Item) -> int:
    for place, prefix in enumerate(LONG_FIRST):
        if prefix in item.nodeid:
            return place
    return len(LONG_FIRST) + (0 if item.get_closest_marker("slow") else 1)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    items.sort(key=_rank)


# Which tests run together on one worker. pytest-xdist's own loadgroup reads the
# xdist_group marks by renaming each test's node id, which pytest 9 no longer lets it do: the
# marks were ignored, and the browser steps, meant to share one server, were split over two
# workers (each starting a demo, a server and a browser). So under `--dist loadgroup` the
# scheduler takes its units from the test files themselves (the controller collects no
# tests): a test's xdist_group mark, else its module's (pytestmark), else, for a module with
# a module-scoped fixture (a demo home, a sealed home, a key pair), the module, so that the
# fixture is made once and not once per worker; any other test is a unit of its own.
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupsFromTheSource(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit_of(config.rootpath, nodeid)

    return GroupsFromTheSource(config, log)


def _unit_of(root: Path, nodeid: str) -> str:
    path, _, rest = nodeid.partition("::")
    module_group, test_groups = _groups_declared_in(root / path)
    name = rest.split("[", 1)[0].split("::", 1)[0]
    return test_groups.get(name) or module_group or nodeid


@functools.cache
def _groups_declared_in(path: Path) -> tuple[str | None, dict[str, str]]:
    """The group of the module at `path` (or None), and that of each test marked on its own."""
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError):
        return None, {}
    module_group, tests, shares_a_fixture = None, {}, False
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            module_group = _group_named_in(node.value) or module_group
        elif isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                shares_a_fixture = shares_a_fixture or _module_scoped_fixture(decorator)
                if group := _group_named_in(decorator):
                    tests[node.name] = group
    if module_group is None and shares_a_fixture:
        module_group = path.stem
    return module_group, tests


def _group_named_in(expression: ast.expr) -> str | None:
    for node in ast.walk(expression):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "xdist_group"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            return str(node.args[0].value)
    return None


def _module_scoped_fixture(decorator: ast.expr) -> bool:
    return (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr == "fixture"
        and any(
            k.arg == "scope" and isinstance(k.value, ast.Constant) and k.value.value == "module"
            for k in decorator.keywords
        )
    )


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
