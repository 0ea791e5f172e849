"""The project's own database: registered revisions, decisions, alerts and the audit trail.

SQLite in the home (`records.db`) by default; with $CONTRACT_ASSETS_DATABASE_URL, the same
PostgreSQL database as the Dagster instance. Records are immutable bodies (the bytes the
serializer made) filed by kind, scope (a contract or a revision) and name; a name is added
once and never changed. Writers that read before they write (the next revision number,
the last open approval) do so inside `transaction()`, which holds the write lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from contract_assets.platform.files import PRIVATE_FILE_MODE, private_directory

DATABASE_ENV = "CONTRACT_ASSETS_DATABASE_URL"  # the one PostgreSQL setting (README)
SCHEMA_LOCK_ID = 7_242_026  # the PostgreSQL advisory lock that serializes schema creation

metadata = MetaData()
records_table = Table(
    "contract_assets_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("scope", String(200), nullable=False),
    Column("name", String(300), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", String(40), nullable=False),
    UniqueConstraint("kind", "scope", "name", name="contract_assets_records_once"),
)

# The audit trail (domain.audit): one row per entry, chained by hashes.
audit_table = Table(
    "contract_assets_audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("key", String(512), nullable=False, unique=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("revision", String(200), nullable=True),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)


def records_url(root: Path) -> str:
    """The project's database: the PostgreSQL one when configured, else SQLite in the home."""
    return os.environ.get(DATABASE_ENV) or f"sqlite:///{root / 'records.db'}"


@lru_cache(maxsize=16)
def _engine(url: str, *, writer: bool) -> Engine:
    """One engine per database, role and process; no pooled connection survives a fork."""
    if not url.startswith("sqlite"):
        return create_engine(url, poolclass=NullPool)
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 60})
    if writer:

        @event.listens_for(engine, "connect")
        def _manual_transactions(dbapi_connection, _record):  # noqa: ANN001
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _write_lock_first(connection):  # noqa: ANN001
            # A writer reads, then writes: take the write lock before the read.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def read_engine(url: str) -> Engine:
    return _engine(url, writer=False)


@contextmanager
def write_transaction(url: str, table: str) -> Iterator[Connection]:
    """A transaction holding the write lock of `table` (of the whole file on SQLite)."""
    with _engine(url, writer=True).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        yield connection


_ready: set[str] = set()


def _owner_only_file(path: Path) -> None:
    """Create the SQLite file owner-only before SQLite does (it would follow the umask);
    SQLite gives its journal the same mode."""
    private_directory(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE_MODE))
    os.chmod(path, PRIVATE_FILE_MODE)


def create_schema(url: str) -> None:
    """Create the project's tables where missing (what `contract-assets migrate` does)."""
    if url.startswith("sqlite:///"):
        _owner_only_file(Path(url.removeprefix("sqlite:///")))
    # Serialized, so that two processes starting at once do not both create a table.
    with _engine(url, writer=True).begin() as connection:  # SQLite: BEGIN IMMEDIATE
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_ID})")
        metadata.create_all(connection, checkfirst=True)
    _ready.add(url)


def ensure_schema(url: str) -> None:
    """Create the tables once per process, on first use."""
    if url not in _ready:
        create_schema(url)


@dataclass(frozen=True)
class Record:
    scope: str
    name: str
    body: bytes
    created_at: str


def _record(row) -> Record:  # noqa: ANN001
    return Record(row.scope, row.name, bytes(row.body), row.created_at)


class RecordStore:
    """Immutable records by (kind, scope, name), in the order they were added."""

    def __init__(self, url: str):
        self.url = url

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Hold the write lock; pass the connection to every read and add inside."""
        ensure_schema(self.url)
        with write_transaction(self.url, "contract_assets_records") as connection:
            yield connection

    @contextmanager
    def _reading(self, connection: Connection | None) -> Iterator[Connection]:
        if connection is not None:
            yield connection
            return
        ensure_schema(self.url)
        with read_engine(self.url).connect() as own:
            yield own

    def add(self, kind: str, scope: str, name: str, body: bytes, *, connection: Connection | None = None) -> bool:
        """Add a record unless one has this kind, scope and name; True when added now."""
        if connection is None:
            with self.transaction() as own:
                return self.add(kind, scope, name, body, connection=own)
        if self.get(kind, scope, name, connection=connection) is not None:
            return False
        connection.execute(
            insert(records_table).values(
                kind=kind,
                scope=scope,
                name=name,
                body=body,
                created_at=datetime.now(UTC).isoformat(timespec="microseconds"),
            )
        )
        return True

    def replace(self, kind: str, scope: str, name: str, body: bytes, *, connection: Connection) -> None:
        """Put new bytes of the same content in a record (re-encryption with a new key only)."""
        connection.execute(
            update(records_table)
            .where(records_table.c.kind == kind, records_table.c.scope == scope, records_table.c.name == name)
            .values(body=body)
        )

    def get(self, kind: str, scope: str, name: str, *, connection: Connection | None = None) -> bytes | None:
        query = select(records_table.c.body).where(
            records_table.c.kind == kind, records_table.c.scope == scope, records_table.c.name == name
        )
        with self._reading(connection) as reader:
            row = reader.execute(query).first()
        return bytes(row.body) if row is not None else None

    def list(self, kind: str, scope: str | None = None, *, connection: Connection | None = None) -> list[Record]:
        """Every record of a kind (in one scope), oldest first."""
        query = select(records_table).where(records_table.c.kind == kind).order_by(records_table.c.id)
        if scope is not None:
            query = query.where(records_table.c.scope == scope)
        with self._reading(connection) as reader:
            return [_record(row) for row in reader.execute(query)]
