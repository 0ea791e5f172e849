"""The one loader for contract requests: bytes in, a validated `ContractRequest` or every error out.

Errors name the request's own field path (`counterparty.signatory.email`,
`custom_clauses.0.text`); a rule across fields names the field it constrains.

Longer than 400 lines on purpose: every rule a request must meet is here, beside the one
loader that reports them, so a lawyer asking "what is refused?" reads one file.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from io import StringIO
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingStartEvent,
    ScalarEvent,
)

from contract_assets.platform.models import (
    CONTRACT_ID_PATTERN,
    Amount,
    ContractRequest,
    ContractType,
    shown,
)

MAX_REQUEST_BYTES = 1024 * 1024
MAX_YAML_ALIASES = 20
# What a YAML file may expand to through its aliases, in characters plus one per node: a
# file without aliases stays below it, an alias bomb does not.
MAX_YAML_EXPANSION = 2 * MAX_REQUEST_BYTES
# The deepest request is 4 levels (sow.deliverables.0.title); deeper data is refused before
# anything recursive (the YAML composer, json, pydantic) sees it.
MAX_NESTING = 32
# Explicit tags a request may carry: the YAML 1.2 core schema's ("!" is the non-specific tag).
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
_CORE_TAGS = frozenset(
    {"!", *(_YAML_TAG_PREFIX + name for name in ("str", "int", "float", "bool", "null", "seq", "map"))}
)
DOCUMENT = "(document)"  # the path of an error about the file as a whole

# Which optional blocks each contract type allows; "required" ones must be present.
_BLOCK_RULES: dict[str, dict[ContractType, str]] = {
    "value": {
        ContractType.MSA: "required",
        ContractType.SOW: "required",
        ContractType.DPA: "allowed",
    },
    "payment_terms_days": {ContractType.MSA: "allowed", ContractType.SOW: "allowed"},
    "liability_cap_multiple": {ContractType.MSA: "allowed"},
    "nda": {ContractType.NDA: "required"},
    "sow": {ContractType.SOW: "required"},
    "personal_data": {
        ContractType.NDA: "allowed",
        ContractType.MSA: "allowed",
        ContractType.SOW: "allowed",
        ContractType.DPA: "required",
    },
}


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class InvalidRequest(Exception):
    """A request broke one or more rules; `errors` lists every failing field."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))


# --- parsing -----------------------------------------------------------------------------


def _exact_yaml_number(constructor: Any, node: Any) -> Any:
    text = constructor.construct_scalar(node)
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:
        return text  # .inf / .nan: left as text for the field rules to refuse


class _RequestConstructor(SafeConstructor):
    """The safe constructor with exact numbers. A class of its own: ruamel's add_constructor
    changes the class it is called on, and on SafeConstructor it would turn every float of
    every YAML file read in this process (playbook, configuration) into a Decimal."""


_RequestConstructor.add_constructor("tag:yaml.org,2002:float", _exact_yaml_number)


def _yaml_loader() -> YAML:
    # pure=True: ruamel's C loader speaks YAML 1.1, where NO (Norway) would become false.
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    yaml.Constructor = _RequestConstructor
    return yaml


def parse_request(data: bytes, *, filename: str) -> Any:
    """Decode a request file's bytes (YAML 1.2 or JSON by extension) into plain data."""
    if len(data) > MAX_REQUEST_BYTES:
        raise InvalidRequest([_too_large(len(data))])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            [FieldError(DOCUMENT, f"is not UTF-8 (byte {exc.start}); save it as UTF-8")]
        ) from None
    text = text.removeprefix("\ufeff")
    if Path(filename).suffix.lower() == ".json":
        try:
            parsed = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(
                [FieldError(DOCUMENT, f"is not valid JSON: {exc.msg} at line {exc.lineno}")]
            ) from None
        except RecursionError:
            raise InvalidRequest([_too_deep()]) from None
    else:
        parsed = _parse_yaml(text)
    _check_nesting(parsed)
    return parsed


