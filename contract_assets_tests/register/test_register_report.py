"""The register report: figures, charts and renewal notices as a reader needs them, and
user text shown literally."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pandas as pd

from contract_assets.register.register import COLUMNS
from contract_assets.register.register_report import FILENAME, build_register_report

TODAY = date(2026, 11, 26)


def row(contract_id: str, **fields) -> dict:
    base = {column: None for column in COLUMNS}
    base.update(
        contract_id=contract_id, type="nda", counterparty="Acme Robotics LLC",
        our_entity="orbital-inc", latest_revision=1, status="ready_for_signature",
        auto_renew=False,
    )  # fmt: skip
    return {**base, **fields}


def report_of(*rows: dict):
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    for column in ("revision_in_force", "latest_revision", "risk_score"):
        frame[column] = frame[column].astype("Int64")
    report = build_register_report(frame, TODAY, datetime(2026, 11, 26, 9, 30, tzinfo=UTC))
    return report, report.content[FILENAME].decode()


def section(html: str, heading: str) -> str:
    """The part of the page under one heading, up to the next."""
    return html.split(f"<h2>{heading}")[1].split("<h2>")[0]


def test_figures_count_contracts_in_force_waiting_and_renewals_due():
    report, html = report_of(
        row("in-force-renewing", status="executed", revision_in_force=1, risk_level="low",
            end_date=date(2027, 1, 10), renewal_notice_date=date(2026, 12, 11)),
        row("notice-passed", status="executed", revision_in_force=2, latest_revision=2,
            end_date=date(2026, 12, 20), renewal_notice_date=date(2026, 11, 20)),
        row("ended-long-ago", status="executed", revision_in_force=1,
            end_date=date(2025, 1, 1), renewal_notice_date=date(2024, 12, 1)),
        row("far-off", status="executed", revision_in_force=1,
            end_date=date(2029, 1, 1), renewal_notice_date=date(2028, 12, 1)),
        row("waiting", status="awaiting_approval", risk_level="high"),
        row("sow-waiting", type="sow", status="blocked"),
    )  # fmt: skip

    assert (report.contracts, report.in_force, report.awaiting_approval) == (6, 4, 1)
    assert report.renewal_notices_due == 2
    assert report.by_status == {"awaiting_approval": 1, "blocked": 1, "executed": 4}
    renewals = section(html, "Renewal notices due")
    assert renewals.index("notice-passed") < renewals.index("in-force-renewing")
    assert "2026-11-20 (passed)" in renewals
    assert "ended-long-ago" not in renewals and "far-off" not in renewals
    assert "not assessed" in html  # the risk chart counts revisions never assessed


def test_charts_are_inline_svg_with_one_bar_per_value():
    _, html = report_of(
        row("a", status="awaiting_approval", risk_level="low"),
        row("b", status="awaiting_approval", risk_level="high"),
        row("c", status="executed", revision_in_force=1, risk_level="high",
            end_date=date(2027, 3, 31), renewal_notice_date=date(2027, 3, 1)),
    )  # fmt: skip
    status_chart = section(html, "Contracts by status")
    assert status_chart.count("<rect") == 2
    assert ">awaiting_approval</text>" in status_chart and ">executed</text>" in status_chart
    ending = section(html, "Contracts in force ending")
    assert ">2027-03</text>" in ending
    assert "<script" not in html and "default-src 'none'" in html


def test_values_are_summed_by_type_and_currency_never_across():
    _, html = report_of(
        row("msa", type="msa", value_amount="520000.00", currency="EUR"),
        row("sow", type="sow", value_amount="90000.00", currency="EUR"),
        row("msa-usd", type="msa", value_amount="0.10", currency="USD"),
        row("msa-usd-2", type="msa", value_amount="0.20", currency="USD"),
    )  # fmt: skip
    values = section(html, "Contract value by type")
    assert "520,000.00" in values and "90,000.00" in values and "610,000.00" not in values
    assert "0.30" in values  # exact decimals, not 0.30000000000000004


def test_user_text_is_shown_literally():
    name = '<script>alert(1)</script> & "Zoë Ångström 株式会社" {{ x }}'
    _, html = report_of(row("literal", counterparty=name))
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Zoë Ångström 株式会社&#34; {{ x }}" in html


def test_an_empty_register_says_so():
    report, html = report_of()
    assert report.contracts == 0
    assert "No contracts yet." in html


class _Table(HTMLParser):
    """The headings and the rows of cell text of the page's `table.all`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[str] = []
        self.rows: list[list[str]] = []
        self._inside = self._cell = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self._inside = ("class", "all") in attrs
        elif self._inside and tag == "tr":
            self.rows.append([])
        elif self._inside and tag in ("th", "td"):
            self._cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._inside = False
        elif tag in ("th", "td"):
            self._cell = False

    def handle_data(self, data: str) -> None:
        if self._inside and self._cell:
            self.rows[-1][-1] += data


