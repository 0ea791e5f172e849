"""Intake's definitions: the request asset, its check, the inbox sensor."""

from dagster import Definitions

from contract_assets.intake.defs.assets import contract_request
from contract_assets.intake.defs.checks import deliverables_add_up
from contract_assets.intake.defs.sensors import inbox_sensor
from contract_assets.platform.defs.versioning import CodeVersions


def definitions(versions: CodeVersions) -> Definitions:
    return Definitions(
        assets=versions.of_code(contract_request),
        asset_checks=[deliverables_add_up],
        sensors=[inbox_sensor],
    )
