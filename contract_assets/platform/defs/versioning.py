"""Code versions and data versions, so Dagster can tell what is stale.

A data version is the hash of what an asset stored; a code version names the code and the
configuration (clause library, playbook) that made it. Dagster compares them per asset;
`contract-assets status` says per revision which library file or rule changed.
"""

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from dagster import AssetsDefinition, BetaWarning, DataVersion, Output

from contract_assets.platform.defs.resources import Workspace
from contract_assets.platform.files import canonical_json, sha256_bytes
from contract_assets.platform.models import StoredModel

# Bump when the code of the pipeline changes what it produces.
CODE_VERSION = "2026.11.1"
PACKAGE_LAYOUT = 2

# Output's data_version is marked beta in Dagster 1.13 (and pinned here); the warning would
# otherwise print in the middle of every console run.
warnings.filterwarnings("ignore", category=BetaWarning, message=".*data_version.*")

def versioned(value: StoredModel, metadata: Mapping[str, Any] | None = None) -> Output:
    """The value with its data version: the hash of its stored content."""
    digest = sha256_bytes(canonical_json(value.model_dump(mode="json")))
    return Output(value, data_version=DataVersion(digest[:24]), metadata=dict(metadata or {}))


class CodeVersions:
    """The code versions of one deployment's assets: each capability stamps its assets with
    the version of the code and configuration (clause library, playbook, seal) that make them."""

    def __init__(self, workspace: Workspace):
        self.code = CODE_VERSION
        self.library = f"{CODE_VERSION}+library.{workspace.library.content_hash[:12]}"
        self.playbook = f"{CODE_VERSION}+playbook.{workspace.playbook_hash[:12]}"
        # Setting up (or changing) the seal makes the packages made before it unsynced, and so
        # does a new package layout (2: one folder with every file and its zip).
        self.seal = f"{CODE_VERSION}+package.{PACKAGE_LAYOUT}+seal.{(workspace.seal_fingerprint() or 'none')[:12]}"

    def of_code(self, *assets: AssetsDefinition) -> list[AssetsDefinition]:
        """Assets the code alone makes."""
        return _stamped(assets, self.code)

    def made_from_library(self, *assets: AssetsDefinition) -> list[AssetsDefinition]:
        return _stamped(assets, self.library)

    def made_from_playbook(self, *assets: AssetsDefinition) -> list[AssetsDefinition]:
        return _stamped(assets, self.playbook)

    def sealed(self, *assets: AssetsDefinition) -> list[AssetsDefinition]:
        return _stamped(assets, self.seal)


def _stamped(assets: Iterable[AssetsDefinition], version: str) -> list[AssetsDefinition]:
    return [asset.map_asset_specs(lambda spec: spec.replace_attributes(code_version=version)) for asset in assets]
