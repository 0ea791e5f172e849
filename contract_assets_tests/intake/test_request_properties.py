"""Properties of request handling, over requests generated from the sample requests.

Valid requests: each sample in `examples/requests/` with every free-text field replaced by
generated text (letters, CJK, punctuation, template syntax and markup), within the lengths
the model allows. Each is accepted, drafts with every library variable filled, and its user
text appears intact in the HTML, PDF and DOCX.

Invalid requests: a sample with one mutation (a wrong type, an unknown field, a missing
required field, a bad id). Each is refused naming the mutated field's path, and through
`RevisionIntake.submit` it leaves nothing behind.

Bounded (tens of examples, no deadline: PDF rendering time varies on a shared machine) so
the module runs in well under a minute.
"""

from __future__ import annotations

import copy
import json
import re
import string
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_assets.drafting.clause_library import load_entities, load_library
from contract_assets.platform.models import CONTRACT_ID_PATTERN, ContractDraft, ContractRequest
from contract_assets.intake.requests import DOCUMENT, InvalidRequest, parse_request, validate_request
from contract_assets.pipeline.defs.partitions import REVISIONS
from contract_assets_tests.sample_requests import EXAMPLES, set_path
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
from contract_assets_tests.harness import AUDIT_FILES, files_under

EFFECTIVE = date(2027, 1, 1)
SAMPLES = {
    path.name: parse_request(path.read_bytes(), filename=path.name)
    for path in sorted((EXAMPLES / "requests").glob("*.yaml"))
}
PARENT_SAMPLE = "02-msa-high-value.yaml"  # the MSA the SOW sample belongs to
ENTITIES = load_entities()
LIBRARY = load_library()

# Template syntax (Jinja2), HTML/XML markup and entities, reportlab paragraph tags.
TOKENS = [
    "{{", "}}", "{%", "%}", "{#", "#}", "{{ 7*7 }}", "{% for x in y %}", "{{ request }}",
    "<script>alert(1)</script>", "</p>", "&amp;", "&lt;", "&", "<", ">", "<b>", "</b>",
    "<font name='Courier'>", "<para>", "<br/>", "]]>", "<w:t>", "\\", "'", '"', "${x}", "%s",
]  # fmt: skip
ALPHABET = string.ascii_letters + string.digits + string.punctuation + " " + "éüßÅøł–“”€株式会社田中"
FREE_TEXT = free_text_fields()
TOP_LEVEL_FIELDS = set(ContractRequest.model_fields)


def user_text(low: int, high: int) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(TOKENS), st.text(ALPHABET, min_size=1, max_size=12))
    return (
        st.lists(piece, min_size=1, max_size=8)
        .map(lambda parts: "".join(parts)[:high])
        .filter(lambda text: len(text) >= max(low, 1) and text.strip())
    )


