"""Where each revision stands, read in bulk from Dagster's history and the store: statuses,
who waits for approval, open tiers, what requesters should hear, runs in flight.

Read-only: nothing here writes to the instance, the store or the audit trail. A revision's
steps are the ones asset_graph.py derives; a status reads each of them for all revisions at
once (one query per step, one of the run table), never one query per revision and step.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from contract_assets.approvals.approvals import approval_state, recorded
from contract_assets.approvals.defs.risk import risk_assessment
from contract_assets.approvals.defs.routing import (
    approval_record,
    approval_record_reader,
    approval_routing,
)
from contract_assets.approvals.playbook import assess_risk
from contract_assets.approvals.reminders import (
    Addressee,
    OpenTier,
    RequesterOutcome,
    requester_notice_id,
)
from contract_assets.documents.defs.assets import contract_documents, signature_package
from contract_assets.documents.defs.executed import executed_copy
from contract_assets.drafting.assembly import changed_sources
from contract_assets.drafting.defs.assets import contract_draft
from contract_assets.intake.defs.assets import contract_request
from contract_assets.pipeline.defs.asset_graph import REVISION_STEPS
from contract_assets.pipeline.defs.failures import step_failure_text
from contract_assets.pipeline.defs.jobs import contract_pipeline
from contract_assets.pipeline.defs.revision_status import RevisionStatus
from contract_assets.pipeline.stages import Stage, blocked_on, derive_stage
from contract_assets.platform.defs.resources import Workspace
from contract_assets.platform.models import ApprovalRecord, RecordedDecision, Revision

PARTITION_TAG = "dagster/partition"
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]

# The stage a revision reaches when each step is stored (domain.stages.PROGRESSION's order).
STAGE_REACHED: dict[str, Stage] = {
    asset.key.to_user_string(): stage
    for asset, stage in (
        (contract_request, Stage.VALIDATED),
        (contract_draft, Stage.DRAFTED),
        (risk_assessment, Stage.RISK_ASSESSED),
        (approval_routing, Stage.AWAITING_APPROVAL),
        (approval_record, Stage.APPROVED),
        (contract_documents, Stage.RENDERED),
        (signature_package, Stage.READY_FOR_SIGNATURE),
        (executed_copy, Stage.EXECUTED),
    )
}


@dataclass
class RevisionState:
    """Reads where revisions stand on one instance; builds each RevisionStatus."""

    workspace: Workspace
    instance: DagsterInstance

    def statuses(self, contract_id: str | None = None) -> list[RevisionStatus]:
        """Every revision's status (of one contract: read for its revisions alone)."""
        registry = self.workspace.registry
        if contract_id:
            revisions = registry.revisions(contract_id)
            latest_number = revisions[-1].revision if revisions else 0
            return [self._status_alone(r, latest_number) for r in revisions]
        revisions = registry.all()
        materialized = self._materialized()
        latest = {}
        for revision in revisions:
            latest[revision.contract_id] = max(latest.get(revision.contract_id, 0), revision.revision)
        last_runs = self._last_runs()
        return [
            self._status(
                r,
                {asset for asset, keys in materialized.items() if r.partition_key in keys},
                latest[r.contract_id],
                last_runs.get(r.partition_key),
            )
            for r in revisions
        ]

    def status_of(self, revision: Revision) -> RevisionStatus:
        latest = self.workspace.registry.revisions(revision.contract_id)[-1].revision
        return self._status_alone(revision, latest)

    def _status_alone(self, revision: Revision, latest_number: int) -> RevisionStatus:
        """One revision's status from queries about its partition only (not the register)."""
        key = revision.partition_key
        runs = self.instance.get_run_records(RunsFilter(tags={PARTITION_TAG: key}), limit=1)
        last_run = (runs[0].dagster_run.run_id, runs[0].dagster_run.status) if runs else None
        done = {
            asset
            for asset in REVISION_STEPS
            if self.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[key]), limit=1
            ).records
        }
        return self._status(revision, done, latest_number, last_run)

    def _last_runs(self) -> dict[str, tuple[str, DagsterRunStatus]]:
        """Each revision's newest run (id, status), from one query of the run table."""
        return {
            data.partition: (data.run_id, data.status)
            for data in self.instance.get_run_partition_data(RunsFilter())
        }

    def _materialized(self) -> dict[str, set[str]]:
        return {
            asset: self.instance.get_materialized_partitions(AssetKey(asset))
            for asset in REVISION_STEPS
        }

    def _status(
        self,
        revision: Revision,
        done: set[str],
        latest_number: int,
        last_run: tuple[str, DagsterRunStatus] | None,
    ) -> RevisionStatus:
        key = revision.partition_key
        layout = self.workspace.layout
        last_run_id, last_status = last_run if last_run else (None, None)
        error = self._failure_message(last_run_id) if last_status == DagsterRunStatus.FAILURE else None

        def read(asset: str, model: type) -> Any:
            # A step marked not applicable (a first revision's redline) holds no document.
            return layout.read_applicable(asset, key, model) if asset in done else None

        record = read(approval_record.key.to_user_string(), ApprovalRecord)
        waiting = blocked_on(revision, self.workspace.registry, approval_record_reader(self.workspace))
        facts = dict(
            reached={STAGE_REACHED[step] for step in done if step in STAGE_REACHED},
            record=record,
            superseded=revision.revision < latest_number,
            failed=error is not None,
            blocked=waiting is not None,
        )
        stage = derive_stage(**facts)
        # Two facts cost a query each: they are asked only where they can change the stage.
        if stage is Stage.AWAITING_APPROVAL:
            stage = derive_stage(**facts, expired=bool(self.workspace.decisions.expired_at(key)))
        elif stage is Stage.DRAFTED and last_run_id:
            stage = derive_stage(**facts, draft_checked=self._draft_checked(last_run_id))
        return RevisionStatus(
            revision=revision,
            stage=stage,
            materialized=done,
            record=record,
            error=error,
            blocked_on=waiting if stage is Stage.BLOCKED else None,
            last_run_id=last_run_id,
            superseded_by=f"{revision.contract_id}.r{latest_number}" if stage is Stage.SUPERSEDED else None,
            read=read,
            judge_freshness=self._out_of_date,
            read_refusals=lambda: self.workspace.decisions.refused(key),
            decided=self._decided,
        )

    def _decided(self, status: RevisionStatus) -> list[RecordedDecision]:
        """The decisions that counted: the approval record's, or while it is pending, the
        decision log's (one query, for revisions with people to ask only)."""
        if status.record is not None:
            return list(status.record.decisions)
        return [recorded(d) for d in self.workspace.decisions.accepted(status.revision.partition_key)]

    def _draft_checked(self, run_id: str) -> bool:
        """Whether the run found the draft whole: every mandatory clause present."""
        return any(
            record.dagster_event.event_specific_data.asset_key == contract_draft.key
            and record.dagster_event.event_specific_data.passed
            for record in self.instance.all_logs(
                run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
            )
        )

    def _out_of_date(self, status: RevisionStatus) -> list[str]:
        """Why the stored draft or risk assessment would come out differently today: a
        changed library file it was made from, or a playbook that now decides otherwise."""
        revision, draft, risk = status.revision, status.draft, status.risk
        reasons = []
        if draft is not None:
            reasons += [
                f"library file {rel} changed" for rel in changed_sources(draft, self.workspace.library)
            ]
        if draft is not None and risk is not None:
            playbook = self.workspace.playbook
            now = assess_risk(
                partition_key=risk.partition_key,
                request=revision.request,
                deviations=draft.deviations,
                playbook=playbook,
            )
            if (now.score, now.level, now.rules) != (risk.score, risk.level, risk.rules):
                reasons.append(
                    f"playbook {playbook.version} assesses it differently "
                    f"(score {risk.score} -> {now.score}, rules {[h.rule for h in now.rules]})"
                )
        return reasons

    def _failure_message(self, run_id: str) -> str:
        """Why the run failed: its failed steps and checks, else what failed the run as a
        whole (its process died, it never started)."""
        messages, run_failure = [], None
        for record in self.instance.all_logs(
            run_id,
            of_type={
                DagsterEventType.STEP_FAILURE,
                DagsterEventType.ASSET_CHECK_EVALUATION,
                DagsterEventType.RUN_FAILURE,
            },
        ):
            event = record.dagster_event
            if event is None:
                continue
            if event.event_type == DagsterEventType.RUN_FAILURE:
                run_failure = event.message
            elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                if not evaluation.passed:
                    messages.append(
                        f"check {evaluation.check_name} failed"
                        + (f": {evaluation.description}" if evaluation.description else "")
                    )
            else:
                messages.append(f"{event.step_key}: {step_failure_text(event)}")
        return "; ".join(dict.fromkeys(messages)) or run_failure or "the last run failed"

    def awaiting_approval(self) -> list[tuple[RevisionStatus, datetime]]:
        """Revisions waiting for people, each with when it started waiting (UTC)."""
        waiting = []
        for status in self.statuses():
            if status.stage is not Stage.AWAITING_APPROVAL:
                continue
            records = self.instance.fetch_materializations(
                AssetRecordsFilter(
                    asset_key=approval_routing.key,
                    asset_partitions=[status.revision.partition_key],
                ),
                limit=1,
                ascending=True,
            ).records
            if records:
                waiting.append((status, datetime.fromtimestamp(records[0].timestamp, UTC)))
        return waiting

    def open_tiers(self) -> list[OpenTier]:
        """Each revision awaiting approval with its open tier and who may decide for it."""
        approvers = self.workspace.approvers.load()
        open_tiers = []
        for status, _ in self.awaiting_approval():
            key = status.revision.partition_key
            state = approval_state(status.routing, self.workspace.decisions.accepted(key))
            if state.open_tier is None:
                continue
            requester = status.revision.request.requested_by
            roles = [r.role for r in state.pending_roles if r.tier == state.open_tier]
            open_tiers.append(
                OpenTier(
                    partition_key=key,
                    contract_id=status.revision.contract_id,
                    tier=state.open_tier,
                    approvers={
                        role: [
                            Addressee(a.name, a.email) for a in approvers.values()
                            if role in a.roles and not a.is_person(requester)
                        ]
                        for role in roles
                    },  # fmt: skip
                )
            )
        return open_tiers

    def requester_outcomes(self, already_told: Container[str] = ()) -> list[RequesterOutcome]:
        """What each revision's requester should hear: approved (by people), rejected or
        changes requested (with the deciding role, approver and comment), ready for
        signature. A decision counts as soon as it is recorded, before the pipeline runs on.

        Revisions whose every possible notice id is in `already_told` are not read further.
        """
        outcomes = []
        for status in self.statuses():
            key = status.revision.partition_key
            possible = _POSSIBLE_OUTCOMES.get(status.stage, ())
            if all(requester_notice_id(key, outcome) in already_told for outcome in possible):
                continue
            decided = self._decision_outcome(status)
            if decided is not None:
                outcomes.append(decided)
            if status.stage is Stage.READY_FOR_SIGNATURE:
                outcomes.append(self._outcome(status, "ready_for_signature"))
        return outcomes

    def _decision_outcome(self, status: RevisionStatus) -> RequesterOutcome | None:
        """The outcome people's decisions gave the revision, if they gave one."""
        if status.stage is Stage.AWAITING_APPROVAL:
            accepted = self.workspace.decisions.accepted(status.revision.partition_key)
            if status.routing is None or not accepted:
                return None
            outcome = approval_state(status.routing, accepted).status
            deciding = [(d.payload.role, d.payload.approver, d.payload.comment, d.payload.decision) for d in accepted]
        elif status.record is not None and not status.record.auto_approved:
            outcome = status.record.status
            deciding = [(d.role, d.approver, d.comment, d.decision) for d in status.record.decisions]
        else:
            return None
        if outcome == "awaiting_approval":
            return None
        closing = [d for d in deciding if d[3] != "approve"]
        role, approver, comment, _ = closing[0] if closing else (None, None, None, None)
        return self._outcome(status, outcome, role=role, approver=approver, comment=comment)

    def _outcome(self, status: RevisionStatus, outcome: str, **decision: str | None) -> RequesterOutcome:
        revision = status.revision
        return RequesterOutcome(
            partition_key=revision.partition_key,
            contract_id=revision.contract_id,
            requester=revision.request.requested_by,
            outcome=outcome,
            **decision,
        )

    def partitions_in_flight(self) -> set[str]:
        """Revisions with a pipeline run queued or running (the daemon's, another console's):
        their state is still moving, so nobody else starts them."""
        records = self.instance.get_run_records(
            RunsFilter(job_name=contract_pipeline.name, statuses=IN_FLIGHT)
        )
        return {
            r.dagster_run.tags[PARTITION_TAG] for r in records if PARTITION_TAG in r.dagster_run.tags
        }


# What a requester may still have to hear about a revision in each stage.
_POSSIBLE_OUTCOMES = {
    Stage.AWAITING_APPROVAL: ("approved", "rejected", "changes_requested"),
    Stage.APPROVED: ("approved",),
    Stage.RENDERED: ("approved",),
    Stage.READY_FOR_SIGNATURE: ("approved", "ready_for_signature"),
    Stage.REJECTED: ("rejected",),
    Stage.CHANGES_REQUESTED: ("changes_requested",),
}
