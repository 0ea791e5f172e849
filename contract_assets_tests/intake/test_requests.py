"""The contract request (PRODUCT.md section 2): parsing, every validation rule, error paths."""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from contract_assets.platform.models import (
    ContractRequest,
    Counterparty,
    CustomClause,
    Deliverable,
    Money,
    NdaTerms,
    PersonalData,
    Signatory,
    SowTerms,
)
from contract_assets.intake.requests import (
    DOCUMENT,
    MAX_REQUEST_BYTES,
    InvalidRequest,
    load_request_file,
    parse_request,
    read_request_bytes,
    validate_request,
)
from contract_assets_tests.sample_requests import ENTITIES, EXAMPLES

# --- contract_id -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "contract_id",
    ["abc", "0ab", "blue-fjord-msa", "ab-", "a" + "b" * 63],
    ids=["3-chars", "leading-digit", "dashes", "trailing-dash", "64-chars"],
)
def test_contract_id_accepted(validate, make_raw, contract_id):
    assert validate(make_raw("nda", {"contract_id": contract_id})).contract_id == contract_id


@pytest.mark.parametrize(
    "contract_id",
    ["ab", "Blue-fjord", "BLUE", "-abc", "a" + "b" * 64, "abc_def", "abc.r2", "abc def", ""],
    ids=[
        "too-short",
        "uppercase",
        "all-caps",
        "leading-dash",
        "65-chars",
        "underscore",
        "dot",
        "space",
        "empty",
    ],
)
def test_contract_id_rejected(error_paths, make_raw, contract_id):
    assert error_paths(make_raw("nda", {"contract_id": contract_id})) == {"contract_id"}


# --- required fields and type ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nda", "msa", "sow", "dpa"])
def test_each_contract_type_accepted(validate, make_raw, kind):
    assert validate(make_raw(kind)).type.value == kind


@pytest.mark.parametrize("kind", ["lease", "NDA", "", 3])
def test_unknown_type_reported_at_type(error_paths, make_raw, kind):
    assert error_paths(make_raw("msa", {"type": kind})) == {"type"}


@pytest.mark.parametrize(
    "field",
    [
        "contract_id",
        "type",
        "requested_by",
        "our_entity",
        "counterparty",
        "governing_law",
        "term_months",
    ],
)
def test_required_field_missing(error_paths, make_raw, field):
    assert error_paths(make_raw("nda", drop=[field])) == {field}


@pytest.mark.parametrize(
    "field",
    [
        "counterparty.legal_name",
        "counterparty.jurisdiction",
        "counterparty.address",
        "counterparty.signatory",
        "counterparty.signatory.name",
        "counterparty.signatory.title",
        "counterparty.signatory.email",
    ],
)
def test_required_counterparty_field_missing(error_paths, make_raw, field):
    assert error_paths(make_raw("nda", drop=[field])) == {field}


def test_request_must_be_a_mapping(error_paths):
    assert error_paths(["contract_id", "acme-nda"]) == {DOCUMENT}


# --- requested_by, our_entity --------------------------------------------------------------


def test_requested_by_valid_email(validate, make_raw):
    raw = make_raw("nda", {"requested_by": "priya.raman@orbital.example"})
    assert validate(raw).requested_by == "priya.raman@orbital.example"


@pytest.mark.parametrize("email", ["dana", "dana@", "@orbital.example", "dana lee@orbital.example"])
def test_requested_by_invalid_email(error_paths, make_raw, email):
    assert error_paths(make_raw("nda", {"requested_by": email})) == {"requested_by"}


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_our_entity_known(validate, make_raw, entity):
    assert validate(make_raw("nda", {"our_entity": entity})).our_entity == entity


@pytest.mark.parametrize("entity", ["orbital-ltd", "Orbital-Inc", ""])
def test_our_entity_unknown(error_paths, make_raw, entity):
    assert error_paths(make_raw("nda", {"our_entity": entity})) == {"our_entity"}


def test_our_entity_error_names_the_known_entities(validate, make_raw):
    with pytest.raises(InvalidRequest) as info:
        validate(make_raw("nda", {"our_entity": "orbital-ltd"}))
    (error,) = info.value.errors
    assert "orbital-inc" in error.message and "orbital-gmbh" in error.message


# --- counterparty ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["A", "A" * 200, "Zoë Ångström GmbH", "株式会社サンプル"])
def test_counterparty_legal_name_accepted(validate, make_raw, name):
    raw = make_raw("nda", {"counterparty.legal_name": name})
    assert validate(raw).counterparty.legal_name == name


@pytest.mark.parametrize("name", ["", "A" * 201], ids=["empty", "201-chars"])
def test_counterparty_legal_name_rejected(error_paths, make_raw, name):
    raw = make_raw("nda", {"counterparty.legal_name": name})
    assert error_paths(raw) == {"counterparty.legal_name"}


@pytest.mark.parametrize("code", ["US-DE", "GB-ENG", "GB-SCT", "DE", "NO", "CH", "FR"])
def test_counterparty_jurisdiction_accepted(validate, make_raw, code):
    raw = make_raw("nda", {"counterparty.jurisdiction": code})
    assert validate(raw).counterparty.jurisdiction == code


@pytest.mark.parametrize(
    "code", ["XX", "US-ZZ", "us-de", "de", "DEU", "US-", "GB_ENG", "", "Germany"]
)
def test_counterparty_jurisdiction_rejected(error_paths, make_raw, code):
    raw = make_raw("nda", {"counterparty.jurisdiction": code})
    assert error_paths(raw) == {"counterparty.jurisdiction"}


