"""Crash-safe file writes and content hashes: the one place that does either.

Everything written here is owner-only: files 0600 (as `mkstemp` creates them), the
directories made for them 0700, since they hold contracts and personal data.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEMP_SUFFIX = ".tmp"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """Create `path` and any missing parents owner-only (0700); existing ones are left as they are."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # made meanwhile by another writer
            continue
        os.chmod(directory, PRIVATE_DIR_MODE)  # mkdir's mode is narrowed by the umask only
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a directory")
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part.

    The bytes go to a temporary file in the same directory, are flushed to disk, and the
    temporary file is renamed over the target; the directory entry is synced too.
    """
    private_directory(path.parent)
    # The writer's pid in the name tells a crashed writer's leftover from a live one's.
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(data: Any) -> bytes:
    """JSON with sorted keys and no insignificant whitespace: equal data, equal bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_started_at(pid: int) -> float | None:
    """When the live process `pid` on this machine started (Unix time), or None if there is
    none (a zombie counts as gone). Where /proc cannot tell, a live process gives 0.0.

    Comparing the start time with when a pid was recorded tells a process apart from a
    later one that was given the same pid.
    """
    if not Path("/proc/self/stat").exists():  # not Linux
        return 0.0 if process_alive(pid) else None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except FileNotFoundError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start_ticks = fields[0], int(fields[19])
    if state in ("Z", "X"):
        return None
    return boot + start_ticks / os.sysconf("SC_CLK_TCK")


def sweep_temp_files(root: Path) -> list[Path]:
    """Remove the temporary files that writers killed mid-write left under `root`.

    Only files of `atomic_write_bytes` whose writing process is gone are removed; the
    target files themselves were never touched by a half-done write.
    """
    removed = []
    for path in root.rglob(f".*{TEMP_SUFFIX}"):
        parts = path.name[: -len(TEMP_SUFFIX)].split(".")
        pids = [p for p in parts if p.isdigit()]
        if pids and not process_alive(int(pids[-1])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing), across processes."""
    private_directory(path.parent)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
