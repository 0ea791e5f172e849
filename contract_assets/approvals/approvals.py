"""Signed human approvals (PRODUCT.md section 5): who may decide, and when a decision counts.

Approvers are configuration: `approvers.yaml` in the home's config directory lists each
one's email, roles and Ed25519 public key. A decision is a `DecisionPayload` (revision,
content hash, role, approver, decision, time) signed with the approver's private key. It
counts only after `verify_decision` finds nothing wrong with it; `record_decision` verifies
and records under a lock, so the log of a revision only ever holds decisions that counted
(`accepted/`) and refusals with their reasons (`refused/`). The approval state of a
revision is a function of its routing and its accepted decisions, nothing else.

Longer than 400 lines on purpose: a decision's whole life (who may sign, the signature,
its verification, the log it lands in, what it makes of the revision) is one rule, read
in one file.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    ValidationError,
    field_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from sqlalchemy.engine import Connection

from contract_assets.approvals import signing
from contract_assets.intake.revisions import parse_partition_key
from contract_assets.platform.files import (
    atomic_write_bytes,
    canonical_json,
    sha256_bytes,
)
from contract_assets.platform.models import (
    ApprovalRouting,
    Email,
    RecordedDecision,
    RequiredApproval,
    Revision,
    StoredModel,
    StrictModel,
)
from contract_assets.platform.records import RecordStore
from contract_assets.platform.serialization import dump_model, load_model

APPROVERS_FILE = "approvers.yaml"

# --- approvers ---------------------------------------------------------------------------


def _public_key_pem(value: str) -> str:
    try:
        signing.load_public_key(value)
    except signing.InvalidKey as exc:
        raise ValueError(str(exc)) from None
    return value


def _distinct(values: list[str]) -> list[str]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"lists {', '.join(repeated)} more than once")
    return values


ApproverName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Role = Annotated[str, Field(min_length=1, max_length=64)]


class Approver(StrictModel):
    """A person who may decide for some roles, and the public key their decisions verify with."""

    name: ApproverName
    email: Email
    roles: Annotated[list[Role], Field(min_length=1), AfterValidator(_distinct)]
    public_key: Annotated[str, AfterValidator(_public_key_pem)]

    def is_person(self, email: str) -> bool:
        """Whether `email` is this approver's address (emails compare case-insensitively)."""
        return self.email.casefold() == email.casefold()


class _ApproversFile(StrictModel):
    approvers: list[Approver] = []

    @field_validator("approvers")
    @classmethod
    def _names_unique(cls, approvers: list[Approver]) -> list[Approver]:
        _distinct([a.name for a in approvers])
        return approvers


class ApproverConfigError(Exception):
    """`approvers.yaml` cannot be read or is invalid; the message names the file and the field."""


