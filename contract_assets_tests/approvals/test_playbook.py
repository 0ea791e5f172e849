"""The default approval playbook (PRODUCT.md section 5): each rule on both sides of its limit."""

from __future__ import annotations

import pytest

from contract_assets.platform.models import ContractRequest, Deviation
from contract_assets.approvals.playbook import (
    Playbook,
    assess_risk,
    fired_rules,
    load_playbook,
    required_approvals,
)
from contract_assets.intake.requests import load_request_file
from contract_assets_tests.sample_requests import ENTITIES, EXAMPLES


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return load_playbook()


@pytest.fixture
def request_of(validate, make_raw):
    """A validated request of `kind` with dotted-path changes, e.g. request_of("msa", {...})."""

    def build(kind: str, changes: dict | None = None, drop: tuple = ()) -> ContractRequest:
        return validate(make_raw(kind, changes, drop=drop))

    return build


def rules_of(request: ContractRequest, playbook: Playbook) -> set[str]:
    return {hit.rule for hit in fired_rules(request, playbook)}


def approvals_of(request: ContractRequest, playbook: Playbook) -> list[tuple[str, int]]:
    return [(a.role, a.tier) for a in required_approvals(fired_rules(request, playbook), playbook)]


def test_shipped_playbook_has_a_version(playbook):
    assert playbook.version


def test_plain_requests_fire_nothing(request_of, playbook):
    for kind in ("nda", "msa", "sow", "dpa"):
        request = request_of(kind)
        assert fired_rules(request, playbook) == [], kind
        assert required_approvals([], playbook) == []
        assert approvals_of(request, playbook) == [], kind


# --- high value ----------------------------------------------------------------------------------


@pytest.mark.parametrize("currency", ["USD", "EUR", "GBP"])
def test_high_value_threshold(request_of, playbook, currency):
    below = request_of("msa", {"value": {"amount": "249999.99", "currency": currency}})
    at = request_of("msa", {"value": {"amount": "250000.00", "currency": currency}})
    assert rules_of(below, playbook) == set()
    assert approvals_of(below, playbook) == []
    assert rules_of(at, playbook) == {"high_value"}
    assert approvals_of(at, playbook) == [("finance", 1)]


@pytest.mark.parametrize("currency", ["CHF", "JPY", "NOK"])
def test_any_amount_in_another_currency_is_high_value(request_of, playbook, currency):
    request = request_of("msa", {"value": {"amount": "10.00", "currency": currency}})
    assert rules_of(request, playbook) == {"high_value"}
    assert approvals_of(request, playbook) == [("finance", 1)]


def test_other_currency_is_never_very_high_value(request_of, playbook):
    # Face value, no conversion: the very-high rule names USD, EUR and GBP only.
    request = request_of("msa", {"value": {"amount": "5000000.00", "currency": "CHF"}})
    assert rules_of(request, playbook) == {"high_value"}
    assert approvals_of(request, playbook) == [("finance", 1)]


def test_no_value_is_not_high_value(request_of, playbook):
    assert request_of("dpa").value is None
    assert rules_of(request_of("dpa"), playbook) == set()


def test_high_value_applies_to_every_type_with_a_value(request_of, playbook):
    sow = request_of(
        "sow",
        {
            "value.amount": "250000.00",
            "sow.deliverables.0.amount": "100000.00",
            "sow.deliverables.1.amount": "150000.00",
        },
    )
    dpa = request_of("dpa", {"value": {"amount": "250000.00", "currency": "GBP"}})
    assert rules_of(sow, playbook) == {"high_value"}
    assert rules_of(dpa, playbook) == {"high_value"}


# --- very high value -----------------------------------------------------------------------------


@pytest.mark.parametrize("currency", ["USD", "EUR", "GBP"])
def test_very_high_value_threshold(request_of, playbook, currency):
    below = request_of("msa", {"value": {"amount": "999999.99", "currency": currency}})
    at = request_of("msa", {"value": {"amount": "1000000.00", "currency": currency}})
    assert rules_of(below, playbook) == {"high_value"}
    assert approvals_of(below, playbook) == [("finance", 1)]
    assert rules_of(at, playbook) == {"high_value", "very_high_value"}
    assert approvals_of(at, playbook) == [("finance", 1), ("executive", 2)]