def test_counterparty_address_bounds(validate, error_paths, make_raw):
    assert validate(make_raw("nda", {"counterparty.address": "A" * 500})).counterparty.address
    assert error_paths(make_raw("nda", {"counterparty.address": "A" * 501})) == {
        "counterparty.address"
    }
    assert error_paths(make_raw("nda", {"counterparty.address": ""})) == {"counterparty.address"}


def test_counterparty_signatory_email_path(validate, error_paths, make_raw):
    ok = make_raw("nda", {"counterparty.signatory.email": "ingrid@bluefjord.example"})
    assert validate(ok).counterparty.signatory.email == "ingrid@bluefjord.example"
    bad = make_raw("nda", {"counterparty.signatory.email": "not-an-email"})
    assert error_paths(bad) == {"counterparty.signatory.email"}


def test_counterparty_entity_type_is_optional(validate, make_raw):
    without = validate(make_raw("nda", drop=["counterparty.entity_type"]))
    assert without.counterparty.entity_type is None
    assert validate(make_raw("nda")).counterparty.entity_type == "limited liability company"


# --- governing_law ----------------------------------------------------------------------------


@pytest.mark.parametrize("law", ["US-NY", "US-DE", "GB-ENG", "DE", "FR", "CH", "GB-SCT"])
def test_governing_law_accepted(validate, make_raw, law):
    assert validate(make_raw("nda", {"governing_law": law})).governing_law == law


def test_governing_law_us_requires_a_state(error_paths, make_raw):
    assert error_paths(make_raw("nda", {"governing_law": "US"})) == {"governing_law"}


@pytest.mark.parametrize("law", ["XX", "US-ZZ", "us-ny", "New York", ""])
def test_governing_law_rejected(error_paths, make_raw, law):
    assert error_paths(make_raw("nda", {"governing_law": law})) == {"governing_law"}


# --- effective_date -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2026-12-01", date(2026, 12, 1)], ids=["iso-string", "date"])
def test_effective_date_accepted(validate, make_raw, value):
    assert validate(make_raw("nda", {"effective_date": value})).effective_date == date(2026, 12, 1)


def test_effective_date_from_yaml_date(validate, make_raw):
    raw = parse_request(b"effective_date: 2026-12-01\n", filename="r.yaml")
    request = validate(make_raw("nda", {"effective_date": raw["effective_date"]}))
    assert request.effective_date == date(2026, 12, 1)


def test_effective_date_is_optional(validate, make_raw):
    assert validate(make_raw("nda")).effective_date is None


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 1, 10, 0),
        "2026-12-01T10:00:00",
        "tomorrow",
        "2026-02-30",
        "01/12/2026",
        20261201,
    ],
    ids=["datetime", "iso-datetime-string", "garbage", "impossible-day", "local-format", "int"],
)
def test_effective_date_rejected(error_paths, make_raw, value):
    assert error_paths(make_raw("nda", {"effective_date": value})) == {"effective_date"}


def test_effective_date_yaml_timestamp_rejected(error_paths, make_raw):
    raw = parse_request(b"effective_date: 2026-12-01T10:00:00\n", filename="r.yaml")
    assert error_paths(make_raw("nda", {"effective_date": raw["effective_date"]})) == {
        "effective_date"
    }


# --- term and renewal ----------------------------------------------------------------------------


@pytest.mark.parametrize("months", [1, 120])
def test_term_months_accepted(validate, make_raw, months):
    assert validate(make_raw("nda", {"term_months": months})).term_months == months


@pytest.mark.parametrize("months", [0, 121, -1, "12", True, Decimal("12.5")])
def test_term_months_rejected(error_paths, make_raw, months):
    assert error_paths(make_raw("nda", {"term_months": months})) == {"term_months"}


def test_auto_renew_defaults(validate, make_raw):
    request = validate(make_raw("nda"))
    assert request.auto_renew is False
    assert request.renewal_notice_days == 30


@pytest.mark.parametrize("days", [1, 365])
def test_renewal_notice_days_accepted(validate, make_raw, days):
    request = validate(make_raw("nda", {"auto_renew": True, "renewal_notice_days": days}))
    assert request.auto_renew is True
    assert request.renewal_notice_days == days


@pytest.mark.parametrize("days", [0, 366])
def test_renewal_notice_days_rejected(error_paths, make_raw, days):
    raw = make_raw("nda", {"auto_renew": True, "renewal_notice_days": days})
    assert error_paths(raw) == {"renewal_notice_days"}


@pytest.mark.parametrize("value", ["yes", 1, "true"])
def test_auto_renew_must_be_a_bool(error_paths, make_raw, value):
    assert error_paths(make_raw("nda", {"auto_renew": value})) == {"auto_renew"}


# --- value ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["msa", "sow"])
def test_value_required_for_msa_and_sow(error_paths, make_raw, kind):
    assert error_paths(make_raw(kind, drop=["value"])) == {"value"}


def test_value_not_allowed_for_nda(error_paths, make_raw):
    raw = make_raw("nda", {"value": {"amount": "1000.00", "currency": "USD"}})
    assert error_paths(raw) == {"value"}


def test_value_optional_for_dpa(validate, make_raw):
    assert validate(make_raw("dpa")).value is None
    with_value = validate(make_raw("dpa", {"value": {"amount": "5000.00", "currency": "EUR"}}))
    assert with_value.value.amount == Decimal("5000.00")


@pytest.mark.parametrize(
    "amount",
    [
        "0.01",
        "480000.00",
        "480000",
        480000,
        Decimal("480000.1"),
        "999999999999.99",
        " 12.50 ",
    ],
)
def test_amount_accepted(validate, make_raw, amount):
    request = validate(make_raw("msa", {"value.amount": amount}))
    assert request.value.amount == Decimal(str(amount).strip())
    assert isinstance(request.value.amount, Decimal)


