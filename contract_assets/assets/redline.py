"""The redline: from revision 2 on, what changed against the previous revision."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, MetadataValue, Output, asset

from contract_assets.domain.markdown import literal
from contract_assets.domain.models import ContractDraft, Revision
from contract_assets.domain.redline import Redline, compare_drafts
from contract_assets.versioning import versioned
from contract_assets.partitions import revision_partitions
from contract_assets.resources import ContractWorkspace, Workspace


def previous_draft(workspace: Workspace, revision: Revision) -> ContractDraft | None:
    """The previous revision's stored draft; assembled from its request if it never ran
    (e.g. superseded before it was drafted), so a redline always has a base."""
    if revision.revision == 1:
        return None
    previous = workspace.registry.revisions(revision.contract_id)[revision.revision - 2]
    stored = workspace.layout.read_model("contract_draft", previous.partition_key, ContractDraft)
    if stored is not None:
        return stored
    return workspace.assemble(previous)


@asset(
    partitions_def=revision_partitions,
    group_name="contracts",
    output_required=False,
    dagster_type=Redline,
    kinds={"html"},
)
def contract_redline(
    context: AssetExecutionContext,
    contracts: ContractWorkspace,
    contract_request: Revision,
    contract_draft: ContractDraft,
) -> Iterator[Output[Redline]]:
    """Clause by clause and word by word against the previous revision (none for r1)."""
    previous = previous_draft(contracts.workspace(), contract_request)
    if previous is None:
        context.log.info(f"{context.partition_key} is the first revision: nothing to compare")
        return
    redline = compare_drafts(previous, contract_draft)
    yield versioned(
        redline,
        {
            "previous": redline.previous_partition_key,
            "summary": redline.summary,
            "changes": MetadataValue.md(
                "\n".join(
                    f"- **{c.kind}** {literal(c.title)}: {literal(c.summary)}" for c in redline.changes
                )
                or "No changes."
            ),
        },
    )
