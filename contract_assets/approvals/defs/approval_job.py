"""`record_approval`: record a signed decision from the Dagster UI launchpad or
`dagster job execute -c`, exactly as `contract-assets approve` does.

A refused decision is an answer, not a crash: the run fails with a `Failure` whose
description is the reason in words and whose metadata names the reason, role, approver and
revision; it is never retried (the same decision again would only be refused as a replay).
"""


from datetime import datetime

from dagster import (
    Config,
    DagsterInstance,
    Failure,
    MetadataValue,
    OpExecutionContext,
    job,
    op,
)
from pydantic import ValidationError

from contract_assets.approvals.approvals import DecisionPayload, SignedDecision
from contract_assets.approvals.defs.decision_recording import DecisionRecorder
from contract_assets.platform.defs.resources import ContractWorkspace
from contract_assets.platform.protection import without_emails


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


def refused(config: SignedDecisionConfig, reason: str) -> Failure:
    """The failure of a run whose decision did not count: the reason first, no traceback to
    read (emails in what was typed are masked: this goes to Dagster's event log)."""
    reason = without_emails(reason)
    return Failure(
        description=reason,
        metadata={
            "reason": MetadataValue.text(reason),
            "role": MetadataValue.text(without_emails(config.role)),
            "approver": MetadataValue.text(without_emails(config.approver)),
            "partition": MetadataValue.text(without_emails(config.partition_key)),
        },
        allow_retries=False,
    )


def _signed(config: SignedDecisionConfig) -> SignedDecision:
    """The decision the config holds; ValueError naming the field when it is malformed."""
    try:
        signed_at = datetime.fromisoformat(config.signed_at)
    except ValueError:
        raise ValueError("signed_at: not an ISO 8601 time (copy it exactly as signed)") from None
    try:
        return SignedDecision(
            payload=DecisionPayload(
                partition_key=config.partition_key,
                content_hash=config.content_hash,
                role=config.role,
                approver=config.approver,
                decision=config.decision,
                signed_at=signed_at,
                comment=config.comment,
            ),
            signature=config.signature,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'] if part != 'payload')}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ValueError(problems) from None


@op
def record_signed_decision(
    context: OpExecutionContext, config: SignedDecisionConfig, contracts: ContractWorkspace
) -> None:
    """Verify and record the decision; a refused one fails the run with the reason."""
    try:
        signed = _signed(config)
    except ValueError as exc:
        raise refused(config, f"invalid decision: {exc}") from None
    instance: DagsterInstance = context.instance
    counted, reason, _ = DecisionRecorder(contracts.workspace(), instance).record(signed)
    if not counted:
        raise refused(config, reason or "refused")
    context.log.info(
        f"{config.role} decision '{config.decision}' by {config.approver} recorded for "
        f"{config.partition_key}"
    )


@job(description="Record one signed approval decision (verified before it counts).")
def record_approval() -> None:
    record_signed_decision()
