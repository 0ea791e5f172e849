"""The contract register as a report people read: headline figures, charts, the renewal
notices coming up, and the whole table. One self-contained HTML page (inline SVG charts, no
script), so it opens from disk, prints, and can be mailed as it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from contract_assets.documents.rendering.html import HTML_ENVIRONMENT
from contract_assets.drafting.clause_library import money
from contract_assets.platform.files import sha256_bytes
from contract_assets.platform.models import FileBundle, RenderedFile
from contract_assets.register.register import as_date, renewals_due

FILENAME = "contract-register.html"
FILE_KIND = "register_report"  # the report file among a RegisterReport's files (path_of)
RENEWAL_HORIZON_DAYS = 90
# Stages in the order a contract moves through them; the chart lists them so.
STATUS_ORDER = [
    "received", "validated", "drafted", "checked", "risk_assessed", "blocked",
    "awaiting_approval", "approved", "rendered", "ready_for_signature", "executed",
    "rejected", "changes_requested", "expired", "superseded", "failed",
]  # fmt: skip
RISK_ORDER = ["low", "medium", "high", "critical"]


@dataclass(frozen=True)
class Column:
    """One column of the report's table of all contracts: a heading people read and how a
    register row shows in it."""

    heading: str
    cell: Callable[[dict[str, Any]], str]
    numeric: bool = False  # right-aligned, figures in a column, kept on one line
    free_text: bool = False  # typed by people: may be one long word, so it may break anywhere
    dates: bool = False  # a date is never broken at its hyphens; a cell's lines end at "\n"

    @property
    def css_class(self) -> str:
        kinds = (("num", self.numeric), ("text", self.free_text), ("dates", self.dates))
        return next((name for name, applies in kinds if applies), "")


def stage_in_words(stage: str) -> str:
    """"ready_for_signature" -> "Ready for signature"."""
    return stage.replace("_", " ").capitalize()


def _revisions(row: dict[str, Any]) -> str:
    in_force = _shown(row["revision_in_force"])
    return f"{_shown(row['latest_revision'])} / {in_force or 'none'}"


def _value(row: dict[str, Any]) -> str:
    amount, currency = _shown(row["value_amount"]), _shown(row["currency"])
    return money(Decimal(amount), currency) if amount and currency else ""


def _risk(row: dict[str, Any]) -> str:
    level, score = _shown(row["risk_level"]), _shown(row["risk_score"])
    if not level:
        return "Not assessed"
    return f"{level.capitalize()} ({score})" if score else level.capitalize()


def _term(row: dict[str, Any]) -> str:
    start, end = _shown(row["effective_date"]), _shown(row["end_date"])
    if not start:
        return "From approval"  # no effective date before the revision is approved
    return f"{start}\nto {end}" if end else start


# Eleven columns that wrap within an A4 page and a 1280 px window: several register
# fields share one cell (value and currency, level and score, start and end).
TABLE_COLUMNS = (
    Column("Contract", lambda r: _shown(r["contract_id"]), free_text=True),
    Column("Type", lambda r: _shown(r["type"]).upper()),
    Column("Counterparty", lambda r: _shown(r["counterparty"]), free_text=True),
    Column("Our entity", lambda r: _shown(r["our_entity"]), free_text=True),
    Column("Revision (latest / in force)", _revisions),
    Column("Stage", lambda r: stage_in_words(_shown(r["status"]))),
    Column("Value", _value, numeric=True),
    Column("Risk (score)", _risk),
    Column("Term", _term, dates=True),
    Column("Renews automatically", lambda r: "yes" if _shown(r["auto_renew"]) == "True" else "no"),
    Column("Renewal notice by", lambda r: _shown(r["renewal_notice_date"]), dates=True),
)


class RegisterReport(FileBundle):
    """The register report's file, and the figures it leads with."""

    generated_on: date
    contracts: int
    in_force: int
    awaiting_approval: int
    renewal_notices_due: int  # in force, notice date within the horizon or passed before the end
    by_status: dict[str, int]


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    width: float  # percent of the longest bar


