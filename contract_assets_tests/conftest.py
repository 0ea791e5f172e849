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
