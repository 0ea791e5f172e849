"""Asset checks, one partition at a time; the blocking ones stop later steps of the same run.

Each check declares the revision partitions: without them Dagster would load every
partition of the asset for one check. That option is marked "preview" in Dagster 1.13.
"""


from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from contract_assets.intake.defs.assets import contract_request
from contract_assets.intake.requests import deliverables_mismatch
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.platform.models import Revision


@asset_check(asset=contract_request, blocking=True, partitions_def=revision_partitions)
def deliverables_add_up(contract_request: Revision) -> AssetCheckResult:
    """An sow's deliverable amounts add up to its value: the request rule
    (`requests.deliverables_mismatch`), checked again on the stored request."""
    request = contract_request.request
    if request.sow is None or request.value is None:
        return AssetCheckResult(passed=True, metadata={"applies": False})
    amounts = [d.amount for d in request.sow.deliverables]
    mismatch = deliverables_mismatch(amounts, request.value.amount)
    total = request.value.amount if mismatch is None else mismatch
    return AssetCheckResult(
        passed=mismatch is None,
        severity=AssetCheckSeverity.ERROR,
        metadata={"deliverables_total": str(total), "value": str(request.value.amount)},
        description=None if mismatch is None else f"deliverables add up to {total}, value is {request.value.amount}",
    )