def _too_large(size: int | None) -> FieldError:
    what = f"is {size} bytes" if size is not None else "is larger than 1 MiB"
    return FieldError(DOCUMENT, f"{what}; a request is at most 1 MiB ({MAX_REQUEST_BYTES} bytes)")


def _too_deep() -> FieldError:
    return FieldError(DOCUMENT, f"nests lists and mappings more than {MAX_NESTING} deep")


def read_request_bytes(path: Path) -> bytes:
    """A request file's bytes, reading at most one byte past the limit whatever the file is.

    Only regular files are read (a FIFO or device would block or never end); the size is
    checked before reading and again by what was read, so a file growing meanwhile is
    refused too. Raises InvalidRequest, or OSError when the file cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidRequest([FieldError(DOCUMENT, "is not a regular file; give a request file")])
        if info.st_size > MAX_REQUEST_BYTES:
            raise InvalidRequest([_too_large(info.st_size)])
        data = handle.read(MAX_REQUEST_BYTES + 1)
    if len(data) > MAX_REQUEST_BYTES:
        raise InvalidRequest([_too_large(None)])
    return data


def _parse_yaml(text: str) -> Any:
    yaml = _yaml_loader()
    try:
        _check_yaml_shape(yaml.parse(StringIO(text)))
        return yaml.load(text)
    except YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InvalidRequest([FieldError(DOCUMENT, f"is not valid YAML: {problem}{where}")]) from None


def _refuse(message: str, event: Any = None) -> InvalidRequest:
    mark = getattr(event, "start_mark", None)
    where = f" (line {mark.line + 1})" if mark is not None else ""
    return InvalidRequest([FieldError(DOCUMENT, f"{message}{where}")])


@dataclass
class _OpenNode:
    """A mapping or sequence being read: its expanded size so far and its anchor."""

    is_mapping: bool
    anchor: str | None
    size: int = 1
    children: int = 0


def _check_yaml_shape(events: Iterable[Any]) -> None:
    """Refuse, from the parser's events and before anything is built, what a request never
    needs and a hostile file uses: tags beyond the YAML 1.2 core schema, more than a few
    aliases, aliases that expand the data past the size limit or refer to themselves, keys
    that are not plain values, deep nesting, more than one document, another YAML version.
    """
    aliases = documents = expanded = 0
    anchors: dict[str, int] = {}  # anchor -> expanded size of the node it names
    stack: list[_OpenNode] = []

    def add(size: int, event: Any, *, plain_key_allowed: bool) -> None:
        nonlocal expanded
        expanded += size
        if expanded > MAX_YAML_EXPANSION:
            raise _refuse("expands (through its aliases) past the 1 MiB request limit", event)
        if stack:
            parent = stack[-1]
            if parent.is_mapping and parent.children % 2 == 0 and not plain_key_allowed:
                raise _refuse("uses a list, a mapping or an alias as a key; keys are plain text", event)
            parent.size += size
            parent.children += 1

    for event in events:
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _CORE_TAGS:
            raise _refuse(
                f"uses the YAML tag '{shown(tag.replace(_YAML_TAG_PREFIX, '!!'))}'; a request "
                "uses only plain YAML 1.2 values",
                event,
            )
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _refuse("holds more than one YAML document", event)
            if event.version not in (None, (1, 2)):
                raise _refuse("declares a YAML version other than 1.2", event)
        elif isinstance(event, AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise _refuse(f"uses more than {MAX_YAML_ALIASES} YAML aliases", event)
            if event.anchor not in anchors:
                raise _refuse(f"refers to '{shown(event.anchor)}' inside its own definition", event)
            add(anchors[event.anchor], event, plain_key_allowed=False)
        elif isinstance(event, ScalarEvent):
            size = 1 + len(event.value)
            add(size, event, plain_key_allowed=True)
            if event.anchor is not None:
                anchors[event.anchor] = size
        elif isinstance(event, CollectionStartEvent):
            if len(stack) >= MAX_NESTING:
                raise _refuse(_too_deep().message, event)
            add(1, event, plain_key_allowed=False)
            stack.append(_OpenNode(isinstance(event, MappingStartEvent), event.anchor))
        elif isinstance(event, CollectionEndEvent):
            node = stack.pop()
            if stack:  # its size was counted as 1 at its start; add the rest to its parent
                stack[-1].size += node.size - 1
            if node.anchor is not None:
                anchors[node.anchor] = node.size


def _check_nesting(data: Any) -> None:
    """Refuse parsed data nested deeper than any request is (without recursing)."""
    pending = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth >= MAX_NESTING:
                raise InvalidRequest([_too_deep()])
            children = value.values() if isinstance(value, dict) else value
            pending += [(child, depth + 1) for child in children]


# --- validation --------------------------------------------------------------------------


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or DOCUMENT


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of a contract request"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping of fields"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _block_errors(raw: Mapping[str, Any]) -> list[FieldError]:
    """Rules on which blocks the request's type allows; checked on the raw data so they are
    reported together with field errors."""
    try:
        kind = ContractType(raw.get("type"))
    except ValueError:
        return []
    errors = []
    for field, allowed in _BLOCK_RULES.items():
        rule = allowed.get(kind)
        present = raw.get(field) is not None
        if rule == "required" and not present:
            errors.append(FieldError(field, f"is required for a contract of type {kind.value}"))
        elif rule is None and present:
            errors.append(FieldError(field, f"is not allowed for a contract of type {kind.value}"))
    return errors


def _get(raw: Any, dotted: str) -> Any:
    """The value at a dotted path of raw request data, or None when any step is missing."""
    value = raw
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


_AMOUNT = TypeAdapter(Amount)


def iter_text(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in plain request data with its error path (`custom_clauses.0.text`)."""
    if isinstance(data, str):
        yield path or DOCUMENT, data
    elif isinstance(data, Mapping):
        for key, value in data.items():
            yield from iter_text(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from iter_text(value, f"{path}.{index}" if path else str(index))


# Control characters other than tab and line breaks: invisible in a contract, and refused
# by the DOCX format itself.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _control_character_errors(raw: Mapping[str, Any]) -> list[FieldError]:
    errors = []
    for path, text in iter_text(raw):
        found = _CONTROL.search(text)
        if found:
            errors.append(
                FieldError(path, f"contains the control character U+{ord(found.group()):04X}; remove it")
            )
    return errors


def _amount(value: Any) -> Decimal | None:
    try:
        return _AMOUNT.validate_python(value)
    except ValidationError:
        return None  # the field rule reports it


def deliverables_mismatch(amounts: Iterable[Decimal], value: Decimal) -> Decimal | None:
    """The total of an sow's deliverable amounts when it is not the sow's value, else None:
    the deliverables of an sow must add up to exactly its value."""
    total = sum(amounts, Decimal(0))
    return None if total == value else total


def _cross_field_errors(
    raw: Mapping[str, Any],
    *,
    entities: Collection[str],
    find_contract: Callable[[str], ContractRequest | None],
) -> list[FieldError]:
    """Rules across fields, on the raw data so they are reported with the field errors."""
    errors = []
    entity = raw.get("our_entity")
    if isinstance(entity, str) and entity not in entities:
        known = ", ".join(sorted(entities))
        errors.append(
            FieldError("our_entity", f"'{shown(entity)}' is not one of our entities ({known})")
        )
    if raw.get("governing_law") == "US":
        errors.append(
            FieldError("governing_law", "for the United States name the state, e.g. 'US-NY'")
        )
    if _get(raw, "nda.mutual") in (True, None) and _get(raw, "nda.disclosing_party") is not None:
        errors.append(FieldError("nda.disclosing_party", "is only allowed when mutual is false"))
    if raw.get("type") == ContractType.DPA.value and _get(raw, "personal_data.processed") is False:
        errors.append(FieldError("personal_data.processed", "must be true for a dpa"))
    deliverables = _get(raw, "sow.deliverables")
    value = _amount(_get(raw, "value.amount"))
    if isinstance(deliverables, list) and deliverables and value is not None:
        amounts = [_amount(d.get("amount")) if isinstance(d, Mapping) else None for d in deliverables]
        if None not in amounts and (total := deliverables_mismatch(amounts, value)) is not None:
            errors.append(
                FieldError(
                    "sow.deliverables", f"amounts add up to {total}, but value.amount is {value}"
                )
            )
    parent_id = _get(raw, "sow.parent_contract_id")
    # Only a well-formed id is looked up: the registry must never see a path (its own
    # pattern error is reported by the field rule).
    if isinstance(parent_id, str) and re.fullmatch(CONTRACT_ID_PATTERN, parent_id):
        parent = find_contract(parent_id)
        legal_name = _get(raw, "counterparty.legal_name")
        if parent is None or parent.type is not ContractType.MSA:
            errors.append(
                FieldError(
                    "sow.parent_contract_id",
                    f"'{parent_id}' is not a submitted msa; submit the MSA first",
                )
            )
        elif parent.counterparty.legal_name != legal_name:
            errors.append(
                FieldError(
                    "sow.parent_contract_id",
                    f"msa '{parent_id}' is with '{shown(parent.counterparty.legal_name)}', "
                    f"not '{shown(legal_name)}'",
                )
            )
    return errors


def _with_type_defaults(request: ContractRequest) -> ContractRequest:
    """Fill defaults that depend on the type, so equal contracts have equal content hashes."""
    update: dict[str, Any] = {}
    if request.type in (ContractType.MSA, ContractType.SOW) and request.payment_terms_days is None:
        update["payment_terms_days"] = 30
    if request.type is ContractType.MSA and request.liability_cap_multiple is None:
        update["liability_cap_multiple"] = Decimal("1.00")
    if request.nda and not request.nda.mutual and request.nda.disclosing_party is None:
        update["nda"] = request.nda.model_copy(update={"disclosing_party": "us"})
    return request.model_copy(update=update) if update else request


def validate_request(
    raw: Any,
    *,
    entities: Collection[str],
    find_contract: Callable[[str], ContractRequest | None],
) -> ContractRequest:
    """Validate plain request data against every rule of PRODUCT.md section 2.

    `find_contract` returns the latest submitted request of a contract id (for an sow's
    parent). Raises `InvalidRequest` listing every failing field.
    """
    if not isinstance(raw, Mapping):
        raise InvalidRequest([FieldError(DOCUMENT, "must be a mapping of request fields")])
    errors = _block_errors(raw) + _control_character_errors(raw)
    errors += _cross_field_errors(raw, entities=entities, find_contract=find_contract)
    try:
        request = ContractRequest.model_validate(dict(raw))
    except ValidationError as exc:
        errors += [FieldError(_path(e["loc"]), _message(e)) for e in exc.errors()]
    if errors:
        raise InvalidRequest(_unique(errors))
    return _with_type_defaults(request)


def _unique(errors: list[FieldError]) -> list[FieldError]:
    return list(dict.fromkeys(errors))


def load_request_file(
    path: Path,
    *,
    entities: Collection[str],
    find_contract: Callable[[str], ContractRequest | None],
) -> ContractRequest:
    """Read, parse and validate one request file (size checked before parsing)."""
    return load_request(
        read_request_bytes(path), filename=path.name, entities=entities, find_contract=find_contract
    )


def load_request(
    data: bytes,
    *,
    filename: str,
    entities: Collection[str],
    find_contract: Callable[[str], ContractRequest | None],
) -> ContractRequest:
    """Parse and validate a request from bytes already read (by `read_request_bytes`)."""
    raw = parse_request(data, filename=filename)
    return validate_request(raw, entities=entities, find_contract=find_contract)
