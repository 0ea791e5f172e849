"""The tests' handle on a home: the product's services under the short names the tests use."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path


from contract_assets.approvals.approvals import SignedDecision
from contract_assets.approvals.defs.decision_recording import DecisionRecorder
from contract_assets.approvals.reminders import OpenTier, RequesterOutcome
from contract_assets.audit.trail import AuditTrail
from contract_assets.intake.defs.revision_intake import RevisionIntake, SubmitResult
from contract_assets.pipeline.defs.asset_graph import PIPELINE_STEPS
from contract_assets.pipeline.defs.change_guard import ActingService
from contract_assets.pipeline.defs.revision_runs import RevisionRunner
from contract_assets.pipeline.defs.revision_stage import record_stages
from contract_assets.pipeline.defs.revision_status import RevisionStatus
from contract_assets.pipeline.defs.run_planning import RunPlanner, WorkItem
from contract_assets.platform.access import Permission
from contract_assets.platform.models import Revision

# The step order the asset graph gives, as the tests name it.
PIPELINE = list(PIPELINE_STEPS)


@dataclass
class Operations(ActingService):
    """The tests' handle on one home: the product's services on its instance for one actor,
    under short names (delegation only: the product code uses the services themselves)."""

    @cached_property
    def intake(self) -> RevisionIntake:
        return RevisionIntake(self.workspace, self.instance, self.actor)

    @cached_property
    def decisions(self) -> DecisionRecorder:
        return DecisionRecorder(self.workspace, self.instance, self.actor)

    @cached_property
    def planner(self) -> RunPlanner:
        return RunPlanner(self.workspace, self.instance)

    @cached_property
    def runner(self) -> RevisionRunner:
        return RevisionRunner(self.workspace, self.instance, self.actor)

    @property
    def audit(self) -> AuditTrail:
        return self.guard.audit

    def authorize(self, permission: Permission, actor: str | None = None) -> None:
        self.guard.authorize(permission, actor)

    def audit_configuration(self) -> None:
        self.guard.audit_configuration()

    def submit(self, path: Path) -> SubmitResult:
        return self.intake.submit(path)

    def register(self, path: Path, actor: str | None = None) -> tuple[Revision, bool]:
        return self.intake.register(path, actor)

    def ensure_partitions(self, keys: Iterable[str]) -> None:
        self.intake.ensure_partitions(keys)

    def record_decision(self, signed: SignedDecision) -> tuple[bool, str | None, str | None]:
        return self.decisions.record(signed)

    def statuses(self, contract_id: str | None = None) -> list[RevisionStatus]:
        return self.state.statuses(contract_id)

    def status_of(self, revision: Revision) -> RevisionStatus:
        return self.state.status_of(revision)

    def awaiting_approval(self) -> list[tuple[RevisionStatus, datetime]]:
        return self.state.awaiting_approval()

    def open_tiers(self) -> list[OpenTier]:
        return self.state.open_tiers()

    def requester_outcomes(self, already_told: Container[str] = ()) -> list[RequesterOutcome]:
        return self.state.requester_outcomes(already_told)

    def partitions_in_flight(self) -> set[str]:
        return self.state.partitions_in_flight()

    def record_stages(self, contract_id: str) -> list[RevisionStatus]:
        return record_stages(self.state, contract_id)

    def pending(self) -> list[WorkItem]:
        return self.planner.pending()

    def left_to_run_retries(self) -> list[tuple[RevisionStatus, str]]:
        return self.planner.left_to_run_retries()

    def run(
        self, execute: Callable[[str, list[str]], bool], progress: Callable[[RevisionStatus], None]
    ) -> list[RevisionStatus]:
        return self.runner.run(execute, progress)
