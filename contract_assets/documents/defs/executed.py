"""Executed copies: a countersigned PDF that came back marks its revision executed."""

from dagster import AssetExecutionContext, Failure, Output, asset

from contract_assets.audit.defs.auditing import audit_step
from contract_assets.documents.packaging import ExecutedCopy
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.platform.defs.versioning import versioned
from contract_assets.platform.files import sha256_bytes
from contract_assets.platform.models import RenderedFile, SignaturePackage


@asset(partitions_def=revision_partitions, group_name="execution", kinds={"pdf"})
def executed_copy(
    context: AssetExecutionContext,
    contracts: ContractWorkspace,
    signature_package: SignaturePackage,
) -> Output[ExecutedCopy]:
    """The countersigned PDF dropped as `executed/<partition_key>.pdf`, stored with its hash
    beside the revision's documents (the dropped file stays until the sensor archives it)."""
    key = context.partition_key
    workspace = contracts.workspace()
    source = workspace.home.executed_dir / f"{key}.pdf"
    if not source.exists():
        raise Failure(description=f"no executed copy at {source}")
    data = source.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise Failure(description=f"{source} is not a PDF")
    filename = f"{key}.executed.pdf"
    copy = ExecutedCopy(
        partition_key=key,
        files=[
            RenderedFile(
                kind="executed_pdf",
                filename=filename,
                media_type="application/pdf",
                sha256=sha256_bytes(data),
                size=len(data),
            )
        ],
        content={filename: data},
        package_manifest_sha256=signature_package.files[0].sha256,
    )
    audited = audit_step(
        context,
        workspace,
        "executed_copy_received",
        {"sha256": copy.files[0].sha256, "package_manifest_sha256": copy.package_manifest_sha256},
    )
    context.add_output_metadata({**audited, "sha256": copy.files[0].sha256, "bytes": len(data)})
    return versioned(copy)
