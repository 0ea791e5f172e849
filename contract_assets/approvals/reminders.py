"""Which alerts are due: approvals to give, renewals from the register, approvals past
their SLA, failed runs.

Pure functions: the caller passes the time and the data, nothing here reads a clock or a
file. Each alert's id is stable, so evaluating again (every hour, every day) yields the
same ids and the alert ledger lets each one out once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import pandas as pd

from contract_assets.intake.revisions import partition_key
from contract_assets.platform.notify import Alert
from contract_assets.register.register import renewals_due

RENEWAL_COLUMNS = (
    "contract_id",
    "counterparty",
    "revision_in_force",
    "end_date",
    "auto_renew",
    "renewal_notice_date",
)


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone (times are counted in UTC): got {value}")
    return value.astimezone(UTC)


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- renewals -----------------------------------------------------------------------------


def renewal_alerts(register: pd.DataFrame, today: date, window_days: int = 30) -> list[Alert]:
    """One alert per contract in force whose renewal notice date needs attention.

    Which are due is `register.renewals_due`'s rule. The id `renewal:<contract>:<notice
    date>` is the same on every day of the window, so a contract gets one alert per
    renewal; a new notice date (a new term) makes a new id. `created_at` is the start of
    `today` in UTC. Alerts come ordered by notice date, then contract id.
    """
    if window_days < 0:
        raise ValueError(f"window_days must be 0 or more, got {window_days}")
    missing = [column for column in RENEWAL_COLUMNS if column not in register.columns]
    if missing:
        raise ValueError(
            f"the register has no column(s) {', '.join(missing)}; build it with build_register"
        )
    return [
        _renewal_alert(due.row, due.notice, due.end, today, overdue=due.overdue)
        for due in renewals_due(register, today, window_days)
    ]


def _renewal_alert(
    row: dict[str, Any], notice: date, end: date, today: date, *, overdue: bool
) -> Alert:
    contract_id = row["contract_id"]
    counterparty = row["counterparty"]
    auto_renew = bool(row["auto_renew"]) if not pd.isna(row["auto_renew"]) else False
    outcome = (
        f"renews automatically on {end} unless notice is given by {notice}"
        if auto_renew
        else f"ends on {end} (renewal notice date {notice})"
    )
    if overdue:
        subject = f"Renewal notice date passed: {contract_id} ({counterparty}), {notice}"
        when = f"The notice date passed {(today - notice).days} day(s) ago."
    else:
        subject = f"Renewal notice due {notice}: {contract_id} ({counterparty})"
        days = (notice - today).days
        when = "The notice date is today." if days == 0 else f"The notice date is in {days} day(s)."
    action = (
        "Decide whether to let it renew, renegotiate (submit a new revision) or give notice."
        if auto_renew
        else "Decide whether to renew (submit a new revision) or let it end."
    )
    return Alert(
        alert_id=f"renewal:{contract_id}:{notice.isoformat()}",
        kind="renewal",
        subject=subject,
        body=f"Contract {contract_id} with {counterparty} {outcome}. {when}\n\n{action}\n",
        contract_id=contract_id,
        partition_key=partition_key(contract_id, int(row["revision_in_force"])),
        created_at=datetime.combine(today, time.min, tzinfo=UTC),
    )


# --- approvals past their SLA -------------------------------------------------------------


@dataclass(frozen=True)
class Addressee:
    """An approver as a request addresses them: their name and their own email."""

    name: str
    email: str


@dataclass(frozen=True)
class OpenTier:
    """A revision's open approval tier: the roles whose decisions it waits for now, and for
    each role the approvers who may give it (the requester is left out)."""

    partition_key: str
    contract_id: str
    tier: int
    approvers: dict[str, list[Addressee]]  # role -> approvers, in order; empty: nobody can


def approval_request_alerts(open_tiers: list[OpenTier], now: datetime) -> list[Alert]:
    """One request per revision, tier and person who may decide, to that person's email.

    The id `approval_request:<partition_key>:tier<N>:<approver>` is stable, so an approver
    added while the tier is open gets their own request on the next evaluation and nobody
    gets two; tier 2's people hear once tier 1 is done. A role nobody may decide for is
    reported once per revision and tier to the deployment's list
    (`approval_request:<partition_key>:tier<N>:nobody:<role>`), since only an administrator
    can fix it.
    """
    now = _require_aware(now, "now")
    alerts = []
    for open_tier in open_tiers:
        key, tier = open_tier.partition_key, open_tier.tier
        who = "\n".join(
            f"- {role}: {', '.join(a.name for a in people)}" if people
            else f"- {role}: nobody who may decide is configured (`contract-assets approvers add`)"
            for role, people in open_tier.approvers.items()
        )  # fmt: skip
        how = (
            f"Read it with `contract-assets status {open_tier.contract_id}` (review copy), "
            f"then decide with:\n"
            f"contract-assets approve {key} --role ROLE --approver NAME --key KEY_FILE "
            "[--decision approve|reject|request-changes]\n"
        )
        roles_of: dict[str, tuple[Addressee, list[str]]] = {}
        for role, people in open_tier.approvers.items():
            for person in people:
                roles_of.setdefault(person.name, (person, []))[1].append(role)
        for name, (person, roles) in roles_of.items():
            alerts.append(
                Alert(
                    alert_id=f"approval_request:{key}:tier{tier}:{name}",
                    kind="approval_request",
                    subject=f"Approval requested: {key} needs your decision as {', '.join(roles)}",
                    body=(
                        f"{name}, revision {key} of contract {open_tier.contract_id} awaits "
                        f"your decision as {' or '.join(roles)} (tier {tier}). Who may decide "
                        f"this tier:\n{who}\n\n{how}"
                    ),
                    contract_id=open_tier.contract_id,
                    partition_key=key,
                    created_at=now,
                    recipients=[person.email],
                )
            )
        for role, people in open_tier.approvers.items():
            if people:
                continue
            alerts.append(
                Alert(
                    alert_id=f"approval_request:{key}:tier{tier}:nobody:{role}",
                    kind="approval_request",
                    subject=f"Approval cannot be requested: nobody may decide {role} for {key}",
                    body=(
                        f"Revision {key} of contract {open_tier.contract_id} awaits approval "
                        f"(tier {tier}) from:\n{who}\n\nAdd an approver who holds the role "
                        f"{role} (`contract-assets approvers add NAME --email ... --role {role} "
                        "--public-key ...`); they are asked on the next evaluation.\n"
                    ),
                    contract_id=open_tier.contract_id,
                    partition_key=key,
                    created_at=now,
                )
            )
    return alerts


