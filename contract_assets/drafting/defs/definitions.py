"""Drafting's definitions: the draft, made from the clause library, and its check."""

from dagster import Definitions

from contract_assets.drafting.defs.assets import contract_draft
from contract_assets.drafting.defs.checks import mandatory_clauses_present
from contract_assets.platform.defs.versioning import CodeVersions


def definitions(versions: CodeVersions) -> Definitions:
    return Definitions(
        assets=versions.made_from_library(contract_draft),
        asset_checks=[mandatory_clauses_present],
    )
