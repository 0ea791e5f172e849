"""Assembling drafts: template choice, clause positions, deviations, annexes, literal data."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contract_assets.drafting.assembly import Amended, AssemblyError, assemble_draft, build_context
from contract_assets.drafting.clause_library import (
    CONTEXT_NAMES,
    LIBRARY_DIR,
    ClauseLibrary,
    load_entities,
    load_library,
)
from contract_assets.platform.models import ContractDraft, ContractRequest, DraftClause

LITERAL = "{{ 7*7 }} <script>alert(1)</script>"
PERSONAL_DATA = {
    "processed": True,
    "categories": ["contact details"],
    "transfers_outside_eea": False,
}
EUR_480K = {"amount": "480000.00", "currency": "EUR"}


@pytest.fixture(scope="module")
def library() -> ClauseLibrary:
    return load_library()


@pytest.fixture
def make_request(make_raw: Callable[..., dict[str, Any]]) -> Callable[..., ContractRequest]:
    """A request of a type (conftest's sample) with dotted-path changes, built directly."""

    def build(kind: str, changes: dict[str, Any] | None = None) -> ContractRequest:
        return ContractRequest.model_validate(make_raw(kind, changes))

    return build


def draft(
    request: ContractRequest, library: ClauseLibrary, parent: ContractRequest | None = None
) -> ContractDraft:
    return assemble_draft(
        partition_key=f"{request.contract_id}.r1",
        revision=1,
        request=request,
        request_hash="f" * 64,
        entity=load_entities()[request.our_entity],
        library=library,
        parent=parent,
    )


def clause(result: ContractDraft, clause_id: str) -> DraftClause:
    return next(c for c in result.all_clauses() if c.clause_id == clause_id)


def ids(result: ContractDraft) -> list[str]:
    return [c.clause_id for c in result.clauses]


def copy_library(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, root)
    return root


# --- templates and mandatory clauses --------------------------------------------------------


def test_mutual_nda_uses_the_mutual_template(library, make_request):
    result = draft(make_request("nda", {"effective_date": "2026-12-01"}), library)
    assert (result.template_id, result.title) == ("nda-mutual", "Mutual Non-Disclosure Agreement")
    parties = clause(result, "nda-parties-mutual").body
    assert 'each a "Party"' in parties
    assert "takes effect on 1 December 2026" in parties


def test_one_way_nda_names_the_disclosing_party(library, make_request):
    ours = draft(make_request("nda", {"nda.mutual": False}), library)
    assert ours.template_id == "nda-one-way"
    body = clause(ours, "nda-parties-one-way").body
    assert "Orbital, Inc., a corporation organised under the laws of Delaware, United" in body
    them = ours.parties[1].legal_name
    assert body.index("Orbital, Inc.") < body.index('(the "Disclosing Party")') < body.index(them)

    reverse = {"nda.mutual": False, "nda.disclosing_party": "counterparty"}
    theirs = draft(make_request("nda", reverse), library)
    body = clause(theirs, "nda-parties-one-way").body
    assert body.index(them) < body.index('(the "Disclosing Party")') < body.index("Orbital, Inc.")


def test_confidentiality_years_and_purpose_reach_the_nda(library, make_request):
    request = make_request("nda", {"nda.purpose": "a pilot", "nda.confidentiality_years": 7})
    result = draft(request, library)
    assert "continue for 7 years after this Agreement ends" in clause(result, "nda-term").body
    assert "for the following purpose only: a pilot (the" in clause(result, "nda-purpose").body


@pytest.mark.parametrize(
    ("kind", "template_id", "must_include"),
    [
        ("nda", "nda-mutual", {"nda-obligations", "nda-definitions", "governing-law"}),
        ("msa", "msa", {"msa-liability-cap", "msa-confidentiality", "governing-law"}),
        ("dpa", "dpa", {"dpa-processor-obligations", "dpa-breach-notification", "governing-law"}),
    ],
)
def test_mandatory_clauses_are_listed_and_present(
    library, make_request, kind, template_id, must_include
):
    result = draft(make_request(kind), library)
    assert result.template_id == template_id
    assert must_include <= set(result.mandatory_clause_ids)
    assert set(result.mandatory_clause_ids) <= {c.clause_id for c in result.all_clauses()}
    assert "notices" not in result.mandatory_clause_ids


def test_sow_refers_to_its_msa_and_lists_deliverables(library, make_request):
    request = make_request("sow", {"value.currency": "EUR"})
    result = draft(request, library, parent=make_request("msa"))
    assert result.template_id == "sow"
    parent_id = request.sow.parent_contract_id
    assert f"with the reference {parent_id} (the" in clause(result, "sow-parties").body
    second = request.sow.deliverables[1]
    assert (
        f"Deliverable 2: {second.title}\nDescription: {second.description}\n"
        f"Due date: {second.due_date.day} "
    ) in clause(result, "sow-deliverables").body
    assert f"\nFee: EUR {second.amount:,.2f}" in clause(result, "sow-deliverables").body
    total = f"total Fees for this SOW are EUR {request.value.amount:,.2f}"
    assert total in clause(result, "sow-fees").body
    assert {"sow-msa-terms", "sow-deliverables", "sow-acceptance"} <= set(
        result.mandatory_clause_ids
    )


def test_sow_needs_its_own_msa_as_parent(library, make_request):
    sow = make_request("sow")
    expected = sow.sow.parent_contract_id
    with pytest.raises(AssemblyError, match=f"sow.parent_contract_id: the parent MSA '{expected}'"):
        draft(sow, library)
    with pytest.raises(AssemblyError, match=f"expected the MSA '{expected}'"):
        draft(sow, library, parent=make_request("msa", {"contract_id": "other-msa"}))


def test_only_an_sow_takes_a_parent(library, make_request):
    with pytest.raises(AssemblyError, match="only an sow has a parent contract"):
        draft(make_request("msa"), library, parent=make_request("msa"))


def test_msa_fees_and_renewal_use_the_request(library, make_request):
    changes = {"value": EUR_480K, "payment_terms_days": 45, "term_months": 36,
               "auto_renew": True, "renewal_notice_days": 90}
    result = draft(make_request("msa", changes), library)
    fees = clause(result, "msa-fees-payment").body
    assert "will not exceed EUR 480,000.00" in fees
    assert "within 45 days of receiving it" in fees
    renewal = clause(result, "msa-term-renewal").body
    assert "initial term of 36 months" in renewal
    assert "renews automatically" in renewal and "at least 90 days before" in renewal
    no_renewal = draft(make_request("msa", {**changes, "auto_renew": False}), library)
    assert "does not renew automatically" in clause(no_renewal, "msa-term-renewal").body


def test_payment_terms_default_to_30_days(library, make_request):
    result = draft(make_request("msa"), library)
    assert "within 30 days of receiving it" in clause(result, "msa-fees-payment").body


def test_parties_come_ours_first_and_library_identity_is_recorded(library, make_request):
    request = make_request("msa", {"our_entity": "orbital-gmbh"})
    result = draft(request, library)
    assert [p.role for p in result.parties] == ["us", "counterparty"]
    assert result.parties[0].legal_name == "Orbital GmbH"
    assert result.parties[0].signatory == load_entities()["orbital-gmbh"].signatory
    assert result.parties[1].legal_name == request.counterparty.legal_name
    assert result.parties[1].signatory == request.counterparty.signatory
    assert (result.library_version, result.library_hash) == (library.version, library.content_hash)
    assert result.request_hash == "f" * 64
    assert (result.partition_key, result.revision) == (f"{request.contract_id}.r1", 1)


def test_wrong_entity_is_refused(library, make_request):
    request = make_request("msa", {"our_entity": "orbital-gmbh"})
    with pytest.raises(AssemblyError, match="our_entity is 'orbital-gmbh'"):
        assemble_draft(
            partition_key="acme-msa.r1",
            revision=1,
            request=request,
            request_hash="x",
            entity=load_entities()["orbital-inc"],
            library=library,
        )


# --- annexes and applies_when ---------------------------------------------------------------


def test_dpa_annex_is_attached_to_an_msa_that_processes_personal_data(library, make_request):
    result = draft(make_request("msa", {"personal_data": PERSONAL_DATA}), library)
    assert [a.annex_id for a in result.annexes] == ["dpa"]
    assert result.annexes[0].title == "Data Processing Terms"  # the renderer says "Annex A –"
    details = clause(result, "dpa-subject-matter").body
    assert "Categories of personal data: contact details." in details
    assert {"dpa-processor-obligations", "dpa-sub-processors"} <= set(result.mandatory_clause_ids)
    assert "msa-data-protection" in ids(result) and "msa-no-personal-data" not in ids(result)


@pytest.mark.parametrize("personal_data", [None, {"processed": False}])
def test_no_dpa_annex_without_personal_data(library, make_request, personal_data):
    result = draft(make_request("msa", {"personal_data": personal_data}), library)
    assert result.annexes == []
    assert "msa-no-personal-data" in ids(result) and "msa-data-protection" not in ids(result)
    assert not any(c.startswith("dpa-") for c in result.mandatory_clause_ids)


def test_dpa_annex_is_attached_to_an_sow_that_processes_personal_data(library, make_request):
    sow = make_request("sow", {"personal_data": PERSONAL_DATA})
    assert [a.annex_id for a in draft(sow, library, parent=make_request("msa")).annexes] == ["dpa"]


def test_transfer_clause_applies_only_to_transfers_outside_the_eea(library, make_request):
    inside = draft(make_request("dpa", {"personal_data.transfers_outside_eea": False}), library)
    assert "dpa-international-transfers" not in ids(inside)
    abroad = draft(make_request("dpa", {"personal_data.transfers_outside_eea": True}), library)
    assert "dpa-international-transfers" in ids(abroad)
    assert "dpa-international-transfers" not in abroad.mandatory_clause_ids
    transfers = {**PERSONAL_DATA, "transfers_outside_eea": True}
    in_annex = draft(make_request("msa", {"personal_data": transfers}), library)
    assert "dpa-international-transfers" in [c.clause_id for c in in_annex.annexes[0].clauses]


# --- liability cap fallbacks ----------------------------------------------------------------


@pytest.mark.parametrize("cap", ["1.0", None])
def test_liability_cap_of_one_times_fees_is_the_standard(library, make_request, cap):
    result = draft(make_request("msa", {"liability_cap_multiple": cap}), library)
    cap_clause = clause(result, "msa-liability-cap")
    assert cap_clause.position == "standard"
    assert "an amount equal to the Fees paid and payable" in cap_clause.body
    assert result.deviations == []


@pytest.mark.parametrize(
    ("cap", "words"), [("2", "2 times the Fees"), ("0.5", "0.5 times the Fees")]
)
def test_other_liability_multiple_is_a_deviation(library, make_request, cap, words):
    result = draft(make_request("msa", {"liability_cap_multiple": cap}), library)
    cap_clause = clause(result, "msa-liability-cap")
    assert cap_clause.position == "other-multiple"
    assert words in cap_clause.body
    [deviation] = result.deviations
    assert (deviation.clause_id, deviation.position) == ("msa-liability-cap", "other-multiple")
    assert f"{cap}x" in deviation.description


def test_unlimited_liability_is_a_deviation(library, make_request):
    result = draft(make_request("msa", {"liability_cap_multiple": "unlimited"}), library)
    assert "is limited to a fixed amount" in clause(result, "msa-liability-cap").body
    positions = [(d.clause_id, d.position) for d in result.deviations]
    assert positions == [("msa-liability-cap", "unlimited")]


def test_sow_states_the_cap_of_its_msa_without_a_deviation_of_its_own(library, make_request):
    parent = make_request("msa", {"liability_cap_multiple": "2"})
    sow = make_request("sow")
    result = draft(sow, library, parent=parent)
    terms = clause(result, "sow-msa-terms").body
    assert "limited to 2 times the Fees of twelve (12) months" in terms
    assert result.deviations == []
    context = build_context(sow, load_entities()[sow.our_entity], parent)
    assert context["liability_cap_multiple"] == Decimal("2")


# --- governing law variants -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("law", "position", "words"),
    [
        ("US-NY", "us-state", "governed by the laws of the State of New York"),
        ("US-DE", "us-state", "courts located in the State of Delaware"),
        ("GB-ENG", "england-and-wales", "governed by the law of England and Wales"),
        ("DE", "germany", "the laws of the Federal Republic of Germany"),
        ("FR", "france", "governed by the laws of France"),
    ],
)
def test_standard_governing_laws_have_their_own_wording(
    library, make_request, law, position, words
):
    result = draft(make_request("msa", {"governing_law": law}), library)
    governing = clause(result, "governing-law")
    assert governing.position == position
    assert words in governing.body
    assert result.deviations == []


