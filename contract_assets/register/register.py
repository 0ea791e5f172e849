"""The contract register: one row per contract (PRODUCT.md section 6)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from contract_assets.platform.markdown import literal
from contract_assets.platform.models import Revision, RiskAssessment

COLUMNS = [
    "contract_id",
    "type",
    "counterparty",
    "our_entity",
    "revision_in_force",
    "latest_revision",
    "status",
    "value_amount",
    "currency",
    "risk_score",
    "risk_level",
    "effective_date",
    "end_date",
    "auto_renew",
    "renewal_notice_date",
]


@dataclass(frozen=True)
class RegisterEntry:
    """What the register needs to know about one revision."""

    revision: Revision
    stage: str
    risk: RiskAssessment | None
    effective_date: date | None  # the request's, else the date it was approved


def as_date(value: Any) -> date | None:
    """A register cell as a date: dates stay, timestamps lose their time, blanks are None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, datetime):  # pandas.Timestamp too
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@dataclass(frozen=True)
class RenewalDue:
    """A contract in force whose renewal notice date needs attention."""

    row: dict[str, Any]  # its register row
    notice: date
    end: date
    overdue: bool  # the notice date has passed, the contract has not ended


def renewals_due(register: pd.DataFrame, today: date, window_days: int) -> list[RenewalDue]:
    """Contracts with a revision in force (an executed one) whose renewal notice date lies
    in [today, today + window_days], or has passed while the contract has not yet ended (the
    register was refreshed late, or the contract was executed after its notice date).
    Ordered by notice date, then contract id."""
    horizon = today + timedelta(days=window_days)
    due = []
    for row in register.to_dict("records"):
        notice, end = as_date(row["renewal_notice_date"]), as_date(row["end_date"])
        if pd.isna(row["revision_in_force"]) or notice is None or end is None:
            continue
        overdue = notice < today < end
        if today <= notice <= horizon or overdue:
            due.append(RenewalDue(row, notice, end, overdue))
    return sorted(due, key=lambda d: (d.notice, d.row["contract_id"]))


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def build_register(entries: list[RegisterEntry]) -> pd.DataFrame:
    """One row per contract: the revision in force (the latest executed) and the latest one.

    Dates and terms come from the revision in force, or from the latest revision while none
    is executed. Amounts are kept as exact decimal strings.
    """
    by_contract: dict[str, list[RegisterEntry]] = {}
    for entry in entries:
        by_contract.setdefault(entry.revision.contract_id, []).append(entry)
    rows = []
    for contract_id, revisions in sorted(by_contract.items()):
        revisions.sort(key=lambda e: e.revision.revision)
        latest = revisions[-1]
        executed = [e for e in revisions if e.stage == "executed"]
        in_force = executed[-1] if executed else None
        basis = in_force or latest
        request = basis.revision.request
        end = add_months(basis.effective_date, request.term_months) if basis.effective_date else None
        notice = end - timedelta(days=request.renewal_notice_days) if end else None
        rows.append(
            {
                "contract_id": contract_id,
                "type": request.type.value,
                "counterparty": request.counterparty.legal_name,
                "our_entity": request.our_entity,
                "revision_in_force": in_force.revision.revision if in_force else None,
                "latest_revision": latest.revision.revision,
                "status": latest.stage,
                "value_amount": str(request.value.amount) if request.value else None,
                "currency": request.value.currency if request.value else None,
                "risk_score": basis.risk.score if basis.risk else None,
                "risk_level": basis.risk.level if basis.risk else None,
                "effective_date": basis.effective_date,
                "end_date": end,
                "auto_renew": request.auto_renew,
                "renewal_notice_date": notice,
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("revision_in_force", "latest_revision", "risk_score"):
        frame[column] = frame[column].astype("Int64")
    return frame


def markdown_table(frame: pd.DataFrame) -> str:
    """A Markdown table of the frame, for the Dagster UI's metadata preview."""
    if frame.empty:
        return "_no contracts yet_"

    def cell(value: object) -> str:
        return "" if value is None or value is pd.NA or value != value else literal(value)

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])
