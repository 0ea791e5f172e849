"""What every service that changes something does first: check that the actor may, and log
the configuration in force. Refusals and configuration changes go to the audit trail.

`ActingService` is what those services share: one actor on one instance, with its guard and
its read-only view of where the revisions stand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import DagsterInstance

from contract_assets.audit.defs.auditing import trail_for
from contract_assets.audit.trail import AuditTrail, current_actor
from contract_assets.platform.access import AccessDenied, Permission
from contract_assets.platform.defs.resources import Workspace
from contract_assets.platform.files import canonical_json, sha256_bytes, sha256_file

if TYPE_CHECKING:
    from contract_assets.pipeline.defs.revision_state import RevisionState


@dataclass
class ChangeGuard:
    """Authorisation and configuration audit for one actor on one instance."""

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


@dataclass
class ActingService:
    """A service acting for `actor` (default: who runs this) on one instance."""

    workspace: Workspace
    instance: DagsterInstance
    actor: str = field(default_factory=current_actor)

    @cached_property
    def guard(self) -> ChangeGuard:
        return ChangeGuard(self.workspace, self.instance, self.actor)

    @cached_property
    def state(self) -> RevisionState:
        from contract_assets.pipeline.defs.revision_state import RevisionState

        return RevisionState(self.workspace, self.instance)


def _file_hash(path: Path) -> str | None:
    """A configuration file's SHA-256, or None when it is absent (the shipped one applies)."""
    return sha256_file(path) if path.exists() else None
