"""Shared contract requests for the tests of the request rules: one small, valid request per contract type.

`make_raw(kind, changes, drop=...)` returns a fresh plain-data request (what a parsed file
holds), with dotted-path changes applied; `validate` and `error_paths` run the one loader
against a dict of already submitted contracts that holds the MSA an SOW refers to.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from contract_assets.platform.models import ContractRequest
from contract_assets.intake.requests import InvalidRequest, validate_request

ENTITIES = frozenset({"orbital-inc", "orbital-gmbh"})
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

_COUNTERPARTY = {
    "legal_name": "Acme Robotics LLC",
    "entity_type": "limited liability company",
    "jurisdiction": "US-CA",
    "address": "500 Harbor Blvd, San Diego, CA 92101, USA",
    "signatory": {"name": "Maria Gomez", "title": "CEO", "email": "maria.gomez@acme.example"},
}

_COMMON = {
    "requested_by": "dana.lee@orbital.example",
    "our_entity": "orbital-inc",
    "counterparty": _COUNTERPARTY,
    "governing_law": "US-NY",
    "term_months": 24,
}

REQUESTS: dict[str, dict[str, Any]] = {
    "nda": {
        "contract_id": "acme-nda",
        "type": "nda",
        **_COMMON,
        "governing_law": "US-DE",
        "nda": {"purpose": "evaluating a joint product integration"},
    },
    "msa": {
        "contract_id": "acme-msa",
        "type": "msa",
        **_COMMON,
        "value": {"amount": "100000.00", "currency": "USD"},
    },
    "sow": {
        "contract_id": "acme-sow-1",
        "type": "sow",
        **_COMMON,
        "term_months": 6,
        "value": {"amount": "100000.00", "currency": "USD"},
        "sow": {
            "parent_contract_id": "acme-msa",
            "deliverables": [
                {
                    "title": "Audit",
                    "description": "Review of the current stack",
                    "due_date": "2027-02-15",
                    "amount": "40000.00",
                },
                {
                    "title": "Migration plan",
                    "description": "Target architecture and plan",
                    "due_date": "2027-04-01",
                    "amount": "60000.00",
                },
            ],
        },
    },
    "dpa": {
        "contract_id": "acme-dpa",
        "type": "dpa",
        **_COMMON,
        "governing_law": "DE",
        "personal_data": {
            "processed": True,
            "categories": ["contact details"],
            "transfers_outside_eea": False,
        },
    },
}


def set_path(data: Any, dotted: str, value: Any) -> None:
    """Set `value` at a dotted path such as `sow.deliverables.0.amount` (digits index lists)."""
    *parents, last = dotted.split(".")
    for part in parents:
        data = data[int(part)] if isinstance(data, list) else data.setdefault(part, {})
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


def drop_path(data: Any, dotted: str) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data[int(part)] if isinstance(data, list) else data[part]
    del data[last]


def build_raw(
    kind: str, changes: Mapping[str, Any] | None = None, *, drop: Iterable[str] = ()
) -> dict[str, Any]:
    raw = copy.deepcopy(REQUESTS[kind])
    for dotted, value in (changes or {}).items():
        set_path(raw, dotted, value)
    for dotted in drop:
        drop_path(raw, dotted)
    return raw


@pytest.fixture
def make_raw() -> Callable[..., dict[str, Any]]:
    """A fresh valid request of a type, e.g. `make_raw("msa", {"value.amount": "1.00"})`."""
    return build_raw


@pytest.fixture
def submitted() -> dict[str, ContractRequest]:
    """Contracts already submitted: the MSA `acme-msa` (an SOW's parent) and the NDA `acme-nda`."""
    found: dict[str, ContractRequest] = {}
    for kind in ("msa", "nda"):
        request = validate_request(build_raw(kind), entities=ENTITIES, find_contract=found.get)
        found[request.contract_id] = request
    return found


@pytest.fixture
def validate(submitted: dict[str, ContractRequest]) -> Callable[[Any], ContractRequest]:
    def run(raw: Any) -> ContractRequest:
        return validate_request(raw, entities=ENTITIES, find_contract=submitted.get)

    return run


@pytest.fixture
def error_paths(validate: Callable[[Any], ContractRequest]) -> Callable[[Any], set[str]]:
    """The set of paths an invalid request is rejected with (fails the test if it is accepted)."""

    def run(raw: Any) -> set[str]:
        with pytest.raises(InvalidRequest) as info:
            validate(raw)
        assert info.value.errors, "InvalidRequest must list at least one error"
        for error in info.value.errors:
            assert error.message.strip(), f"error at {error.path} has no message"
        return {error.path for error in info.value.errors}

    return run
