"""The audit trail: an append-only record of every action, each entry hashing the one before.

Entries live in one table of the project's database (SQLite in the home by default, the
PostgreSQL database of the instance with $CONTRACT_ASSETS_DATABASE_URL). The head of the
chain (newest sequence number and hash) is also recorded outside the table (a head file
beside it, Dagster's event log, every signature manifest), so cutting off the newest
entries is detected as surely as editing one. Every entry has an idempotency key: a step
retried after a crash appends nothing the second time.

Entries name revisions, hashes and counts; never an email, name or address.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from contract_assets.platform.files import (
    atomic_write_bytes,
    canonical_json,
    sha256_bytes,
)
from contract_assets.platform.records import (
    audit_table,
    ensure_schema,
    read_engine,
    write_transaction,
)

GENESIS = "0" * 64
ACTOR_ENV = "CONTRACT_ASSETS_ACTOR"

# The actions the trail knows; anything else is a programming error, refused at append.
ACTIONS = frozenset(
    {
        "request_received",
        "input_rejected",
        "revision_registered",
        "draft_assembled",
        "risk_assessed",
        "approval_recorded",
        "decision_accepted",
        "decision_refused",
        "documents_rendered",
        "package_sealed",
        "executed_copy_received",
        "run_failed",
        "configuration_changed",
        "access_refused",
    }
)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    key: str
    at: str
    actor: str
    action: str
    revision: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """What the hash covers: everything but the hash itself."""
        data = asdict(self)
        del data["hash"]
        return data

    def computed_hash(self) -> str:
        return sha256_bytes(canonical_json(self.body()))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditHead:
    """The newest entry as seen by a witness outside the table."""

    seq: int
    hash: str
    witness: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash}


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    message: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.message}"


@dataclass
class AuditReport:
    entries: int
    head: AuditHead | None
    problems: list[AuditProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def current_actor() -> str:
    """Who is acting: $CONTRACT_ASSETS_ACTOR when set (a service account, a proxy's user),
    else the operating-system user."""
    explicit = os.environ.get(ACTOR_ENV, "").strip()
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"uid:{os.getuid()}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        key=row.key,
        at=row.at,
        actor=row.actor,
        action=row.action,
        revision=row.revision,
        details=json.loads(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class AuditTrail:
    """Append and read the chain; `witness` is told each new head (Dagster's event log)."""

    def __init__(
        self,
        url: str,
        head_file: Path,
        *,
        witness: Callable[[AuditEntry], None] | None = None,
    ):
        self.url = url
        self.head_file = head_file
        self.witness = witness

    @property
    def engine(self):  # noqa: ANN201
        """The engine that reads the trail (tests also write through it, to tamper)."""
        ensure_schema(self.url)
        return read_engine(self.url)

    def append(
        self,
        action: str,
        *,
        key: str,
        actor: str,
        revision: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry, or return the entry already appended under `key`."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        details = json.loads(canonical_json(details or {}))  # plain JSON, as it will read back
        if (existing := self.find(key)) is not None:
            return existing
        ensure_schema(self.url)
        with write_transaction(self.url, "contract_assets_audit") as connection:
            row = connection.execute(select(audit_table).where(audit_table.c.key == key)).first()
            if row is not None:
                return _entry(row)
            last = connection.execute(
                select(audit_table.c.seq, audit_table.c.hash).order_by(audit_table.c.seq.desc()).limit(1)
            ).first()
            seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS)
            unsealed = AuditEntry(seq, key, _now(), actor, action, revision, details, prev_hash, "")
            entry = AuditEntry(**{**asdict(unsealed), "hash": unsealed.computed_hash()})
            connection.execute(
                insert(audit_table).values(**{**entry.as_json(), "details": json.dumps(entry.details)})
            )
        self._record_head(entry)
        return entry

    def _record_head(self, entry: AuditEntry) -> None:
        recorded = self.recorded_head()
        if recorded is None or recorded.seq < entry.seq:
            atomic_write_bytes(self.head_file, canonical_json({"seq": entry.seq, "hash": entry.hash}))
        if self.witness is not None:
            self.witness(entry)

    def recorded_head(self) -> AuditHead | None:
        """The head as the head file records it."""
        try:
            data = json.loads(self.head_file.read_bytes())
        except FileNotFoundError:
            return None
        return AuditHead(int(data["seq"]), str(data["hash"]), witness=str(self.head_file))

    def find(self, key: str) -> AuditEntry | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(audit_table).where(audit_table.c.key == key)).first()
        return _entry(row) if row is not None else None

    def latest(self, action: str) -> AuditEntry | None:
        """The newest entry of one kind of action."""
        query = (
            select(audit_table).where(audit_table.c.action == action).order_by(audit_table.c.seq.desc()).limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return _entry(row) if row is not None else None

    def entries(self, revision: str | None = None) -> Iterator[AuditEntry]:
        query = select(audit_table).order_by(audit_table.c.seq)
        if revision is not None:
            query = query.where(audit_table.c.revision == revision)
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                yield _entry(row)

    def head(self) -> AuditHead | None:
        with self.engine.connect() as connection:
            last = connection.execute(
                select(audit_table.c.seq, audit_table.c.hash).order_by(audit_table.c.seq.desc()).limit(1)
            ).first()
        return AuditHead(last.seq, last.hash, witness="table") if last else None

    def verify(self, witnesses: Iterable[AuditHead] = ()) -> AuditReport:
        """Walk the chain; check it against the head file and every other witness given."""
        return verify_chain(list(self.entries()), [*filter(None, [self.recorded_head()]), *witnesses])


def verify_chain(entries: list[AuditEntry], witnesses: list[AuditHead]) -> AuditReport:
    """Problems in a chain read in sequence order, each naming the first entry it concerns.

    An edited entry no longer matches its hash (or, if the hash was recomputed, no longer
    matches what the next entry or a witness recorded); a deleted one leaves a gap; a
    reordered one breaks the link to its predecessor; removing the newest leaves the chain
    shorter than a witness saw it.
    """
    problems: list[AuditProblem] = []
    by_seq: dict[int, AuditEntry] = {}
    hashes = {entry.hash for entry in entries}
    witnessed = {witness.seq: witness.hash for witness in witnesses}
    previous: AuditEntry | None = None
    for position, entry in enumerate(entries, 1):
        by_seq[entry.seq] = entry
        if entry.seq != position:
            expected = position if entry.seq > position else entry.seq
            problems.append(AuditProblem(expected, "missing or out of order (sequence numbers skip or repeat here)"))
            break
        if entry.computed_hash() != entry.hash:
            problems.append(AuditProblem(entry.seq, f"changed: its content no longer matches its hash ({entry.action})"))
            break
        if entry.prev_hash != (previous.hash if previous else GENESIS):
            # This entry is intact: it follows another entry of the chain (it was moved), or
            # the one before it was rewritten with a fresh hash.
            predecessor_vouched = previous is not None and witnessed.get(previous.seq) == previous.hash
            if entry.prev_hash in hashes or previous is None or predecessor_vouched:
                problems.append(AuditProblem(entry.seq, "moved: it does not follow the entry before it"))
            else:
                problems.append(
                    AuditProblem(entry.seq - 1, "changed: the next entry recorded a different hash for it")
                )
            break
        previous = entry
    newest = entries[-1].seq if entries else 0
    if not problems:
        for witness in sorted(witnesses, key=lambda w: w.seq):
            if witness.seq > newest:
                problems.append(
                    AuditProblem(
                        newest + 1,
                        f"missing: {witness.witness or 'a witness'} saw the chain reach entry "
                        f"{witness.seq}, the table ends at {newest}",
                    )
                )
                break
            seen = by_seq.get(witness.seq)
            if seen is not None and seen.hash != witness.hash:
                problems.append(
                    AuditProblem(witness.seq, f"changed: {witness.witness or 'a witness'} recorded another hash for it")
                )
                break
    head = AuditHead(entries[-1].seq, entries[-1].hash, witness="table") if entries else None
    return AuditReport(entries=len(entries), head=head, problems=problems)


def export_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """The chain as JSON lines, one entry each, in sequence order."""
    for entry in entries:
        yield json.dumps(entry.as_json(), sort_keys=True, ensure_ascii=False)