@pytest.mark.parametrize(
    "amount",
    [
        0,
        "0.00",
        "-5",
        "1.005",
        1.005,
        Decimal("1.005"),
        10**12,
        "1000000000000.00",
        "abc",
        "",
        True,
        "NaN",
        "Infinity",
        [1],
    ],
    ids=[
        "zero",
        "zero-string",
        "negative",
        "three-places-string",
        "three-places-float",
        "three-places-decimal",
        "10^12",
        "10^12-string",
        "garbage",
        "empty",
        "bool",
        "nan",
        "infinity",
        "list",
    ],
)
def test_amount_rejected(error_paths, make_raw, amount):
    assert error_paths(make_raw("msa", {"value.amount": amount})) == {"value.amount"}


def test_amount_written_as_number_or_string_is_the_same(validate, make_raw):
    amounts = {
        validate(make_raw("msa", {"value.amount": written})).value.amount
        for written in ("480000.00", 480000, Decimal("480000.00"), 480000.0)
    }
    assert amounts == {Decimal("480000.00")}


def test_amount_float_is_exact(validate, make_raw):
    request = validate(make_raw("msa", {"value.amount": 480000.10}))
    assert request.value.amount == Decimal("480000.10")


@pytest.mark.parametrize("currency", ["EUR", "USD", "GBP", "CHF", "JPY"])
def test_currency_accepted(validate, make_raw, currency):
    assert validate(make_raw("msa", {"value.currency": currency})).value.currency == currency


@pytest.mark.parametrize("currency", ["EURO", "XYZ", "eur", "EU", "", "€"])
def test_currency_rejected(error_paths, make_raw, currency):
    assert error_paths(make_raw("msa", {"value.currency": currency})) == {"value.currency"}


# --- payment terms and liability cap -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["msa", "sow"])
@pytest.mark.parametrize("days", [0, 60, 180])
def test_payment_terms_days_accepted(validate, make_raw, kind, days):
    assert validate(make_raw(kind, {"payment_terms_days": days})).payment_terms_days == days


@pytest.mark.parametrize("days", [-1, 181, "30", True])
def test_payment_terms_days_rejected(error_paths, make_raw, days):
    assert error_paths(make_raw("msa", {"payment_terms_days": days})) == {"payment_terms_days"}


@pytest.mark.parametrize("kind", ["nda", "dpa"])
def test_payment_terms_days_only_for_msa_and_sow(error_paths, make_raw, kind):
    assert error_paths(make_raw(kind, {"payment_terms_days": 30})) == {"payment_terms_days"}


@pytest.mark.parametrize("kind", ["msa", "sow"])
def test_payment_terms_days_default_filled(validate, make_raw, kind):
    assert validate(make_raw(kind)).payment_terms_days == 30


def test_payment_terms_days_not_filled_for_nda(validate, make_raw):
    assert validate(make_raw("nda")).payment_terms_days is None


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (0.5, Decimal("0.5")),
        ("0.5", Decimal("0.5")),
        (1, Decimal(1)),
        (1.5, Decimal("1.5")),
        (10, Decimal(10)),
        ("unlimited", "unlimited"),
    ],
)
def test_liability_cap_accepted(validate, make_raw, written, expected):
    cap = validate(make_raw("msa", {"liability_cap_multiple": written})).liability_cap_multiple
    assert cap == expected


@pytest.mark.parametrize("written", [0.49, "0.4", 10.01, 11, 0, "infinite", "Unlimited", True])
def test_liability_cap_rejected(error_paths, make_raw, written):
    raw = make_raw("msa", {"liability_cap_multiple": written})
    assert error_paths(raw) == {"liability_cap_multiple"}


def test_liability_cap_default_filled_for_msa(validate, make_raw):
    cap = validate(make_raw("msa")).liability_cap_multiple
    assert cap == Decimal("1.0")


@pytest.mark.parametrize("kind", ["nda", "sow", "dpa"])
def test_liability_cap_only_for_msa(error_paths, validate, make_raw, kind):
    assert error_paths(make_raw(kind, {"liability_cap_multiple": 2})) == {"liability_cap_multiple"}
    assert validate(make_raw(kind)).liability_cap_multiple is None


# --- nda block -----------------------------------------------------------------------------------


def test_nda_block_required_for_nda(error_paths, make_raw):
    assert error_paths(make_raw("nda", drop=["nda"])) == {"nda"}


@pytest.mark.parametrize("kind", ["msa", "sow", "dpa"])
def test_nda_block_not_allowed_otherwise(error_paths, make_raw, kind):
    assert error_paths(make_raw(kind, {"nda": {"purpose": "x"}})) == {"nda"}


def test_nda_defaults(validate, make_raw):
    nda = validate(make_raw("nda")).nda
    assert nda.mutual is True
    assert nda.disclosing_party is None
    assert nda.confidentiality_years == 3


def test_nda_one_way_defaults_disclosing_party_to_us(validate, make_raw):
    assert validate(make_raw("nda", {"nda.mutual": False})).nda.disclosing_party == "us"


def test_nda_one_way_keeps_counterparty_disclosing(validate, make_raw):
    raw = make_raw("nda", {"nda.mutual": False, "nda.disclosing_party": "counterparty"})
    assert validate(raw).nda.disclosing_party == "counterparty"


