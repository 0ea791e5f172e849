"""Stage 2: the draft, assembled from the clause library."""

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetObservation,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from contract_assets.approvals.defs.routing import approval_record_reader
from contract_assets.audit.defs.auditing import audit_step
from contract_assets.documents.defs.executed import executed_copy
from contract_assets.documents.packaging import ExecutedCopy
from contract_assets.drafting.assembly import Amended, AssemblyError, assemble_draft
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.pipeline.stages import approved_revision, blocked_on
from contract_assets.platform.defs.resources import ContractWorkspace, Workspace
from contract_assets.platform.defs.versioning import versioned
from contract_assets.platform.markdown import literal
from contract_assets.platform.models import ContractDraft, Revision
from contract_assets.platform.protection import without_emails


@asset(
    partitions_def=revision_partitions,
    group_name="contracts",
    output_required=False,
    dagster_type=ContractDraft,
    kinds={"python"},
)
def contract_draft(
    context: AssetExecutionContext, contracts: ContractWorkspace, contract_request: Revision
) -> Iterator[Output[ContractDraft] | AssetObservation]:
    """Clauses selected from the library and filled with the request's data.

    An sow whose parent MSA has no approved revision is blocked: nothing is produced and
    the run stops here, to continue when the parent is approved.
    """
    workspace = contracts.workspace()
    reason = blocked_on(contract_request, workspace.registry, approval_record_reader(workspace))
    if reason is not None:
        context.log.info(f"stopped: blocked: {reason}")
        yield AssetObservation(
            asset_key=context.asset_key,
            partition=context.partition_key,
            metadata={"blocked_on": reason},
        )
        return
    try:
        draft = assemble_revision(workspace, contract_request, partition_key=context.partition_key)
    except AssemblyError as exc:  # the library or the request is wrong: retrying cannot help
        raise Failure(description=without_emails(str(exc)), allow_retries=False) from None
    outline = "\n".join(f"{i}. {literal(c.title)}" for i, c in enumerate(draft.clauses, 1))
    for annex in draft.annexes:
        outline += f"\n\n**{literal(annex.title)}**\n" + "\n".join(
            f"- {literal(c.title)}" for c in annex.clauses
        )
    audited = audit_step(
        context,
        workspace,
        "draft_assembled",
        {
            "template": draft.template_id,
            "clauses": len(draft.all_clauses()),
            "library_hash": draft.library_hash,
            "request_hash": contract_request.content_hash,
            "amends": draft.amends,
        },
    )
    yield versioned(
        draft,
        {
            **audited,
            "template": draft.template_id,
            "title": draft.title,
            **({"amends": draft.amends} if draft.amends else {}),
            "clauses": len(draft.all_clauses()),
            "annexes": [a.annex_id for a in draft.annexes],
            "deviations": len(draft.deviations),
            "library_version": draft.library_version,
            "library_hash": draft.library_hash,
            "outline": MetadataValue.md(outline),
        },
    )


def assemble_revision(workspace: Workspace, revision: Revision, *, partition_key: str | None = None) -> ContractDraft:
    """Assemble a revision's draft with today's library (an sow takes the terms of its
    parent MSA's approved revision). Raises AssemblyError."""
    request = revision.request
    parent = None
    if request.sow is not None:
        approved = approved_revision(
            request.sow.parent_contract_id, workspace.registry, approval_record_reader(workspace)
        )
        parent = approved.request if approved else None
    return assemble_draft(
        partition_key=partition_key or revision.partition_key,
        revision=revision.revision,
        request=request,
        request_hash=revision.content_hash,
        entity=workspace.entities[request.our_entity],
        library=workspace.library,
        parent=parent,
        amends=executed_before(workspace, revision),
    )


def executed_before(workspace: Workspace, revision: Revision) -> Amended | None:
    """The newest earlier revision of the contract that was executed: the agreement in
    force, which this revision amends and restates. None if none was executed."""
    layout = workspace.layout
    for earlier in reversed(workspace.registry.revisions(revision.contract_id)):
        if earlier.revision >= revision.revision:
            continue
        if layout.read_model(executed_copy.key.to_user_string(), earlier.partition_key, ExecutedCopy) is None:
            continue
        draft = layout.read_model(contract_draft.key.to_user_string(), earlier.partition_key, ContractDraft)
        return Amended(
            contract_id=earlier.contract_id,
            revision=earlier.revision,
            partition_key=earlier.partition_key,
            title=draft.title if draft else "agreement",
        )
    return None
