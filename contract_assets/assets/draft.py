"""Stage 2: the draft, assembled from the clause library."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetObservation, Failure, MetadataValue, Output, asset

from contract_assets.domain.markdown import literal
from contract_assets.domain.assembly import AssemblyError
from contract_assets.domain.models import ContractDraft, Revision
from contract_assets.auditing import audit_step
from contract_assets.domain.protection import without_emails
from contract_assets.domain.stages import blocked_on
from contract_assets.versioning import versioned
from contract_assets.partitions import revision_partitions
from contract_assets.resources import ContractWorkspace


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
    reason = blocked_on(contract_request, workspace.registry, workspace.layout)
    if reason is not None:
        context.log.info(f"stopped: blocked: {reason}")
        yield AssetObservation(
            asset_key=context.asset_key,
            partition=context.partition_key,
            metadata={"blocked_on": reason},
        )
        return
    try:
        draft = workspace.assemble(contract_request, partition_key=context.partition_key)
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
