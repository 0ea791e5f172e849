"""The redline: from revision 2 on, what changed against the previous revision."""

from dagster import AssetExecutionContext, DagsterType, MetadataValue, Output, asset

from contract_assets.documents.redline import (
    Redline,
    changes_for_display,
    compare_drafts,
)
from contract_assets.drafting.defs.assets import assemble_revision
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.platform.defs.resources import ContractWorkspace, Workspace
from contract_assets.platform.defs.versioning import versioned
from contract_assets.platform.models import ContractDraft, NotApplicable, Revision


def previous_draft(workspace: Workspace, revision: Revision) -> ContractDraft | None:
    """The previous revision's stored draft; assembled from its request if it never ran
    (e.g. superseded before it was drafted), so a redline always has a base."""
    if revision.revision == 1:
        return None
    previous = workspace.registry.revisions(revision.contract_id)[revision.revision - 2]
    stored = workspace.layout.read_model("contract_draft", previous.partition_key, ContractDraft)
    if stored is not None:
        return stored
    return assemble_revision(workspace, previous)


FIRST_REVISION = "the first revision has no earlier revision to compare with"

# A redline, or the mark that none can exist; whoever loads it as a Redline gets an error
# naming the stored model, so nothing downstream mistakes the mark for a document.
RedlineOrNotApplicable = DagsterType(
    type_check_fn=lambda _, value: isinstance(value, (Redline, NotApplicable)),
    name="RedlineOrNotApplicable",
    description="A Redline, or NotApplicable for a first revision (no file, `applies: false`).",
    typing_type=Redline,
)


@asset(
    partitions_def=revision_partitions,
    group_name="contracts",
    dagster_type=RedlineOrNotApplicable,
    kinds={"html"},
)
def contract_redline(
    context: AssetExecutionContext,
    contracts: ContractWorkspace,
    contract_request: Revision,
    contract_draft: ContractDraft,
) -> Output:
    """Clause by clause and word by word against the previous revision; for revision 1,
    stored as not applicable (no file; metadata `applies: false` and the reason)."""
    previous = previous_draft(contracts.workspace(), contract_request)
    if previous is None:
        return versioned(
            NotApplicable(partition_key=context.partition_key, reason=FIRST_REVISION),
            {"applies": False, "reason": FIRST_REVISION},
        )
    redline = compare_drafts(previous, contract_draft)
    summary, changes = changes_for_display(redline, previous, contract_draft)
    return versioned(
        redline,
        {
            "applies": True,
            "previous": redline.previous_partition_key,
            "summary": summary,
            "changes": MetadataValue.md("\n".join(f"- {line}" for line in changes) or "No changes."),
        },
    )
