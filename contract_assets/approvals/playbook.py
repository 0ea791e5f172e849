"""The approval playbook: which rules a request fires, who must approve, and the risk score.

The rules, thresholds, roles and weights are data (`library/playbook.yaml`); this module
implements the fixed vocabulary of conditions they are written in.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML

from contract_assets.drafting.clause_library import LIBRARY_DIR
from contract_assets.platform.models import (
    ContractRequest,
    Deviation,
    RequiredApproval,
    RiskAssessment,
    RuleHit,
)

SHIPPED_PLAYBOOK = LIBRARY_DIR / "playbook.yaml"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueAtLeast(_Config):
    test: Literal["value_at_least"]
    amount: Decimal
    currencies: list[str]


class CurrencyNotIn(_Config):
    test: Literal["currency_not_in"]
    currencies: list[str]


class HasCustomClauses(_Config):
    test: Literal["has_custom_clauses"]


class LiabilityCapNot(_Config):
    test: Literal["liability_cap_not"]
    multiple: Decimal
    types: list[str]


class GreaterThan(_Config):
    test: Literal["greater_than"]
    field: str
    limit: int


class GoverningLawNotStandard(_Config):
    test: Literal["governing_law_not_standard"]


class IsTrue(_Config):
    test: Literal["is_true"]
    field: str


Condition = Annotated[
    ValueAtLeast
    | CurrencyNotIn
    | HasCustomClauses
    | LiabilityCapNot
    | GreaterThan
    | GoverningLawNotStandard
    | IsTrue,
    Field(discriminator="test"),
]


class Approval(_Config):
    role: str
    tier: Annotated[int, Field(ge=1)]


class Rule(_Config):
    id: str
    title: str
    approvals: list[Approval]
    any: Annotated[list[Condition], Field(min_length=1)]


class Band(_Config):
    up_to: int
    level: Literal["low", "medium", "high", "critical"]


class RiskConfig(_Config):
    rule_weights: dict[str, int]
    per_extra_reason: int
    per_deviation: int
    levels: Annotated[list[Band], Field(min_length=1)]


class Playbook(_Config):
    version: str
    rules: list[Rule]
    standard_governing_law: list[str]
    risk: RiskConfig

    def is_standard_law(self, code: str) -> bool:
        return code in self.standard_governing_law


class PlaybookError(Exception):
    """The playbook file cannot be read or breaks its schema (the message names the file)."""


def load_playbook(path: Path = SHIPPED_PLAYBOOK) -> Playbook:
    """Read and validate a playbook file; errors name the file and the offending key."""
    try:
        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
        return Playbook.model_validate(data)
    except ValidationError as exc:
        raise PlaybookError(f"{path}: invalid playbook: {exc}") from None
    except OSError as exc:
        raise PlaybookError(f"{path}: cannot read playbook: {exc}") from None


def _field(request: ContractRequest, dotted: str) -> Any:
    value: Any = request
    for part in dotted.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def _reason(condition: Condition, request: ContractRequest, playbook: Playbook) -> str | None:
    """Why `condition` holds for `request`, or None when it does not."""
    value = request.value
    match condition:
        case ValueAtLeast(amount=amount, currencies=currencies):
            if value and value.currency in currencies and value.amount >= amount:
                return f"value {value.currency} {value.amount:,} is at least {amount:,}"
        case CurrencyNotIn(currencies=currencies):
            if value and value.currency not in currencies:
                return f"value is in {value.currency}, outside {', '.join(currencies)}"
        case HasCustomClauses():
            if request.custom_clauses:
                return f"{len(request.custom_clauses)} custom clause(s)"
        case LiabilityCapNot(multiple=multiple, types=types):
            cap = request.liability_cap_multiple
            if request.type.value in types and cap is not None and cap != multiple:
                return f"liability cap is {cap if cap == 'unlimited' else f'{cap}x'}, not {multiple}x"
        case GreaterThan(field=field, limit=limit):
            actual = _field(request, field)
            if actual is not None and actual > limit:
                return f"{field} is {actual}, over {limit}"
        case GoverningLawNotStandard():
            if not playbook.is_standard_law(request.governing_law):
                return f"governing law {request.governing_law} is outside the standard list"
        case IsTrue(field=field):
            if _field(request, field) is True:
                return f"{field} is true"
    return None


def fired_rules(request: ContractRequest, playbook: Playbook) -> list[RuleHit]:
    """Every playbook rule the request fires, with each condition that held as a reason."""
    hits = []
    for rule in playbook.rules:
        reasons = [r for c in rule.any if (r := _reason(c, request, playbook)) is not None]
        if reasons:
            hits.append(
                RuleHit(
                    rule=rule.id,
                    reasons=reasons,
                    roles=[a.role for a in rule.approvals],
                )
            )
    return hits


def required_approvals(hits: list[RuleHit], playbook: Playbook) -> list[RequiredApproval]:
    """One approval per role (at the lowest tier any fired rule gives it), ordered by tier."""
    by_role: dict[str, RequiredApproval] = {}
    rules = {rule.id: rule for rule in playbook.rules}
    for hit in hits:
        for approval in rules[hit.rule].approvals:
            known = by_role.get(approval.role)
            if known is None:
                by_role[approval.role] = RequiredApproval(
                    role=approval.role, tier=approval.tier, rules=[hit.rule]
                )
            else:
                by_role[approval.role] = RequiredApproval(
                    role=approval.role,
                    tier=min(known.tier, approval.tier),
                    rules=[*known.rules, hit.rule],
                )
    return sorted(by_role.values(), key=lambda a: (a.tier, a.role))


def assess_risk(
    *,
    partition_key: str,
    request: ContractRequest,
    deviations: list[Deviation],
    playbook: Playbook,
) -> RiskAssessment:
    """Score = weights of fired rules + extra reasons + deviations, capped at 100."""
    hits = fired_rules(request, playbook)
    weights = playbook.risk
    score = sum(weights.rule_weights.get(hit.rule, 0) for hit in hits)
    score += sum(weights.per_extra_reason * (len(hit.reasons) - 1) for hit in hits)
    score += weights.per_deviation * len(deviations)
    score = min(score, 100)
    level = next((band.level for band in weights.levels if score <= band.up_to), "critical")
    return RiskAssessment(
        partition_key=partition_key,
        score=score,
        level=level,
        rules=hits,
        deviations=deviations,
        playbook_version=playbook.version,
    )
