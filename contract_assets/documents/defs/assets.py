"""Stages 5-6: the review copy, the rendered contract, and the signature package."""

from collections.abc import Iterator
from datetime import UTC, datetime

from dagster import AssetExecutionContext, Failure, MetadataValue, Output, asset

from contract_assets.audit.defs.auditing import audit_step
from contract_assets.documents.packaging import (
    MANIFEST_SUFFIX,
    build_signature_package,
    render_contract,
    render_review_copy,
)
from contract_assets.documents.sealing import SealError
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.platform.defs.versioning import versioned
from contract_assets.platform.models import (
    ApprovalRecord,
    ContractDraft,
    RenderedDocuments,
    Revision,
    SignaturePackage,
)


@asset(partitions_def=revision_partitions, group_name="contracts", kinds={"html"})
def review_copy(context: AssetExecutionContext, contract_draft: ContractDraft) -> Output[RenderedDocuments]:
    """The draft as HTML marked "for review", so approvers read what they approve."""
    copy = render_review_copy(contract_draft)
    context.add_output_metadata({"sha256": copy.files[0].sha256})
    return versioned(copy)


@asset(
    partitions_def=revision_partitions,
    group_name="contracts",
    output_required=False,
    dagster_type=RenderedDocuments,
    kinds={"pdf", "html"},
)
def contract_documents(
    context: AssetExecutionContext,
    contracts: ContractWorkspace,
    contract_request: Revision,
    contract_draft: ContractDraft,
    approval_record: ApprovalRecord,
) -> Iterator[Output[RenderedDocuments]]:
    """HTML, PDF and DOCX of an approved revision; nothing for a rejected or closed one."""
    if approval_record.status != "approved":
        context.log.info(f"stopped: {approval_record.status.replace('_', ' ')}: no documents")
        return
    effective_date = contract_draft.effective_date or approval_record.decided_at.astimezone(UTC).date()
    documents = render_contract(
        contract_draft, effective_date=effective_date, registered_at=contract_request.submitted_at
    )
    audited = audit_step(
        context,
        contracts.workspace(),
        "documents_rendered",
        {"effective_date": effective_date.isoformat(), "files": {f.filename: f.sha256 for f in documents.files}},
    )
    yield versioned(
        documents,
        {
            **audited,
            "effective_date": effective_date.isoformat(),
            "files": MetadataValue.md(
                "\n".join(f"- `{f.filename}` {f.size:,} bytes, sha256 `{f.sha256}`" for f in documents.files)
            ),
        },
    )


@asset(partitions_def=revision_partitions, group_name="contracts", kinds={"json", "pdf"})
def signature_package(
    context: AssetExecutionContext,
    contracts: ContractWorkspace,
    contract_request: Revision,
    contract_draft: ContractDraft,
    contract_documents: RenderedDocuments,
) -> Output[SignaturePackage]:
    """The package sent for signature: a manifest with the SHA-256 of every file, the
    signers in order and the head of the audit trail as it stood (a witness against cutting
    entries off), and, once a seal is set up, the PDF sealed and the manifest signed."""
    workspace = contracts.workspace()
    try:
        seal = workspace.seal()
    except SealError as exc:  # a configuration problem: retrying cannot help
        raise Failure(description=str(exc), allow_retries=False) from None
    if seal is None:
        context.log.warning(
            f"{context.partition_key}: no organisation seal is set up, the package is not sealed "
            "(run `contract-assets init-signing`)"
        )
    key = context.partition_key
    head = workspace.audit.head()
    package = build_signature_package(
        revision=contract_request,
        draft=contract_draft,
        documents=contract_documents,
        created_at=datetime.now(UTC),
        audit_head=head.as_json() if head else None,
        seal=seal,
        # A package already issued from the same inputs (a retried step) is kept, not sealed again.
        issued=workspace.layout.issued(key, f"{key}{MANIFEST_SUFFIX}"),
    )
    zipped = next(f for f in package.files if f.kind == "package_zip")
    audited = audit_step(
        context,
        workspace,
        "package_sealed",
        {
            "manifest_sha256": package.files[0].sha256,
            "package_zip_sha256": zipped.sha256,
            "documents": len(package.documents),
            "sealed": package.sealed,
            "seal_certificate_sha256": seal.fingerprint if seal else None,
        },
    )
    context.add_output_metadata(
        {
            **audited,
            # Who signs by party and title; names and emails stay in the manifest.
            "signers": [f"{s.order}. {s.party}, {s.title}" for s in package.signers],
            "documents": len(package.documents),
            "package_zip": zipped.filename,
            "package_zip_sha256": zipped.sha256,
            "created_at": package.created_at.isoformat(),
            "sealed": package.sealed,
            **(
                {"sealed_by": seal.organisation, "seal_certificate_sha256": seal.fingerprint}
                if seal
                else {}
            ),
        }
    )
    return versioned(package)
