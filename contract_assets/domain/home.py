"""The state directory: the one place that knows where everything is kept.

All state lives under `$CONTRACT_ASSETS_HOME` (default `.contract_assets/` in the current
directory): the Dagster instance, typed asset values, rendered documents, registered
requests, the inbox and quarantine, and configuration overrides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "CONTRACT_ASSETS_HOME"
DEFAULT_HOME = ".contract_assets"


def instance_yaml(base_dir: str) -> str:
    """The Dagster instance configuration keeping every Dagster file under `base_dir`.

    The repository's top-level dagster.yaml is this text with the default home's relative
    path, so plain `dagster` commands run from the repo root use the same instance.
    """
    return f"""\
# Written by contract-assets; regenerated when missing.
storage:
  sqlite:
    base_dir: {base_dir}/storage
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
    def config_dir(self) -> Path:
        """Configuration overrides (entities.yaml, playbook.yaml) that replace the shipped ones."""
        return self.root / "config"

    def ensure(self) -> ContractHome:
        """Create the directory tree and the instance's dagster.yaml if they are missing."""
        for directory in (
            self.requests_dir,
            self.storage_dir,
            self.inbox_dir,
            self.quarantine_dir,
            self.config_dir,
            self.dagster_home,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        instance_config = self.dagster_home / "dagster.yaml"
        if not instance_config.exists() and "DAGSTER_HOME" not in os.environ:
            instance_config.write_text(instance_yaml(str(self.dagster_home)))
        return self

    def env_exports(self) -> str:
        return f"export {HOME_ENV}={self.root}\nexport DAGSTER_HOME={self.dagster_home}\n"

    def config_file(self, name: str, shipped: Path) -> Path:
        """The override in the home's config directory if there is one, else the shipped file."""
        override = self.config_dir / name
        return override if override.exists() else shipped