# --- outcomes told to the requester -------------------------------------------------------

Outcome = Literal["approved", "rejected", "changes_requested", "ready_for_signature"]


@dataclass(frozen=True)
class RequesterOutcome:
    """What became of a revision that its requester should hear: the outcome, and for a
    decision by people the role and approver (by name) and their comment."""

    partition_key: str
    contract_id: str
    requester: str  # their email: personal data, only ever an alert's recipient
    outcome: Outcome
    role: str | None = None
    approver: str | None = None
    comment: str | None = None


def requester_notice_id(partition_key: str, outcome: str) -> str:
    return f"approval_outcome:{partition_key}:{outcome}"


def requester_notices(outcomes: list[RequesterOutcome], now: datetime) -> list[Alert]:
    """One notice per revision and outcome, id `approval_outcome:<partition_key>:<outcome>`,
    to the requester's email only (never the deployment's list or the webhook)."""
    now = _require_aware(now, "now")
    notices = []
    for outcome in outcomes:
        key = outcome.partition_key
        by = f" by {outcome.approver} ({outcome.role})" if outcome.approver else ""
        comment = f"\n\nTheir comment:\n{outcome.comment}\n" if outcome.comment else "\n"
        subject, text = {
            "approved": (
                f"Approved: {key}",
                f"Your request {key} is approved; its documents are being made.\n",
            ),
            "rejected": (
                f"Rejected: {key}",
                f"Your request {key} was rejected{by}.{comment}",
            ),
            "changes_requested": (
                f"Changes requested: {key}",
                f"Changes were requested on your request {key}{by}.{comment}\n"
                "Submit a new revision of the request with the changes.\n",
            ),
            "ready_for_signature": (
                f"Ready for signature: {key}",
                f"Your request {key} is ready for signature: the signature package is made. "
                f"`contract-assets status {outcome.contract_id}` shows where it is.\n",
            ),
        }[outcome.outcome]
        notices.append(
            Alert(
                alert_id=requester_notice_id(key, outcome.outcome),
                kind="approval_outcome",
                subject=subject,
                body=text,
                contract_id=outcome.contract_id,
                partition_key=key,
                created_at=now,
                recipients=[outcome.requester],
                broadcast=False,
            )
        )
    return notices


