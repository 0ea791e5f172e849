"""The contract register across all revisions (unpartitioned), and its report."""

from datetime import UTC, datetime

import pandas as pd
from dagster import AssetDep, AssetExecutionContext, MetadataValue, Output, asset

from contract_assets.platform.defs.resources import (
    ContractWorkspace,
    missing_key_fails_once,
)
from contract_assets.register.register import (
    RegisterEntry,
    build_register,
    markdown_table,
)
from contract_assets.register.register_report import (
    RegisterReport,
    build_register_report,
)


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
    # Imported here: the revision state reads the step order, which asset_graph.py derives
    # from the asset definitions, this one among them.
    from contract_assets.pipeline.defs.revision_state import RevisionState

    with missing_key_fails_once():
        statuses = RevisionState(contracts.workspace(), context.instance).statuses()
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


@asset(group_name="register", kinds={"html"})
def register_report(contract_register: pd.DataFrame) -> Output[RegisterReport]:
    """The register as a report people read: headline figures, charts of the contracts by
    status, risk level and end month, the renewal notices due, and the whole table.

    Its figures are also numeric metadata, so the UI's plots show them over time."""
    now = datetime.now(UTC)
    report = build_register_report(contract_register, now.date(), now)
    return Output(
        report,
        metadata={
            "contracts": report.contracts,
            "in_force": report.in_force,
            "awaiting_approval": report.awaiting_approval,
            "renewal_notices_due": report.renewal_notices_due,
            **{f"status_{stage}": count for stage, count in report.by_status.items()},
        },
    )