@pytest.mark.parametrize(
    ("law", "name"),
    [
        ("CH", "Switzerland"),
        ("NL", "the Netherlands"),
        ("CA-ON", "Ontario, Canada"),
        ("US-DC", "District of Columbia, United States"),
    ],
)
def test_other_governing_law_gets_the_generic_clause_and_is_a_deviation(
    library, make_request, law, name
):
    result = draft(make_request("nda", {"governing_law": law}), library)
    governing = clause(result, "governing-law")
    assert governing.position == "generic"
    assert f"governed by the laws of {name}, without" in governing.body
    [deviation] = result.deviations
    assert (deviation.clause_id, deviation.position) == ("governing-law", "generic")
    assert f"{name} ({law}) is outside the standard list" in deviation.description


# --- request data stays data ---------------------------------------------------------------


def test_custom_clauses_are_inserted_literally_at_the_marker(library, make_request):
    customs = [{"title": "Credits {{ 1+1 }}", "text": LITERAL}, {"title": "B", "text": "b"}]
    result = draft(make_request("msa", {"custom_clauses": customs}), library)
    order = ids(result)
    assert order.index("msa-termination") < order.index("custom-1") < order.index("custom-2")
    assert order.index("custom-2") < order.index("governing-law")
    custom = clause(result, "custom-1")
    assert (custom.title, custom.body, custom.source) == ("Credits {{ 1+1 }}", LITERAL, "custom")


