"""Assemble a contract draft from a validated request and the clause library.

Template context: the variables every clause body, `applies_when` condition, fallback or
variant `when`, and deviation description may use (and nothing else; see
`clause_library.CONTEXT_NAMES`):

    request                 the request as plain data: dicts and lists, Decimal amounts,
                            datetime.date dates, `type` as a string ("msa"); the internal
                            `notes` are left out so that they can never reach a contract
    us, counterparty        the parties: role, legal_name, entity_type (may be None),
                            jurisdiction (code), jurisdiction_name ("Delaware, United
                            States", "the United Kingdom"), address, signatory {name, title, email}
    discloser, recipient    one-way NDA: the disclosing and the receiving party (`us` or
                            `counterparty` by `nda.disclosing_party`, default us); else None
    parent                  sow: the parent MSA request as plain data; else None
    amends                  when an earlier revision of the contract was executed, the one
                            this revision amends and restates: contract_id, revision,
                            partition_key, title (its draft's); else None
    governing_law           code ("US-NY"), country ("US"), country_name, subdivision_name,
                            subdivision_type ("State"), full_name ("New York, United
                            States"), name (as governing_law_name)
    governing_law_name      "New York" (a US state), "England and Wales", "Germany",
                            "the Netherlands", "Ontario, Canada": the ISO (pycountry) name
    liability_cap_multiple  Decimal multiple of fees, or "unlimited"; default Decimal("1");
                            an sow takes its parent MSA's
    payment_terms_days      the request's, default 30

Filters: `money` (value | money -> "EUR 480,000.00"; amount | money("EUR")), `longdate`
("1 December 2026"), `number` (Decimal("2.00") -> "2"), `quantity` (24 | quantity("month")
-> "24 months"), `with_article` ("corporation" -> "a corporation").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import jinja2
import pycountry

from contract_assets.drafting.clause_library import (
    CUSTOM_CLAUSES_MARKER,
    Clause,
    ClauseLibrary,
    Condition,
    Template,
)
from contract_assets.platform.models import (
    ContractDraft,
    ContractRequest,
    ContractType,
    Deviation,
    DraftAnnex,
    DraftClause,
    Entity,
    Party,
)

DEFAULT_LIABILITY_CAP = Decimal("1")
DEFAULT_PAYMENT_TERMS_DAYS = 30
# Legal usage names the jurisdiction, not the ISO subdivision ("England").
_JURISDICTION_NAMES = {"GB-ENG": "England and Wales"}
_NAMES_WITH_THE = frozenset(
    {"Netherlands", "Philippines", "Bahamas", "Gambia", "Maldives", "Comoros"}
)
# Errors a clause can raise while rendering: Jinja's own, and those of filters on bad data.
_RENDER_ERRORS = (jinja2.TemplateError, TypeError, ValueError, LookupError, ArithmeticError)


class AssemblyError(Exception):
    """The draft cannot be assembled; the message says which clause or input and why."""


@dataclass(frozen=True)
class Amended:
    """The executed revision that a later revision of the same contract amends and
    restates (PRODUCT.md section 2: after execution, a new revision is an amendment)."""

    contract_id: str
    revision: int
    partition_key: str
    title: str


AMENDED_TITLE_PREFIX = "Amended and Restated "


def assemble_draft(
    *,
    partition_key: str,
    revision: int,
    request: ContractRequest,
    request_hash: str,
    entity: Entity,
    library: ClauseLibrary,
    parent: ContractRequest | None = None,
    amends: Amended | None = None,
) -> ContractDraft:
    """Assemble the draft of one revision.

    Picks the one template of the request's type whose `applies_when` holds, renders each
    applicable clause (choosing the first fallback or variant whose `when` holds), inserts
    the request's custom clauses literally at the template's marker, attaches annexes whose
    condition holds, and records every non-standard position as a Deviation, the mandatory
    clause ids and the library version and hash. `parent` is the parent MSA request of an
    sow (required for an sow, refused otherwise). With `amends`, the draft amends and
    restates that executed revision: its title says so, and the clauses that apply to an
    amendment are in. Raises AssemblyError.
    """
    context = build_context(request, entity, parent, amends)
    template = _select_template(library, request, context)
    deviations: list[Deviation] = []

    clauses: list[DraftClause] = []
    for section in template.spec.sections:
        if section == CUSTOM_CLAUSES_MARKER:
            clauses += _custom_clauses(request)
        else:
            clauses += _draft_clause(library.clauses[section], context, deviations)

    annexes: list[DraftAnnex] = []
    used = [f"templates/{template.id}.yaml"]
    used += [f"clauses/{s}.md" for s in template.spec.sections if s in library.clauses]
    mandatory = [
        s
        for s in template.spec.sections
        if s != CUSTOM_CLAUSES_MARKER and library.clauses[s].mandatory
    ]
    for annex_id, condition in template.annex_conditions:
        if not _holds(condition, context, f"template '{template.id}', annex '{annex_id}'"):
            continue
        annex = library.annexes[annex_id]
        annex_clauses: list[DraftClause] = []
        for clause_id in annex.clauses:
            annex_clauses += _draft_clause(library.clauses[clause_id], context, deviations)
        annexes.append(DraftAnnex(annex_id=annex.id, title=annex.title, clauses=annex_clauses))
        used += [f"annexes/{annex.id}.yaml", *(f"clauses/{c}.md" for c in annex.clauses)]
        mandatory += [c for c in annex.clauses if library.clauses[c].mandatory]

    return ContractDraft(
        partition_key=partition_key,
        contract_id=request.contract_id,
        revision=revision,
        type=request.type,
        template_id=template.id,
        title=(AMENDED_TITLE_PREFIX if amends else "") + template.spec.title,
        amends=amends.partition_key if amends else None,
        parties=_parties(request, entity),
        effective_date=request.effective_date,
        term_months=request.term_months,
        clauses=clauses,
        annexes=annexes,
        deviations=deviations,
        mandatory_clause_ids=list(dict.fromkeys(mandatory)),
        library_version=library.version,
        library_hash=library.content_hash,
        request_hash=request_hash,
        sources={rel: library.file_hashes[rel] for rel in dict.fromkeys(used)},
    )


def build_context(
    request: ContractRequest,
    entity: Entity,
    parent: ContractRequest | None = None,
    amends: Amended | None = None,
) -> dict[str, Any]:
    """The variables a clause sees (documented at the top of this module)."""
    if request.our_entity != entity.key:
        raise AssemblyError(
            f"our_entity is '{request.our_entity}' but entity '{entity.key}' was given"
        )
    _check_parent(request, parent)
    us, counterparty = (_party_data(p) for p in _parties(request, entity))
    discloser = recipient = None
    if request.nda is not None and not request.nda.mutual:
        # disclosing_party defaults to us (PRODUCT.md section 2)
        if request.nda.disclosing_party == "counterparty":
            discloser, recipient = counterparty, us
        else:
            discloser, recipient = us, counterparty
    cap_source = parent if request.type == ContractType.SOW else request
    assert cap_source is not None  # _check_parent guarantees an sow's parent
    governing_law = jurisdiction_info(request.governing_law)
    return {
        "request": _plain(request),
        "us": us,
        "counterparty": counterparty,
        "discloser": discloser,
        "recipient": recipient,
        "parent": _plain(parent) if parent is not None else None,
        "amends": asdict(amends) if amends is not None else None,
        "governing_law": governing_law,
        "governing_law_name": governing_law["name"],
        "liability_cap_multiple": (
            cap_source.liability_cap_multiple
            if cap_source.liability_cap_multiple is not None
            else DEFAULT_LIABILITY_CAP
        ),
        "payment_terms_days": (
            request.payment_terms_days
            if request.payment_terms_days is not None
            else DEFAULT_PAYMENT_TERMS_DAYS
        ),
    }


def _check_parent(request: ContractRequest, parent: ContractRequest | None) -> None:
    if request.type != ContractType.SOW:
        if parent is not None:
            raise AssemblyError(f"only an sow has a parent contract, not a '{request.type.value}'")
        return
    if request.sow is None:
        raise AssemblyError("sow: an sow needs its sow block (parent_contract_id, deliverables)")
    expected = request.sow.parent_contract_id
    if parent is None:
        raise AssemblyError(f"sow.parent_contract_id: the parent MSA '{expected}' must be given")
    if parent.type != ContractType.MSA or parent.contract_id != expected:
        raise AssemblyError(
            f"sow.parent_contract_id: expected the MSA '{expected}', "
            f"got the {parent.type.value} '{parent.contract_id}'"
        )


def _plain(request: ContractRequest) -> dict[str, Any]:
    data = request.model_dump(mode="python", exclude={"notes"})
    data["type"] = request.type.value
    return data


def _parties(request: ContractRequest, entity: Entity) -> list[Party]:
    return [
        Party(role="us", **entity.model_dump(exclude={"key"})),
        Party(role="counterparty", **request.counterparty.model_dump()),
    ]


def _party_data(party: Party) -> dict[str, Any]:
    data = party.model_dump(mode="python")
    data["jurisdiction_name"] = jurisdiction_info(party.jurisdiction)["full_name"]
    return data


def jurisdiction_info(code: str) -> dict[str, Any]:
    """Names of a jurisdiction code (already validated by the request model)."""
    country = pycountry.countries.get(alpha_2=code[:2])
    country_name = getattr(country, "common_name", None) or country.name
    subdivision = pycountry.subdivisions.get(code=code) if "-" in code else None
    full_name = f"{subdivision.name}, {country_name}" if subdivision else _with_the(country_name)
    if code in _JURISDICTION_NAMES:
        name = _JURISDICTION_NAMES[code]
    elif code.startswith("US-") and subdivision is not None and subdivision.type == "State":
        name = subdivision.name  # the clause says "the State of ..."
    else:
        name = full_name
    return {
        "code": code,
        "country": code[:2],
        "country_name": country_name,
        "subdivision_name": subdivision.name if subdivision else None,
        "subdivision_type": subdivision.type if subdivision else None,
        "full_name": full_name,
        "name": name,
    }


def _with_the(country_name: str) -> str:
    # English puts "the" before these ("the laws of the Netherlands"); ISO names omit it.
    if (
        country_name.startswith("United ")
        or country_name.endswith(("Islands", "Republic", "Federation"))
        or country_name in _NAMES_WITH_THE
    ):
        return f"the {country_name}"
    return country_name


def _select_template(
    library: ClauseLibrary, request: ContractRequest, context: dict[str, Any]
) -> Template:
    candidates = library.templates_for(request.type)
    chosen = [t for t in candidates if _holds(t.applies_when, context, f"template '{t.id}'")]
    if len(chosen) != 1:
        found = ", ".join(t.id for t in chosen) or "none"
        raise AssemblyError(
            f"type: exactly one '{request.type.value}' template must apply, found {found} "
            f"(library {library.version})"
        )
    return chosen[0]


def _holds(condition: Condition, context: dict[str, Any], where: str) -> bool:
    try:
        return bool(condition(**context))
    except _RENDER_ERRORS as exc:
        raise AssemblyError(f"{where}: condition failed: {exc}") from None


def _render(template: jinja2.Template, context: dict[str, Any], where: str) -> str:
    try:
        text = template.render(context)
    except _RENDER_ERRORS as exc:
        raise AssemblyError(f"{where}: {exc}") from None
    return _tidy(text)


def _tidy(text: str) -> str:
    """Trailing spaces off, runs of blank lines to one: paragraphs stay one blank line apart."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        line = line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines)