def all_contracts_table(html: str) -> tuple[list[str], list[dict[str, str]]]:
    parser = _Table()
    parser.feed(html)
    headings, *rows = parser.rows
    rows = [[" ".join(cell.split()) for cell in row] for row in rows]
    return headings, [dict(zip(headings, row, strict=True)) for row in rows]


def test_the_table_of_all_contracts_reads_as_words_not_register_fields():
    _, html = report_of(
        row("blue-fjord-msa", type="msa", status="awaiting_approval", value_amount="480000.00",
            currency="EUR", risk_level="high", risk_score=52, auto_renew=True,
            effective_date=date(2026, 12, 1), end_date=date(2028, 11, 30),
            renewal_notice_date=date(2028, 10, 31)),
        row("acme-nda", status="ready_for_signature", revision_in_force=1, latest_revision=2),
    )  # fmt: skip
    headings, rows = all_contracts_table(html)
    assert headings == [
        "Contract", "Type", "Counterparty", "Our entity", "Revision (latest / in force)",
        "Stage", "Value", "Risk (score)", "Term", "Renews automatically", "Renewal notice by",
    ]  # fmt: skip
    msa, nda = sorted(rows, key=lambda r: r["Contract"], reverse=True)
    assert msa == {
        "Contract": "blue-fjord-msa", "Type": "MSA", "Counterparty": "Acme Robotics LLC",
        "Our entity": "orbital-inc", "Revision (latest / in force)": "1 / none",
        "Stage": "Awaiting approval", "Value": "EUR 480,000.00", "Risk (score)": "High (52)",
        "Term": "2026-12-01 to 2028-11-30", "Renews automatically": "yes",
        "Renewal notice by": "2028-10-31",
    }  # fmt: skip
    assert nda["Stage"] == "Ready for signature"
    assert nda["Revision (latest / in force)"] == "2 / 1"
    assert (nda["Value"], nda["Risk (score)"], nda["Term"]) == ("", "Not assessed", "From approval")
    assert nda["Renews automatically"] == "no"


def test_the_table_of_all_contracts_wraps_to_the_page_instead_of_scrolling():
    _, html = report_of(row("acme-nda"))
    style = html.split("<style>")[1].split("</style>")[0]
    # No box that hides part of the table behind a sideways scroll bar.
    assert "overflow-x" not in style and "overflow: auto" not in style
    # The cells wrap, headings included: names people typed anywhere, since one may be a
    # single long word; only an amount and a date are kept whole.
    assert "table.all th, table.all td { overflow-wrap: break-word; }" in style
    assert "table.all td.text { overflow-wrap: anywhere; }" in style
    assert '<td class="text">acme-nda</td>' in html
    nowrap = re.findall(r"([^{}]+)\{[^}]*white-space: nowrap", style)
    assert [selector.strip() for selector in nowrap] == ["table.all td.num, table.all td.dates"]
    assert "size: A4" in style  # printed on A4, with the print rules below it
    assert "table.all { font-size: 7.5pt; }" in style.split("@media print")[1]
    headings, _ = all_contracts_table(html)
    assert len(headings) <= 11
