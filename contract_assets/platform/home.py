"""The state directory: the one place that knows where everything is kept.

All state lives under `$CONTRACT_ASSETS_HOME` (default `.contract_assets/` in the current
directory): the Dagster instance, typed asset values, rendered documents, registered
requests, the inbox and quarantine, and configuration overrides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from contract_assets.intake.inbox import kept_files, reseal_kept_file
from contract_assets.platform.files import (
    PRIVATE_DIR_MODE,
    atomic_write_bytes,
    private_directory,
)
from contract_assets.platform.protection import DataKeyError, DataProtection
from contract_assets.platform.records import DATABASE_ENV
from contract_assets.platform.serialization import StoredTypeMismatch, reseal_envelope
from contract_assets.platform.storage import StorageLayout

HOME_ENV = "CONTRACT_ASSETS_HOME"
MARK = "# Written by contract-assets; rewritten when it differs (remove this line to keep edits)."
DEFAULT_HOME = ".contract_assets"




def instance_yaml(base_dir: str, *, postgres: bool = False) -> str:
    """The Dagster instance configuration keeping every Dagster file under `base_dir`.

    With `postgres`, runs, events and schedules go to the PostgreSQL database named by
    $CONTRACT_ASSETS_DATABASE_URL (read by Dagster at start, so the URL and its password
    stay out of the file). The repository's top-level dagster.yaml is the SQLite text with
    the default home's relative path, so plain `dagster` commands run from the repo root
    use the same instance.
    """
    if postgres:
        storage = f"""\
storage:
  postgres:
    postgres_url:
      env: {DATABASE_ENV}"""
    else:
        storage = f"""\
storage:
  sqlite:
    base_dir: {base_dir}/storage"""
    return f"""\
{MARK}
{storage}
local_artifact_storage:
  module: dagster._core.storage.root
  class: LocalArtifactStorage
  config:
    base_dir: {base_dir}
compute_logs:
  module: dagster._core.storage.local_compute_log_manager
  class: LocalComputeLogManager
  config:
    base_dir: {base_dir}/logs
# Runs started by sensors and the UI wait in a queue; two at a time suits a small machine.
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  runs:
    max_concurrent_runs: 2
# Runs start in a code server's process on this machine. Dagster's default launcher cannot
# tell when that process has died (killed, out of memory, a reboot); this one can, so run
# monitoring marks such a run failed instead of leaving it STARTED for ever.
run_launcher:
  module: contract_assets.platform.defs.launcher
  class: LocalRunLauncher
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
# Runs the daemon launched are retried when their process dies; a step that fails on bad
# data is not (steps retry transient errors themselves).
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
telemetry:
  enabled: false
"""


@dataclass(frozen=True)
class ContractHome:
    root: Path

    @classmethod
    def from_env(cls) -> ContractHome:
        return cls(Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).resolve())

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance directory; an explicitly set DAGSTER_HOME wins."""
        explicit = os.environ.get("DAGSTER_HOME")
        return Path(explicit).resolve() if explicit else self.root / "dagster"

    @property
    def storage_dir(self) -> Path:
        """Base directory of the IO manager (typed values and document files)."""
        return self.root / "storage"

    @property
    def inbox_dir(self) -> Path:
        return self.root / "inbox"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def processed_dir(self) -> Path:
        """Inbox files that were registered, kept as they arrived."""
        return self.root / "processed"

    @property
    def executed_dir(self) -> Path:
        """Countersigned PDFs dropped here as `<partition_key>.pdf` mark a revision executed."""
        return self.root / "executed"

    @property
    def config_dir(self) -> Path:
        """Configuration overrides (entities.yaml, playbook.yaml) that replace the shipped ones."""
        return self.root / "config"

    @property
    def keys_dir(self) -> Path:
        """The organisation's seal (PKCS#12, owner-only) and its certificate."""
        return self.root / "keys"

    def ensure(self) -> ContractHome:
        """Create the directory tree and the instance's dagster.yaml if they are missing.

        The home and its folders are owner-only (0700), including a home made before this
        rule: what Dagster writes inside (its database, logs) is then private too.
        """
        private_directory(self.root)
        os.chmod(self.root, PRIVATE_DIR_MODE)
        for directory in (
            self.storage_dir,
            self.inbox_dir,
            self.quarantine_dir,
            self.processed_dir,
            self.executed_dir,
            self.config_dir,
            self.dagster_home,
        ):
            private_directory(directory)
            if directory.parent == self.root:
                os.chmod(directory, PRIVATE_DIR_MODE)
        instance_config = self.dagster_home / "dagster.yaml"
        wanted = instance_yaml(str(self.dagster_home), postgres=bool(os.environ.get(DATABASE_ENV)))
        ours = not instance_config.exists() or instance_config.read_text().startswith(MARK)
        if "DAGSTER_HOME" not in os.environ and ours and (
            not instance_config.exists() or instance_config.read_text() != wanted
        ):
            atomic_write_bytes(instance_config, wanted.encode())
        return self

    def reseal(self, protection: DataProtection) -> tuple[list[Path], dict[Path, str]]:
        """Encrypt every file that holds personal data with the newest key: typed values,
        kept inbox files (plaintext ones too, so that a key added to
        a running home covers what came before). Each file is replaced atomically.

        Returns the files rewritten and those that could not be (with why); run it while
        no daemon or run writes to the home.
        """
        if not protection.enabled:
            raise DataKeyError("no data key is configured: there is nothing to encrypt with")
        changed: list[Path] = []
        failed: dict[Path, str] = {}
        envelopes = [
            path
            for root in (StorageLayout(self.storage_dir, protection).values_dir(),)
            if root.is_dir()
            for path in sorted(root.rglob("*.json"))
            if not path.name.startswith(".")
        ]
        for path in envelopes:
            try:
                sealed = reseal_envelope(path.read_bytes(), protection, source=str(path))
            except (DataKeyError, StoredTypeMismatch) as exc:
                failed[path] = str(exc)
                continue
            if sealed is not None:
                atomic_write_bytes(path, sealed)
                changed.append(path)
        for path in kept_files(self.processed_dir) + kept_files(self.quarantine_dir):
            try:
                changed.append(reseal_kept_file(path, protection))
            except DataKeyError as exc:
                failed[path] = str(exc)
        return changed, failed

    def env_exports(self) -> str:
        return f"export {HOME_ENV}={self.root}\nexport DAGSTER_HOME={self.dagster_home}\n"

    def config_file(self, name: str, shipped: Path) -> Path:
        """The override in the home's config directory if there is one, else the shipped file."""
        override = self.config_dir / name
        return override if override.exists() else shipped