def test_finance_needed_once_for_very_high_value(request_of, playbook):
    request = request_of("msa", {"value.amount": "2000000.00"})
    approvals = required_approvals(fired_rules(request, playbook), playbook)
    assert [a.role for a in approvals].count("finance") == 1
    finance = next(a for a in approvals if a.role == "finance")
    assert finance.tier == 1
    assert set(finance.rules) == {"high_value", "very_high_value"}


# --- non-standard terms --------------------------------------------------------------------------


def test_custom_clause_is_non_standard(request_of, playbook):
    without = request_of("msa")
    with_clause = request_of("msa", {"custom_clauses": [{"title": "Credits", "text": "5%."}]})
    assert rules_of(without, playbook) == set()
    assert rules_of(with_clause, playbook) == {"non_standard_terms"}
    assert approvals_of(with_clause, playbook) == [("legal", 1)]


@pytest.mark.parametrize("kind", ["nda", "sow", "dpa"])
def test_custom_clause_is_non_standard_for_every_type(request_of, playbook, kind):
    request = request_of(kind, {"custom_clauses": [{"title": "Extra", "text": "Text."}]})
    assert approvals_of(request, playbook) == [("legal", 1)]


@pytest.mark.parametrize(
    ("cap", "fires"),
    [
        (None, False),
        (1, False),
        ("1.0", False),
        (1.5, True),
        (0.5, True),
        (2, True),
        ("unlimited", True),
    ],
    ids=["default", "1", "1.0", "1.5", "0.5", "2", "unlimited"],
)
def test_liability_cap_other_than_one_is_non_standard(request_of, playbook, cap, fires):
    changes = {} if cap is None else {"liability_cap_multiple": cap}
    request = request_of("msa", changes)
    assert rules_of(request, playbook) == ({"non_standard_terms"} if fires else set())
    assert approvals_of(request, playbook) == ([("legal", 1)] if fires else [])


@pytest.mark.parametrize("kind", ["msa", "sow"])
def test_payment_terms_over_60_days_is_non_standard(request_of, playbook, kind):
    sixty = request_of(kind, {"payment_terms_days": 60})
    sixty_one = request_of(kind, {"payment_terms_days": 61})
    assert rules_of(sixty, playbook) == set()
    assert rules_of(sixty_one, playbook) == {"non_standard_terms"}
    assert approvals_of(sixty_one, playbook) == [("legal", 1)]


@pytest.mark.parametrize("kind", ["nda", "msa", "sow", "dpa"])
def test_term_over_36_months_is_non_standard(request_of, playbook, kind):
    assert rules_of(request_of(kind, {"term_months": 36}), playbook) == set()
    longer = request_of(kind, {"term_months": 37})
    assert rules_of(longer, playbook) == {"non_standard_terms"}
    assert approvals_of(longer, playbook) == [("legal", 1)]


@pytest.mark.parametrize("law", ["US-NY", "US-DE", "US-CA", "US-TX", "GB-ENG", "DE", "FR"])
def test_standard_governing_law(request_of, playbook, law):
    assert rules_of(request_of("msa", {"governing_law": law}), playbook) == set()


@pytest.mark.parametrize("law", ["CH", "GB-SCT", "GB-NIR", "GB", "NO", "IE"])
def test_non_standard_governing_law(request_of, playbook, law):
    request = request_of("msa", {"governing_law": law})
    assert rules_of(request, playbook) == {"non_standard_terms"}
    assert approvals_of(request, playbook) == [("legal", 1)]


@pytest.mark.parametrize("law", ["US-PR", "US-DC", "US-GU"])
def test_us_law_outside_the_states_is_non_standard(request_of, playbook, law):
    # The standard list is "every US state, GB-ENG, DE, FR" (PRODUCT.md section 3); the clause
    # library gives a territory or DC the generic clause, so legal must review it.
    request = request_of("msa", {"governing_law": law})
    assert rules_of(request, playbook) == {"non_standard_terms"}