def build_register_report(register: pd.DataFrame, today: date, generated_at: datetime) -> RegisterReport:
    """The report of `register` (contract_register's frame) as it stands on `today`."""
    rows = register.to_dict("records")
    by_status = _counted(Counter(r["status"] for r in rows), STATUS_ORDER)
    by_risk = _counted(Counter(_shown(r["risk_level"]) or "not assessed" for r in rows), RISK_ORDER)
    # The renewal reminders' rule, over a longer window.
    renewals = renewals_due(register, today, RENEWAL_HORIZON_DAYS)
    in_force_ends = [as_date(r["end_date"]) for r in rows if _shown(r["revision_in_force"])]
    endings = Counter(
        end.strftime("%Y-%m") for end in in_force_ends if end and today <= end <= today + timedelta(days=366)
    )
    # By type: an sow's value is usually within its MSA's, so one sum would count it twice.
    values: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for r in rows:
        if _shown(r["value_amount"]) and _shown(r["currency"]):
            count, total = values.get((r["type"], r["currency"]), (0, Decimal(0)))
            values[(r["type"], r["currency"])] = (count + 1, total + Decimal(r["value_amount"]))
    in_force = sum(1 for r in rows if _shown(r["revision_in_force"]))
    awaiting = dict(by_status).get("awaiting_approval", 0)
    data = _TEMPLATE.render(
        today=today,
        generated_at=generated_at,
        table=[[column.cell(r) for column in TABLE_COLUMNS] for r in rows],
        columns=TABLE_COLUMNS,
        contracts=len(rows),
        in_force=in_force,
        awaiting=awaiting,
        status_bars=_bars(by_status),
        risk_bars=_bars(by_risk),
        ending_bars=_bars(sorted(endings.items())),
        renewals=renewals,
        values=sorted(values.items()),
        horizon_days=RENEWAL_HORIZON_DAYS,
    ).encode()
    return RegisterReport(
        partition_key="contract_register",
        files=[
            RenderedFile(
                kind=FILE_KIND, filename=FILENAME, media_type="text/html; charset=utf-8",
                sha256=sha256_bytes(data), size=len(data),
            )
        ],  # fmt: skip
        content={FILENAME: data},
        generated_on=today,
        contracts=len(rows),
        in_force=in_force,
        awaiting_approval=awaiting,
        renewal_notices_due=len(renewals),
        by_status=dict(by_status),
    )


def _counted(counts: Counter, order: list[str]) -> list[tuple[str, int]]:
    """Counts in the given order, then any others by name; zero counts left out."""
    known = [(name, counts[name]) for name in order if counts.get(name)]
    return known + sorted((name, n) for name, n in counts.items() if name not in order)


def _bars(counts: list[tuple[str, int]]) -> list[Bar]:
    longest = max((n for _, n in counts), default=0) or 1
    return [Bar(label, n, 100.0 * n / longest) for label, n in counts]


def _shown(value: object) -> str:
    """A cell as text: empty for a missing value."""
    if value is None or (not isinstance(value, (str, date)) and pd.isna(value)):
        return ""
    return str(value)


