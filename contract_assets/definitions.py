"""The one Definitions object: each capability's definitions, merged, with the platform's
resources (defined once) and executor. The code location `contract_assets.definitions`."""

from dagster import Definitions

from contract_assets.approvals.defs import definitions as approvals
from contract_assets.audit.defs import definitions as audit
from contract_assets.documents.defs import definitions as documents
from contract_assets.documents.defs.checks import (
    manifest_matches_files,
    package_verifies,
)
from contract_assets.drafting.defs import definitions as drafting
from contract_assets.drafting.defs.checks import mandatory_clauses_present
from contract_assets.intake.defs import definitions as intake
from contract_assets.intake.defs.checks import deliverables_add_up
from contract_assets.pipeline.defs import definitions as pipeline
from contract_assets.pipeline.defs.asset_graph import ASSETS, PIPELINE_STEPS, name
from contract_assets.platform.defs import definitions as platform
from contract_assets.platform.defs.definitions import resources_for
from contract_assets.platform.defs.resources import Workspace
from contract_assets.platform.defs.versioning import CodeVersions
from contract_assets.platform.home import ContractHome
from contract_assets.register.defs import definitions as register

__all__ = ["CHECKS", "REVISION_ASSETS", "build_definitions", "defs", "resources_for"]

# The pipeline's assets, in step order.
REVISION_ASSETS = sorted(
    (a for a in ASSETS if name(a) in PIPELINE_STEPS), key=lambda a: PIPELINE_STEPS.index(name(a))
)
CHECKS = [deliverables_add_up, mandatory_clauses_present, manifest_matches_files, package_verifies]


def build_definitions(home: ContractHome, **replaced: object) -> Definitions:
    """The definitions of one home; a test replaces a resource by its key (`clock=...`)."""
    versions = CodeVersions(Workspace(home))
    return Definitions.merge(
        intake.definitions(versions),
        drafting.definitions(versions),
        approvals.definitions(versions),
        documents.definitions(versions),
        register.definitions(versions),
        audit.definitions(),
        pipeline.definitions(),
        platform.definitions(home, **replaced),
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
