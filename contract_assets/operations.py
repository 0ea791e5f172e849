"""What the console command and the register do with Dagster: submit, run, report status.

Where a revision stands is read from Dagster's materialization history (the checkpoint)
and its last run; the typed values come from the IO manager's storage layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from contract_assets.domain.models import (
    ApprovalRouting,
    ContractDraft,
    RenderedDocuments,
    Revision,
    RiskAssessment,
    SignaturePackage,
)
from contract_assets.domain.packaging import unrenderable_text
from contract_assets.domain.requests import FieldError, InvalidRequest, load_request_file
from contract_assets.domain.revisions import TypeChanged
from contract_assets.domain.stages import SETTLED, Stage, blocked_on, derive_stage
from contract_assets.partitions import REVISIONS
from contract_assets.resources import Workspace

PARTITION_TAG = "dagster/partition"
PARTITION_BATCH = 500  # SQLite limits the variables of one statement

# The pipeline's steps in execution order; a resumed run starts at the first one missing.
PIPELINE = [
    "contract_request",
    "contract_draft",
    "risk_assessment",
    "approval_routing",
    "review_copy",
    "contract_documents",
    "signature_package",
]


@dataclass
class RevisionStatus:
    revision: Revision
    stage: Stage
    materialized: set[str]
    draft: ContractDraft | None = None
    risk: RiskAssessment | None = None
    routing: ApprovalRouting | None = None
    review: RenderedDocuments | None = None
    documents: RenderedDocuments | None = None
    package: SignaturePackage | None = None
    error: str | None = None
    blocked_on: str | None = None
    last_run_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The object `contract-assets status --json` prints for one revision."""
        data: dict[str, Any] = {
            "contract_id": self.revision.contract_id,
            "revision": self.revision.revision,
            "partition_key": self.revision.partition_key,
            "type": self.revision.request.type.value,
            "counterparty": self.revision.request.counterparty.legal_name,
            "stage": self.stage.value,
            "content_hash": self.revision.content_hash,
            "submitted_at": self.revision.submitted_at.isoformat(),
            "risk": {
                "score": self.risk.score,
                "level": self.risk.level,
                "rules": [hit.rule for hit in self.risk.rules],
            }
            if self.risk
            else None,
            "deviations": [d.description for d in self.risk.deviations] if self.risk else [],
            "required_approvals": [
                {"role": a.role, "tier": a.tier} for a in self.routing.required_approvals
            ]
            if self.routing
            else [],
            "annexes": [a.annex_id for a in self.draft.annexes] if self.draft else [],
            "library_version": self.draft.library_version if self.draft else None,
            "library_hash": self.draft.library_hash if self.draft else None,
            "artifacts": {
                "review_html": self.review.path_of("review_html") if self.review else None,
                "html": self.documents.path_of("html") if self.documents else None,
                "pdf": self.documents.path_of("pdf") if self.documents else None,
                "docx": self.documents.path_of("docx") if self.documents else None,
                "manifest": self.package.path_of("manifest") if self.package else None,
            },
        }
        if self.blocked_on:
            data["blocked_on"] = self.blocked_on
        if self.error:
            data["error"] = self.error
        return data


@dataclass
class SubmitResult:
    revision: Revision
    created: bool
    stage: Stage

    def as_json(self) -> dict[str, Any]:
        return {
            "contract_id": self.revision.contract_id,
            "revision": self.revision.revision,
            "partition_key": self.revision.partition_key,
            "stage": self.stage.value,
            "created": self.created,
        }


