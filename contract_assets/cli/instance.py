"""The home's Dagster instance and the operations on it, as the console opens them (the
tests and benchmarks open them the same way)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from contract_assets.platform.files import exclusive_lock

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from contract_assets.operations import ContractOperations
    from contract_assets.platform.home import ContractHome


@contextmanager
def open_instance(home: ContractHome) -> Iterator[DagsterInstance]:
    """The home's Dagster instance (an explicit DAGSTER_HOME wins), created if it is new.

    Opened under a lock: programs creating a new SQLite instance at the same moment (a
    daemon and a webserver started together) can each stamp its schema version, and then
    no program can open it again ("more than one head").
    """
    from dagster import DagsterInstance

    home.ensure()
    with exclusive_lock(home.dagster_home / ".open.lock"):
        if os.environ.get("DAGSTER_HOME"):
            instance = DagsterInstance.get()
        else:
            instance = DagsterInstance.from_config(str(home.dagster_home))
    with instance:
        yield instance


@contextmanager
def open_operations(home: ContractHome) -> Iterator[ContractOperations]:
    """The operations on the home's Dagster instance."""
    from contract_assets.operations import ContractOperations
    from contract_assets.platform.defs.resources import Workspace

    with open_instance(home) as instance:
        yield ContractOperations(Workspace(home), instance)