@pytest.mark.parametrize("mutual", [True, None], ids=["explicit-mutual", "default-mutual"])
def test_nda_disclosing_party_only_when_not_mutual(error_paths, make_raw, mutual):
    raw = make_raw("nda", {"nda.disclosing_party": "us"})
    if mutual is not None:
        raw["nda"]["mutual"] = mutual
    assert error_paths(raw) == {"nda.disclosing_party"}


def test_nda_disclosing_party_values(error_paths, make_raw):
    raw = make_raw("nda", {"nda.mutual": False, "nda.disclosing_party": "them"})
    assert error_paths(raw) == {"nda.disclosing_party"}


@pytest.mark.parametrize("value", ["no", 0])
def test_nda_mutual_must_be_a_bool(error_paths, make_raw, value):
    assert error_paths(make_raw("nda", {"nda.mutual": value})) == {"nda.mutual"}


def test_nda_purpose_bounds(validate, error_paths, make_raw):
    assert validate(make_raw("nda", {"nda.purpose": "p"})).nda.purpose == "p"
    assert validate(make_raw("nda", {"nda.purpose": "p" * 300})).nda.purpose == "p" * 300
    assert error_paths(make_raw("nda", {"nda.purpose": "p" * 301})) == {"nda.purpose"}
    assert error_paths(make_raw("nda", {"nda.purpose": ""})) == {"nda.purpose"}
    assert error_paths(make_raw("nda", drop=["nda.purpose"])) == {"nda.purpose"}


@pytest.mark.parametrize("years", [1, 10])
def test_nda_confidentiality_years_accepted(validate, make_raw, years):
    raw = make_raw("nda", {"nda.confidentiality_years": years})
    assert validate(raw).nda.confidentiality_years == years


@pytest.mark.parametrize("years", [0, 11, "3"])
def test_nda_confidentiality_years_rejected(error_paths, make_raw, years):
    raw = make_raw("nda", {"nda.confidentiality_years": years})
    assert error_paths(raw) == {"nda.confidentiality_years"}


# --- sow block -----------------------------------------------------------------------------------


def test_sow_block_required_for_sow(error_paths, make_raw):
    assert error_paths(make_raw("sow", drop=["sow"])) == {"sow"}


@pytest.mark.parametrize("kind", ["nda", "msa", "dpa"])
def test_sow_block_not_allowed_otherwise(error_paths, make_raw, kind):
    sow_block = make_raw("sow")["sow"]
    assert error_paths(make_raw(kind, {"sow": sow_block})) == {"sow"}


def test_sow_parent_is_a_submitted_msa_with_same_counterparty(validate, make_raw):
    request = validate(make_raw("sow"))
    assert request.sow.parent_contract_id == "acme-msa"


@pytest.mark.parametrize(
    "parent",
    ["acme-msa-unknown", "acme-nda"],
    ids=["not-submitted", "parent-is-an-nda"],
)
def test_sow_parent_must_be_a_submitted_msa(error_paths, make_raw, parent):
    raw = make_raw("sow", {"sow.parent_contract_id": parent})
    assert error_paths(raw) == {"sow.parent_contract_id"}


def test_sow_parent_must_have_same_counterparty(error_paths, make_raw):
    raw = make_raw("sow", {"counterparty.legal_name": "Acme Robotics Europe BV"})
    assert error_paths(raw) == {"sow.parent_contract_id"}


def test_sow_parent_contract_id_pattern(error_paths, make_raw):
    raw = make_raw("sow", {"sow.parent_contract_id": "Acme MSA"})
    assert error_paths(raw) == {"sow.parent_contract_id"}


def _deliverables(count: int, amount: str) -> list[dict]:
    return [
        {
            "title": f"Deliverable {n}",
            "description": "Work",
            "due_date": "2027-03-01",
            "amount": amount,
        }
        for n in range(count)
    ]


def test_sow_deliverables_bounds(validate, error_paths, make_raw):
    fifty = make_raw("sow", {"sow.deliverables": _deliverables(50, "2000.00")})
    assert len(validate(fifty).sow.deliverables) == 50
    one = make_raw("sow", {"sow.deliverables": _deliverables(1, "100000.00")})
    assert len(validate(one).sow.deliverables) == 1
    fifty_one = make_raw(
        "sow",
        {"sow.deliverables": _deliverables(51, "2000.00"), "value.amount": "102000.00"},
    )
    assert error_paths(fifty_one) == {"sow.deliverables"}
    assert error_paths(make_raw("sow", {"sow.deliverables": []})) == {"sow.deliverables"}


def test_sow_deliverable_amounts_must_add_up(error_paths, make_raw):
    raw = make_raw("sow", {"sow.deliverables.1.amount": "59999.99"})
    assert error_paths(raw) == {"sow.deliverables"}


def test_sow_deliverable_amounts_add_up_exactly(validate, make_raw):
    raw = make_raw(
        "sow",
        {
            "value.amount": "0.30",
            "sow.deliverables.0.amount": "0.10",
            "sow.deliverables.1.amount": "0.20",
        },
    )
    request = validate(raw)
    total = sum(d.amount for d in request.sow.deliverables)
    assert total == request.value.amount == Decimal("0.30")


def test_sow_deliverable_float_amounts_add_up_exactly(validate, make_raw):
    # 0.1 + 0.2 != 0.3 in binary floating point; money must be decimal.
    raw = make_raw(
        "sow",
        {"value.amount": 0.3, "sow.deliverables.0.amount": 0.1, "sow.deliverables.1.amount": 0.2},
    )
    assert validate(raw).value.amount == Decimal("0.30")


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"sow.deliverables.1.due_date": "soon"}, "sow.deliverables.1.due_date"),
        ({"sow.deliverables.0.title": ""}, "sow.deliverables.0.title"),
        ({"sow.deliverables.0.amount": "0"}, "sow.deliverables.0.amount"),
    ],
)
def test_sow_deliverable_fields(error_paths, make_raw, change, path):
    assert error_paths(make_raw("sow", change)) == {path}


