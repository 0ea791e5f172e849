"""What runs next: each revision with work to do, the steps to run (resuming where it
stopped) and the run key naming the state that makes the work due; and the failed revisions
left to the daemon's run retries. Plans only: running them is revision_runs.py's, or a
sensor's."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from dagster import DagsterEventType, DagsterInstance, RunsFilter

from contract_assets.approvals.approvals import approval_state
from contract_assets.approvals.defs.routing import approval_record_reader
from contract_assets.intake.defs.assets import contract_request
from contract_assets.pipeline.defs.asset_graph import PIPELINE_STEPS
from contract_assets.pipeline.defs.resume import retried_by_the_daemon
from contract_assets.pipeline.defs.revision_state import RevisionState
from contract_assets.pipeline.defs.revision_status import RevisionStatus
from contract_assets.pipeline.stages import (
    SETTLED,
    Stage,
    approved_revision,
    blocked_on,
)
from contract_assets.platform.defs.resources import Workspace

# The step that validates a request: all an sow waiting for its parent MSA runs.
VALIDATION_STEP = contract_request.key.to_user_string()


@dataclass(frozen=True)
class WorkItem:
    status: RevisionStatus
    steps: list[str]
    key: str  # identifies the state that makes this work due (a run key for sensors)


@dataclass
class RunPlanner:
    """Plans the runs of the revisions on one instance."""

    workspace: Workspace
    instance: DagsterInstance

    @cached_property
    def state(self) -> RevisionState:
        return RevisionState(self.workspace, self.instance)

    def left_to_run_retries(self) -> list[tuple[RevisionStatus, str]]:
        """Failed revisions whose last run the daemon's run retries start again (a run it
        launched whose process died), each with that run's id: nobody else resumes them."""
        failed = [s for s in self.state.statuses() if s.stage is Stage.FAILED and s.last_run_id]
        runs = self.instance.get_runs(RunsFilter(run_ids=[s.last_run_id for s in failed])) if failed else []
        retried = {run.run_id for run in runs if retried_by_the_daemon(run)}
        return [(s, s.last_run_id) for s in failed if s.last_run_id in retried]

    def pending(self) -> list[WorkItem]:
        """Revisions with work to do, each with the steps to run (resuming where it stopped).

        `WorkItem.key` names the state that makes the work due (content hash, decisions,
        parent revision), so a sensor can use it as a run key: the same state never starts
        a second run.
        """
        work = []
        for status in self.state.statuses():
            item = self._work_for(status)
            if item is not None and item.steps:
                work.append(item)
        return work

    def _work_for(self, status: RevisionStatus) -> WorkItem | None:
        revision = status.revision
        steps = [step for step in PIPELINE_STEPS if step not in status.materialized]
        key = f"{revision.partition_key}:{revision.content_hash[:16]}"
        if status.stage is Stage.AWAITING_APPROVAL:
            accepted = self.workspace.decisions.accepted(revision.partition_key)
            if status.routing is None or approval_state(status.routing, accepted).status == "awaiting_approval":
                return None
            return WorkItem(status, steps, f"{key}:decided:{accepted[-1].decision_id[:16]}")
        if status.stage in SETTLED or status.stage is Stage.BLOCKED:
            return None
        if status.stage is Stage.FAILED:
            return WorkItem(status, self._resume_steps(status, steps), f"{key}:retry:{status.last_run_id}")
        if blocked_on(revision, self.workspace.registry, approval_record_reader(self.workspace)):
            # An sow waiting for its MSA: validate it now, draft it once the MSA is approved.
            return WorkItem(status, [s for s in steps if s == VALIDATION_STEP], f"{key}:intake")
        if status.stage is Stage.RECEIVED:
            return WorkItem(status, steps, f"{key}:intake")
        parent = revision.request.sow.parent_contract_id if revision.request.sow else None
        if parent is not None:
            approved = approved_revision(parent, self.workspace.registry, approval_record_reader(self.workspace))
            return WorkItem(status, steps, f"{key}:parent:{approved.partition_key if approved else '-'}")
        return WorkItem(status, steps, f"{key}:resume:{steps[0] if steps else '-'}")

    def _resume_steps(self, status: RevisionStatus, missing: list[str]) -> list[str]:
        """What a failed revision runs again: every step with no materialization, and the step
        whose blocking check failed with everything after it.

        Only missing steps, not everything after the first missing one: the executor's order
        is not PIPELINE_STEPS' (review_copy may finish before approval_record), so a run killed
        between them has later steps already stored, and those are never computed twice.
        """
        failed_checks = set()
        if status.last_run_id:
            for record in self.instance.all_logs(
                status.last_run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
            ):
                evaluation = record.dagster_event.event_specific_data
                if not evaluation.passed:
                    failed_checks.add(evaluation.asset_key.to_user_string())
        first_failed = min(
            (PIPELINE_STEPS.index(asset) for asset in failed_checks if asset in PIPELINE_STEPS),
            default=len(PIPELINE_STEPS),
        )
        return [
            asset
            for index, asset in enumerate(PIPELINE_STEPS)
            if asset in missing or (index >= first_failed and asset in status.materialized)
        ]
