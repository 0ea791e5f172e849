"""Asset checks, one partition at a time; the blocking ones stop later steps of the same run.

Each check declares the revision partitions: without them Dagster would load every
partition of the asset for one check. That option is marked "preview" in Dagster 1.13.
"""

import warnings

from dagster import AssetCheckResult, AssetCheckSeverity, PreviewWarning, asset_check

from contract_assets.assets.documents import signature_package
from contract_assets.assets.draft import contract_draft
from contract_assets.assets.request import contract_request
from contract_assets.domain.models import ContractDraft, Revision, SignaturePackage
from contract_assets.domain.packaging import manifest_problems
from contract_assets.partitions import revision_partitions

warnings.filterwarnings("ignore", category=PreviewWarning, message=".*partitions_def on an AssetCheckSpec")


@asset_check(asset=contract_request, blocking=True, partitions_def=revision_partitions)
def deliverables_add_up(contract_request: Revision) -> AssetCheckResult:
    """An sow's deliverable amounts add up to its value (the request rule, checked again)."""
    request = contract_request.request
    if request.sow is None or request.value is None:
        return AssetCheckResult(passed=True, metadata={"applies": False})
    total = sum(d.amount for d in request.sow.deliverables)
    return AssetCheckResult(
        passed=total == request.value.amount,
        severity=AssetCheckSeverity.ERROR,
        metadata={"deliverables_total": str(total), "value": str(request.value.amount)},
        description=None
        if total == request.value.amount
        else f"deliverables add up to {total}, value is {request.value.amount}",
    )


@asset_check(asset=contract_draft, blocking=True, partitions_def=revision_partitions)
def mandatory_clauses_present(contract_draft: ContractDraft) -> AssetCheckResult:
    """Every clause the template marks mandatory is in the draft, with text."""
    present = {c.clause_id for c in contract_draft.all_clauses() if c.body.strip()}
    missing = [cid for cid in contract_draft.mandatory_clause_ids if cid not in present]
    return AssetCheckResult(
        passed=not missing,
        metadata={"mandatory": len(contract_draft.mandatory_clause_ids), "missing": missing},
        description=f"missing mandatory clauses: {', '.join(missing)}" if missing else None,
    )


@asset_check(asset=signature_package, blocking=True, partitions_def=revision_partitions)
def manifest_matches_files(signature_package: SignaturePackage) -> AssetCheckResult:
    """Every file in the manifest exists and matches its SHA-256."""
    problems = manifest_problems(signature_package)
    return AssetCheckResult(
        passed=not problems,
        metadata={"files": len(signature_package.documents), "problems": problems},
        description="; ".join(problems) or None,
    )