def test_sow_errors_reported_together(error_paths, make_raw):
    raw = make_raw(
        "sow", {"sow.parent_contract_id": "acme-msa-unknown", "sow.deliverables.1.amount": "1.00"}
    )
    assert error_paths(raw) == {"sow.parent_contract_id", "sow.deliverables"}


# --- personal data -------------------------------------------------------------------------------


def test_personal_data_required_for_dpa(error_paths, make_raw):
    assert error_paths(make_raw("dpa", drop=["personal_data"])) == {"personal_data"}


def test_personal_data_processed_true_for_dpa(validate, error_paths, make_raw):
    assert validate(make_raw("dpa")).personal_data.processed is True
    raw = make_raw("dpa", {"personal_data.processed": False})
    assert error_paths(raw) == {"personal_data.processed"}


@pytest.mark.parametrize("kind", ["nda", "msa", "sow"])
def test_personal_data_optional_elsewhere(validate, make_raw, kind):
    assert validate(make_raw(kind)).personal_data is None
    raw = make_raw(kind, {"personal_data": {"processed": False}})
    personal = validate(raw).personal_data
    assert personal.processed is False
    assert personal.transfers_outside_eea is False


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"personal_data.transfers_outside_eea": "yes"}, "personal_data.transfers_outside_eea"),
        ({"personal_data.categories": "contact details"}, "personal_data.categories"),
        ({"personal_data.categories": ["ok", ""]}, "personal_data.categories.1"),
    ],
)
def test_personal_data_fields(error_paths, make_raw, change, path):
    assert error_paths(make_raw("dpa", change)) == {path}


# --- custom clauses and notes --------------------------------------------------------------------


def _clauses(count: int) -> list[dict]:
    return [{"title": f"Clause {n}", "text": "Text."} for n in range(count)]


def test_custom_clauses_bounds(validate, error_paths, make_raw):
    assert validate(make_raw("msa")).custom_clauses == []
    assert validate(make_raw("msa", {"custom_clauses": []})).custom_clauses == []
    assert len(validate(make_raw("msa", {"custom_clauses": _clauses(20)})).custom_clauses) == 20
    assert error_paths(make_raw("msa", {"custom_clauses": _clauses(21)})) == {"custom_clauses"}


def test_custom_clause_title_bounds(validate, error_paths, make_raw):
    ok = make_raw("msa", {"custom_clauses": [{"title": "T" * 200, "text": "x"}]})
    assert validate(ok).custom_clauses[0].title == "T" * 200
    too_long = make_raw("msa", {"custom_clauses": [{"title": "T" * 201, "text": "x"}]})
    assert error_paths(too_long) == {"custom_clauses.0.title"}
    empty = make_raw("msa", {"custom_clauses": [{"title": "", "text": "x"}]})
    assert error_paths(empty) == {"custom_clauses.0.title"}


def test_custom_clause_text_bounds(validate, error_paths, make_raw):
    ok = make_raw("msa", {"custom_clauses": [{"title": "T", "text": "x" * 5000}]})
    assert validate(ok).custom_clauses[0].text == "x" * 5000
    clauses = _clauses(4)
    clauses[3]["text"] = "x" * 5001
    assert error_paths(make_raw("msa", {"custom_clauses": clauses})) == {"custom_clauses.3.text"}
    empty = make_raw("msa", {"custom_clauses": [{"title": "T", "text": ""}]})
    assert error_paths(empty) == {"custom_clauses.0.text"}


def test_custom_clause_text_kept_literally(validate, make_raw):
    text = "{{ 7 * 7 }} <script>alert(1)</script> ../../etc/passwd"
    raw = make_raw("msa", {"custom_clauses": [{"title": "Literal", "text": text}]})
    assert validate(raw).custom_clauses[0].text == text


def test_notes_bounds(validate, error_paths, make_raw):
    assert validate(make_raw("nda", {"notes": "n" * 5000})).notes == "n" * 5000
    assert validate(make_raw("nda")).notes is None
    assert error_paths(make_raw("nda", {"notes": "n" * 5001})) == {"notes"}


# --- unknown fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("nda", "colour"),
        ("nda", "counterparty.foo"),
        ("nda", "counterparty.signatory.phone"),
        ("nda", "nda.foo"),
        ("msa", "value.foo"),
        ("dpa", "personal_data.foo"),
        ("sow", "sow.foo"),
        ("sow", "sow.deliverables.1.foo"),
    ],
)
def test_unknown_field_rejected_at_its_path(error_paths, make_raw, kind, path):
    assert error_paths(make_raw(kind, {path: "x"})) == {path}


def test_unknown_field_in_custom_clause(error_paths, make_raw):
    raw = make_raw("msa", {"custom_clauses": [{"title": "T", "text": "x", "author": "me"}]})
    assert error_paths(raw) == {"custom_clauses.0.author"}


# --- several errors, paths -----------------------------------------------------------------------


def test_several_errors_reported_together(error_paths, make_raw):
    raw = make_raw(
        "msa",
        {
            "requested_by": "nobody",
            "term_months": 0,
            "nda": {"purpose": "x"},
            "counterparty.signatory.email": "not-an-email",
            "custom_clauses": [{"title": "T", "text": ""}],
            "colour": "blue",
        },
        drop=["value"],
    )
    assert error_paths(raw) == {
        "requested_by",
        "term_months",
        "nda",
        "value",
        "counterparty.signatory.email",
        "custom_clauses.0.text",
        "colour",
    }


