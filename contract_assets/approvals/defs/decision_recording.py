"""Signed approval decisions: verified against their revision, then recorded as accepted or
refused in the decision log and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from contract_assets.approvals.approvals import SignedDecision, record_decision
from contract_assets.intake.revisions import is_revision_key, parse_partition_key
from contract_assets.pipeline.defs.change_guard import ActingService
from contract_assets.pipeline.defs.revision_stage import record_stages
from contract_assets.pipeline.stages import Stage
from contract_assets.platform.files import sha256_bytes


@dataclass
class DecisionRecorder(ActingService):
    """Records signed decisions; who refused one is `actor` (who runs this)."""

    def record(self, signed: SignedDecision) -> tuple[bool, str | None, str | None]:
        """Verify a signed decision against its revision and record it, accepted or refused,
        in the decision log and the audit trail.

        Returns whether it counted, why not, and the revision's approval status afterwards.
        A refused decision changes nothing but the refusal record kept beside the
        revision's accepted decisions.
        """
        self.guard.audit_configuration()
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
            self.guard.audit.append(
                "decision_accepted",
                key=f"decision:{signed.decision_id}",
                actor=payload.approver,
                revision=payload.partition_key,
                details={**details, "approval_status": state},
            )
        else:
            self.guard.audit.append(
                "decision_refused",
                key=f"refused:{signed.decision_id}:{sha256_bytes(str(reason).encode())[:16]}",
                actor=self.actor,
                revision=payload.partition_key if is_revision_key(payload.partition_key) else None,
                details={**details, "reason": reason},
            )
        if counted:
            record_stages(self.state, parse_partition_key(payload.partition_key)[0])
        return counted, reason, state

    def _record_decision(self, signed: SignedDecision) -> tuple[bool, str | None, str | None]:
        log = self.workspace.decisions
        key = signed.payload.partition_key
        try:
            revision = self.workspace.registry.get(key)
        except (KeyError, ValueError):
            reason = f"no revision {key} has been submitted"
            if is_revision_key(key):  # a key that cannot name a folder is refused unrecorded
                log.record(signed, reason)
            return False, reason, None
        status = self.state.status_of(revision)
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
