"""Verbs of the approvers: make a key pair, register an approver, sign a decision."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from contract_assets.cli.registry import ADMINISTER, EXIT_INVALID, Call, group, verb


def _keygen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--out", type=Path, required=True, help="private key file (FILE.pub: public)")


@verb("keygen", "make an approver's Ed25519 key pair", arguments=_keygen_arguments)
def keygen(call: Call) -> int:
    from contract_assets.approvals.signing import write_keypair

    private_path = call.args.out
    try:
        public = write_keypair(private_path)
    except (FileExistsError, OSError) as exc:
        print(f"{private_path}: {exc}", file=sys.stderr)
        return 1
    print(f"private key: {private_path} (owner-only; keep it to yourself)")
    print(f"public key:  {public} (register it with `contract-assets approvers add`)")
    return 0


group("approvers", "manage the approvers")


def _approvers_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--email", required=True)
    parser.add_argument("--role", action="append", required=True)
    parser.add_argument("--public-key", type=Path, required=True)


@verb(
    "approvers add", "register (or replace) an approver",
    arguments=_approvers_add_arguments, permissions=[ADMINISTER], on_instance=True,
)  # fmt: skip
def approvers_add(call: Call) -> int:
    code = _add_approver(call.workspace, call.args)
    call.guard.audit_configuration()
    return code


def _add_approver(workspace, args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from contract_assets.approvals.approvals import Approver, ApproverConfigError
    from contract_assets.approvals.signing import read_public_key

    try:
        approver = Approver(
            name=args.name,
            email=args.email,
            roles=args.role,
            public_key=read_public_key(args.public_key),
        )
        workspace.approvers.add(approver)
    except (ValidationError, ApproverConfigError, OSError, ValueError) as exc:
        print(f"approver {args.name} not added: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"approver {approver.name} <{approver.email}> may decide as: {', '.join(approver.roles)}")
    return 0


def _approve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("partition_key")
    parser.add_argument("--role", required=True)
    parser.add_argument("--approver", required=True)
    parser.add_argument("--key", type=Path, required=True, help="the approver's private key file")
    parser.add_argument(
        "--decision", choices=["approve", "reject", "request-changes"], default="approve"
    )
    parser.add_argument("--comment")
    parser.add_argument(
        "--sign-only", action="store_true",
        help="print the signed decision as run config for the record_approval job instead",
    )  # fmt: skip


@verb(
    "approve", "sign and record a decision on a revision",
    arguments=_approve_arguments, on_instance=True,
)  # fmt: skip
def approve(call: Call) -> int:
    """Sign a decision with the approver's private key, then verify and record it."""
    from datetime import UTC, datetime

    from contract_assets.approvals.approvals import DecisionPayload, sign_decision
    from contract_assets.approvals.defs.decision_recording import DecisionRecorder
    from contract_assets.approvals.signing import read_private_key

    args = call.args
    registry = call.workspace.registry
    try:
        revision = registry.get(args.partition_key)
        private_pem = read_private_key(args.key)
    except (KeyError, ValueError, OSError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    payload = DecisionPayload(
        partition_key=revision.partition_key,
        content_hash=revision.content_hash,
        role=args.role,
        approver=args.approver,
        decision=args.decision.replace("-", "_"),
        signed_at=datetime.now(UTC),
        comment=args.comment,
    )
    signed = sign_decision(payload, private_pem)
    if args.sign_only:
        config = {"ops": {"record_signed_decision": {"config": {
            **payload.model_dump(mode="json"), "signature": signed.signature}}}}
        print(json.dumps(config, indent=2))
        return 0
    counted, reason, state = call.service(DecisionRecorder).record(signed)
    if not counted:
        print(f"refused: {reason}", file=sys.stderr)
        return 1
    print(f"{revision.partition_key}: {args.role} {args.decision} by {args.approver} recorded")
    if state != "awaiting_approval":
        print(f"{revision.partition_key} is now {state}; the daemon (or `contract-assets run`) goes on")
    return 0