# Every value goes through autoescape: a counterparty called "<script>" shows as typed.
_TEMPLATE = HTML_ENVIRONMENT.from_string(
    """\
<!DOCTYPE html>
<html lang="en">
<head>
{{ head_meta }}<title>Contract register – {{ today.isoformat() }}</title>
<style>
  body { font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; font-size: 10pt;
         color: #111; margin: 1.5em auto; max-width: 70em; padding: 0 1em; }
  h1 { font-size: 17pt; margin: 0 0 0.2em; }
  h2 { font-size: 11pt; text-transform: uppercase; letter-spacing: 0.04em;
       border-bottom: 1px solid #999; padding-bottom: 0.2em; margin: 1.6em 0 0.6em; }
  .generated { color: #555; margin: 0 0 1.2em; }
  .figures { display: flex; gap: 1em; flex-wrap: wrap; }
  .figure { border: 1px solid #ccc; padding: 0.6em 1em; min-width: 9em; }
  .figure .n { font-size: 20pt; font-weight: bold; display: block; }
  .charts { display: flex; gap: 2em; flex-wrap: wrap; }
  .chart { flex: 1 1 22em; }
  .chart svg { width: 100%; }
  .chart text { font-size: 11px; fill: #111; }
  .chart rect { fill: #4a6fa5; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 0.25em 0.5em; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { background: #f2f2f2; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  th.num { text-align: right; }
  table.narrow { width: auto; min-width: 30em; }
  /* The table of all contracts fits the page: cells wrap between words, names and ids
     people typed anywhere (one may be a single long word), never a sideways scroll.
     Amounts and dates stay whole (a term is two short lines). */
  table.all { font-size: 8.5pt; table-layout: auto; }
  table.all th, table.all td { overflow-wrap: break-word; }
  table.all td.text { overflow-wrap: anywhere; }
  table.all td.num, table.all td.dates { white-space: nowrap; }
  .note { color: #555; font-size: 9pt; }
  .none { color: #555; font-style: italic; }
  @page { size: A4; margin: 15mm 12mm; }
  @media print {
    body { max-width: none; margin: 0; padding: 0; }
    .charts { display: block; } .chart { page-break-inside: avoid; }
    table.all { font-size: 7.5pt; }
    table.all tr { break-inside: avoid; }
  }
</style>
</head>
<body>
<h1>Contract register</h1>
<p class="generated">As of {{ today.isoformat() }} (generated {{ generated_at.strftime("%Y-%m-%d %H:%M UTC") }}).
One row per contract: the revision in force is its latest executed revision.</p>

<div class="figures">
  <div class="figure"><span class="n">{{ contracts }}</span>contracts</div>
  <div class="figure"><span class="n">{{ in_force }}</span>in force (executed)</div>
  <div class="figure"><span class="n">{{ awaiting }}</span>awaiting approval</div>
  <div class="figure"><span class="n">{{ renewals | length }}</span>renewal notices due within {{ horizon_days }} days</div>
</div>

{% macro chart(title, bars, empty) %}
<div class="chart">
<h2>{{ title }}</h2>
{% if bars %}
<svg viewBox="0 0 300 {{ bars | length * 22 + 4 }}" role="img" aria-label="{{ title }}">
{% for bar in bars %}
  <text x="0" y="{{ loop.index0 * 22 + 15 }}">{{ bar.label }}</text>
  <rect x="120" y="{{ loop.index0 * 22 + 4 }}" height="15" width="{{ '%.1f' % (bar.width * 1.45) }}"></rect>
  <text x="{{ '%.1f' % (125 + bar.width * 1.45) }}" y="{{ loop.index0 * 22 + 15 }}">{{ bar.count }}</text>
{% endfor %}
</svg>
{% else %}
<p class="none">{{ empty }}</p>
{% endif %}
</div>
{% endmacro %}
<div class="charts">
{{ chart("Contracts by status", status_bars, "No contracts yet.") }}
{{ chart("Contracts by risk level", risk_bars, "No contracts yet.") }}
{{ chart("Contracts in force ending, by month (next 12 months)", ending_bars, "None ends in the next 12 months.") }}
</div>

<h2>Renewal notices due within {{ horizon_days }} days</h2>
{% if renewals %}
<table>
<tr><th>Notice date</th><th>Contract</th><th>Counterparty</th><th>End date</th><th>Renews automatically</th></tr>
{% for due in renewals %}
<tr><td>{{ due.notice.isoformat() }}{% if due.overdue %} (passed){% endif %}</td><td>{{ due.row.contract_id }}</td>
<td>{{ due.row.counterparty }}</td><td>{{ due.end.isoformat() }}</td><td>{{ "yes" if due.row.auto_renew else "no" }}</td></tr>
{% endfor %}
</table>
{% else %}
<p class="none">No contract in force has its renewal notice date in the next {{ horizon_days }} days, or passed before its end.</p>
{% endif %}

<h2>Contract value by type and currency (latest revisions, face value)</h2>
{% if values %}
<table class="narrow">
<tr><th>Type</th><th>Currency</th><th>Contracts</th><th>Total</th></tr>
{% for (type, currency), (count, total) in values %}
<tr><td>{{ type | upper }}</td><td>{{ currency }}</td><td class="num">{{ count }}</td><td class="num">{{ "{:,.2f}".format(total) }}</td></tr>
{% endfor %}
</table>
<p class="note">An sow's value usually falls within its MSA's: the rows are not meant to be added up.</p>
{% else %}
<p class="none">No contract states a value.</p>
{% endif %}

<h2>All contracts</h2>
{% if table %}
<table class="all">
<thead><tr>{% for column in columns %}<th scope="col" class="{{ column.css_class }}">{{ column.heading }}</th>{% endfor %}</tr></thead>
<tbody>
{% for cells in table %}
<tr>{% for column in columns %}<td class="{{ column.css_class }}">
{%- for line in cells[loop.index0].split("\n") %}{% if not loop.first %}<br>
{% endif %}{{ line }}{% endfor %}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p class="none">No contracts yet.</p>
{% endif %}
</body>
</html>
"""
)
