"""User text is data: template syntax and markup typed into any free-text field of a request
come out literally in the draft, the HTML, the PDF and the DOCX (PRODUCT.md section 2).

The fields are found from the request model (`request_text.free_text_fields`), so a free-text
field added later is covered without touching this file.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from contract_assets.drafting.clause_library import load_entities, load_library
from contract_assets.platform.models import ContractDraft, ContractRequest
from contract_assets.intake.requests import validate_request
from contract_assets_tests.sample_requests import REQUESTS, set_path
from contract_assets_tests.intake.request_text import (
    NOT_CONTRACT_TEXT,
    draft_text,
    field_of,
    first_draft,
    free_text_fields,
    rendered_text,
    residue,
    squash,
    text_leaves,
)
from contract_assets_tests.documents.test_rendering import FORMATS

EFFECTIVE = date(2027, 1, 1)
# Template syntax of Jinja2, HTML and XML (DOCX) markup and entities, reportlab paragraph
# markup: each must be shown as typed, never interpreted.
HOSTILE = (
    "{{ 7*7 }} {% for x in y %}{# c #} <script>alert(1)</script> &amp; </p> "
    "<b>b</b> <font name=\"Courier\">f</font> <para> ]]> <w:t>t</w:t> \"q\" 'a' ${x}"
)
PERSONAL_DATA = {"processed": True, "categories": ["c0"], "transfers_outside_eea": False}
CLAUSES = [{"title": "t", "text": "x"}, {"title": "t", "text": "x"}]


def hostile(path: str, high: int) -> str:
    """The hostile text for one field, tagged with its path so each field is found on its own."""
    return f"[{path}] {HOSTILE}"[:high]


def fill(raw: dict[str, Any]) -> dict[str, Any]:
    """Every optional free-text field added, then every free-text field set to hostile text."""
    raw = copy.deepcopy(raw)
    raw["counterparty"]["entity_type"] = "x"
    raw["custom_clauses"] = copy.deepcopy(CLAUSES)
    raw["notes"] = "x"
    if raw["type"] != "nda":
        raw["personal_data"] = copy.deepcopy(PERSONAL_DATA)  # the DPA annex lists categories
    limits = free_text_fields()
    for path in text_leaves(raw):
        if path != "our_entity":
            set_path(raw, path, hostile(path, limits[field_of(path)][1]))
    return raw


def validated(kind: str) -> tuple[dict[str, Any], ContractRequest, ContractRequest | None]:
    entities = load_entities()
    parent = None
    if kind == "sow":  # its MSA, with the same (hostile) counterparty
        parent = validate_request(fill(REQUESTS["msa"]), entities=entities, find_contract=lambda _: None)
    raw = fill(REQUESTS[kind])
    request = validate_request(
        raw, entities=entities, find_contract=lambda cid: parent if parent and cid == parent.contract_id else None
    )
    return raw, request, parent


@pytest.fixture(scope="module")
def drafts() -> dict[str, tuple[dict[str, Any], ContractDraft]]:
    library, entities = load_library(), load_entities()
    made = {}
    for kind in REQUESTS:
        raw, request, parent = validated(kind)
        made[kind] = (raw, first_draft(request, parent=parent, entities=entities, library=library))
    return made


def test_the_model_has_the_free_text_fields_we_expect():
    """Guards the introspection: it must find at least the fields PRODUCT.md names."""
    assert set(free_text_fields()) >= {
        "counterparty.legal_name", "counterparty.entity_type", "counterparty.address",
        "counterparty.signatory.name", "counterparty.signatory.title", "nda.purpose",
        "sow.deliverables.0.title", "sow.deliverables.0.description",
        "personal_data.categories.0", "custom_clauses.0.title", "custom_clauses.0.text", "notes",
    }  # fmt: skip
    assert "contract_id" not in free_text_fields() and "requested_by" not in free_text_fields()


def test_every_contract_text_field_reaches_some_contract(drafts):
    """Each free-text field (but the entity key and the notes) is shown by some contract type,
    so the literal checks below cover all of them."""
    shown = set()
    for raw, draft in drafts.values():
        text = squash(draft_text(draft))
        shown |= {path for path, value in text_leaves(raw).items() if squash(value) in text}
    assert {field_of(path) for path in shown} == set(free_text_fields()) - NOT_CONTRACT_TEXT


@pytest.mark.parametrize("kind", list(REQUESTS))
def test_the_draft_keeps_user_text_as_typed_and_fills_every_variable(drafts, kind):
    raw, draft = drafts[kind]
    text = draft_text(draft)
    assert "49" not in text  # {{ 7*7 }} was never evaluated
    values = [v for p, v in text_leaves(raw).items() if p not in NOT_CONTRACT_TEXT]
    assert residue(text, values) == []


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("kind", list(REQUESTS))
def test_every_field_comes_out_literally_in_every_format(drafts, kind, fmt):
    raw, draft = drafts[kind]
    shown = squash(rendered_text(fmt, draft, EFFECTIVE))
    in_draft = squash(draft_text(draft))
    leaves = text_leaves(raw)
    checked = 0
    for path, value in leaves.items():
        if path in NOT_CONTRACT_TEXT:
            assert squash(value) not in shown, f"{path} must never reach a contract"
        elif squash(value) in in_draft:
            assert squash(value) in shown, f"{path} is not shown literally in the {fmt}"
            checked += 1
    assert checked >= 8
    assert residue(shown, [v for p, v in leaves.items() if p not in NOT_CONTRACT_TEXT]) == []