def test_field_errors_and_cross_field_errors_reported_together(error_paths, make_raw):
    # "rejected as a whole, with every failing field named": a field error must not hide the
    # rules that need a parsed request (our_entity, US state, disclosing party, sow parent).
    raw = make_raw(
        "nda",
        {
            "requested_by": "nobody",
            "our_entity": "orbital-ltd",
            "governing_law": "US",
            "nda.disclosing_party": "us",
        },
    )
    assert error_paths(raw) == {
        "requested_by",
        "our_entity",
        "governing_law",
        "nda.disclosing_party",
    }


_REQUEST_MODELS = [
    ContractRequest,
    Counterparty,
    Signatory,
    Money,
    NdaTerms,
    SowTerms,
    Deliverable,
    PersonalData,
    CustomClause,
]
_REQUEST_FIELDS = {name for model in _REQUEST_MODELS for name in model.model_fields}


def test_paths_carry_only_request_field_names(validate, make_raw):
    raw = make_raw(
        "sow",
        {
            "contract_id": "X",
            "type": "sow",
            "requested_by": 5,
            "counterparty.jurisdiction": "us-de",
            "counterparty.signatory": "Pat",
            "governing_law": "US-ZZ",
            "effective_date": "soon",
            "term_months": "long",
            "auto_renew": "maybe",
            "renewal_notice_days": 1.5,
            "value.amount": "1.005",
            "value.currency": "EURO",
            "payment_terms_days": "net 30",
            "liability_cap_multiple": [1],
            "sow.deliverables.0.due_date": 3,
            "sow.deliverables.1": "x",
            "personal_data": {"processed": "y", "categories": [1], "transfers_outside_eea": 2},
            "custom_clauses": ["x", {"title": 5, "text": None}],
            "notes": 42,
            "zzz_extra": 1,
        },
    )
    with pytest.raises(InvalidRequest) as info:
        validate(raw)
    paths = [error.path for error in info.value.errors]
    assert len(paths) >= 20
    for path in paths:
        assert re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)*", path), path
        for part in path.split("."):
            assert part.isdigit() or part in _REQUEST_FIELDS | {"zzz_extra"}, path


def test_liability_cap_paths_carry_no_union_members(error_paths, make_raw):
    for written in ({"x": 1}, "lots", -1):
        assert error_paths(make_raw("msa", {"liability_cap_multiple": written})) == {
            "liability_cap_multiple"
        }


# --- parsing -------------------------------------------------------------------------------------


def _parse_error(data: bytes, filename: str = "request.yaml") -> list:
    with pytest.raises(InvalidRequest) as info:
        parse_request(data, filename=filename)
    return info.value.errors


def test_yaml_norway_on_yes_stay_strings():
    data = parse_request(b"a: NO\nb: ON\nc: YES\nd: no\ne: Off\ny: y\n", filename="r.yaml")
    assert data == {"a": "NO", "b": "ON", "c": "YES", "d": "no", "e": "Off", "y": "y"}


def test_yaml_true_false_are_booleans():
    assert parse_request(b"a: true\nb: false\n", filename="r.yml") == {"a": True, "b": False}


def test_yaml_request_with_norway_validates(validate, make_raw):
    text = (
        (EXAMPLES / "requests" / "02-msa-high-value.yaml").read_text(encoding="utf-8")
    )
    raw = parse_request(text.encode(), filename="02.yaml")
    assert raw["counterparty"]["jurisdiction"] == "NO"
    assert validate(raw).counterparty.jurisdiction == "NO"