@dataclass
class ContractOperations:
    workspace: Workspace
    instance: DagsterInstance
    _statuses: dict[str, RevisionStatus] = field(default_factory=dict)

    # --- submit ------------------------------------------------------------------------

    def submit(self, path: Path) -> SubmitResult:
        """Validate one request file and register it as a revision (or find its twin).

        Raises InvalidRequest, having stored nothing, when any rule fails.
        """
        registry = self.workspace.registry
        request = load_request_file(
            path, entities=self.workspace.entities.keys(), find_contract=registry.latest_request
        )
        if errors := unrenderable_text(request):
            raise InvalidRequest(errors)
        try:
            revision, created = registry.register(request, source_file=str(path.resolve()))
        except TypeChanged as exc:
            raise InvalidRequest([FieldError("type", str(exc))]) from None
        self.ensure_partitions([revision.partition_key])
        return SubmitResult(revision, created, self.status_of(revision).stage)

    def ensure_partitions(self, keys: Iterable[str]) -> None:
        """Add the dynamic partitions that are missing (idempotent, batched)."""
        existing = set(self.instance.get_dynamic_partitions(REVISIONS))
        missing = [key for key in keys if key not in existing]
        for start in range(0, len(missing), PARTITION_BATCH):
            self.instance.add_dynamic_partitions(REVISIONS, missing[start : start + PARTITION_BATCH])

    # --- status ------------------------------------------------------------------------

    def statuses(self, contract_id: str | None = None) -> list[RevisionStatus]:
        registry = self.workspace.registry
        revisions = registry.revisions(contract_id) if contract_id else registry.all()
        materialized = self._materialized()
        latest = {}
        for revision in registry.all() if contract_id is None else revisions:
            latest[revision.contract_id] = max(latest.get(revision.contract_id, 0), revision.revision)
        return [self._status(r, materialized, latest[r.contract_id]) for r in revisions]

    def status_of(self, revision: Revision) -> RevisionStatus:
        latest = self.workspace.registry.revisions(revision.contract_id)[-1].revision
        return self._status(revision, self._materialized(), latest)

    def _materialized(self) -> dict[str, set[str]]:
        return {
            asset: self.instance.get_materialized_partitions(AssetKey(asset)) for asset in PIPELINE
        }

    def _status(
        self, revision: Revision, materialized: dict[str, set[str]], latest_number: int
    ) -> RevisionStatus:
        key = revision.partition_key
        layout = self.workspace.layout
        done = {asset for asset, keys in materialized.items() if key in keys}
        runs = self.instance.get_run_records(RunsFilter(tags={PARTITION_TAG: key}), limit=1)
        last_run = runs[0].dagster_run if runs else None
        error = None
        if last_run is not None and last_run.status == DagsterRunStatus.FAILURE:
            error = self._failure_message(last_run.run_id)
        routing = layout.read_model("approval_routing", key, ApprovalRouting) if "approval_routing" in done else None
        waiting = blocked_on(revision, self.workspace.registry, layout)
        stage = derive_stage(
            materialized=done,
            routing=routing,
            superseded=revision.revision < latest_number,
            failed=error is not None,
            blocked=waiting is not None,
        )
        def read(asset: str, model: type) -> Any:
            return layout.read_model(asset, key, model) if asset in done else None

        return RevisionStatus(
            revision=revision,
            stage=stage,
            materialized=done,
            draft=read("contract_draft", ContractDraft),
            risk=read("risk_assessment", RiskAssessment),
            routing=routing,
            review=read("review_copy", RenderedDocuments),
            documents=read("contract_documents", RenderedDocuments),
            package=read("signature_package", SignaturePackage),
            error=error,
            blocked_on=waiting if stage is Stage.BLOCKED else None,
            last_run_id=last_run.run_id if last_run else None,
        )

    def _failure_message(self, run_id: str) -> str:
        messages = []
        for record in self.instance.all_logs(
            run_id,
            of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.ASSET_CHECK_EVALUATION},
        ):
            event = record.dagster_event
            if event is None:
                continue
            if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                if not evaluation.passed:
                    messages.append(
                        f"check {evaluation.check_name} failed"
                        + (f": {evaluation.description}" if evaluation.description else "")
                    )
            else:
                error = event.step_failure_data.error
                while error is not None and error.cause is not None:
                    error = error.cause
                text = error.message.strip() if error else "unknown error"
                messages.append(f"{event.step_key}: {text}")
        return "; ".join(dict.fromkeys(messages)) or "the last run failed"

    # --- run ---------------------------------------------------------------------------

    def pending(self) -> list[tuple[RevisionStatus, list[str]]]:
        """Revisions with work to do, each with the steps to run (resuming where it stopped)."""
        work = []
        for status in self.statuses():
            if status.stage in SETTLED:
                continue
            if status.stage is Stage.BLOCKED:
                continue  # nothing to do until the parent is approved
            steps = [asset for asset in PIPELINE if asset not in status.materialized]
            if status.stage is Stage.FAILED:
                steps = PIPELINE[self._resume_index(status):]
            elif blocked_on(status.revision, self.workspace.registry, self.workspace.layout):
                # An sow waiting for its MSA: validate it now, draft it once the MSA is approved.
                steps = [s for s in steps if s == "contract_request"]
            if steps:
                work.append((status, steps))
        return work

    def _resume_index(self, status: RevisionStatus) -> int:
        """A failed revision resumes at its first missing step, or at the step whose check failed."""
        failed_checks = set()
        if status.last_run_id:
            for record in self.instance.all_logs(
                status.last_run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
            ):
                evaluation = record.dagster_event.event_specific_data
                if not evaluation.passed:
                    failed_checks.add(evaluation.asset_key.to_user_string())
        for index, asset in enumerate(PIPELINE):
            if asset not in status.materialized or asset in failed_checks:
                return index
        return len(PIPELINE)

    def run(
        self,
        execute: Callable[[str, list[str]], bool],
        progress: Callable[[RevisionStatus], None],
    ) -> list[RevisionStatus]:
        """Run every revision with work to do, oldest submission first; report each."""
        registry = self.workspace.registry
        self.ensure_partitions(r.partition_key for r in registry.all())
        results = []
        for status, steps in self.pending():
            execute(status.revision.partition_key, steps)
            after = self.status_of(status.revision)
            progress(after)
            results.append(after)
        return results
