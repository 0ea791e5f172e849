"""The free-text fields of a contract request, found from the model rather than listed by hand,
the first draft of a request, and the checks that user text comes out of a contract literally.

A field is free text when the model constrains it only by length: no pattern, enum, email
or code validator. A new free-text field added to the models is picked up here, and so by
every test that fills them.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from datetime import date
from types import UnionType
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from contract_assets.drafting.assembly import assemble_draft
from contract_assets.drafting.clause_library import ClauseLibrary
from contract_assets.platform.models import ContractDraft, ContractRequest, Entity
from contract_assets.documents.packaging import unrenderable_text
from contract_assets_tests.documents.test_rendering import FORMATS, pdf_pages

# Free text the request carries but that is not contract wording: a key of the entity list
# (checked against configuration) and the internal notes (never rendered).
NOT_CONTRACT_TEXT = frozenset({"our_entity", "notes"})
# What a clause library leaves behind when a variable is not filled in.
LIBRARY_RESIDUE = ("{{", "}}", "{%", "%}", "{#", "#}", "Undefined")


def _flat(metadata: list[Any]) -> list[Any]:
    return [m for item in metadata for m in (item.metadata if isinstance(item, FieldInfo) else [item])]


def _leaves(annotation: Any, metadata: list[Any], path: str) -> Iterator[tuple[str, int, int]]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        yield from _leaves(base, [*metadata, *extra], path)
    elif origin in (typing.Union, UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                yield from _leaves(arg, metadata, path)
    elif origin is list:
        (item,) = typing.get_args(annotation)
        yield from _leaves(item, [], f"{path}.0")
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            yield from _leaves(field.annotation, field.metadata, f"{path}.{name}" if path else name)
    elif annotation is str:
        constraints = _flat(metadata)
        if all(isinstance(c, (annotated_types.MinLen, annotated_types.MaxLen)) for c in constraints):
            low = max((c.min_length for c in constraints if isinstance(c, annotated_types.MinLen)), default=0)
            high = min((c.max_length for c in constraints if isinstance(c, annotated_types.MaxLen)), default=10_000)
            yield path, low, high


def free_text_fields(model: type[BaseModel] = ContractRequest) -> dict[str, tuple[int, int]]:
    """Each free-text field's path (list items as `0`) with its (min, max) length."""
    return {path: (low, high) for path, low, high in _leaves(model, [], "")}


def field_of(path: str) -> str:
    """The model field a concrete path belongs to: `custom_clauses.1.text` -> `custom_clauses.0.text`."""
    return re.sub(r"\.\d+(?=\.|$)", ".0", path)


def text_leaves(raw: Any, path: str = "") -> dict[str, str]:
    """The free-text values of plain request data, by their concrete path (`custom_clauses.1.text`)."""
    fields = free_text_fields()
    found: dict[str, str] = {}
    if isinstance(raw, str):
        if field_of(path) in fields:
            found[path] = raw
    elif isinstance(raw, dict):
        for key, value in raw.items():
            found |= text_leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            found |= text_leaves(value, f"{path}.{index}")
    return found


def squash(text: str) -> str:
    """Text without any whitespace: formats wrap, justify and collapse spaces, never letters."""
    return "".join(text.split())


def first_draft(
    request: ContractRequest,
    *,
    parent: ContractRequest | None,
    entities: dict[str, Entity],
    library: ClauseLibrary,
) -> ContractDraft:
    """`request` (every character of it renderable) drafted as its first revision."""
    assert unrenderable_text(request) == []
    return assemble_draft(
        partition_key=f"{request.contract_id}.r1", revision=1, request=request,
        request_hash="f" * 64, entity=entities[request.our_entity], library=library, parent=parent,
    )  # fmt: skip


def draft_text(draft: ContractDraft) -> str:
    parts = [draft.title]
    for party in draft.parties:
        parts += [party.legal_name, party.entity_type or "", party.address,
                  party.signatory.name, party.signatory.title]
    for clause in draft.all_clauses():
        parts += [clause.title, clause.body]
    parts += [annex.title for annex in draft.annexes]
    return "\n".join(parts)


def residue(text: str, user_texts: list[str]) -> list[str]:
    """Library leftovers (`{{`, `Undefined`...) in `text` once every user text is taken out.

    Both sides are squashed; user texts are cut out longest first, each leaving a space so
    that pieces on either side of one never join into a `{{`.
    """
    rest = squash(text)
    for user in sorted({squash(u) for u in user_texts if squash(u)}, key=len, reverse=True):
        rest = rest.replace(user, " ")
    return [token for token in LIBRARY_RESIDUE if token in rest]


def rendered_text(fmt: str, draft: ContractDraft, effective_date: date) -> str:
    """The visible text of the draft rendered as `fmt` ("html", "pdf", "docx").

    PDF pages are joined without their footers, so that a paragraph running onto the next
    page reads on as one.
    """
    render, text_of = FORMATS[fmt]
    data = render(draft, effective_date=effective_date)
    if fmt != "pdf":
        return text_of(data)
    footer = f"{draft.contract_id} revision {draft.revision} · clause library {draft.library_version}"
    pages = [re.sub(r"Page \d+ of \d+", "", page.replace(footer, "")) for page in pdf_pages(data)]
    return "\n".join(pages)
