"""`record_approval`: record a signed decision from the Dagster UI launchpad or
`dagster job execute -c`, exactly as `contract-assets approve` does."""


from datetime import datetime

from dagster import Config, DagsterInstance, Failure, OpExecutionContext, job, op

from contract_assets.domain.approvals import DecisionPayload, SignedDecision
from contract_assets.operations import ContractOperations
from contract_assets.resources import ContractWorkspace


class SignedDecisionConfig(Config):
    """A decision signed by its approver (`contract-assets approve --sign-only` prints one)."""

    partition_key: str
    content_hash: str
    role: str
    approver: str
    decision: str  # approve | reject | request_changes
    signed_at: str  # ISO 8601 with a time zone, exactly as signed
    signature: str  # base64 Ed25519 signature of the canonical payload
    comment: str | None = None


@op
def record_signed_decision(
    context: OpExecutionContext, config: SignedDecisionConfig, contracts: ContractWorkspace
) -> None:
    """Verify and record the decision; a refused one fails the run with the reason."""
    signed = SignedDecision(
        payload=DecisionPayload(
            partition_key=config.partition_key,
            content_hash=config.content_hash,
            role=config.role,
            approver=config.approver,
            decision=config.decision,
            signed_at=datetime.fromisoformat(config.signed_at),
            comment=config.comment,
        ),
        signature=config.signature,
    )
    instance: DagsterInstance = context.instance
    counted, reason, _ = ContractOperations(contracts.workspace(), instance).record_decision(signed)
    if not counted:
        raise Failure(description=f"decision refused: {reason}")
    context.log.info(
        f"{config.role} decision '{config.decision}' by {config.approver} recorded for "
        f"{config.partition_key}"
    )


@job(description="Record one signed approval decision (verified before it counts).")
def record_approval() -> None:
    record_signed_decision()