def _draft_clause(
    clause: Clause, context: dict[str, Any], deviations: list[Deviation]
) -> list[DraftClause]:
    """The clause as drafted ([] when it does not apply); a non-standard position is recorded."""
    where = f"clause '{clause.id}' ({clause.source})"
    if clause.applies_when is not None and not _holds(clause.applies_when, context, where):
        return []
    if clause.body is not None:
        body = _render(clause.body, context, where)
        return [
            DraftClause(
                clause_id=clause.id, title=clause.title, body=body,
                keep_line_breaks=clause.keep_line_breaks,
            )
        ]

    for candidate in clause.positions:
        where = f"clause '{clause.id}' ({clause.source}), position '{candidate.spec.position}'"
        if _holds(candidate.when, context, where):
            break
    else:
        raise AssemblyError(
            f"clause '{clause.id}' ({clause.source}): no position applies; "
            "the last one should be a catch-all"
        )
    position = candidate.spec.position
    body = _render(candidate.body, context, where)
    if not candidate.spec.standard:
        assert candidate.description is not None  # the loader requires it when not standard
        description = _render(candidate.description, context, f"{where}, description")
        deviations.append(
            Deviation(clause_id=clause.id, position=position, description=description)
        )
    return [
        DraftClause(
            clause_id=clause.id, title=clause.title, body=body, position=position,
            keep_line_breaks=clause.keep_line_breaks,
        )
    ]


def _custom_clauses(request: ContractRequest) -> list[DraftClause]:
    # Taken as data, never rendered: whatever braces or markup they hold stays literal.
    return [
        DraftClause(clause_id=f"custom-{n}", title=c.title, body=c.text, source="custom")
        for n, c in enumerate(request.custom_clauses, start=1)
    ]


def changed_sources(draft: ContractDraft, library: ClauseLibrary) -> list[str]:
    """The library files this draft was made from that have changed (or gone) since."""
    return [rel for rel, digest in draft.sources.items() if library.file_hashes.get(rel) != digest]
