"""Asset checks, one partition at a time; the blocking ones stop later steps of the same run.

Each check declares the revision partitions: without them Dagster would load every
partition of the asset for one check. That option is marked "preview" in Dagster 1.13.
"""

import warnings
from pathlib import Path

from dagster import AssetCheckResult, AssetCheckSeverity, PreviewWarning, asset_check

from contract_assets.assets.documents import signature_package
from contract_assets.assets.draft import contract_draft
from contract_assets.assets.request import contract_request
from contract_assets.domain.models import ContractDraft, Revision, SignaturePackage
from contract_assets.domain.packaging import manifest_problems, verify_package
from contract_assets.domain.requests import deliverables_mismatch
from contract_assets.domain.sealing import SealError, certificate_fingerprint, read_certificates
from contract_assets.partitions import revision_partitions
from contract_assets.resources import ContractWorkspace

warnings.filterwarnings("ignore", category=PreviewWarning, message=".*partitions_def on an AssetCheckSpec")


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


@asset_check(asset=signature_package, blocking=True, partitions_def=revision_partitions)
def manifest_matches_files(signature_package: SignaturePackage) -> AssetCheckResult:
    """Every file in the manifest exists and matches its SHA-256."""
    problems = manifest_problems(signature_package)
    return AssetCheckResult(
        passed=not problems,
        metadata={"files": len(signature_package.documents), "problems": problems},
        description="; ".join(problems) or None,
    )


@asset_check(asset=signature_package, blocking=True, partitions_def=revision_partitions)
def package_verifies(
    contracts: ContractWorkspace, signature_package: SignaturePackage
) -> AssetCheckResult:
    """A sealed package verifies as its recipient would check it (`contract-assets verify`):
    the manifest's signature, every file's SHA-256 and the PDF's seal, against the
    certificate the home publishes. An unsealed package has no seal to check and passes."""
    if not signature_package.sealed:
        return AssetCheckResult(passed=True, metadata={"sealed": False})
    certificate = contracts.workspace().seal_files.certificate
    try:
        trusted = read_certificates(certificate)
    except (SealError, OSError) as exc:
        problems, fingerprint = [f"the published certificate {certificate.name}: {exc}"], None
    else:
        fingerprint = certificate_fingerprint(trusted[0])
        manifest = Path(signature_package.path_of("manifest"))
        problems = verify_package(manifest, trusted).problems
    return AssetCheckResult(
        passed=not problems,
        metadata={"sealed": True, "trusted_certificate_sha256": fingerprint, "problems": problems},
        description="; ".join(problems) or None,
    )
