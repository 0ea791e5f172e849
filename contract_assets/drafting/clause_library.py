"""The governed clause library: contract text kept as data files, loaded and checked once.

A library directory holds:

    library.yaml          name and version of the library
    templates/<id>.yaml   one template per contract type (two for `nda`: mutual, one-way)
    annexes/<id>.yaml     annexes that templates attach under a condition
    clauses/<id>.md       one clause per file: YAML front matter, then the clause body
    entities.yaml         our own legal entities (configuration, not clause text)

The content hash covers exactly the clause text: library.yaml, templates/, annexes/ and
clauses/. Configuration kept beside it (entities.yaml, playbook.yaml) is left out, so
that changing a signatory does not mark every draft out of date.

Clause bodies, `applies_when` conditions and the positions of `fallbacks` and `variants`
are Jinja2 in a sandbox: undefined variables are errors, output is not escaped (it is
plain text that each renderer escapes for its format). Request data only ever enters as
the values of variables, so nothing a requester writes is compiled as a template. The
variables a body may use are documented in `contract_assets.drafting.assembly`.

Longer than 400 lines on purpose: the library's format and every check of it (front
matter, templates, annexes, the sandbox) are one contract with whoever edits the files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from contract_assets.platform.files import sha256_bytes
from contract_assets.platform.models import ContractType, Entity

LIBRARY_DIR = Path(__file__).resolve().parents[1] / "library"
# The section name in a template where the request's own custom clauses are inserted.
CUSTOM_CLAUSES_MARKER = "custom_clauses"
# Every top-level name a clause may use; `assembly.build_context` provides exactly these.
CONTEXT_NAMES = frozenset(
    {
        "request",
        "us",
        "counterparty",
        "discloser",
        "recipient",
        "parent",
        "amends",
        "governing_law",
        "governing_law_name",
        "liability_cap_multiple",
        "payment_terms_days",
    }
)

ClauseId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")]
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?(.*)\Z", re.DOTALL | re.MULTILINE)
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


class LibraryError(Exception):
    """The clause library (or the entity list) is malformed; the message names the file."""


# --- the text environment: filters and the sandbox ----------------------------------------


def money(value: Any, currency: str | None = None) -> str:
    """`{"amount": Decimal("480000"), "currency": "EUR"}` -> "EUR 480,000.00" (exact).

    Also `amount | money("EUR")`. Floats are refused: money is never binary floating point.
    """
    if isinstance(value, Mapping):
        amount, currency = value["amount"], value["currency"]
    else:
        amount = value
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        raise TypeError(f"money needs a Decimal amount, got {type(amount).__name__}")
    if not currency:
        raise TypeError("money needs a currency: use value | money or amount | money('EUR')")
    return f"{currency} {Decimal(amount):,.2f}"


def longdate(value: date) -> str:
    """A date as "1 December 2026" (English month names, whatever the machine's locale)."""
    if not isinstance(value, date):
        raise TypeError(f"longdate needs a date, got {type(value).__name__}")
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def number(value: Decimal | int) -> str:
    """A number without trailing zeros or exponent: Decimal("2.00") -> "2", "0.50" -> "0.5"."""
    text = format(Decimal(value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def quantity(count: int, unit: str) -> str:
    """`24 | quantity("month")` -> "24 months"; `1 | quantity("month")` -> "1 month"."""
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def with_article(noun: str) -> str:
    """"corporation" -> "a corporation", "exempted company" -> "an exempted company"."""
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def make_environment() -> jinja2.Environment:
    """The sandbox every clause is compiled and rendered in.

    Immutable sandbox: one clause cannot change the data the next one sees. StrictUndefined:
    a misspelt variable is an error, never an empty string in a contract.
    """
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(
        money=money, longdate=longdate, number=number, quantity=quantity, with_article=with_article
    )
    return env


# --- file shapes (front matter and YAML files) ---------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClausePosition(_Spec):
    """One alternative text of a clause: a fallback position or a variant."""

    position: ClauseId
    when: str = Field(min_length=1)
    body: str = Field(min_length=1)
    standard: bool = False
    # Why a non-standard position deviates, for the reviewer (a template, like the body).
    description: str | None = None

    @model_validator(mode="after")
    def _describe_deviations(self) -> ClausePosition:
        if not self.standard and not self.description:
            raise ValueError(f"position '{self.position}' is not standard: give a description")
        return self


class ClauseFrontMatter(_Spec):
    id: ClauseId
    title: str = Field(min_length=1, max_length=200)
    mandatory: bool
    applies_when: str | None = None
    # Negotiated positions, standard first; exactly one is the standard.
    fallbacks: list[ClausePosition] = []
    # Wordings for different circumstances (e.g. governing law); any number are standard.
    variants: list[ClausePosition] = []
    # Each line of the body is a line of the contract (fields one per line); without it a
    # single line break inside a paragraph is a soft wrap.
    keep_line_breaks: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ClauseFrontMatter:
        if self.mandatory and self.applies_when:
            raise ValueError("a mandatory clause always applies: remove applies_when")
        if self.fallbacks and self.variants:
            raise ValueError("a clause has fallbacks or variants, not both")
        if self.fallbacks and sum(p.standard for p in self.fallbacks) != 1:
            raise ValueError("exactly one fallback position must be standard: true")
        if self.variants and not any(p.standard for p in self.variants):
            raise ValueError("at least one variant must be standard: true")
        names = [p.position for p in self.positions]
        if len(names) != len(set(names)):
            raise ValueError("position names must be unique")
        return self

    @property
    def positions(self) -> list[ClausePosition]:
        return self.fallbacks or self.variants


class AnnexAttachment(_Spec):
    annex_id: ClauseId
    applies_when: str = Field(min_length=1)


class TemplateSpec(_Spec):
    id: ClauseId
    contract_type: ContractType
    title: str = Field(min_length=1, max_length=200)
    applies_when: str = "true"
    sections: list[str] = Field(min_length=1)
    annexes: list[AnnexAttachment] = []

    @model_validator(mode="after")
    def _sections_once(self) -> TemplateSpec:
        if self.sections.count(CUSTOM_CLAUSES_MARKER) != 1:
            raise ValueError(f"sections must list '{CUSTOM_CLAUSES_MARKER}' exactly once")
        if len(set(self.sections)) != len(self.sections):
            raise ValueError("sections must list each clause once")
        return self


class AnnexSpec(_Spec):
    id: ClauseId
    title: str = Field(min_length=1, max_length=200)
    clauses: list[ClauseId] = Field(min_length=1)


class LibraryInfo(_Spec):
    name: str = Field(min_length=1)
    version: str = Field(pattern=r"^\d{4}\.\d+\.\d+$")


# --- the loaded library ----------------------------------------------------------------------


Condition = Callable[..., Any]


@dataclass(frozen=True)
class CompiledPosition:
    spec: ClausePosition
    when: Condition
    body: jinja2.Template
    description: jinja2.Template | None


@dataclass(frozen=True)
class Clause:
    """A clause as loaded: its front matter, its body and everything compiled."""

    id: str
    title: str
    mandatory: bool
    source: str  # path relative to the library directory, for error messages
    body: jinja2.Template | None  # None when the text comes from fallbacks or variants
    applies_when: Condition | None
    positions: tuple[CompiledPosition, ...]
    keep_line_breaks: bool = False


@dataclass(frozen=True)
class Template:
    spec: TemplateSpec
    applies_when: Condition
    annex_conditions: tuple[tuple[str, Condition], ...]

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class ClauseLibrary:
    """A loaded, fully checked clause library; `content_hash` identifies its text."""

    name: str
    version: str
    content_hash: str
    root: Path
    templates: Mapping[str, Template]
    annexes: Mapping[str, AnnexSpec]
    clauses: Mapping[str, Clause]
    environment: jinja2.Environment
    file_hashes: Mapping[str, str]  # relative path -> sha256, for what a draft was made from

    def templates_for(self, contract_type: ContractType) -> list[Template]:
        return [t for t in self.templates.values() if t.spec.contract_type == contract_type]


def _parse_yaml(text: str, source: str) -> Any:
    try:
        # YAML 1.2 core schema: `NO` and `ON` stay strings. A YAML object is not thread-safe.
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise LibraryError(f"{source}: not valid YAML: {exc}") from None


def _validate(model: type[BaseModel], data: Any, source: str, prefix: str = "") -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{prefix}{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise LibraryError(f"{source}: {problems}") from None


def _read_files(root: Path) -> dict[str, bytes]:
    """Every file that makes up the library text, keyed by its relative posix path."""
    if not (root / "library.yaml").is_file():
        raise LibraryError(f"{root}: no library.yaml, so this is not a clause library")
    paths = [root / "library.yaml"]
    for folder, suffix in (("templates", ".yaml"), ("annexes", ".yaml"), ("clauses", ".md")):
        for file in sorted((root / folder).iterdir()) if (root / folder).is_dir() else []:
            if file.name.startswith("."):
                continue  # editor and OS droppings are not library text
            if not file.is_file() or file.suffix != suffix:
                raise LibraryError(
                    f"{folder}/{file.name}: only *{suffix} files belong in {folder}/"
                )
            paths.append(file)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in paths}


def content_hash(files: Mapping[str, bytes]) -> str:
    """SHA-256 over each file's relative path and bytes, in path order.

    Lengths frame each part, so moving text from one file to another changes the hash.
    """
    framed = bytearray()
    for rel in sorted(files):
        for part in (rel.encode("utf-8"), files[rel]):
            framed += len(part).to_bytes(8, "big") + part
    return sha256_bytes(bytes(framed))


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LibraryError(f"{source}: not UTF-8 text: {exc}") from None


class _Compiler:
    """Compiles Jinja sources of one file, turning every error into a LibraryError."""

    def __init__(self, env: jinja2.Environment, source: str):
        self.env, self.source = env, source

    def template(self, text: str, where: str) -> jinja2.Template:
        try:
            unknown = meta.find_undeclared_variables(self.env.parse(text)) - CONTEXT_NAMES
            if unknown:
                raise LibraryError(
                    f"{self.source}: {where} uses unknown variable(s) {', '.join(sorted(unknown))}"
                    f"; known: {', '.join(sorted(CONTEXT_NAMES))}"
                )
            return self.env.from_string(text)
        except jinja2.TemplateSyntaxError as exc:
            raise LibraryError(
                f"{self.source}: {where}: line {exc.lineno}: {exc.message}"
            ) from None

    def condition(self, expression: str, where: str) -> Condition:
        try:
            # undefined_to_none=False: a misspelt name must fail, not read as "false".
            return self.env.compile_expression(expression, undefined_to_none=False)
        except jinja2.TemplateSyntaxError as exc:
            raise LibraryError(f"{self.source}: {where}: {exc.message}") from None


def _load_clause(env: jinja2.Environment, rel: str, text: str) -> Clause:
    match = _FRONT_MATTER.match(text)
    if not match:
        raise LibraryError(f"{rel}: must start with front matter between '---' lines")
    spec: ClauseFrontMatter = _validate(ClauseFrontMatter, _parse_yaml(match.group(1), rel), rel)
    _check_stem(spec.id, rel)
    body_text = match.group(2).strip()
    if spec.positions and body_text:
        raise LibraryError(f"{rel}: a clause with fallbacks or variants has no body of its own")
    if not spec.positions and not body_text:
        raise LibraryError(f"{rel}: the clause has no body")
    compile_ = _Compiler(env, rel)
    positions = tuple(
        CompiledPosition(
            spec=p,
            when=compile_.condition(p.when, f"position '{p.position}' when"),
            body=compile_.template(p.body, f"position '{p.position}' body"),
            description=(
                compile_.template(p.description, f"position '{p.position}' description")
                if p.description
                else None
            ),
        )
        for p in spec.positions
    )
    return Clause(
        id=spec.id,
        title=spec.title,
        mandatory=spec.mandatory,
        source=rel,
        body=compile_.template(body_text, "body") if body_text else None,
        applies_when=(
            compile_.condition(spec.applies_when, "applies_when") if spec.applies_when else None
        ),
        positions=positions,
        keep_line_breaks=spec.keep_line_breaks,
    )


def load_library(path: Path | str | None = None) -> ClauseLibrary:
    """Load and check the clause library in `path` (default: the package's library).

    Every file is validated (unknown keys are errors), every body and condition compiled,
    and every clause and annex a template names must exist; any problem raises
    LibraryError naming the file. The result is immutable.
    """
    root = Path(path) if path is not None else LIBRARY_DIR
    files = _read_files(root)
    texts = {rel: _decode(data, rel) for rel, data in files.items()}
    env = make_environment()

    info: LibraryInfo = _validate(
        LibraryInfo, _parse_yaml(texts["library.yaml"], "library.yaml"), "library.yaml"
    )
    clauses: dict[str, Clause] = {}
    annexes: dict[str, AnnexSpec] = {}
    templates: dict[str, Template] = {}
    for rel, text in texts.items():
        folder = rel.split("/")[0]
        if folder == "clauses":
            clause = _load_clause(env, rel, text)
            clauses[clause.id] = clause
        elif folder == "annexes":
            annex: AnnexSpec = _validate(AnnexSpec, _parse_yaml(text, rel), rel)
            _check_stem(annex.id, rel)
            annexes[annex.id] = annex
        elif folder == "templates":
            spec: TemplateSpec = _validate(TemplateSpec, _parse_yaml(text, rel), rel)
            _check_stem(spec.id, rel)
            compile_ = _Compiler(env, rel)
            templates[spec.id] = Template(
                spec=spec,
                applies_when=compile_.condition(spec.applies_when, "applies_when"),
                annex_conditions=tuple(
                    (a.annex_id, compile_.condition(a.applies_when, f"annex '{a.annex_id}'"))
                    for a in spec.annexes
                ),
            )

    _check_references(templates, annexes, clauses)
    return ClauseLibrary(
        name=info.name,
        version=info.version,
        content_hash=content_hash(files),
        root=root,
        templates=MappingProxyType(templates),
        annexes=MappingProxyType(annexes),
        clauses=MappingProxyType(clauses),
        file_hashes=MappingProxyType({rel: sha256_bytes(data) for rel, data in files.items()}),
        environment=env,
    )


def _check_stem(item_id: str, rel: str) -> None:
    if item_id != Path(rel).stem:
        raise LibraryError(f"{rel}: id '{item_id}' must match the file name '{Path(rel).stem}'")


def _check_references(
    templates: Mapping[str, Template],
    annexes: Mapping[str, AnnexSpec],
    clauses: Mapping[str, Clause],
) -> None:
    for template in templates.values():
        rel = f"templates/{template.id}.yaml"
        for section in template.spec.sections:
            if section != CUSTOM_CLAUSES_MARKER and section not in clauses:
                raise LibraryError(f"{rel}: section '{section}' is not a clause in clauses/")
        for annex_id, _ in template.annex_conditions:
            if annex_id not in annexes:
                raise LibraryError(f"{rel}: annex '{annex_id}' is not in annexes/")
    for annex in annexes.values():
        for clause_id in annex.clauses:
            if clause_id not in clauses:
                raise LibraryError(
                    f"annexes/{annex.id}.yaml: clause '{clause_id}' is not in clauses/"
                )
    for contract_type in ContractType:
        if not any(t.spec.contract_type == contract_type for t in templates.values()):
            raise LibraryError(f"templates/: no template for contract type '{contract_type.value}'")


def load_entities(path: Path | str | None = None) -> dict[str, Entity]:
    """Our legal entities by key, from `entities.yaml` (a file, or a library directory).

    Each mapping key becomes the entity's `key`; a malformed entry raises LibraryError
    naming the file and the entity.
    """
    file = Path(path) if path is not None else LIBRARY_DIR / "entities.yaml"
    if file.is_dir():
        file = file / "entities.yaml"
    source = file.name
    data = _parse_yaml(_decode(file.read_bytes(), source), source)
    if not isinstance(data, dict) or not data:
        raise LibraryError(f"{source}: must map each entity key to its details")
    entities: dict[str, Entity] = {}
    for key, details in data.items():
        if not isinstance(details, dict) or "key" in details:
            raise LibraryError(f"{source}: {key}: must map to the entity's details (without 'key')")
        entities[str(key)] = _validate(Entity, {"key": str(key), **details}, source, f"{key}.")
    return entities