def test_request_text_inside_library_clauses_is_not_evaluated(library, make_request):
    changes = {
        "counterparty.legal_name": LITERAL,
        "counterparty.entity_type": None,
        "nda.purpose": "{% raw %}",
    }
    request = make_request("nda", changes)
    result = draft(request, library)
    parties = clause(result, "nda-parties-mutual").body
    assert f"(2) {LITERAL}, a legal entity" in parties
    assert "49" not in parties
    assert "purpose only: {% raw %} (the" in clause(result, "nda-purpose").body


def test_internal_notes_never_reach_the_contract(library, make_request):
    request = make_request("msa", {"notes": "INTERNAL-ONLY margin is thin"})
    result = draft(request, library)
    assert not any("INTERNAL-ONLY" in c.body for c in result.all_clauses())
    assert "notes" not in build_context(request, load_entities()[request.our_entity])["request"]


@pytest.mark.parametrize("kind", ["nda", "msa", "dpa"])
def test_every_clause_is_tidy_plain_text(library, make_request, kind):
    changes = {"personal_data": PERSONAL_DATA} if kind != "nda" else {}
    for item in draft(make_request(kind, changes), library).all_clauses():
        assert "{{" not in item.body and "{%" not in item.body, item.clause_id
        assert "\n\n\n" not in item.body and item.body == item.body.strip(), item.clause_id


