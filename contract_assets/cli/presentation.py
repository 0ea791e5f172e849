"""How the console shows what a verb did: its tables, progress lines, JSON and descriptions.

The verbs decide and act; these only format and print (one-sentence messages stay in the
verb that says them). Nothing here reads the home or changes anything.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contract_assets.documents.packaging import Verification
    from contract_assets.documents.sealing import OrganisationSeal, SealFiles
    from contract_assets.intake.defs.revision_intake import SubmitResult
    from contract_assets.intake.requests import FieldError
    from contract_assets.pipeline.defs.revision_status import RevisionStatus


# --- submit ---------------------------------------------------------------------------------


def request_registered(path: Path, result: SubmitResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.as_json()))
    else:
        verb = "registered as" if result.created else "is already"
        print(f"{path}: {verb} {result.revision.partition_key} ({result.stage.value})")


def request_rejected(path: Path, errors: Sequence[FieldError], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"file": str(path), "errors": [e.as_dict() for e in errors]}))
    else:
        print(f"{path}: rejected, no revision was registered (see the audit trail)", file=sys.stderr)
        for error in errors:
            print(f"  {error.path}: {error.message}", file=sys.stderr)


def request_unreadable(path: Path, message: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"file": str(path), "errors": [{"path": "(document)", "message": message}]}))
    else:
        print(f"{path}: {message}", file=sys.stderr)


# --- run and status -------------------------------------------------------------------------


def progress_line(status: RevisionStatus) -> str:
    line = f"{status.revision.partition_key:<28} {status.stage.value}"
    if status.stage.value == "awaiting_approval" and status.approvals:
        line += " (" + ", ".join(a.short() for a in status.approvals) + ")"
    if status.blocked_on:
        line += f" ({status.blocked_on})"
    if status.error:
        line += f": {status.error}"
    return line


def retry_line(status: RevisionStatus, run_id: str) -> str:
    return (
        f"{status.revision.partition_key:<28} failed; the daemon's run retries start it again "
        f"(now: contract-assets resume {run_id})"
    )


def statuses_json(statuses: Sequence[RevisionStatus]) -> None:
    print(json.dumps([s.as_json() for s in statuses], indent=2, ensure_ascii=False))


def statuses_table(statuses: Sequence[RevisionStatus]) -> None:
    """A line per revision, then what it is waiting for and the decisions taken on it."""
    from contract_assets.platform.models import shown

    print(f"{'REVISION':<28} {'STAGE':<20} {'RISK':<12} {'APPROVALS':<32} DOCUMENTS")
    for status in statuses:
        data = status.as_json()
        risk = f"{data['risk']['score']} {data['risk']['level']}" if data["risk"] else "-"
        approvals = ", ".join(a.short() for a in status.approvals) or "-"
        artifacts = data["artifacts"]
        where = artifacts["pdf"] or artifacts["review_html"] or data.get("blocked_on") or data.get("error") or "-"
        print(f"{data['partition_key']:<28} {data['stage']:<20} {risk:<12} {approvals:<32} {where}")
        indent = " " * 30
        if artifacts["manifest"]:
            print(f"{indent}{artifacts['manifest']}")
        for approval in status.approvals:
            if approval.decided_at:
                when = approval.decided_at.strftime("%Y-%m-%d %H:%M UTC")
                said = f": {shown(approval.comment, 200)}" if approval.comment else ""
                print(f"{indent}{approval.role}: {approval.state.replace('_', ' ')} by {approval.approver}, {when}{said}")
        if data["stage"] == "awaiting_approval":
            print(f"{indent}{data['reason']}")
            if data.get("refused_decisions"):
                last = data["refused_decisions"][-1]
                print(f"{indent}last decision refused ({last['role']}, {last['approver']}): {last['reason']}")
        elif data["waiting_for"] != "nobody":
            print(f"{indent}{data['reason']}; must act: {data['waiting_for']}")


# --- the organisation's seal ----------------------------------------------------------------


def seal_description(seal: OrganisationSeal, files: SealFiles) -> None:
    print(f"seal of {seal.organisation}, valid until {seal.certificate.not_valid_after_utc:%Y-%m-%d}")
    print(f"  certificate sha256: {seal.fingerprint}")
    print(f"  key and certificate: {files.pkcs12} (owner-only)")
    print(f"  certificate to share with those who verify: {files.certificate}")


def verification_report(target: Path, trust_file: Path, fingerprint: str, result: Verification) -> None:
    print(f"trusting the certificate in {trust_file} (sha256 {fingerprint})")
    for item in result.checked:
        print(f"checked: {item}")
    for problem in result.problems:
        print(f"FAILED: {problem}")
    print(f"{target}: {'verified' if result.ok else 'NOT verified'}")
