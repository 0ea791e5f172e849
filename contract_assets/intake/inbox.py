"""The inbox: request files dropped into a folder, taken in order of arrival.

Convention for writers: write `name.yaml.part` (or any name starting with a dot), then
rename it to `name.yaml`; a rename within one filesystem is atomic, so a request file is
never seen half-written. Only `.yaml`, `.yml` and `.json` files are taken.

A file leaves the inbox for `processed/` or `quarantine/` as it came, or, with a data key,
encrypted as `<name>.enc` (it holds the signatory's email and the addresses in clear).
"""

from __future__ import annotations

import json
import os
import pwd
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract_assets.intake.requests import DOCUMENT, FieldError
from contract_assets.platform.files import (
    PRIVATE_FILE_MODE,
    atomic_write_bytes,
    private_directory,
)
from contract_assets.platform.protection import (
    ENCRYPTED_SUFFIX,
    DataProtection,
    without_emails,
)

REQUEST_SUFFIXES = {".yaml", ".yml", ".json"}
# A request file waiting longer than this means the inbox is not being drained (alert, health).
DRAIN_LIMIT = timedelta(minutes=10)


def _waiting(inbox: Path) -> list[tuple[int, str, Path]]:
    """(modification time in ns, name, path) of each request file in the inbox, oldest first."""
    if not inbox.is_dir():
        return []
    files = []
    for entry in os.scandir(inbox):
        path = Path(entry.path)
        if entry.name.startswith(".") or path.suffix.lower() not in REQUEST_SUFFIXES:
            continue
        if entry.is_symlink() or entry.is_file(follow_symlinks=False):
            files.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.name, path))
    return sorted(files)


def arrivals(inbox: Path) -> list[Path]:
    """Request files in the inbox, oldest first (modification time, then name).

    Symbolic links with a request name are listed too, so that they are quarantined
    (`refused_link`) rather than followed or left lying there.
    """
    return [path for _, _, path in _waiting(inbox)]


@dataclass(frozen=True)
class Backlog:
    """What waits in the inbox: how many request files, and the oldest one's name and time."""

    files: int
    oldest: str | None = None
    oldest_mtime_ns: int | None = None

    def oldest_age(self, now: datetime) -> timedelta | None:
        """How long the oldest file has waited at `now`; None when the inbox is empty."""
        if self.oldest_mtime_ns is None:
            return None
        return now - datetime.fromtimestamp(self.oldest_mtime_ns / 1e9, UTC)


def backlog(inbox: Path) -> Backlog:
    """The inbox's backlog, in one listing of the folder (the files the inbox sensor takes)."""
    waiting = _waiting(inbox)
    if not waiting:
        return Backlog(files=0)
    mtime_ns, name, _ = waiting[0]
    return Backlog(files=len(waiting), oldest=name, oldest_mtime_ns=mtime_ns)


def refused_link(path: Path) -> FieldError | None:
    """Why an inbox entry is not read: a link could point the daemon at any file it may
    read (and its error report would quote from it)."""
    if path.is_symlink():
        return FieldError(DOCUMENT, "is a symbolic link; put the request file itself into the inbox")
    return None


def _free_name(directory: Path, name: str) -> Path:
    """`name` in `directory`, or `stem.N.suffix` when a different file already has it."""
    target = directory / name
    stem, suffix, number = Path(name).stem, Path(name).suffix, 1
    while any(
        target.with_name(target.name + extra).exists()
        for extra in ("", ".error.json", ENCRYPTED_SUFFIX)
    ):
        number += 1
        target = directory / f"{stem}.{number}{suffix}"
    return target


def file_owner(path: Path) -> str:
    """Who dropped `path`: its owner's user name, or `uid:N` when the system has none."""
    uid = path.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def quarantine(
    path: Path, errors: list[FieldError], quarantine_dir: Path, protection: DataProtection
) -> Path:
    """Move a rejected file to quarantine beside `<name>.error.json` listing its errors.

    The report is written first, then the file is moved: a crash in between leaves the file
    in the inbox, and the next attempt writes a fresh report. The report stays plaintext
    (people read it to fix the file): field paths and rules, with emails masked.
    """
    private_directory(quarantine_dir)
    target = _free_name(quarantine_dir, path.name)
    report = {
        "file": path.name,
        "quarantined_at": datetime.now(UTC).isoformat(),
        "errors": [{"path": e.path, "message": without_emails(e.message)} for e in errors],
    }
    atomic_write_bytes(
        target.with_name(target.name + ".error.json"),
        json.dumps(report, indent=2, ensure_ascii=False).encode(),
    )
    return _keep(path, target, protection)


def archive(path: Path, processed_dir: Path, protection: DataProtection) -> Path | None:
    """Move a registered file out of the inbox; a file already gone is not an error."""
    if not path.exists():
        return None
    private_directory(processed_dir)
    return _keep(path, _free_name(processed_dir, path.name), protection)


def _keep(path: Path, target: Path, protection: DataProtection) -> Path:
    """Move `path` to `target`, owner-only; with a key, encrypted to `<target>.enc`.

    Encrypted, the sealed copy is written (atomically) before the original is removed: a
    crash in between keeps both, never neither.
    """
    if path.is_symlink():  # moved as it is, never followed: not read, not chmod-ed through
        os.replace(path, target)
        return target
    if not protection.enabled:
        os.replace(path, target)
        os.chmod(target, PRIVATE_FILE_MODE)
        return target
    sealed = target.with_name(target.name + ENCRYPTED_SUFFIX)
    atomic_write_bytes(sealed, protection.seal(path.read_bytes()))
    path.unlink(missing_ok=True)
    return sealed


def kept_files(directory: Path) -> list[Path]:
    """The raw files kept in `directory` (processed or quarantine), without error reports."""
    if not directory.is_dir():
        return []
    return [
        path
        for path in sorted(directory.iterdir())
        if path.is_file() and not path.name.startswith(".") and not path.name.endswith(".error.json")
    ]


def reseal_kept_file(path: Path, protection: DataProtection) -> Path:
    """Bring one kept file to the newest key: an encrypted one is re-encrypted, a plaintext
    one encrypted to `<name>.enc` (and removed). Returns the encrypted file."""
    if path.name.endswith(ENCRYPTED_SUFFIX):
        atomic_write_bytes(path, protection.reseal(path.read_bytes(), source=str(path)))
        return path
    return _keep(path, path, protection)