class ApproverDirectory:
    """The approvers listed in `<config_dir>/approvers.yaml`; a missing file lists nobody."""

    def __init__(self, config_dir: Path):
        self.path = config_dir / APPROVERS_FILE

    def load(self) -> dict[str, Approver]:
        """Every approver by name, in file order."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise ApproverConfigError(
                f"{self.path}: cannot read the approvers file: {exc}"
            ) from None
        try:
            data = _yaml().load(text)
        except YAMLError as exc:
            raise ApproverConfigError(f"{self.path}: not valid YAML: {exc}") from None
        try:
            parsed = _ApproversFile.model_validate(data if data is not None else {})
        except ValidationError as exc:
            raise ApproverConfigError(f"{self.path}: invalid approvers file: {exc}") from None
        return {approver.name: approver for approver in parsed.approvers}

    def save(self, approvers: Iterable[Approver]) -> None:
        """Replace the file with `approvers`, atomically."""
        document = _ApproversFile(approvers=list(approvers))
        buffer = io.StringIO()
        _yaml().dump(document.model_dump(mode="json"), buffer)
        atomic_write_bytes(self.path, buffer.getvalue().encode("utf-8"))

    def add(self, approver: Approver) -> dict[str, Approver]:
        """List `approver`, replacing an approver of the same name; returns the new directory."""
        approvers = self.load()
        approvers[approver.name] = approver
        self.save(approvers.values())
        return approvers


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.representer.sort_base_mapping_type_on_output = False
    # PEM keys read best as literal blocks, exactly as they appear in the .pub file.
    yaml.representer.add_representer(str, _literal_if_multiline)
    return yaml


def _literal_if_multiline(representer: Any, text: str) -> Any:
    style = "|" if "\n" in text else None
    return representer.represent_scalar("tag:yaml.org,2002:str", text, style=style)


# --- decisions ---------------------------------------------------------------------------

Decision = Literal["approve", "reject", "request_changes"]
ApprovalStatus = Literal["awaiting_approval", "approved", "rejected", "changes_requested"]


class DecisionPayload(StrictModel):
    """What an approver signs: their decision for one role on one exact revision, and when."""

    partition_key: Annotated[str, Field(min_length=1, max_length=200)]
    content_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    role: Role
    approver: Annotated[str, Field(min_length=1, max_length=64)]
    decision: Decision
    signed_at: Annotated[AwareDatetime, AfterValidator(lambda moment: moment.astimezone(UTC))]
    comment: Annotated[str, Field(max_length=2000)] | None = None

    def message(self) -> bytes:
        """The exact bytes that are signed: the canonical JSON of this payload."""
        return canonical_json(self.model_dump(mode="json"))


def _canonical_base64(value: str) -> str:
    # One signature, one spelling: otherwise a re-encoded copy would pass as a new decision.
    try:
        return base64.b64encode(base64.b64decode(value, validate=True)).decode("ascii")
    except (binascii.Error, ValueError):
        return value  # left as is; it fails verification as a forged signature


class SignedDecision(StoredModel):
    payload: DecisionPayload
    signature: Annotated[str, Field(max_length=200), AfterValidator(_canonical_base64)]

    @property
    def decision_id(self) -> str:
        """The identity of this signed decision: sha256 of the signed bytes and the signature."""
        return sha256_bytes(self.payload.message() + self.signature.encode("ascii", "replace"))


class RefusedDecision(StoredModel):
    """A decision that did not count, kept with the reason it was refused."""

    decision: SignedDecision
    reason: str
    refused_at: datetime


def recorded(signed: SignedDecision) -> RecordedDecision:
    """A verified decision as the approval record and the status keep it."""
    payload = signed.payload
    return RecordedDecision(
        decision_id=signed.decision_id,
        approver=payload.approver,
        role=payload.role,
        decision=payload.decision,
        signed_at=payload.signed_at,
        comment=payload.comment,
    )


def sign_decision(payload: DecisionPayload, private_pem: bytes) -> SignedDecision:
    """Sign `payload` with an approver's private key (PEM)."""
    return SignedDecision(payload=payload, signature=signing.sign(private_pem, payload.message()))


# --- approval state ----------------------------------------------------------------------


class ApprovalState(StrictModel):
    """Where a revision's approval stands.

    `approvals` holds every accepted decision in order (a rejection or change request
    too); `pending_roles` the required approvals still missing while awaiting approval;
    `open_tier` the tier that may decide now (None once the revision is decided).
    """

    status: ApprovalStatus
    open_tier: int | None
    approvals: list[SignedDecision]
    pending_roles: list[RequiredApproval]


_CLOSING: dict[str, ApprovalStatus] = {"reject": "rejected", "request_changes": "changes_requested"}
_OUTCOME = {
    "approved": "approved",
    "rejected": "rejected",
    "changes_requested": "closed (changes requested)",
}


def approval_state(routing: ApprovalRouting, accepted: list[SignedDecision]) -> ApprovalState:
    """The state that `routing` and its `accepted` decisions (in order) put a revision in."""
    if routing.auto_approved or not routing.required_approvals:
        return ApprovalState(status="approved", open_tier=None, approvals=[], pending_roles=[])
    for decision in accepted:
        closing = _CLOSING.get(decision.payload.decision)
        if closing:
            return ApprovalState(
                status=closing, open_tier=None, approvals=list(accepted), pending_roles=[]
            )
    approved = {d.payload.role for d in accepted}
    pending = [r for r in routing.required_approvals if r.role not in approved]
    return ApprovalState(
        status="awaiting_approval" if pending else "approved",
        open_tier=min((r.tier for r in pending), default=None),
        approvals=list(accepted),
        pending_roles=pending,
    )


