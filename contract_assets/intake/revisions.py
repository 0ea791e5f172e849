"""The revision registry: every submitted request, one immutable record per revision.

Revision N of a contract is the record (`revision`, `<contract_id>`, `r<N>`) in the
project's database (`domain.records`). A submission whose content hash equals an earlier
revision's is that revision; anything else becomes the next.
With a data key the request is stored encrypted; its content hash is of the request itself,
so adding or rotating a key changes no hash and no decision bound to one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from contract_assets.platform.files import canonical_json, sha256_bytes
from contract_assets.platform.models import (
    CONTRACT_ID_PATTERN,
    ContractRequest,
    Revision,
    shown,
)
from contract_assets.platform.protection import DataKeyError, DataProtection
from contract_assets.platform.records import Record, RecordStore
from contract_assets.platform.serialization import (
    StoredTypeMismatch,
    dump_model,
    load_model,
    reseal_envelope,
)


def content_hash(request: ContractRequest) -> str:
    """SHA-256 of the request's canonical JSON: the identity a decision binds to."""
    return sha256_bytes(canonical_json(request.model_dump(mode="json")))


def partition_key(contract_id: str, revision: int) -> str:
    return f"{contract_id}.r{revision}"


def is_contract_id(text: str) -> bool:
    """Whether `text` is a contract id, and so safe to name a folder with."""
    return re.fullmatch(CONTRACT_ID_PATTERN, text) is not None


def parse_partition_key(key: str) -> tuple[str, int]:
    """`blue-fjord-msa.r2` -> ("blue-fjord-msa", 2); ValueError for anything else, so that
    no key that could name another folder (`../x.r1`) ever reaches a path."""
    contract_id, _, number = key.rpartition(".r")
    if not is_contract_id(contract_id) or not number.isascii() or not number.isdigit():
        raise ValueError(f"'{shown(key)}' is not a revision key like 'blue-fjord-msa.r2'")
    return contract_id, int(number)


def is_revision_key(text: str) -> bool:
    """Whether `text` is a revision key (`parse_partition_key` accepts it), and so safe to
    name a folder or a partition with."""
    try:
        parse_partition_key(text)
    except ValueError:
        return False
    return True


class TypeChanged(Exception):
    """A later revision may change a contract's terms, not what kind of contract it is."""


class RevisionRegistry:
    """Every registered revision, as immutable records in the project's database."""

    KIND = "revision"

    def __init__(self, store: RecordStore, protection: DataProtection | None = None):
        self.store = store
        self.protection = protection if protection is not None else DataProtection.from_env()

    def revisions(self, contract_id: str, *, connection: Connection | None = None) -> list[Revision]:
        """Every revision of one contract, oldest first (none for text that is no contract id)."""
        if not is_contract_id(contract_id):
            return []
        records = self.store.list(self.KIND, contract_id, connection=connection)
        return sorted((self._read(record) for record in records), key=lambda r: r.revision)

    def all(self) -> list[Revision]:
        """Every revision of every contract, in order of submission."""
        revisions = [self._read(record) for record in self.store.list(self.KIND)]
        return sorted(revisions, key=lambda r: (r.submitted_at, r.contract_id, r.revision))

    def get(self, key: str) -> Revision:
        contract_id, number = parse_partition_key(key)
        body = self.store.get(self.KIND, contract_id, _name(number))
        if body is None:
            raise KeyError(f"no revision {key} has been submitted")
        return load_model(body, Revision, source=f"revision {key}", protection=self.protection)

    def latest_request(self, contract_id: str) -> ContractRequest | None:
        revisions = self.revisions(contract_id)
        return revisions[-1].request if revisions else None

    def register(self, request: ContractRequest, *, source_file: str | None) -> tuple[Revision, bool]:
        """Store `request` as a revision; returns it and whether it is new.

        Equal content is the existing revision. One transaction holds the write lock from
        reading the contract's revisions to adding the new one, so two concurrent
        submissions of one contract never take the same number.
        """
        digest = content_hash(request)
        with self.store.transaction() as connection:
            existing = self.revisions(request.contract_id, connection=connection)
            for revision in existing:
                if revision.content_hash == digest:
                    return revision, False
            if existing and existing[0].request.type != request.type:
                raise TypeChanged(
                    f"contract '{request.contract_id}' is a {existing[0].request.type.value}; "
                    f"a revision cannot make it a {request.type.value}"
                )
            number = len(existing) + 1
            revision = Revision(
                contract_id=request.contract_id,
                revision=number,
                partition_key=partition_key(request.contract_id, number),
                content_hash=digest,
                submitted_at=datetime.now(UTC),
                source_file=source_file,
                request=request,
            )
            body = dump_model(revision, self.protection)
            self.store.add(self.KIND, request.contract_id, _name(number), body, connection=connection)
            return revision, True

    def reseal(self) -> tuple[int, dict[str, str]]:
        """Re-encrypt every stored revision with the newest data key (key rotation); returns
        how many were rewritten and, by revision, why any could not be."""
        rewritten, failed = 0, {}
        with self.store.transaction() as connection:
            for record in self.store.list(self.KIND, connection=connection):
                where = f"revision {record.scope}.{record.name}"
                try:
                    sealed = reseal_envelope(record.body, self.protection, source=where)
                except (DataKeyError, StoredTypeMismatch) as exc:
                    failed[where] = str(exc)
                    continue
                if sealed is not None:
                    self.store.replace(self.KIND, record.scope, record.name, sealed, connection=connection)
                    rewritten += 1
        return rewritten, failed

    def _read(self, record: Record) -> Revision:
        return load_model(
            record.body, Revision, source=f"revision {record.scope}.{record.name}", protection=self.protection
        )


def _name(number: int) -> str:
    return f"r{number}"