@st.composite
def valid_requests(draw) -> dict[str, Any]:
    """A sample with every free-text field (but the entity key) generated."""
    raw = copy.deepcopy(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    raw["counterparty"]["entity_type"] = "x"
    raw["custom_clauses"] = [{"title": "x", "text": "x"}] * draw(st.integers(0, 2))
    for path in text_leaves(raw):
        if path != "our_entity":
            set_path(raw, path, draw(user_text(*FREE_TEXT[field_of(path)])))
    return raw


def accept(raw: dict[str, Any]) -> ContractDraft:
    """Validate and draft a request; an SOW gets its MSA sample with the same counterparty."""
    parent = None
    if raw["type"] == "sow":
        parent_raw = copy.deepcopy(SAMPLES[PARENT_SAMPLE])
        parent_raw["counterparty"]["legal_name"] = raw["counterparty"]["legal_name"]
        parent = validate_request(parent_raw, entities=ENTITIES, find_contract=lambda _: None)
    request = validate_request(raw, entities=ENTITIES, find_contract={parent.contract_id: parent}.get if parent else lambda _: None)
    return first_draft(request, parent=parent, entities=ENTITIES, library=LIBRARY)


def plain_twin(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The same request with each free-text value replaced by a plain placeholder, and the
    placeholders with the values they stand for. The placeholder keeps what the library may
    look at (a vowel first or not: `with_article`), nothing else."""
    twin, values = copy.deepcopy(raw), {}
    for number, (path, value) in enumerate(text_leaves(raw).items()):
        if path != "our_entity":
            placeholder = ("A" if value[:1].lower() in "aeiou" else "B") + f"qz{number}qz"
            set_path(twin, path, placeholder)
            values[placeholder] = value
    return twin, values


def _words(text: str) -> str:
    return " ".join(text.split())


@settings(max_examples=25, deadline=None)
@given(valid_requests())
def test_every_accepted_request_renders_filled_in_with_its_text_intact(raw):
    """The draft is exactly the plain twin's draft with the user's text put in where the
    placeholders are: nothing in it was read as a template, and the twin shows that every
    library variable was filled (no `{{`, no `Undefined`) in the draft and every format."""
    draft = accept(raw)
    twin, values = plain_twin(raw)
    twin_draft = accept(twin)

    expected = _words(draft_text(twin_draft))
    for placeholder in sorted(values, key=len, reverse=True):
        expected = expected.replace(placeholder, values[placeholder])
    assert _words(draft_text(draft)) == _words(expected)
    assert residue(draft_text(twin_draft), []) == []

    in_draft = squash(draft_text(draft))
    for fmt in ("html", "pdf", "docx"):
        assert residue(rendered_text(fmt, twin_draft, EFFECTIVE), []) == [], fmt
        shown = squash(rendered_text(fmt, draft, EFFECTIVE))
        for path, value in text_leaves(raw).items():
            if path not in NOT_CONTRACT_TEXT and squash(value) in in_draft:
                assert squash(value) in shown, f"{path} not intact in the {fmt}: {value!r}"


# --- invalid requests ----------------------------------------------------------------------


def _leaf_paths(data: Any, path: str = "") -> list[str]:
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in _leaf_paths(value, f"{path}.{key}" if path else key)]
    if isinstance(data, list):
        return [p for i, value in enumerate(data) for p in _leaf_paths(value, f"{path}.{i}")]
    return [path]


def _mapping_paths(data: Any, path: str = "") -> list[str]:
    if isinstance(data, dict):
        found = [path]
        for key, value in data.items():
            found += _mapping_paths(value, f"{path}.{key}" if path else key)
        return found
    if isinstance(data, list):
        return [p for i, value in enumerate(data) for p in _mapping_paths(value, f"{path}.{i}")]
    return []


BAD_IDS = st.one_of(
    st.sampled_from(["../acme-nda", "/etc/passwd", "acme\\nda", "acme\x00nda", "аcme-nda", "ACME", ".."]),
    st.text(ALPHABET + "/\\.\x00\u200b", max_size=70).filter(lambda t: not re.fullmatch(CONTRACT_ID_PATTERN, t)),
)
REQUIRED = ["contract_id", "type", "requested_by", "our_entity", "counterparty", "governing_law", "term_months"]


@st.composite
def invalid_requests(draw) -> tuple[dict[str, Any], str]:
    """A sample with one mutation, and the path the refusal must name."""
    raw = copy.deepcopy(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    kind = draw(st.sampled_from(["wrong_type", "unknown_field", "missing", "bad_id"]))
    if kind == "wrong_type":  # a list or mapping where a value belongs is wrong for any field
        path = draw(st.sampled_from(_leaf_paths(raw)))
        set_path(raw, path, draw(st.sampled_from([[1], {"x": 1}, [], {}])))
    elif kind == "unknown_field":
        where = draw(st.sampled_from(_mapping_paths(raw)))
        target = raw
        for part in where.split(".") if where else []:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key = draw(st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True).filter(lambda k: k not in target))
        target[key] = "x"
        path = f"{where}.{key}" if where else key
    elif kind == "missing":
        path = draw(st.sampled_from(REQUIRED))
        del raw[path]
    else:
        path = "sow.parent_contract_id" if "sow" in raw and draw(st.booleans()) else "contract_id"
        set_path(raw, path, draw(BAD_IDS))
    return raw, path


def _parent_msa() -> ContractRequest:
    return validate_request(SAMPLES[PARENT_SAMPLE], entities=ENTITIES, find_contract=lambda _: None)


@settings(max_examples=60, deadline=None)
@given(invalid_requests())
def test_every_rejected_request_names_the_mutated_field(mutated):
    raw, path = mutated
    parent = _parent_msa()
    with pytest.raises(InvalidRequest) as info:
        validate_request(raw, entities=ENTITIES, find_contract={parent.contract_id: parent}.get)
    paths = {error.path for error in info.value.errors}
    assert path in paths, (path, info.value.errors)
    # Paths are the request's own (a field name first, or the unknown key), never a model's.
    first = TOP_LEVEL_FIELDS | {path.split(".")[0]}
    assert all(p == DOCUMENT or p.split(".")[0] in first for p in paths), paths
    assert all(error.message.strip() for error in info.value.errors)


# The home is shared by the examples on purpose: each must leave it exactly as it was.
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated=invalid_requests())
def test_a_rejected_submission_leaves_nothing_behind(home, ops, tmp_path, mutated):
    raw, path = mutated
    before = {f for f in files_under(home.root) if not f.startswith("dagster/")}
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(raw, default=str))

    with pytest.raises(InvalidRequest) as info:
        ops.submit(request_file)

    assert path in {error.path for error in info.value.errors}
    assert {f for f in files_under(home.root) if not f.startswith("dagster/")} - AUDIT_FILES == before - AUDIT_FILES
    assert ops.instance.get_dynamic_partitions(REVISIONS) == []
    assert ops.instance.get_runs() == []
    assert ops.workspace.registry.all() == []
