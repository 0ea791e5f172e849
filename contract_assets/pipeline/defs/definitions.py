"""The pipeline's definitions: its job, the revision_stage view and the sensors that keep
revisions going and say where they stand, and the alerts about runs and stuck work."""

from dagster import Definitions

from contract_assets.pipeline.defs.alerts import ALERT_SENSORS, failure_alert_sensor
from contract_assets.pipeline.defs.jobs import contract_pipeline
from contract_assets.pipeline.defs.revision_stage import revision_stage_spec
from contract_assets.pipeline.defs.sensors import (
    progress_sensor,
    stage_after_failure,
    stage_after_success,
)


def definitions() -> Definitions:
    return Definitions(
        assets=[revision_stage_spec],
        jobs=[contract_pipeline],
        sensors=[progress_sensor, failure_alert_sensor, *ALERT_SENSORS, stage_after_success, stage_after_failure],
    )
