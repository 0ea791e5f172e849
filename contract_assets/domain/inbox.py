"""The inbox: request files dropped into a folder, taken in order of arrival.

Convention for writers: write `name.yaml.part` (or any name starting with a dot), then
rename it to `name.yaml`; a rename within one filesystem is atomic, so a request file is
never seen half-written. Only `.yaml`, `.yml` and `.json` files are taken.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from contract_assets.domain.files import atomic_write_bytes
from contract_assets.domain.requests import DOCUMENT, FieldError

REQUEST_SUFFIXES = {".yaml", ".yml", ".json"}


def arrivals(inbox: Path) -> list[Path]:
    """Request files in the inbox, oldest first (modification time, then name).

    Symbolic links with a request name are listed too, so that they are quarantined
    (`refused_link`) rather than followed or left lying there.
    """
    if not inbox.is_dir():
        return []
    files = []
    for entry in os.scandir(inbox):
        path = Path(entry.path)
        if entry.name.startswith(".") or path.suffix.lower() not in REQUEST_SUFFIXES:
            continue
        if entry.is_symlink() or entry.is_file(follow_symlinks=False):
            files.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.name, path))
    return [path for _, _, path in sorted(files)]


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
    while target.exists() or target.with_name(target.name + ".error.json").exists():
        number += 1
        target = directory / f"{stem}.{number}{suffix}"
    return target


def quarantine(path: Path, errors: list[FieldError], quarantine_dir: Path) -> Path:
    """Move a rejected file to quarantine beside `<name>.error.json` listing its errors.

    The report is written first, then the file is moved (one atomic rename): a crash in
    between leaves the file in the inbox, and the next attempt writes a fresh report.
    """
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(quarantine_dir, path.name)
    report = {
        "file": path.name,
        "quarantined_at": datetime.now(UTC).isoformat(),
        "errors": [error.as_dict() for error in errors],
    }
    atomic_write_bytes(
        target.with_name(target.name + ".error.json"),
        json.dumps(report, indent=2, ensure_ascii=False).encode(),
    )
    os.replace(path, target)
    return target


def archive(path: Path, processed_dir: Path) -> Path | None:
    """Move a registered file out of the inbox; a file already gone is not an error."""
    if not path.exists():
        return None
    processed_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(processed_dir, path.name)
    os.replace(path, target)
    return target
