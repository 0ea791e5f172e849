"""The contract register across all revisions (unpartitioned)."""

import pandas as pd
from dagster import AssetDep, AssetExecutionContext, MetadataValue, asset

from contract_assets.domain.register import RegisterEntry, build_register, markdown_table
from contract_assets.operations import ContractOperations
from contract_assets.resources import ContractWorkspace, missing_key_fails_once


@asset(
    group_name="register",
    deps=[AssetDep("signature_package"), AssetDep("approval_routing")],
    kinds={"pandas", "parquet"},
)
def contract_register(context: AssetExecutionContext, contracts: ContractWorkspace) -> pd.DataFrame:
    """One row per contract: revision in force and latest, status, value, risk and dates.

    Reads each revision's state from the store and Dagster's history instead of loading
    every partition of the upstream assets.
    """
    operations = ContractOperations(contracts.workspace(), context.instance)
    with missing_key_fails_once():
        statuses = operations.statuses()
    entries = [
        RegisterEntry(
            revision=status.revision,
            stage=status.stage.value,
            risk=status.risk,
            effective_date=status.revision.request.effective_date
            or (status.documents.effective_date if status.documents else None),
        )
        for status in statuses
    ]
    register = build_register(entries)
    context.add_output_metadata(
        {
            "contracts": len(register),
            "by_status": MetadataValue.json(register["status"].value_counts().to_dict()),
            "preview": MetadataValue.md(markdown_table(register)),
        }
    )
    return register