def test_confidentiality_over_5_years_is_non_standard(request_of, playbook):
    five = request_of("nda", {"nda.confidentiality_years": 5})
    six = request_of("nda", {"nda.confidentiality_years": 6})
    assert rules_of(five, playbook) == set()
    assert rules_of(six, playbook) == {"non_standard_terms"}
    assert approvals_of(six, playbook) == [("legal", 1)]


def test_legal_needed_once_for_many_non_standard_terms(request_of, playbook):
    request = request_of(
        "msa",
        {
            "custom_clauses": [{"title": "Credits", "text": "5%."}],
            "liability_cap_multiple": "unlimited",
            "payment_terms_days": 90,
            "term_months": 48,
            "governing_law": "CH",
        },
    )
    (hit,) = fired_rules(request, playbook)
    assert hit.rule == "non_standard_terms"
    assert len(hit.reasons) == 5
    assert approvals_of(request, playbook) == [("legal", 1)]


def test_reasons_say_what_held(request_of, playbook):
    request = request_of("msa", {"payment_terms_days": 75, "value.amount": "300000.00"})
    hits = {hit.rule: hit for hit in fired_rules(request, playbook)}
    assert any("payment_terms_days" in r and "75" in r for r in hits["non_standard_terms"].reasons)
    assert any("300,000" in r for r in hits["high_value"].reasons)


# --- personal data abroad ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["msa", "dpa"])
def test_personal_data_abroad(request_of, playbook, kind):
    inside = request_of(
        kind, {"personal_data": {"processed": True, "transfers_outside_eea": False}}
    )
    abroad = request_of(kind, {"personal_data": {"processed": True, "transfers_outside_eea": True}})
    assert rules_of(inside, playbook) == set()
    assert rules_of(abroad, playbook) == {"personal_data_abroad"}
    assert approvals_of(abroad, playbook) == [("privacy", 1)]


# --- routing -------------------------------------------------------------------------------------


def test_every_role_once_ordered_by_tier(request_of, playbook):
    request = request_of(
        "msa",
        {
            "value.amount": "1500000.00",
            "term_months": 60,
            "personal_data": {"processed": True, "transfers_outside_eea": True},
        },
    )
    assert rules_of(request, playbook) == {
        "high_value",
        "very_high_value",
        "non_standard_terms",
        "personal_data_abroad",
    }
    approvals = approvals_of(request, playbook)
    roles = [role for role, _ in approvals]
    assert sorted(roles) == ["executive", "finance", "legal", "privacy"]
    tiers = [tier for _, tier in approvals]
    assert tiers == sorted(tiers)
    assert approvals[-1] == ("executive", 2)
    assert set(approvals[:-1]) == {("finance", 1), ("legal", 1), ("privacy", 1)}


def test_role_given_at_lowest_tier_any_rule_asks(request_of, playbook):
    # A playbook where two rules ask legal at different tiers: legal is needed once, at tier 1.
    data = playbook.model_dump()
    data["rules"] = [
        {
            "id": "long",
            "title": "Long",
            "approvals": [{"role": "legal", "tier": 2}],
            "any": [{"test": "greater_than", "field": "term_months", "limit": 12}],
        },
        {
            "id": "custom",
            "title": "Custom",
            "approvals": [{"role": "legal", "tier": 1}, {"role": "executive", "tier": 2}],
            "any": [{"test": "has_custom_clauses"}],
        },
    ]
    custom = Playbook.model_validate(data)
    request = request_of("nda", {"custom_clauses": [{"title": "T", "text": "x"}]})
    approvals = required_approvals(fired_rules(request, custom), custom)
    assert [(a.role, a.tier) for a in approvals] == [("legal", 1), ("executive", 2)]
    assert set(approvals[0].rules) == {"long", "custom"}


# --- risk score ----------------------------------------------------------------------------------


def _deviation(n: int) -> Deviation:
    return Deviation(clause_id=f"clause-{n}", position="fallback", description="not standard")


def _risk(request: ContractRequest, playbook: Playbook, deviations: int = 0):
    return assess_risk(
        partition_key=f"{request.contract_id}.r1",
        request=request,
        deviations=[_deviation(n) for n in range(deviations)],
        playbook=playbook,
    )


