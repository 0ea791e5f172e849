"""The one Definitions object: assets, checks, jobs and resources of contract_assets."""

from dagster import Definitions, in_process_executor

from contract_assets.alerts import ALERT_SENSORS, alert_policy_from_env
from contract_assets.approval_job import record_approval
from contract_assets.asset_graph import ASSETS, PIPELINE_STEPS, name
from contract_assets.assets.approval import approval_routing
from contract_assets.assets.documents import contract_documents, review_copy, signature_package
from contract_assets.assets.draft import contract_draft
from contract_assets.assets.redline import contract_redline
from contract_assets.assets.risk import risk_assessment
from contract_assets.checks import (
    deliverables_add_up,
    mandatory_clauses_present,
    manifest_matches_files,
    package_verifies,
)
from contract_assets.domain.home import ContractHome
from contract_assets.io_managers import ContractIOManager
from contract_assets.jobs import contract_pipeline, executed_copy_job, register_job
from contract_assets.notifier import notifier_from_env
from contract_assets.resources import ContractWorkspace, Workspace
from contract_assets.auditing import audit_trail_spec
from contract_assets.revision_stage import revision_stage_spec
from contract_assets.versioning import with_code_versions
from contract_assets.schedules import (
    approval_request_sensor,
    approval_sla,
    approval_sla_job,
    failure_alert_sensor,
    register_refresh,
    renewal_reminders,
    renewal_reminders_job,
)
from contract_assets.sensors import (
    executed_sensor,
    inbox_sensor,
    progress_sensor,
    register_sensor,
    stage_after_failure,
    stage_after_success,
)


def resources_for(home: ContractHome) -> dict:
    """The resources of one deployment, all rooted in its contract home."""
    return {
        "io_manager": ContractIOManager(base_dir=str(home.storage_dir)),
        "contracts": ContractWorkspace(home=str(home.root)),
        "notifier": notifier_from_env(home),
        "alert_policy": alert_policy_from_env(),
    }


# The pipeline's assets, in step order.
REVISION_ASSETS = sorted(
    (a for a in ASSETS if name(a) in PIPELINE_STEPS), key=lambda a: PIPELINE_STEPS.index(name(a))
)
CHECKS = [deliverables_add_up, mandatory_clauses_present, manifest_matches_files, package_verifies]


def build_definitions(home: ContractHome) -> Definitions:
    return Definitions(
        assets=with_code_versions(
            ASSETS,
            Workspace(home),
            made_from_library=[contract_draft, review_copy, contract_documents, contract_redline],
            made_from_playbook=[risk_assessment, approval_routing],
            sealed=[signature_package],
        )
        + [audit_trail_spec, revision_stage_spec],
        asset_checks=CHECKS,
        jobs=[
            contract_pipeline,
            register_job,
            executed_copy_job,
            record_approval,
            renewal_reminders_job,
            approval_sla_job,
        ],
        sensors=[
            inbox_sensor,
            progress_sensor,
            register_sensor,
            executed_sensor,
            failure_alert_sensor,
            approval_request_sensor,
            *ALERT_SENSORS,
            stage_after_success,
            stage_after_failure,
        ],
        schedules=[register_refresh, renewal_reminders, approval_sla],
        resources=resources_for(home),
        # Also for the UI's "Materialize" and `dagster asset materialize`: a revision's steps
        # are small, and a subprocess per step would cost ~10 s a run on 2 cores.
        executor=in_process_executor,
    )


defs = build_definitions(ContractHome.from_env())


def home_definitions() -> Definitions:
    """The definitions of the home in the environment now (`defs` is the one of the
    environment this module was first imported in); the console loads its runs' code
    location from this."""
    return build_definitions(ContractHome.from_env())


def contract_pipeline_job():
    """The pipeline job of the home in the environment now, for `reconstructable`."""
    return home_definitions().resolve_job_def("contract_pipeline")
