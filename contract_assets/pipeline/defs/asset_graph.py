"""The project's asset definitions, and the steps of a revision in the order the asset graph
gives them: the one place that knows the step order.

A job's steps are the assets its selection picks (`contract_pipeline`: the `contracts`
group), in a topological order of their dependencies. Where the graph leaves a choice (the
review copy needs only the draft; the redline gates nothing), the order the definitions are
declared in `ASSETS` decides, so the order is the same on every load. The executor may run
independent steps in another order (review_copy can finish before approval_record): who
resumes a revision asks which steps are stored, not how far along the order it got.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dagster import AssetKey, AssetsDefinition, AssetSelection

from contract_assets.approvals.defs.risk import risk_assessment
from contract_assets.approvals.defs.routing import approval_record, approval_routing
from contract_assets.documents.defs.assets import (
    contract_documents,
    review_copy,
    signature_package,
)
from contract_assets.documents.defs.executed import executed_copy
from contract_assets.documents.defs.jobs import executed_copy_job
from contract_assets.documents.defs.redline import contract_redline
from contract_assets.drafting.defs.assets import contract_draft
from contract_assets.intake.defs.assets import contract_request
from contract_assets.pipeline.defs.jobs import contract_pipeline
from contract_assets.register.defs.assets import contract_register, register_report

# Every asset computed by a run, in declaration order (the tie-break of the step order).
ASSETS: list[AssetsDefinition] = [
    contract_request,
    contract_draft,
    risk_assessment,
    approval_routing,
    approval_record,
    review_copy,
    contract_documents,
    signature_package,
    contract_redline,
    executed_copy,
    contract_register,
    register_report,
]


def name(asset: AssetsDefinition) -> str:
    """The asset's key as the IO manager's folder and a run's asset selection spell it."""
    return asset.key.to_user_string()


def ordered_steps(selected: Iterable[AssetKey], assets: Sequence[AssetsDefinition]) -> list[str]:
    """The selected assets in a topological order of their dependencies among themselves;
    of the steps ready at once, the one declared first in `assets` comes first."""
    selected = set(selected)
    declared = [a for a in assets if a.key in selected]
    if {a.key for a in declared} != selected:
        missing = sorted(k.to_user_string() for k in selected - {a.key for a in declared})
        raise ValueError(f"selected assets with no definition here: {missing}")
    upstream = {a.key: {k for k in a.dependency_keys if k in selected and k != a.key} for a in declared}
    order: list[str] = []
    placed: set[AssetKey] = set()
    while len(placed) < len(declared):
        ready = next((a for a in declared if a.key not in placed and upstream[a.key] <= placed), None)
        if ready is None:
            raise ValueError("the selected assets depend on each other in a cycle")
        placed.add(ready.key)
        order.append(name(ready))
    return order


def steps_of(selection: AssetSelection) -> tuple[str, ...]:
    """The steps an asset job's selection picks, in order."""
    return tuple(ordered_steps(selection.resolve(ASSETS), ASSETS))


# A revision's run, from request to signature package: what a resumed run chooses from.
PIPELINE_STEPS: tuple[str, ...] = steps_of(contract_pipeline.selection)
# What a revision's status reads: the pipeline's steps, then the executed copy's (its own job).
REVISION_STEPS: tuple[str, ...] = PIPELINE_STEPS + steps_of(executed_copy_job.selection)
