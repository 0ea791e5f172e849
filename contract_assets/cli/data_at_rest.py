"""Verbs of the data keys (README: Personal data at rest): make one, re-encrypt with the
newest, show a stored record in clear."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from contract_assets.cli.registry import ADMINISTER, Call, verb

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from contract_assets.platform.defs.resources import Workspace

# dagster-daemon writes a heartbeat every 30 s: one newer than this means it may be running.
DAEMON_ALIVE_SECONDS = 90


@verb("new-data-key", "print a new data key (for CONTRACT_ASSETS_DATA_KEY or the key file)")
def new_data_key(call: Call) -> int:
    from contract_assets.platform.protection import new_key

    print(new_key())
    return 0


@verb(
    "rotate-key", "re-encrypt every stored record with the newest configured data key",
    permissions=[ADMINISTER], on_instance=True,
)  # fmt: skip
def rotate_key(call: Call) -> int:
    """Re-encrypt every stored record with the newest configured data key.

    Refused while the daemon or a run may still be writing: a process started with the old
    key list would go on writing records under the old key, which the user is about to drop.
    """
    from contract_assets.pipeline.defs.revision_state import RevisionState
    from contract_assets.platform.defs.resources import Workspace
    from contract_assets.platform.protection import DataProtection

    home = call.home
    busy = _writing_elsewhere(call.instance, RevisionState(call.workspace, call.instance).partitions_in_flight())
    if busy:
        print(f"refused: {busy}; nothing was re-encrypted", file=sys.stderr)
        return 1
    protection = DataProtection.from_env()
    home.ensure()
    changed, failed = home.reseal(protection)
    revisions, failed_revisions = Workspace(home).registry.reseal()
    failed = {**failed, **failed_revisions}
    for path, reason in failed.items():
        print(f"not re-encrypted: {reason}", file=sys.stderr)
    print(
        f"{len(changed)} file(s) and {revisions} registered revision(s) now encrypted with key "
        f"{protection.key_ids[0]}; {len(failed)} failed"
    )
    if failed:
        return 1
    if len(protection.key_ids) > 1:
        print("older keys are no longer needed for this home; remove them from the key list")
    return 0


def _writing_elsewhere(instance: DagsterInstance, in_flight: set[str]) -> str | None:
    """Why another process may be writing records now, or None."""
    from datetime import UTC, datetime

    now = datetime.now(UTC).timestamp()
    beats = [beat.timestamp for beat in instance.get_daemon_heartbeats().values()]
    if beats and now - max(beats) < DAEMON_ALIVE_SECONDS:
        wait = int(DAEMON_ALIVE_SECONDS - (now - max(beats))) + 1
        return (
            "the Dagster daemon is running (its last heartbeat was "
            f"{int(now - max(beats))} s ago): stop `contract-assets daemon` or `dev` first; "
            f"if it is already stopped, try again in {wait} s"
        )
    if in_flight:
        return f"runs are going for {', '.join(sorted(in_flight))}: let them finish first"
    return None


def _decrypt_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="a file, or a revision key like acme-robotics-nda.r1")


@verb(
    "decrypt", "print an encrypted revision (by key), record or kept file in plaintext",
    # ADMINISTER: it shows personal data in clear.
    arguments=_decrypt_arguments, permissions=[ADMINISTER], on_instance=True,
)  # fmt: skip
def decrypt(call: Call) -> int:
    return _print_decrypted(call.workspace, call.args.path)


def _print_decrypted(workspace: Workspace, path: Path) -> int:
    """Print a stored record or kept file in plaintext (the key must be configured); a
    revision key (`acme-robotics-nda.r1`) prints that registered revision."""
    from contract_assets.intake.revisions import RevisionRegistry, is_revision_key
    from contract_assets.platform.protection import ENCRYPTED_SUFFIX, DataProtection
    from contract_assets.platform.serialization import StoredTypeMismatch, open_envelope

    protection = DataProtection.from_env()
    if not path.exists() and is_revision_key(str(path)):
        contract_id, _, number = str(path).rpartition(".")
        data = workspace.records.get(RevisionRegistry.KIND, contract_id, number)
        if data is None:
            print(f"no revision {path} has been submitted", file=sys.stderr)
            return 1
        sys.stdout.buffer.write(open_envelope(data, protection, source=f"revision {path}"))
        return 0
    data = path.read_bytes()
    if path.name.endswith(ENCRYPTED_SUFFIX):
        plain = protection.open(data, source=str(path))
    elif path.suffix == ".json" and data.lstrip().startswith(b"{"):
        try:
            plain = open_envelope(data, protection, source=str(path))
        except StoredTypeMismatch:
            plain = data  # not a stored record: shown as it is
    else:
        plain = data
    sys.stdout.buffer.write(plain)
    return 0
