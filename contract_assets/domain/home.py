"""The state directory: the one place that knows where everything is kept.

All state lives under `$CONTRACT_ASSETS_HOME` (default `.contract_assets/` in the current
directory): the Dagster instance, typed asset values, rendered documents, registered
requests, the inbox and quarantine, and configuration overrides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from contract_assets.domain.files import atomic_write_bytes

HOME_ENV = "CONTRACT_ASSETS_HOME"
MARK = "# Written by contract-assets; rewritten when it differs (remove this line to keep edits)."
DEFAULT_HOME = ".contract_assets"


DATABASE_ENV = "CONTRACT_ASSETS_DATABASE_URL"


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
    def requests_dir(self) -> Path:
        return self.root / "requests"

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
    def decisions_dir(self) -> Path:
        """Signed approval decisions, accepted and refused, per revision."""
        return self.root / "decisions"

    @property
    def executed_dir(self) -> Path:
        """Countersigned PDFs dropped here as `<partition_key>.pdf` mark a revision executed."""
        return self.root / "executed"

    @property
    def alerts_dir(self) -> Path:
        """The alert log and the ledger of alerts already sent."""
        return self.root / "alerts"

    @property
    def config_dir(self) -> Path:
        """Configuration overrides (entities.yaml, playbook.yaml) that replace the shipped ones."""
        return self.root / "config"

    @property
    def keys_dir(self) -> Path:
        """The organisation's seal (PKCS#12, owner-only) and its certificate."""
        return self.root / "keys"

    def ensure(self) -> ContractHome:
        """Create the directory tree and the instance's dagster.yaml if they are missing."""
        for directory in (
            self.requests_dir,
            self.storage_dir,
            self.inbox_dir,
            self.quarantine_dir,
            self.processed_dir,
            self.decisions_dir,
            self.executed_dir,
            self.alerts_dir,
            self.config_dir,
            self.dagster_home,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        instance_config = self.dagster_home / "dagster.yaml"
        wanted = instance_yaml(str(self.dagster_home), postgres=bool(os.environ.get(DATABASE_ENV)))
        ours = not instance_config.exists() or instance_config.read_text().startswith(MARK)
        if "DAGSTER_HOME" not in os.environ and ours and (
            not instance_config.exists() or instance_config.read_text() != wanted
        ):
            atomic_write_bytes(instance_config, wanted.encode())
        return self

    def env_exports(self) -> str:
        return f"export {HOME_ENV}={self.root}\nexport DAGSTER_HOME={self.dagster_home}\n"

    def config_file(self, name: str, shipped: Path) -> Path:
        """The override in the home's config directory if there is one, else the shipped file."""
        override = self.config_dir / name
        return override if override.exists() else shipped