def test_no_rules_no_deviations_is_low_risk(request_of, playbook):
    risk = _risk(request_of("msa"), playbook)
    assert risk.score == 0
    assert risk.level == "low"
    assert risk.rules == []
    assert risk.playbook_version == playbook.version
    assert risk.partition_key == "acme-msa.r1"


def test_risk_grows_with_rules_reasons_and_deviations(request_of, playbook):
    ladder = [
        request_of("msa"),
        request_of("msa", {"value.amount": "300000.00"}),
        request_of("msa", {"value.amount": "300000.00", "term_months": 48}),
        request_of("msa", {"value.amount": "300000.00", "term_months": 48, "governing_law": "CH"}),
        request_of(
            "msa", {"value.amount": "1300000.00", "term_months": 48, "governing_law": "CH"}
        ),
        request_of(
            "msa",
            {
                "value.amount": "1300000.00",
                "term_months": 48,
                "governing_law": "CH",
                "personal_data": {"processed": True, "transfers_outside_eea": True},
            },
        ),
    ]
    scores = [_risk(request, playbook).score for request in ladder]
    assert scores == sorted(scores) and len(set(scores)) == len(scores), scores
    assert all(0 <= score <= 100 for score in scores)

    plain = request_of("msa", {"value.amount": "300000.00"})
    by_deviations = [_risk(plain, playbook, n).score for n in range(4)]
    assert by_deviations == sorted(by_deviations) and len(set(by_deviations)) == 4


def test_risk_score_capped_at_100(request_of, playbook):
    request = request_of(
        "msa",
        {
            "value.amount": "5000000.00",
            "term_months": 120,
            "governing_law": "CH",
            "payment_terms_days": 180,
            "liability_cap_multiple": "unlimited",
            "custom_clauses": [{"title": "T", "text": "x"}],
            "personal_data": {"processed": True, "transfers_outside_eea": True},
        },
    )
    risk = _risk(request, playbook, deviations=20)
    assert risk.score == 100
    assert risk.level == "critical"


def test_risk_records_rules_and_deviations(request_of, playbook):
    request = request_of("msa", {"value.amount": "300000.00", "term_months": 48})
    risk = _risk(request, playbook, deviations=2)
    assert {hit.rule for hit in risk.rules} == {"high_value", "non_standard_terms"}
    assert [d.clause_id for d in risk.deviations] == ["clause-0", "clause-1"]


def _levels_playbook(playbook: Playbook, weight: int) -> Playbook:
    data = playbook.model_dump()
    data["risk"]["rule_weights"] = {"non_standard_terms": weight}
    data["risk"]["per_extra_reason"] = 0
    data["risk"]["per_deviation"] = 0
    return Playbook.model_validate(data)


@pytest.mark.parametrize(
    ("score", "level"),
    [(0, "low"), (19, "low"), (20, "medium"), (44, "medium"), (45, "high"), (69, "high"),
     (70, "critical"), (100, "critical")],
)
def test_risk_level_bands(request_of, playbook, score, level):
    request = request_of("msa", {"term_months": 48})
    risk = _risk(request, _levels_playbook(playbook, score))
    assert risk.score == score
    assert risk.level == level


def test_shipped_bands_cover_0_to_100(playbook):
    bands = playbook.risk.levels
    assert [band.level for band in bands] == ["low", "medium", "high", "critical"]
    assert bands[-1].up_to == 100


# --- the shipped samples -------------------------------------------------------------------------


def test_sample_requests_route_as_documented(playbook):
    submitted: dict[str, ContractRequest] = {}
    routed: dict[str, list[tuple[str, int]]] = {}
    for path in sorted((EXAMPLES / "requests").glob("*.yaml")):
        request = load_request_file(path, entities=ENTITIES, find_contract=submitted.get)
        submitted[request.contract_id] = request
        routed[path.name[:2]] = approvals_of(request, playbook)
    assert routed == {
        "01": [],
        "02": [("finance", 1)],
        "03": [],
        "04": [("legal", 1)],
        "05": [("finance", 1), ("legal", 1)],
    }