def verify_decision(
    signed: SignedDecision,
    *,
    routing: ApprovalRouting,
    revision: Revision,
    approvers: dict[str, Approver],
    accepted: list[SignedDecision],
    recorded_ids: set[str],
    superseded: bool,
) -> str | None:
    """None when `signed` counts for `revision`; otherwise the reason it is refused.

    The checks run from the decision itself (replay, signer, signature, which revision it
    binds to) to the revision's state (pending, role, tier) to the person (own request, one
    approval per person), so each refusal names the most specific rule that was broken.
    Every reason starts with the rule's name and a colon, e.g. "tier not open yet: ...".
    """
    payload = signed.payload
    key = revision.partition_key
    if signed.decision_id in recorded_ids:
        return (
            f"replay: this exact signed decision ({signed.decision_id[:12]}) was already "
            f"recorded for {key}; sign a new decision instead"
        )
    approver = approvers.get(payload.approver)
    if approver is None:
        return (
            f"unknown approver: '{payload.approver}' is not listed in {APPROVERS_FILE}; "
            "register them with `contract-assets approvers add`"
        )
    if not signing.verify(approver.public_key, payload.message(), signed.signature):
        return (
            f"forged signature: the decision does not verify against the public key of "
            f"'{approver.name}' (signed with another key, or altered after signing)"
        )
    if payload.partition_key != key or payload.content_hash != revision.content_hash:
        return (
            f"wrong revision: the decision was signed for {payload.partition_key} (content "
            f"{payload.content_hash[:12]}), not for {key} (content "
            f"{revision.content_hash[:12]}); a decision cannot approve any other revision"
        )
    state = approval_state(routing, accepted)
    if superseded:
        return f"revision not pending: {key} was superseded by a newer revision"
    if state.status != "awaiting_approval":
        return f"revision not pending: {key} is already {_OUTCOME[state.status]}"
    if payload.role not in approver.roles:
        return (
            f"role not held: '{approver.name}' does not hold the role '{payload.role}' "
            f"(holds: {', '.join(approver.roles)})"
        )
    required = {r.role: r for r in routing.required_approvals}
    if payload.role not in required:
        return (
            f"role not required: {key} does not need a '{payload.role}' decision "
            f"(needs: {', '.join(required)})"
        )
    given = next((d for d in accepted if d.payload.role == payload.role), None)
    if given is not None:
        return (
            f"role already decided: the '{payload.role}' decision on {key} is already in "
            f"(given by '{given.payload.approver}')"
        )
    tier = required[payload.role].tier
    if state.open_tier is not None and tier > state.open_tier:
        waiting = ", ".join(r.role for r in state.pending_roles if r.tier == state.open_tier)
        return (
            f"tier not open yet: '{payload.role}' decides in tier {tier}, which opens when "
            f"every tier-{state.open_tier} approval is in (still waiting for: {waiting})"
        )
    if approver.is_person(revision.request.requested_by):
        return (
            f"own request: '{approver.name}' requested {key} (their email is its "
            "requested_by) and cannot decide on it"
        )
    earlier = next((d for d in accepted if _same_person(d, approver, approvers)), None)
    if earlier is not None:
        return (
            f"second approval by the same person: '{approver.name}' already gave the "
            f"'{earlier.payload.role}' decision on {key}; one person gives at most one of a "
            "revision's approvals"
        )
    return None


def _same_person(
    decision: SignedDecision, approver: Approver, approvers: dict[str, Approver]
) -> bool:
    if decision.payload.approver == approver.name:
        return True
    other = approvers.get(decision.payload.approver)
    return other is not None and approver.is_person(other.email)


# --- the decision log --------------------------------------------------------------------

