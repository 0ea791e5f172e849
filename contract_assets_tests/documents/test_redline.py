"""The redline of a revision against the previous one, on drafts from the real clause library."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from markupsafe import escape

from contract_assets.drafting.assembly import assemble_draft
from contract_assets.drafting.clause_library import ClauseLibrary, load_entities, load_library
from contract_assets.platform.files import sha256_bytes
from contract_assets.platform.models import ContractDraft, ContractRequest, CustomClause
from contract_assets.documents.redline import Redline, changes_for_display, compare_drafts
from contract_assets.intake.requests import load_request_file

REQUESTS = Path(__file__).resolve().parents[2] / "examples" / "requests"


@pytest.fixture(scope="module")
def library() -> ClauseLibrary:
    return load_library()


def load(name: str) -> ContractRequest:
    return load_request_file(
        REQUESTS / name, entities=load_entities().keys(), find_contract=lambda _: None
    )


def draft(request: ContractRequest, revision: int, library: ClauseLibrary) -> ContractDraft:
    return assemble_draft(
        partition_key=f"{request.contract_id}.r{revision}",
        revision=revision,
        request=request,
        request_hash="f" * 64,
        entity=load_entities()[request.our_entity],
        library=library,
    )


@pytest.fixture(scope="module")
def r1(library: ClauseLibrary) -> ContractDraft:
    return draft(load("02-msa-high-value.yaml"), 1, library)


@pytest.fixture(scope="module")
def r2(library: ClauseLibrary) -> ContractDraft:
    return draft(load("05-msa-revision-2.yaml"), 2, library)


@pytest.fixture(scope="module")
def redline(r1: ContractDraft, r2: ContractDraft) -> Redline:
    return compare_drafts(r1, r2)


def html_of(redline: Redline) -> str:
    (file,) = redline.files
    return redline.content[file.filename].decode("utf-8")


def changed(redline: Redline) -> set[tuple[str, str, str]]:
    return {(c.clause_id, c.kind, c.where) for c in redline.changes}


def with_custom(request: ContractRequest, *clauses: tuple[str, str]) -> ContractRequest:
    custom = [CustomClause(title=title, text=text) for title, text in clauses]
    return request.model_copy(update={"custom_clauses": custom})


# --- blue-fjord-msa revision 2 against revision 1 ----------------------------------------


def test_revision_2_shows_exactly_the_new_value_payment_terms_and_service_credits(
    redline: Redline,
) -> None:
    assert changed(redline) == {
        ("msa-fees-payment", "changed", "body"),
        ("custom-1", "added", "body"),
    }
    fees = next(c for c in redline.changes if c.clause_id == "msa-fees-payment")
    assert fees.title == "Fees and Payment"
    assert fees.summary == "EUR 480,000.00 → EUR 520,000.00; 45 → 75 days"
    assert redline.summary == (
        "2 changes: changed Fees and Payment (EUR 480,000.00 → EUR 520,000.00; "
        "45 → 75 days); added Service credits"
    )
    assert redline.previous_partition_key == "blue-fjord-msa.r1"
    assert redline.partition_key == "blue-fjord-msa.r2"


def test_changed_words_are_marked_inside_the_sentence_they_belong_to(redline: Redline) -> None:
    html = html_of(redline)
    assert "will not exceed EUR <del>480,000.00</del><ins>520,000.00</ins> without" in html
    assert "in EUR within <del>45</del><ins>75</ins> days of receiving it" in html
    assert (
        "<p><ins>If monthly availability falls below 99.5%, the Supplier credits 5% of that "
        "month&#39;s fees.</ins></p>"
    ) in html


def test_unchanged_clauses_are_listed_by_title_only(redline: Redline, r2: ContractDraft) -> None:
    html = html_of(redline)
    assert html.count('<p class="unchanged">') == len(r2.all_clauses()) - 2
    assert "<span>Limitation of Liability</span><span class=\"tag\">unchanged</span>" in html
    # Only the two changed clauses carry their text; an unchanged clause's body is not shown.
    liability = next(c for c in r2.clauses if c.clause_id == "msa-liability-cap")
    assert str(escape(" ".join(liability.body.split()[:8]))) not in html


def test_the_redline_is_a_standalone_html_file_carried_as_bytes(redline: Redline) -> None:
    (file,) = redline.files
    data = redline.content[file.filename]
    assert file.kind == "redline"
    assert file.filename == "blue-fjord-msa.r2.redline.html"
    assert file.media_type == "text/html; charset=utf-8"
    assert (file.size, file.sha256) == (len(data), sha256_bytes(data))
    html = data.decode("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "blue-fjord-msa.r2" in html and "blue-fjord-msa.r1" in html


# --- other kinds of change ---------------------------------------------------------------


def test_identical_drafts_have_no_changes(r1: ContractDraft) -> None:
    redline = compare_drafts(r1, r1)
    assert redline.changes == []
    assert redline.summary.startswith("No changes")
    html = html_of(redline)
    assert '<section class="clause' not in html
    assert html.count('<p class="unchanged">') == len(r1.all_clauses())


def test_a_removed_clause_is_struck_through_where_it_stood(r2: ContractDraft) -> None:
    without_notices = r2.model_copy(
        update={"clauses": [c for c in r2.clauses if c.clause_id != "notices"]}
    )
    redline = compare_drafts(r2, without_notices)
    assert changed(redline) == {("notices", "removed", "body")}
    assert redline.summary == "1 change: removed Notices"
    html = html_of(redline)
    assert "<del>Notices</del>" in html
    notices = next(c for c in r2.clauses if c.clause_id == "notices")
    first_words = " ".join(notices.body.split()[:5])
    assert f"<p><del>{first_words}" in html
    # In reading order: after Governing Law, before General.
    assert html.index("Governing Law and Jurisdiction") < html.index("<del>Notices</del>")
    assert html.index("<del>Notices</del>") < html.index("<span>General</span>")


def test_an_annex_added_lists_its_clauses_and_counts_once_in_the_summary(
    r1: ContractDraft,
) -> None:
    without_annex = r1.model_copy(update={"annexes": []})
    redline = compare_drafts(without_annex, r1)
    (annex,) = r1.annexes
    assert changed(redline) == {(c.clause_id, "added", "annex:dpa") for c in annex.clauses}
    assert redline.summary == (
        f'1 change: added the annex "Annex A – {annex.title}" ({len(annex.clauses)} clauses)'
    )
    assert "This annex was added in revision 1." in html_of(redline)


def test_key_terms_outside_the_clauses_are_compared(
    r1: ContractDraft, library: ClauseLibrary
) -> None:
    request = load("02-msa-high-value.yaml")
    counterparty = request.counterparty.model_copy(
        update={"address": "Dronning Eufemias gate 16, 0191 Oslo, Norway"}
    )
    moved = request.model_copy(
        update={"counterparty": counterparty, "effective_date": date(2027, 3, 1)}
    )
    redline = compare_drafts(r1, draft(moved, 2, library))
    terms = {c.clause_id: c for c in redline.changes if c.where == "terms"}
    assert set(terms) == {"effective-date", "counterparty.address"}
    assert terms["effective-date"].summary == "1 January 2027 → 1 March 2027"
    assert terms["counterparty.address"].title == "Counterparty address"
    html = html_of(redline)
    assert (
        "<del>Karl Johans</del><ins>Dronning Eufemias</ins> gate <del>2</del><ins>16</ins>, "
        "<del>0154</del><ins>0191</ins> Oslo, Norway"
    ) in html
    assert "<del>January</del><ins>March</ins> 2027" in html


def test_changes_for_display_withhold_the_wording_of_personal_data(
    r1: ContractDraft, library: ClauseLibrary
) -> None:
    """What Dagster's metadata shows of a redline: which terms changed, never an old or new
    address, signatory name or email (those stay in the redline document)."""
    request = load("02-msa-high-value.yaml")
    signatory = request.counterparty.signatory.model_copy(
        update={"name": "Ingrid Berg", "email": "i.berg@bluefjord.example"}
    )
    counterparty = request.counterparty.model_copy(
        update={"address": "Dronning Eufemias gate 16, 0191 Oslo, Norway", "signatory": signatory}
    )
    current = draft(request.model_copy(update={"counterparty": counterparty, "payment_terms_days": 60}), 2, library)
    redline = compare_drafts(r1, current)

    summary, lines = changes_for_display(redline, r1, current)

    shown = "\n".join([summary, *lines])
    unfiltered = "\n".join([redline.summary, *(c.summary for c in redline.changes)])
    for personal in ("Karl Johans", "Eufemias", "Nilsen", "Ingrid Berg", "i.berg@bluefjord.example"):
        assert personal in unfiltered  # the redline itself says it
        assert personal not in shown, personal
    assert any(line.startswith("**changed** Counterparty address: details withheld") for line in lines)
    fees = next(line for line in lines if "Fees" in line)
    assert "45" in fees and "60" in fees  # business terms are shown as they changed


# --- custom clauses ----------------------------------------------------------------------

CREDITS = ("Service credits", "If availability falls below 99.5%, the Supplier credits 5%.")
EXIT = ("Exit assistance", "On termination the Supplier helps move the data for 3 months.")


def test_custom_clauses_are_matched_by_title_wherever_they_stand(
    library: ClauseLibrary,
) -> None:
    request = load("02-msa-high-value.yaml")
    before = draft(with_custom(request, CREDITS, EXIT), 1, library)
    after = draft(with_custom(request, EXIT, CREDITS), 2, library)
    assert compare_drafts(before, after).changes == []


def test_a_renamed_custom_clause_is_matched_by_its_place(library: ClauseLibrary) -> None:
    request = load("02-msa-high-value.yaml")
    before = draft(with_custom(request, CREDITS), 1, library)
    after = draft(with_custom(request, ("Availability credits", CREDITS[1])), 2, library)
    redline = compare_drafts(before, after)
    assert changed(redline) == {("custom-1", "changed", "body")}
    assert redline.changes[0].summary == "title Service credits → Availability credits"
    assert "<del>Service</del><ins>Availability</ins> credits" in html_of(redline)


def test_a_different_custom_clause_in_the_same_place_is_removed_and_added(
    library: ClauseLibrary,
) -> None:
    request = load("02-msa-high-value.yaml")
    before = draft(with_custom(request, CREDITS), 1, library)
    after = draft(with_custom(request, EXIT), 2, library)
    redline = compare_drafts(before, after)
    assert changed(redline) == {("custom-1", "removed", "body"), ("custom-1", "added", "body")}
    assert redline.summary == "2 changes: removed Service credits; added Exit assistance"


def test_user_text_is_escaped(r1: ContractDraft, library: ClauseLibrary) -> None:
    hostile = ("<b>Credits</b>", 'Pay <script>alert("x")</script> & {{ 7*7 }} now.')
    request = with_custom(load("02-msa-high-value.yaml"), hostile)
    redline = compare_drafts(r1, draft(request, 2, library))
    html = html_of(redline)
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; {{ 7*7 }} now." in html
    assert "<ins>&lt;b&gt;Credits&lt;/b&gt;</ins>" in html


def test_a_rewrapped_line_is_not_a_change(r1: ContractDraft) -> None:
    fees = next(c for c in r1.clauses if c.clause_id == "msa-fees-payment")
    body = fees.body.replace("the Fees. The total", "the Fees.\nThe  total")
    assert body != fees.body
    rewrapped = fees.model_copy(update={"body": body})
    after = r1.model_copy(
        update={"clauses": [rewrapped if c is fees else c for c in r1.clauses]}
    )
    assert compare_drafts(r1, after).changes == []


def test_drafts_of_different_contracts_are_refused(
    r1: ContractDraft, library: ClauseLibrary
) -> None:
    other = draft(load("01-mutual-nda.yaml"), 1, library)
    with pytest.raises(ValueError, match="two revisions of one contract"):
        compare_drafts(r1, other)