def test_file_over_one_mib_rejected_before_parsing():
    # Invalid UTF-8 and invalid YAML: only a size check that runs first can report the size.
    data = b"\xff[" * (MAX_REQUEST_BYTES // 2 + 1)
    assert len(data) > 1024 * 1024
    errors = _parse_error(data)
    assert [e.path for e in errors] == [DOCUMENT]
    assert "1 MiB" in errors[0].message


def test_file_of_exactly_one_mib_accepted():
    head = b"contract_id: acme-nda\n"
    data = head + b"#" * (1024 * 1024 - len(head))
    assert len(data) == 1024 * 1024
    assert parse_request(data, filename="r.yaml") == {"contract_id": "acme-nda"}


def test_load_request_file_rejects_large_file(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (1024 * 1024 + 1))
    with pytest.raises(InvalidRequest) as info:
        load_request_file(path, entities=ENTITIES, find_contract=lambda _: None)
    assert [e.path for e in info.value.errors] == [DOCUMENT]
    assert "1 MiB" in info.value.errors[0].message


@pytest.mark.parametrize("filename", ["r.yaml", "r.json"])
def test_non_utf8_rejected(filename):
    errors = _parse_error(b"contract_id: caf\xe9-nda\n", filename)
    assert [e.path for e in errors] == [DOCUMENT]
    assert "UTF-8" in errors[0].message


@pytest.mark.parametrize(
    "data",
    [b"a: [1, 2\n", b"a: b: c\n", b"a: 1\na: 2\n", b"\tkey: value\n"],
    ids=["unclosed-list", "nested-colon", "duplicate-key", "tab-indent"],
)
def test_invalid_yaml_rejected_at_document(data):
    assert [e.path for e in _parse_error(data)] == [DOCUMENT]


def test_invalid_json_rejected_at_document():
    assert [e.path for e in _parse_error(b'{"a": ', "r.json")] == [DOCUMENT]


def test_several_yaml_documents_rejected():
    assert [e.path for e in _parse_error(b"a: 1\n---\nb: 2\n")] == [DOCUMENT]


_ALIAS_BOMB = b"""\
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


def test_yaml_alias_bomb_rejected():
    errors = _parse_error(_ALIAS_BOMB)
    assert [e.path for e in errors] == [DOCUMENT]
    assert "alias" in errors[0].message.lower()


def test_yaml_few_aliases_accepted():
    data = b"sig: &sig {name: Pat}\na: *sig\nb: *sig\n"
    assert parse_request(data, filename="r.yaml") == {
        "sig": {"name": "Pat"},
        "a": {"name": "Pat"},
        "b": {"name": "Pat"},
    }


@pytest.mark.parametrize(
    "data",
    [
        b"a: !!python/object:os.system {}\n",
        b"a: !!python/object/apply:os.system ['echo hi']\n",
        b"a: !!python/name:os.system\n",
        b"a: !custom value\n",
    ],
    ids=["python-object", "python-apply", "python-name", "local-tag"],
)
def test_custom_tags_rejected(data):
    assert [e.path for e in _parse_error(data)] == [DOCUMENT]


def test_yaml_1_1_directive_rejected():
    errors = _parse_error(b"%YAML 1.1\n---\ncontract_id: acme-nda\n")
    assert [e.path for e in errors] == [DOCUMENT]


def test_yaml_1_2_directive_accepted():
    data = b"%YAML 1.2\n---\ncontract_id: acme-nda\njurisdiction: NO\n"
    assert parse_request(data, filename="r.yaml") == {
        "contract_id": "acme-nda",
        "jurisdiction": "NO",
    }


def test_json_parses_with_exact_decimals():
    data = b'{"value": {"amount": 480000.10, "currency": "EUR"}, "jurisdiction": "NO"}'
    parsed = parse_request(data, filename="request.JSON")
    assert parsed["jurisdiction"] == "NO"
    assert parsed["value"]["amount"] == Decimal("480000.10")
    assert isinstance(parsed["value"]["amount"], Decimal)


def test_json_request_validates(validate, make_raw):
    raw = make_raw("msa")
    text = json.dumps(raw).replace('"100000.00"', "100000.10")
    request = validate(parse_request(text.encode(), filename="acme.json"))
    assert request.value.amount == Decimal("100000.10")


def test_yaml_floats_become_exact_decimals(validate, make_raw):
    parsed = parse_request(b"amount: 480000.10\nsmall: 0.1\n", filename="r.yaml")
    assert parsed == {"amount": Decimal("480000.10"), "small": Decimal("0.1")}
    assert all(isinstance(v, Decimal) for v in parsed.values())
    request = validate(make_raw("msa", {"value.amount": parsed["amount"]}))
    assert request.value.amount == Decimal("480000.10")


def test_yaml_three_place_amount_rejected(error_paths, make_raw):
    parsed = parse_request(b"amount: 1.005\n", filename="r.yaml")
    assert error_paths(make_raw("msa", {"value.amount": parsed["amount"]})) == {"value.amount"}


# --- the shipped samples -------------------------------------------------------------------------


def test_invalid_sample_reports_exactly_its_two_errors():
    path = EXAMPLES / "invalid" / "bad-email-and-type-mismatch.yaml"
    with pytest.raises(InvalidRequest) as info:
        load_request_file(path, entities=ENTITIES, find_contract=lambda _: None)
    assert {e.path for e in info.value.errors} == {"counterparty.signatory.email", "nda"}


def test_every_sample_request_is_valid_in_order():
    paths = sorted((EXAMPLES / "requests").glob("*.y*ml"))
    assert len(paths) >= 5
    submitted: dict[str, ContractRequest] = {}
    for path in paths:
        request = load_request_file(path, entities=ENTITIES, find_contract=submitted.get)
        submitted[request.contract_id] = request
    assert set(submitted) == {
        "acme-robotics-nda",
        "blue-fjord-msa",
        "blue-fjord-sow-1",
        "kestrel-bio-nda",
    }
    assert submitted["blue-fjord-msa"].value.amount == Decimal("520000.00")  # revision 2 last
    assert submitted["blue-fjord-sow-1"].sow.parent_contract_id == "blue-fjord-msa"


def test_sow_sample_invalid_without_its_msa():
    path = EXAMPLES / "requests" / "03-sow-under-msa.yaml"
    with pytest.raises(InvalidRequest) as info:
        load_request_file(path, entities=ENTITIES, find_contract=lambda _: None)
    assert {e.path for e in info.value.errors} == {"sow.parent_contract_id"}



# --- hostile files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"a: !!binary G1szMW0=\n", "!!binary"),  # bytes would slip past the text checks
        (b"a: !!set {x, y}\n", "!!set"),
        (b"a: !!omap [x: 1]\n", "!!omap"),
        (b"a: !!pairs [x: 1]\n", "!!pairs"),
        (b"a: !!timestamp 2024-01-01T00:00:00\n", "!!timestamp"),
        (b"a: !<tag:yaml.org,2002:python/object> {}\n", "!!python/object"),
    ],
    ids=["binary", "set", "omap", "pairs", "timestamp", "verbatim-python"],
)
def test_tags_beyond_the_core_schema_refused_by_name(data, words):
    (error,) = _parse_error(data)
    assert error.path == DOCUMENT and words in error.message and "line 1" in error.message


def test_core_schema_tags_accepted():
    data = b"a: !!str 12\nb: !!int '7'\nc: !!map {d: !!seq [!!null '', !!bool true]}\n"
    assert parse_request(data, filename="r.yaml") == {"a": "12", "b": 7, "c": {"d": [None, True]}}


def test_alias_to_itself_refused_not_a_crash():
    # Before: a self-referencing list reached validation and ended in RecursionError.
    (error,) = _parse_error(b"a: &a [*a]\n")
    assert "inside its own definition" in error.message


def test_few_aliases_that_expand_past_the_limit_refused():
    # 11 aliases, well under the count limit, doubling a 0.9 MB string 1024 times.
    lines = [f'a0: &a0 ["{"x" * 900_000}"]']
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 11)]
    (error,) = _parse_error("\n".join(lines).encode())
    assert "expands" in error.message and "1 MiB" in error.message


def test_yaml_without_aliases_at_the_size_limit_is_not_an_expansion():
    head = b"contract_id: acme-nda\nnotes: "
    data = head + b"x" * (MAX_REQUEST_BYTES - len(head) - 1) + b"\n"
    assert len(parse_request(data, filename="r.yaml")["notes"]) == MAX_REQUEST_BYTES - len(head) - 1


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"a: " + b"[" * 100_000 + b"]" * 100_000, "r.yaml"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "r.json"),
        (b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", "r.json"),
    ],
    ids=["yaml-deep", "json-deep", "json-past-the-limit"],
)
def test_deep_nesting_refused_not_a_crash(data, filename):
    (error,) = _parse_error(data, filename)
    assert error.path == DOCUMENT and "deep" in error.message


@pytest.mark.parametrize("key", [b"? [a, b]\n: c\n", b"? {a: 1}\n: c\n"], ids=["list", "mapping"])
def test_complex_mapping_keys_refused(key):
    (error,) = _parse_error(key)
    assert "as a key" in error.message


@pytest.mark.parametrize(
    "device", ["/dev/zero", "/dev/urandom"], ids=["zero", "urandom"]
)
def test_device_refused_without_reading_it(device):
    # stat() says 0 bytes; reading to the end would never stop.
    with pytest.raises(InvalidRequest) as info:
        load_request_file(Path(device), entities=ENTITIES, find_contract=lambda _: None)
    assert "not a regular file" in info.value.errors[0].message


def test_fifo_refused_without_blocking(tmp_path):
    fifo = tmp_path / "request.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InvalidRequest) as info:
        load_request_file(fifo, entities=ENTITIES, find_contract=lambda _: None)
    assert "not a regular file" in info.value.errors[0].message


def test_file_growing_past_the_limit_refused_from_what_was_read(tmp_path, monkeypatch):
    path = tmp_path / "r.yaml"
    path.write_bytes(b"#" * 10)
    real_fstat = os.fstat

    def stale_fstat(fd):  # the size a file had before a writer appended to it
        info = real_fstat(fd)
        path.write_bytes(b"#" * (MAX_REQUEST_BYTES + 10))
        return info

    monkeypatch.setattr(os, "fstat", stale_fstat)
    with pytest.raises(InvalidRequest) as info:
        read_request_bytes(path)
    assert "1 MiB" in info.value.errors[0].message


@pytest.mark.parametrize(
    "contract_id",
    [
        "../etc-passwd",
        "..",
        "/etc/passwd",
        "acme\\nda",
        "acme\x00nda",
        "acme-nda/",
        "acme-nda\n",
        "асme-nda",  # Cyrillic а and с
        "acme\u2010nda",  # a Unicode hyphen
        "ａcme-nda",  # fullwidth a
        "acme-nda\u200b",  # zero-width space
        "ACME-NDA",
    ],
)
def test_path_like_or_look_alike_ids_refused_at_their_path(error_paths, make_raw, contract_id):
    assert "contract_id" in error_paths(make_raw("nda", {"contract_id": contract_id}))


@pytest.mark.parametrize("parent", ["../acme-msa", "/tmp/acme-msa", "acme-msa/../acme-msa"])
def test_path_like_parent_id_is_never_looked_up(make_raw, parent):
    asked = []

    def find_contract(contract_id):
        asked.append(contract_id)
        return None

    with pytest.raises(InvalidRequest) as info:
        validate_request(
            make_raw("sow", {"sow.parent_contract_id": parent}),
            entities=ENTITIES,
            find_contract=find_contract,
        )
    assert "sow.parent_contract_id" in {e.path for e in info.value.errors}
    assert asked == []


def test_error_messages_quote_user_text_short_and_without_control_characters(validate, make_raw):
    entity = "\x1b[2J\x1b[31m" + "x" * 80  # clears a terminal, then turns it red
    amount = "\x1b]0;pwned\x07" * 500
    with pytest.raises(InvalidRequest) as info:
        validate(make_raw("msa", {"our_entity": entity, "value.amount": amount}))
    quoting = [e.message for e in info.value.errors if "x" * 20 in e.message or "pwned" in e.message]
    assert len(quoting) == 2  # our_entity unknown, value.amount not a number
    for message in quoting:
        assert "\x1b" not in message and "\x07" not in message
        assert "\\x1b" in message and len(message) < 300


def test_exact_numbers_stay_with_requests_and_do_not_leak_into_other_yaml():
    """Request amounts parse as Decimal; other YAML read in the same process (playbook,
    configuration, anybody's) keeps YAML's own floats."""
    from ruamel.yaml import YAML

    raw = parse_request(b"liability_cap_multiple: 1.5\n", filename="r.yaml")
    assert raw["liability_cap_multiple"] == Decimal("1.5")
    assert YAML(typ="safe", pure=True).load("weight: 1.5") == {"weight": 1.5}
    assert isinstance(YAML(typ="safe", pure=True).load("weight: 1.5")["weight"], float)
