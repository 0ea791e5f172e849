"""Documents' definitions: the review copy, documents and redline (made from the clause
library), the sealed signature package and its checks, the executed copy, its job and sensor."""

from dagster import Definitions

from contract_assets.documents.defs.assets import (
    contract_documents,
    review_copy,
    signature_package,
)
from contract_assets.documents.defs.checks import (
    manifest_matches_files,
    package_verifies,
)
from contract_assets.documents.defs.executed import executed_copy
from contract_assets.documents.defs.jobs import executed_copy_job
from contract_assets.documents.defs.redline import contract_redline
from contract_assets.documents.defs.sensors import executed_sensor
from contract_assets.platform.defs.versioning import CodeVersions


def definitions(versions: CodeVersions) -> Definitions:
    return Definitions(
        assets=versions.made_from_library(review_copy, contract_documents, contract_redline)
        + versions.sealed(signature_package)
        + versions.of_code(executed_copy),
        asset_checks=[manifest_matches_files, package_verifies],
        jobs=[executed_copy_job],
        sensors=[executed_sensor],
    )
