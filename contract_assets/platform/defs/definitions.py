"""The platform's definitions: the resources of one deployment, defined here once and given
to the merged definitions, and the executor every job runs on."""

import os

from dagster import Definitions, in_process_executor

from contract_assets.documents.sealing import PASSPHRASE_ENV
from contract_assets.platform.defs.clock import Clock
from contract_assets.platform.defs.io_managers import ContractIOManager
from contract_assets.platform.defs.notifier import (
    alert_policy_from_env,
    notifier_from_env,
    secret,
)
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.platform.home import ContractHome
from contract_assets.platform.protection import KEY_ENV, KEY_FILE_ENV


def resources_for(home: ContractHome, **replaced: object) -> dict:
    """The resources of one deployment, all rooted in its contract home; a test replaces any
    of them by its key (`clock=...`)."""
    unknown = set(replaced) - RESOURCE_KEYS
    if unknown:
        raise KeyError(f"no such resource: {sorted(unknown)}")
    return {
        "io_manager": ContractIOManager(base_dir=str(home.storage_dir)),
        "contracts": ContractWorkspace(
            home=str(home.root),
            seal_passphrase=secret(PASSPHRASE_ENV),
            data_key=secret(KEY_ENV),
            data_key_file=os.environ.get(KEY_FILE_ENV) or None,
        ),
        "notifier": notifier_from_env(home),
        "alert_policy": alert_policy_from_env(),
        "clock": Clock(),
    } | replaced


RESOURCE_KEYS = {"io_manager", "contracts", "notifier", "alert_policy", "clock"}


def definitions(home: ContractHome, **replaced: object) -> Definitions:
    return Definitions(
        resources=resources_for(home, **replaced),
        # Also for the UI's "Materialize" and `dagster asset materialize`: a revision's steps
        # are small, and a subprocess per step would cost ~10 s a run on 2 cores.
        executor=in_process_executor,
    )
