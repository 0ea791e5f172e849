"""The platform's definitions: the resources of one deployment, defined here once and given
to the merged definitions, and the executor every job runs on."""

from dagster import Definitions, in_process_executor

from contract_assets.platform.defs.io_managers import ContractIOManager
from contract_assets.platform.defs.notifier import alert_policy_from_env, notifier_from_env
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.platform.home import ContractHome


def resources_for(home: ContractHome) -> dict:
    """The resources of one deployment, all rooted in its contract home."""
    return {
        "io_manager": ContractIOManager(base_dir=str(home.storage_dir)),
        "contracts": ContractWorkspace(home=str(home.root)),
        "notifier": notifier_from_env(home),
        "alert_policy": alert_policy_from_env(),
    }


def definitions(home: ContractHome) -> Definitions:
    return Definitions(
        resources=resources_for(home),
        # Also for the UI's "Materialize" and `dagster asset materialize`: a revision's steps
        # are small, and a subprocess per step would cost ~10 s a run on 2 cores.
        executor=in_process_executor,
    )