class DecisionLog:
    """Append-only decisions per revision, as records in the project's database.

    Each decision that counted is a `decision.accepted` record (in the order accepted);
    each refused attempt a `decision.refused` record with its reason; an expired revision
    has one `decision.expired` record. Records are added once and never changed.
    """

    ACCEPTED, REFUSED, EXPIRED = "decision.accepted", "decision.refused", "decision.expired"

    def __init__(self, store: RecordStore):
        self.store = store

    def accepted(self, partition_key: str, *, connection: Connection | None = None) -> list[SignedDecision]:
        """The decisions that counted for a revision, in the order they were accepted."""
        records = self.store.list(self.ACCEPTED, _checked(partition_key), connection=connection)
        return [load_model(r.body, SignedDecision, source=f"decision {r.name}") for r in records]

    def refused(
        self, partition_key: str, *, connection: Connection | None = None
    ) -> list[tuple[SignedDecision, str]]:
        """Every refused attempt on a revision with its reason, oldest first."""
        records = self.store.list(self.REFUSED, _checked(partition_key), connection=connection)
        refusals = [load_model(r.body, RefusedDecision, source=f"refusal {r.name}") for r in records]
        return [(refusal.decision, refusal.reason) for refusal in refusals]

    def recorded_ids(self, partition_key: str, *, connection: Connection | None = None) -> set[str]:
        """The ids of every decision recorded for a revision, accepted or refused."""
        accepted = {d.decision_id for d in self.accepted(partition_key, connection=connection)}
        return accepted | {d.decision_id for d, _ in self.refused(partition_key, connection=connection)}

    def record(
        self, signed: SignedDecision, reason: str | None, *, partition_key: str | None = None
    ) -> bool:
        """Record `signed` as accepted (`reason` None) or refused with `reason`; True when a
        record was added (an accepted decision already there adds nothing).

        Filed under `partition_key` (default: the revision the decision names).
        """
        key = partition_key or signed.payload.partition_key
        with self.lock(key) as connection:
            return self.write(key, signed, reason, connection=connection)

    def expire(self, partition_key: str, at: datetime) -> None:
        """Mark a pending revision expired (its approval window has passed); idempotent."""
        body = canonical_json({"expired_at": at.isoformat()})
        self.store.add(self.EXPIRED, _checked(partition_key), "expired", body)

    def expired_at(self, partition_key: str) -> datetime | None:
        body = self.store.get(self.EXPIRED, _checked(partition_key), "expired")
        return None if body is None else datetime.fromisoformat(json.loads(body)["expired_at"])

    def lock(self, partition_key: str):  # noqa: ANN201
        """Hold the write lock (one reader-then-writer at a time, across processes); yields
        the connection that reads and writes inside it."""
        _checked(partition_key)
        return self.store.transaction()

    def write(self, key: str, signed: SignedDecision, reason: str | None, *, connection: Connection) -> bool:
        """Add the record of one decision, inside `lock(key)`."""
        if reason is not None:
            refused_at = datetime.now(UTC)
            record = RefusedDecision(decision=signed, reason=reason, refused_at=refused_at)
            name = f"{refused_at.strftime('%Y%m%dT%H%M%S%fZ')}-{signed.decision_id}"
            return self.store.add(self.REFUSED, key, name, dump_model(record), connection=connection)
        return self.store.add(self.ACCEPTED, key, signed.decision_id, dump_model(signed), connection=connection)


def _checked(partition_key: str) -> str:
    """A revision key, or ValueError: decisions are filed only under real revision keys."""
    parse_partition_key(partition_key)
    return partition_key


def record_decision(
    signed: SignedDecision,
    *,
    log: DecisionLog,
    routing: ApprovalRouting,
    revision: Revision,
    approvers: dict[str, Approver],
    superseded: bool,
) -> tuple[bool, str | None, ApprovalState]:
    """Verify `signed` against `revision` and record it, accepted or refused, under its lock.

    Returns whether it counted, the reason when it did not, and the revision's approval
    state afterwards. A refused decision changes nothing but the refusal record. The lock
    keeps two concurrent decisions from both taking the last open slot.
    """
    key = revision.partition_key
    if routing.partition_key != key or routing.content_hash != revision.content_hash:
        raise ValueError(
            f"the routing of {routing.partition_key} does not belong to revision {key}"
        )
    with log.lock(key) as connection:
        accepted = log.accepted(key, connection=connection)
        reason = verify_decision(
            signed,
            routing=routing,
            revision=revision,
            approvers=approvers,
            accepted=accepted,
            recorded_ids=log.recorded_ids(key, connection=connection),
            superseded=superseded,
        )
        log.write(key, signed, reason, connection=connection)
        if reason is None:
            accepted = [*accepted, signed]
        return reason is None, reason, approval_state(routing, accepted)
