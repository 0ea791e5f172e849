"""Intake: a request file becomes a registered revision with its dynamic partition.

Validation refuses a file before anything is stored; the audit trail gets the arrival and
then the rejection or the new revision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract_assets.documents.packaging import unrenderable_text
from contract_assets.intake.requests import (
    FieldError,
    InvalidRequest,
    load_request,
    read_request_bytes,
)
from contract_assets.intake.revisions import TypeChanged
from contract_assets.pipeline.defs.change_guard import ActingService
from contract_assets.pipeline.defs.partitions import REVISIONS
from contract_assets.pipeline.defs.revision_stage import record_stages
from contract_assets.pipeline.stages import Stage
from contract_assets.platform.files import sha256_bytes
from contract_assets.platform.models import Revision

PARTITION_BATCH = 500  # SQLite limits the variables of one statement


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
class RevisionIntake(ActingService):
    """Submits and registers request files for one actor."""

    def submit(self, path: Path) -> SubmitResult:
        """Validate one request file and register it as a revision (or find its twin), with
        its dynamic partition. Raises InvalidRequest, having stored nothing, when any rule fails.
        """
        revision, created = self.register(path)
        self.ensure_partitions([revision.partition_key])
        # A new revision is received, and supersedes the contract's pending ones.
        statuses = record_stages(self.state, revision.contract_id)
        stage = next(s.stage for s in statuses if s.revision.revision == revision.revision)
        return SubmitResult(revision, created, stage)

    def register(self, path: Path, actor: str | None = None) -> tuple[Revision, bool]:
        """Validate and register a request file; the partition is the caller's to add.

        The audit trail gets the file's arrival, then its rejection (the field paths, never
        the values) or the new revision; the same file again adds nothing. `actor` is who
        submitted it (default: who runs this).
        """
        actor = actor or self.actor
        self.guard.audit_configuration()
        trail = self.guard.audit

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
