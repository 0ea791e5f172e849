"""Code versions and data versions, so Dagster can tell what is stale.

A data version is the hash of what an asset stored; a code version names the code and the
configuration (clause library, playbook) that made it. Dagster compares them per asset;
`contract-assets status` says per revision which library file or rule changed.
"""

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from dagster import AssetsDefinition, BetaWarning, DataVersion, Output

from contract_assets.domain.files import canonical_json, sha256_bytes
from contract_assets.domain.models import StoredModel
from contract_assets.resources import Workspace

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


def with_code_versions(
    assets: list[AssetsDefinition],
    workspace: Workspace,
    *,
    made_from_library: Iterable[AssetsDefinition],
    made_from_playbook: Iterable[AssetsDefinition],
    sealed: Iterable[AssetsDefinition],
) -> list[AssetsDefinition]:
    """Stamp each asset with the code version of the code and configuration that make it:
    the clause library's, the playbook's, or the seal's and package layout's (for the assets
    given as made from each), else the code's alone."""
    library_made = {key for asset in made_from_library for key in asset.keys}
    playbook_made = {key for asset in made_from_playbook for key in asset.keys}
    sealed_keys = {key for asset in sealed for key in asset.keys}
    library = f"{CODE_VERSION}+library.{workspace.library.content_hash[:12]}"
    playbook = f"{CODE_VERSION}+playbook.{workspace.playbook_hash[:12]}"
    # Setting up (or changing) the seal makes the packages made before it unsynced, and so
    # does a new package layout (2: one folder with every file and its zip).
    seal = f"{CODE_VERSION}+package.{PACKAGE_LAYOUT}+seal.{(workspace.seal_fingerprint() or 'none')[:12]}"

    def stamp(spec):
        if spec.key in sealed_keys:
            version = seal
        else:
            version = library if spec.key in library_made else playbook if spec.key in playbook_made else CODE_VERSION
        return spec.replace_attributes(code_version=version)

    return [asset.map_asset_specs(stamp) for asset in assets]
