"""Stage 1: the validated request of one revision."""

from dagster import AssetExecutionContext, Failure, MetadataValue, Output, asset

from contract_assets.intake.requests import InvalidRequest, validate_request
from contract_assets.pipeline.defs.partitions import revision_partitions
from contract_assets.platform.defs.resources import (
    ContractWorkspace,
    missing_key_fails_once,
)
from contract_assets.platform.defs.versioning import versioned
from contract_assets.platform.models import Revision
from contract_assets.platform.protection import request_for_display, without_emails


@asset(partitions_def=revision_partitions, group_name="contracts", kinds={"python"})
def contract_request(context: AssetExecutionContext, contracts: ContractWorkspace) -> Output[Revision]:
    """The submitted request of this revision, checked again against today's configuration
    (entities, parent contracts), with its canonical content hash.

    Its metadata (kept in Dagster's event log) shows the terms a reviewer needs; the
    requester's and signatory's emails, the signatory's name and the address are withheld.
    """
    workspace = contracts.workspace()
    with missing_key_fails_once():
        revision = workspace.registry.get(context.partition_key)
    try:
        validate_request(
            revision.request.model_dump(mode="json"),
            entities=workspace.entities.keys(),
            find_contract=workspace.registry.latest_request,
        )
    except InvalidRequest as exc:  # bad data: retrying cannot help
        raise Failure(
            description=without_emails(f"the request no longer validates: {exc}"), allow_retries=False
        ) from None
    request = revision.request
    context.add_output_metadata(
        {
            "contract_id": request.contract_id,
            "type": request.type.value,
            "counterparty": request.counterparty.legal_name,
            "content_hash": revision.content_hash,
            "request": MetadataValue.json(request_for_display(request.model_dump(mode="json"))),
        }
    )
    return versioned(revision)