@dataclass(frozen=True)
class PendingRevision:
    """A revision awaiting approval, since when, and the roles whose decisions are still missing."""

    partition_key: str
    contract_id: str
    awaiting_since: datetime  # time-zone aware; naive times are refused
    required_roles: list[str]

    def __post_init__(self) -> None:
        _require_aware(self.awaiting_since, f"{self.partition_key}: awaiting_since")


def sla_alerts(
    pending: list[PendingRevision],
    now: datetime,
    sla_hours: int = 48,
    expire_after_days: int = 7,
) -> tuple[list[Alert], list[str]]:
    """Escalations for revisions pending at least `sla_hours`, and those to expire.

    A revision pending at least `sla_hours` (and less than `expire_after_days`) gets one
    escalation, id `sla:<partition_key>`. One pending at least `expire_after_days` is
    returned among the keys to mark expired and gets an `expired:<partition_key>` alert
    instead (an escalation for a revision that is expiring asks for a decision that can no
    longer be given). Time is counted in UTC; `now` must be time-zone aware. Both lists
    come ordered by how long the revision has waited, longest first.
    """
    now = _require_aware(now, "now")
    if sla_hours <= 0 or expire_after_days <= 0:
        raise ValueError("sla_hours and expire_after_days must be positive")
    sla, expiry = timedelta(hours=sla_hours), timedelta(days=expire_after_days)
    if sla >= expiry:
        raise ValueError(
            f"the SLA ({sla_hours} h) must be shorter than the expiry ({expire_after_days} days)"
        )
    alerts: list[Alert] = []
    expired: list[str] = []
    for revision in sorted(pending, key=lambda r: (r.awaiting_since, r.partition_key)):
        key, contract_id = revision.partition_key, revision.contract_id
        since = revision.awaiting_since.astimezone(UTC)
        waited = now - since
        roles = ", ".join(revision.required_roles) or "(none listed)"
        if waited >= expiry:
            expired.append(key)
            alert_id, kind = f"expired:{key}", "expired"
            subject = f"Approval expired: {key} after {expire_after_days} days"
            body = (
                f"Revision {key} of contract {contract_id} awaited approval since "
                f"{_utc_text(since)} and was not decided within {expire_after_days} days; "
                f"it is expired.\n\nDecisions that were missing: {roles}.\n"
                "Submit a new revision of the contract to continue.\n"
            )
        elif waited >= sla:
            hours = int(waited.total_seconds() // 3600)
            alert_id, kind = f"sla:{key}", "sla_escalation"
            subject = f"Approval overdue: {key} has waited {hours} h for {roles}"
            body = (
                f"Revision {key} of contract {contract_id} has been awaiting approval since "
                f"{_utc_text(since)} ({hours} hours; the SLA is {sla_hours} hours).\n\n"
                f"Decisions still needed from: {roles}.\n"
                f"Without them it expires at {_utc_text(since + expiry)}.\n"
            )
        else:
            continue
        alerts.append(
            Alert(
                alert_id=alert_id,
                kind=kind,
                subject=subject,
                body=body,
                contract_id=contract_id,
                partition_key=key,
                created_at=now,
            )
        )
    return alerts, expired


# --- failed runs ----------------------------------------------------------------------------


def run_failure_alert(
    *,
    run_id: str,
    job_name: str,
    error: str,
    failed_at: datetime,
    contract_id: str | None = None,
    partition_key: str | None = None,
) -> Alert:
    """The alert for a failed run, id `run_failure:<run_id>` (a re-execution is a new run)."""
    failed_at = _require_aware(failed_at, "failed_at")
    where = f" ({partition_key})" if partition_key else ""
    return Alert(
        alert_id=f"run_failure:{run_id}",
        kind="run_failure",
        subject=f"Run failed: {job_name}{where}",
        body=(
            f"Run {run_id} of job {job_name}{where} failed at {_utc_text(failed_at)}.\n\n"
            f"{error.strip() or '(no error message)'}\n\n"
            "Fix the cause, then re-execute the run from failure in the Dagster UI.\n"
        ),
        contract_id=contract_id,
        partition_key=partition_key,
        created_at=failed_at,
    )
