"""Fixtures shared by the Dagster-level tests: a contract home on a temporary instance."""

import pytest

from contract_assets_tests.harness import contract_home, operations_for


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
