"""The revision registry: every submitted request, one immutable file per revision.

`requests/<contract_id>/r<N>.json` holds revision N's canonical request. A submission whose
content hash equals an earlier revision's is that revision; anything else becomes the next.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from contract_assets.domain.files import (
    atomic_write_bytes,
    canonical_json,
    exclusive_lock,
    sha256_bytes,
)
from contract_assets.domain.models import CONTRACT_ID_PATTERN, ContractRequest, Revision, shown
from contract_assets.domain.serialization import dump_model, load_model

_REVISION_FILE = re.compile(r"r(\d+)\.json")


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


class TypeChanged(Exception):
    """A later revision may change a contract's terms, not what kind of contract it is."""


class RevisionRegistry:
    def __init__(self, requests_dir: Path):
        self.requests_dir = requests_dir

    def revisions(self, contract_id: str) -> list[Revision]:
        """Every revision of one contract, oldest first (none for text that is no contract id)."""
        if not is_contract_id(contract_id):
            return []
        directory = self.requests_dir / contract_id
        if not directory.is_dir():
            return []
        numbered = []
        for path in directory.iterdir():
            match = _REVISION_FILE.fullmatch(path.name)
            if match:
                numbered.append((int(match.group(1)), path))
        return [self._read(path) for _, path in sorted(numbered)]

    def all(self) -> list[Revision]:
        """Every revision of every contract, in order of submission."""
        if not self.requests_dir.is_dir():
            return []
        revisions = [
            revision
            for directory in self.requests_dir.iterdir()
            if directory.is_dir()
            for revision in self.revisions(directory.name)
        ]
        return sorted(revisions, key=lambda r: (r.submitted_at, r.contract_id, r.revision))

    def get(self, key: str) -> Revision:
        contract_id, number = parse_partition_key(key)
        path = self.requests_dir / contract_id / f"r{number}.json"
        if not path.exists():
            raise KeyError(f"no revision {key} has been submitted")
        return self._read(path)

    def latest_request(self, contract_id: str) -> ContractRequest | None:
        revisions = self.revisions(contract_id)
        return revisions[-1].request if revisions else None

    def register(self, request: ContractRequest, *, source_file: str | None) -> tuple[Revision, bool]:
        """Store `request` as a revision; returns it and whether it is new.

        Equal content is the existing revision. Serialised by a lock so that two
        concurrent submissions of one contract never take the same number.
        """
        digest = content_hash(request)
        with self._lock():
            existing = self.revisions(request.contract_id)
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
            path = self.requests_dir / request.contract_id / f"r{number}.json"
            atomic_write_bytes(path, dump_model(revision))
            return revision, True

    def _read(self, path: Path) -> Revision:
        return load_model(path.read_bytes(), Revision, source=str(path))

    def _lock(self):
        return exclusive_lock(self.requests_dir / ".lock")
