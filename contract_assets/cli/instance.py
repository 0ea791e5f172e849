"""The home's Dagster instance, as the console opens it (the tests and benchmarks open it the
same way)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from contract_assets.platform.files import exclusive_lock

if TYPE_CHECKING:
    from dagster import DagsterInstance

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
