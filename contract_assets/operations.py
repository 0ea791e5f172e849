"""What the console command and the register do with Dagster: submit, run, report status.

Where a revision stands is read from Dagster's materialization history (the checkpoint)
and its last run; the typed values come from the IO manager's storage layout.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Container, Iterable
from datetime import UTC, datetime
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from contract_assets.domain.models import (
    ApprovalRecord,
    ApprovalRouting,
    ContractDraft,
    RecordedDecision,
    RenderedDocuments,
    Revision,
    RiskAssessment,
    SignaturePackage,
)
from contract_assets.auditing import trail_for
from contract_assets.domain.assembly import changed_sources
from contract_assets.domain.access import AccessDenied, Permission
from contract_assets.domain.audit import AuditTrail, current_actor
from contract_assets.domain.files import canonical_json, sha256_bytes, sha256_file
from contract_assets.domain.playbook import assess_risk
from contract_assets.domain.packaging import ExecutedCopy, unrenderable_text
from contract_assets.domain.redline import Redline
from contract_assets.domain.reminders import Addressee, OpenTier, RequesterOutcome, requester_notice_id
from contract_assets.domain.requests import FieldError, InvalidRequest, load_request, read_request_bytes
from contract_assets.domain.revisions import TypeChanged, parse_partition_key
from contract_assets.domain.approvals import SignedDecision, approval_state, record_decision, recorded
from contract_assets.failures import step_failure_text
from contract_assets.domain.stages import (
    SETTLED,
    RoleApproval,
    Stage,
    StageReport,
    approved_revision,
    blocked_on,
    derive_stage,
    explain_stage,
    role_approvals,
)
from contract_assets.revision_stage import record_stage
from contract_assets.partitions import REVISIONS
from contract_assets.resume import retried_by_the_daemon
from contract_assets.resources import Workspace

PARTITION_TAG = "dagster/partition"
PARTITION_BATCH = 500  # SQLite limits the variables of one statement
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]

# The pipeline's steps in execution order; a resumed run starts at the first one missing.
PIPELINE = [
    "contract_request",
    "contract_draft",
    "risk_assessment",
    "approval_routing",
    "approval_record",
    "review_copy",
    "contract_documents",
    "signature_package",
    "contract_redline",  # last: it gates nothing (a first revision's is stored as not applicable)
]
# Assets whose state the status reads besides the pipeline's (executed_copy runs on its own).
STATUS_ASSETS = [*PIPELINE, "executed_copy"]


class _Stored:
    """A value stored for the revision by one asset, read on first use and kept."""

    def __init__(self, asset: str, model: type):
        self.asset, self.model = asset, model

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, status: RevisionStatus | None, owner: type | None = None) -> Any:
        if status is None:
            return self
        value = status.__dict__[self.name] = status.read(self.asset, self.model)
        return value


@dataclass
class RevisionStatus:
    """Where a revision stands. The values stored for it (draft, risk, documents...) are
    read when first asked for: a sensor deciding what is due reads few of them."""

    revision: Revision
    stage: Stage
    materialized: set[str]
    record: ApprovalRecord | None = None
    error: str | None = None
    blocked_on: str | None = None
    last_run_id: str | None = None
    superseded_by: str | None = None
    read: Callable[[str, type], Any] = field(default=lambda asset, model: None, repr=False)
    judge_freshness: Callable[[RevisionStatus], list[str]] = field(
        default=lambda status: [], repr=False
    )
    read_refusals: Callable[[], list[tuple[SignedDecision, str]]] = field(default=lambda: [], repr=False)
    # The decisions that counted so far (the approval record's, once there is one).
    decided: Callable[[RevisionStatus], list[RecordedDecision]] = field(
        default=lambda status: [], repr=False
    )

    draft = _Stored("contract_draft", ContractDraft)
    risk = _Stored("risk_assessment", RiskAssessment)
    routing = _Stored("approval_routing", ApprovalRouting)
    review = _Stored("review_copy", RenderedDocuments)
    documents = _Stored("contract_documents", RenderedDocuments)
    package = _Stored("signature_package", SignaturePackage)
    redline = _Stored("contract_redline", Redline)
    executed = _Stored("executed_copy", ExecutedCopy)

    @cached_property
    def out_of_date(self) -> list[str]:
        """What changed since its draft and risk assessment were made."""
        return self.judge_freshness(self)

    @cached_property
    def refusals(self) -> list[tuple[SignedDecision, str]]:
        """Decisions on this revision that did not count, oldest first, with the reason."""
        return self.read_refusals()

    @cached_property
    def approvals(self) -> list[RoleApproval]:
        """Each required role: who decided what and when, with the comment, or still open."""
        if self.routing is None:
            return []
        void = self.stage.value if self.stage in (Stage.SUPERSEDED, Stage.EXPIRED) else None
        return role_approvals(self.routing.required_approvals, self.decided(self), void=void)

    @cached_property
    def stage_report(self) -> StageReport:
        """The stage in words: why it is there and who must act."""
        return explain_stage(
            self.revision,
            self.stage,
            self.approvals,
            blocked_on=self.blocked_on,
            error=self.error,
            superseded_by=self.superseded_by,
        )

    @property
    def sealed_pdf(self) -> str | None:
        return self.package.path_of("sealed_pdf") if self.package else None

    def as_json(self) -> dict[str, Any]:
        """The object `contract-assets status --json` prints for one revision."""
        rendered_pdf = self.documents.path_of("pdf") if self.documents else None
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
            "approval": {
                "status": self.record.status,
                "decided_at": self.record.decided_at.isoformat(),
                "decisions": [d.model_dump(mode="json") for d in self.record.decisions],
            }
            if self.record
            else None,
            # Per required role: approved / rejected / changes_requested / open /
            # waiting for tier N / closed, with who, when and the comment.
            "approvals": [a.as_json() for a in self.approvals],
            "reason": self.stage_report.reason,
            "waiting_for": self.stage_report.waiting_for,
            "out_of_date": bool(self.out_of_date),
            "out_of_date_because": self.out_of_date,
            "annexes": [a.annex_id for a in self.draft.annexes] if self.draft else [],
            # The executed revision this one amends and restates, if any.
            "amends": self.draft.amends if self.draft else None,
            "library_version": self.draft.library_version if self.draft else None,
            "library_hash": self.draft.library_hash if self.draft else None,
            # None until the signature package exists; false when it was made without a seal.
            "sealed": self.package.sealed if self.package else None,
            "seal_certificate_sha256": self.package.seal_certificate_sha256 if self.package else None,
            "artifacts": {
                "review_html": self.review.path_of("review_html") if self.review else None,
                "html": self.documents.path_of("html") if self.documents else None,
                # The PDF to send: the sealed one once the package is sealed.
                "pdf": self.sealed_pdf or rendered_pdf,
                "rendered_pdf": rendered_pdf,
                "docx": self.documents.path_of("docx") if self.documents else None,
                "manifest": self.package.path_of("manifest") if self.package else None,
                "manifest_signature": (
                    self.package.path_of("manifest_signature") if self.package else None
                ),
                "executed_pdf": self.executed.path_of("executed_pdf") if self.executed else None,
            },
        }
        if self.redline:
            data["redline"] = self.redline.path_of("redline")
            data["changes"] = [c.model_dump(mode="json") for c in self.redline.changes]
            data["changes_summary"] = self.redline.summary
        if self.refusals:
            data["refused_decisions"] = [
                {"role": d.payload.role, "approver": d.payload.approver, "decision": d.payload.decision, "reason": reason}
                for d, reason in self.refusals
            ]
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


@dataclass(frozen=True)
class WorkItem:
    status: RevisionStatus
    steps: list[str]
    key: str  # identifies the state that makes this work due (a run key for sensors)


@dataclass
class ContractOperations:
    workspace: Workspace
    instance: DagsterInstance
    actor: str = field(default_factory=current_actor)

    @property
    def audit(self) -> AuditTrail:
        """The audit trail, each new head witnessed in this instance's event log."""
        return trail_for(self.workspace, self.instance)

    def authorize(self, permission: Permission, actor: str | None = None) -> None:
        """Raise AccessDenied, audited, unless `actor` (default: who runs this) may do it."""
        actor = actor or self.actor
        try:
            self.workspace.access.check(actor, permission)
        except AccessDenied as exc:
            self.audit.append(
                "access_refused",
                key=f"access:{uuid.uuid4()}",
                actor=actor,
                details={"permission": permission.value, "reason": str(exc)},
            )
            raise

    def audit_configuration(self) -> None:
        """Log the configuration (playbook, clause library, approvers, entities, access
        policy, seal certificate) when it differs from the last one logged, with the hash of
        each part."""
        home = self.workspace.home
        hashes = {
            "playbook": self.workspace.playbook_hash,
            "library": self.workspace.library.content_hash,
            "library_version": self.workspace.library.version,
            "approvers": _file_hash(self.workspace.approvers.path),
            "entities": _file_hash(home.config_dir / "entities.yaml"),
            "access": _file_hash(self.workspace.access.path),
            "seal_certificate": self.workspace.seal_fingerprint(),
        }
        trail = self.audit
        last = trail.latest("configuration_changed")
        if last is not None and last.details == hashes:
            return
        digest = sha256_bytes(canonical_json(hashes))[:16]
        trail.append(
            "configuration_changed",
            key=f"configuration:after:{last.seq if last else 0}:{digest}",
            actor=self.actor,
            details=hashes,
        )

    # --- submit ------------------------------------------------------------------------

    def submit(self, path: Path) -> SubmitResult:
        """Validate one request file and register it as a revision (or find its twin), with
        its dynamic partition. Raises InvalidRequest, having stored nothing, when any rule fails.
        """
        revision, created = self.register(path)
        self.ensure_partitions([revision.partition_key])
        # A new revision is received, and supersedes the contract's pending ones.
        statuses = self.record_stages(revision.contract_id)
        stage = next(s.stage for s in statuses if s.revision.revision == revision.revision)
        return SubmitResult(revision, created, stage)

    def register(self, path: Path, actor: str | None = None) -> tuple[Revision, bool]:
        """Validate and register a request file; the partition is the caller's to add.

        The audit trail gets the file's arrival, then its rejection (the field paths, never
        the values) or the new revision; the same file again adds nothing. `actor` is who
        submitted it (default: who runs this).
        """
        actor = actor or self.actor
        self.audit_configuration()
        trail = self.audit

        def arrived(fingerprint: str, received: dict) -> Callable[[InvalidRequest], None]:
            trail.append("request_received", key=f"received:{fingerprint}", actor=actor, details=received)
            return lambda exc: trail.append(
                "input_rejected",
                key=f"rejected:{fingerprint}",
                actor=actor,
                details={**received, "fields": sorted({error.path for error in exc.errors})},
            )

        try:
            data = read_request_bytes(path)  # bounded: a huge or special file is refused unread
        except InvalidRequest as exc:
            info = path.lstat()
            fingerprint = f"unread:{path.name}:{info.st_size}:{info.st_mtime_ns}"
            arrived(fingerprint, {"file": path.name, "bytes": info.st_size})(exc)
            raise
        received = {"file": path.name, "sha256": sha256_bytes(data)}
        rejected = arrived(received["sha256"], received)
        try:
            revision, created = self._register(data, path)
        except InvalidRequest as exc:
            rejected(exc)
            raise
        trail.append(
            "revision_registered",
            key=f"registered:{revision.partition_key}",
            actor=actor,
            revision=revision.partition_key,
            details={"content_hash": revision.content_hash, "type": revision.request.type.value, **received},
        )
        return revision, created

    def _register(self, data: bytes, path: Path) -> tuple[Revision, bool]:
        registry = self.workspace.registry
        request = load_request(
            data, filename=path.name, entities=self.workspace.entities.keys(), find_contract=registry.latest_request
        )
        if errors := unrenderable_text(request):
            raise InvalidRequest(errors)
        try:
            return registry.register(request, source_file=str(path.resolve()))
        except TypeChanged as exc:
            raise InvalidRequest([FieldError("type", str(exc))]) from None

    def ensure_partitions(self, keys: Iterable[str]) -> None:
        """Add the dynamic partitions that are missing (idempotent, batched)."""
        existing = set(self.instance.get_dynamic_partitions(REVISIONS))
        missing = [key for key in keys if key not in existing]
        for start in range(0, len(missing), PARTITION_BATCH):
            self.instance.add_dynamic_partitions(REVISIONS, missing[start : start + PARTITION_BATCH])

    # --- decisions ---------------------------------------------------------------------

    def record_decision(self, signed: SignedDecision) -> tuple[bool, str | None, str | None]:
        """Verify a signed decision against its revision and record it, accepted or refused,
        in the decision log and the audit trail.

        Returns whether it counted, why not, and the revision's approval status afterwards.
        A refused decision changes nothing but the refusal record kept beside the
        revision's accepted decisions.
        """
        self.audit_configuration()
        counted, reason, state = self._record_decision(signed)
        payload = signed.payload
        details = {
            "decision_id": signed.decision_id,
            "approver": payload.approver,
            "role": payload.role,
            "decision": payload.decision,
            "content_hash": payload.content_hash,
        }
        if counted:
            self.audit.append(
                "decision_accepted",
                key=f"decision:{signed.decision_id}",
                actor=payload.approver,
                revision=payload.partition_key,
                details={**details, "approval_status": state},
            )
        else:
            self.audit.append(
                "decision_refused",
                key=f"refused:{signed.decision_id}:{sha256_bytes(str(reason).encode())[:16]}",
                actor=self.actor,
                revision=payload.partition_key if _safe_key(payload.partition_key) else None,
                details={**details, "reason": reason},
            )
        if counted:
            self.record_stages(parse_partition_key(payload.partition_key)[0])
        return counted, reason, state

    def _record_decision(self, signed: SignedDecision) -> tuple[bool, str | None, str | None]:
        log = self.workspace.decisions
        key = signed.payload.partition_key
        try:
            revision = self.workspace.registry.get(key)
        except (KeyError, ValueError):
            reason = f"no revision {key} has been submitted"
            if _safe_key(key):  # a key that cannot name a folder is refused unrecorded
                log.record(signed, reason)
            return False, reason, None
        status = self.status_of(revision)
        if status.routing is None or status.stage is Stage.EXPIRED:
            reason = f"revision not pending: {key} is {status.stage.value}, not awaiting approval"
            log.record(signed, reason)
            return False, reason, None
        counted, reason, state = record_decision(
            signed,
            log=log,
            routing=status.routing,
            revision=revision,
            approvers=self.workspace.approvers.load(),
            superseded=status.stage is Stage.SUPERSEDED,
        )
        return counted, reason, state.status

    def awaiting_approval(self) -> list[tuple[RevisionStatus, datetime]]:
        """Revisions waiting for people, each with when it started waiting (UTC)."""
        waiting = []
        for status in self.statuses():
            if status.stage is not Stage.AWAITING_APPROVAL:
                continue
            records = self.instance.fetch_materializations(
                AssetRecordsFilter(
                    asset_key=AssetKey("approval_routing"),
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

    # --- status ------------------------------------------------------------------------

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
            for asset in STATUS_ASSETS
            if self.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[key]), limit=1
            ).records
        }
        return self._status(revision, done, latest_number, last_run)

    def record_stages(self, contract_id: str) -> list[RevisionStatus]:
        """Observe the stage of each revision of a contract that moved (revision_stage in
        the UI); returns their statuses. Costs the contract's revisions, not the register."""
        statuses = self.statuses(contract_id)
        for status in statuses:
            record_stage(self.instance, status)
        return statuses

    def _last_runs(self) -> dict[str, tuple[str, DagsterRunStatus]]:
        """Each revision's newest run (id, status), from one query of the run table."""
        return {
            data.partition: (data.run_id, data.status)
            for data in self.instance.get_run_partition_data(RunsFilter())
        }

    def _materialized(self) -> dict[str, set[str]]:
        return {
            asset: self.instance.get_materialized_partitions(AssetKey(asset))
            for asset in STATUS_ASSETS
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

        record = read("approval_record", ApprovalRecord)
        waiting = blocked_on(revision, self.workspace.registry, layout)
        stage = derive_stage(
            materialized=done,
            record=record,
            superseded=revision.revision < latest_number,
            failed=error is not None,
            blocked=waiting is not None,
        )
        if stage is Stage.AWAITING_APPROVAL and self.workspace.decisions.expired_at(key):
            stage = Stage.EXPIRED
        if stage is Stage.DRAFTED and last_run_id and self._draft_checked(last_run_id):
            stage = Stage.CHECKED
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
            record.dagster_event.event_specific_data.asset_key == AssetKey("contract_draft")
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

    # --- run ---------------------------------------------------------------------------

    def partitions_in_flight(self) -> set[str]:
        """Revisions with a pipeline run queued or running (the daemon's, another console's):
        their state is still moving, so nobody else starts them."""
        records = self.instance.get_run_records(
            RunsFilter(job_name="contract_pipeline", statuses=IN_FLIGHT)
        )
        return {
            r.dagster_run.tags[PARTITION_TAG] for r in records if PARTITION_TAG in r.dagster_run.tags
        }

    def left_to_run_retries(self) -> list[tuple[RevisionStatus, str]]:
        """Failed revisions whose last run the daemon's run retries start again (a run it
        launched whose process died), each with that run's id: nobody else resumes them."""
        failed = [s for s in self.statuses() if s.stage is Stage.FAILED and s.last_run_id]
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
        for status in self.statuses():
            item = self._work_for(status)
            if item is not None and item.steps:
                work.append(item)
        return work

    def _work_for(self, status: RevisionStatus) -> WorkItem | None:
        revision = status.revision
        steps = [asset for asset in PIPELINE if asset not in status.materialized]
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
        if blocked_on(revision, self.workspace.registry, self.workspace.layout):
            # An sow waiting for its MSA: validate it now, draft it once the MSA is approved.
            return WorkItem(status, [s for s in steps if s == "contract_request"], f"{key}:intake")
        if status.stage is Stage.RECEIVED:
            return WorkItem(status, steps, f"{key}:intake")
        parent = revision.request.sow.parent_contract_id if revision.request.sow else None
        if parent is not None:
            approved = approved_revision(parent, self.workspace.registry, self.workspace.layout)
            return WorkItem(status, steps, f"{key}:parent:{approved.partition_key if approved else '-'}")
        return WorkItem(status, steps, f"{key}:resume:{steps[0] if steps else '-'}")

    def _resume_steps(self, status: RevisionStatus, missing: list[str]) -> list[str]:
        """What a failed revision runs again: every step with no materialization, and the step
        whose blocking check failed with everything after it.

        Only missing steps, not everything after the first missing one: the executor's order
        is not PIPELINE's (review_copy may finish before approval_record), so a run killed
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
            (PIPELINE.index(asset) for asset in failed_checks if asset in PIPELINE),
            default=len(PIPELINE),
        )
        return [
            asset
            for index, asset in enumerate(PIPELINE)
            if asset in missing or (index >= first_failed and asset in status.materialized)
        ]

    def run(
        self,
        execute: Callable[[str, list[str]], bool],
        progress: Callable[[RevisionStatus], None],
    ) -> list[RevisionStatus]:
        """Run every revision with work to do, oldest submission first; report each.

        Runs again while a run made new work due (an approved MSA unblocks its SOW), at most
        a few rounds, and never the same work twice: a revision that failed waits for the
        next `run`. A revision with a run queued or going elsewhere (the daemon, another
        console) or left to the daemon's run retries is left to them.
        """
        self.audit_configuration()
        registry = self.workspace.registry
        self.ensure_partitions(r.partition_key for r in registry.all())
        results, done, failed_here = [], set(), set()
        for _ in range(5):
            busy = self.partitions_in_flight() | {
                status.revision.partition_key for status, _ in self.left_to_run_retries()
            }
            work = [
                item
                for item in self.pending()
                if item.key not in done
                and item.status.revision.partition_key not in busy | failed_here
            ]
            for item in work:
                done.add(item.key)
                execute(item.status.revision.partition_key, item.steps)
                after = self.status_of(item.status.revision)
                record_stage(self.instance, after)
                if after.stage is Stage.FAILED:  # run again by the next `run`, not this one
                    failed_here.add(after.revision.partition_key)
                progress(after)
                results.append(after)
            if not work:
                break
        return results


# What a requester may still have to hear about a revision in each stage.
_POSSIBLE_OUTCOMES = {
    Stage.AWAITING_APPROVAL: ("approved", "rejected", "changes_requested"),
    Stage.APPROVED: ("approved",),
    Stage.RENDERED: ("approved",),
    Stage.READY_FOR_SIGNATURE: ("approved", "ready_for_signature"),
    Stage.REJECTED: ("rejected",),
    Stage.CHANGES_REQUESTED: ("changes_requested",),
}


def _safe_key(key: str) -> bool:
    """Whether `key` is a revision key, so that it may name a folder."""
    try:
        parse_partition_key(key)
    except ValueError:
        return False
    return True


def _file_hash(path: Path) -> str | None:
    """A configuration file's SHA-256, or None when it is absent (the shipped one applies)."""
    return sha256_file(path) if path.exists() else None