def test_context_offers_exactly_the_documented_names(make_request):
    context = build_context(make_request("nda"), load_entities()["orbital-inc"])
    assert set(context) == CONTEXT_NAMES
    assert context["request"]["type"] == "nda"
    assert context["liability_cap_multiple"] == Decimal("1")
    assert context["payment_terms_days"] == 30


# --- errors while drafting ------------------------------------------------------------------


def test_undefined_variable_in_a_clause_body_names_the_clause(tmp_path: Path, make_request):
    root = copy_library(tmp_path)
    path = root / "clauses" / "nda-remedies.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n{{ request.nda.penalty }}\n")
    names_it = r"clause 'nda-remedies' \(clauses/nda-remedies\.md\).*penalty"
    with pytest.raises(AssemblyError, match=names_it):
        draft(make_request("nda"), load_library(root))


def test_undefined_variable_in_a_condition_is_an_error_not_false(tmp_path: Path, make_request):
    root = copy_library(tmp_path)
    path = root / "clauses" / "msa-data-protection.md"
    condition = "applies_when: request.personal_data and request.personal_data.processed"
    misspelt = "applies_when: request.personal_dta"
    path.write_text(path.read_text(encoding="utf-8").replace(condition, misspelt))
    with pytest.raises(AssemblyError, match=r"clause 'msa-data-protection'.*personal_dta"):
        draft(make_request("msa"), load_library(root))


def test_two_templates_applying_at_once_is_an_error(tmp_path: Path, make_request):
    root = copy_library(tmp_path)
    path = root / "templates" / "nda-one-way.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("not request.nda.mutual", "'true'"))
    both = "exactly one 'nda' template must apply, found nda-mutual, nda-one-way"
    with pytest.raises(AssemblyError, match=both):
        draft(make_request("nda"), load_library(root))


@pytest.mark.parametrize("kind, parties", [("msa", "parties"), ("nda", "Parties")])
def test_a_revision_after_an_executed_one_amends_and_restates_it(make_request, library, kind, parties):
    request = make_request(kind)
    original = draft(request, library)
    amends = Amended(
        contract_id=request.contract_id, revision=1, partition_key=f"{request.contract_id}.r1",
        title=original.title,
    )  # fmt: skip

    amended = assemble_draft(
        partition_key=f"{request.contract_id}.r2", revision=2, request=request,
        request_hash="e" * 64, entity=load_entities()[request.our_entity], library=library,
        amends=amends,
    )  # fmt: skip

    assert amended.title == "Amended and Restated " + original.title
    assert amended.amends == f"{request.contract_id}.r1"
    assert [c.clause_id for c in amended.clauses][1] == "amendment-restatement"
    body = amended.clauses[1].body
    assert f"restates in full the {original.title} signed between the {parties}" in body
    assert f"as {request.contract_id} revision 1 (the \"Original Agreement\")" in body
    assert "amendment-restatement" not in [c.clause_id for c in original.clauses]
    assert original.amends is None
