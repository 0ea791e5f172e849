"""Asset checks, one partition at a time; the blocking ones stop later steps of the same run.

Each check declares the revision partitions: without them Dagster would load every
partition of the asset for one check. That option is marked "preview" in Dagster 1.13.
"""


from dagster import AssetCheckResult, asset_check

from contract_assets.drafting.defs.assets import contract_draft
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.platform.models import ContractDraft


@asset_check(asset=contract_draft, blocking=True, partitions_def=revision_partitions)
def mandatory_clauses_present(contract_draft: ContractDraft) -> AssetCheckResult:
    """Every clause the template marks mandatory is in the draft, with text."""
    present = {c.clause_id for c in contract_draft.all_clauses() if c.body.strip()}
    missing = [cid for cid in contract_draft.mandatory_clause_ids if cid not in present]
    return AssetCheckResult(
        passed=not missing,
        # The clause ids, not their count: a number on a check is plotted across partitions
        # as if it were one quantity over time, and each partition is a different contract.
        metadata={"mandatory": list(contract_draft.mandatory_clause_ids), "missing": missing},
        description=f"missing mandatory clauses: {', '.join(missing)}" if missing else None,
    )
