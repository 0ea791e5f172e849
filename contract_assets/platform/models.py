"""Typed models of a contract request and of every artifact the pipeline derives from it.

Plain pydantic v2, no Dagster. Unknown fields are forbidden everywhere. Money is Decimal.
Each stored model carries a SCHEMA_VERSION that the IO manager records next to the data.

Longer than 400 lines on purpose: every stored shape is here, so what is on disk (and its
schema versions) is read in one place.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal

import email_validator
import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
)

CONTRACT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,63}$"
MAX_AMOUNT = Decimal(10) ** 12
CENT = Decimal("0.01")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoredModel(StrictModel):
    """A model the IO manager may store; bump SCHEMA_VERSION when its shape changes."""

    SCHEMA_VERSION: ClassVar[int] = 1


# --- field types -------------------------------------------------------------------------


def shown(text: Any, limit: int = 60) -> str:
    """User text as an error message may quote it: one line, control characters escaped
    (no terminal escape sequences reach a console), at most `limit` characters."""
    text = str(text)
    cut = text[:limit]
    escaped = "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in cut
    )
    return escaped + ("…" if len(text) > limit else "")



def _email(value: str) -> str:
    try:
        email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return value


def _jurisdiction(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}(-[A-Z0-9]{1,3})?", value):
        raise ValueError(
            "must be an ISO 3166-1 alpha-2 country code, optionally followed by '-' and an "
            "ISO 3166-2 subdivision (e.g. 'DE', 'US-DE', 'GB-ENG')"
        )
    country = value[:2]
    if pycountry.countries.get(alpha_2=country) is None:
        raise ValueError(f"'{country}' is not an ISO 3166-1 country code")
    if "-" in value and pycountry.subdivisions.get(code=value) is None:
        raise ValueError(f"'{value}' is not an ISO 3166-2 subdivision of {country}")
    return value


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value) or pycountry.currencies.get(alpha_3=value) is None:
        raise ValueError("must be an ISO 4217 currency code such as 'EUR' or 'USD'")
    return value


def exact_decimal(value: Any) -> Any:
    """Accept numbers written as Decimal, int or string; never go through binary floats."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, (int, str, Decimal)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"'{shown(value)}' is not a decimal number") from None
        if not number.is_finite():
            raise ValueError("must be a finite number")
        return number
    raise ValueError("must be a decimal number, written as a number or a string")


def _two_places(value: Decimal) -> Decimal:
    if value != value.quantize(CENT):
        raise ValueError("must have at most 2 decimal places")
    return value.quantize(CENT)


def _iso_date(value: Any) -> Any:
    if isinstance(value, datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not a valid date: {exc}") from None
    raise ValueError("must be an ISO date (YYYY-MM-DD)")


_as_text = PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")

Email = Annotated[str, AfterValidator(_email)]
Jurisdiction = Annotated[str, AfterValidator(_jurisdiction)]
Currency = Annotated[str, AfterValidator(_currency)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Amount = Annotated[
    Decimal,
    BeforeValidator(exact_decimal),
    Field(gt=0, lt=MAX_AMOUNT),
    AfterValidator(_two_places),
    _as_text,
]
ContractId = Annotated[str, Field(pattern=CONTRACT_ID_PATTERN)]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]


def _liability_cap(value: Any) -> Any:
    if value == "unlimited":
        return value
    number = exact_decimal(value)
    if not Decimal("0.5") <= number <= Decimal(10):
        raise ValueError("must be between 0.5 and 10, or 'unlimited'")
    return _two_places(number)


LiabilityCap = Annotated[
    Decimal | Literal["unlimited"],
    PlainSerializer(lambda v: v if v == "unlimited" else format(v, "f"), when_used="json"),
    BeforeValidator(_liability_cap),
]


# --- the request -------------------------------------------------------------------------


class ContractType(str, Enum):
    NDA = "nda"
    MSA = "msa"
    SOW = "sow"
    DPA = "dpa"


class Signatory(StrictModel):
    name: Text200
    title: Text200
    email: Email


class Counterparty(StrictModel):
    legal_name: Text200
    entity_type: Text200 | None = None
    jurisdiction: Jurisdiction
    address: Annotated[str, Field(min_length=1, max_length=500)]
    signatory: Signatory


class Money(StrictModel):
    amount: Amount
    currency: Currency


class NdaTerms(StrictModel):
    mutual: StrictBool = True
    disclosing_party: Literal["us", "counterparty"] | None = None
    purpose: Annotated[str, Field(min_length=1, max_length=300)]
    confidentiality_years: Annotated[StrictInt, Field(ge=1, le=10)] = 3


class Deliverable(StrictModel):
    title: Text200
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    due_date: IsoDate
    amount: Amount


class SowTerms(StrictModel):
    parent_contract_id: ContractId
    deliverables: Annotated[list[Deliverable], Field(min_length=1, max_length=50)]


class PersonalData(StrictModel):
    processed: StrictBool
    categories: list[Annotated[str, Field(min_length=1, max_length=200)]] = []
    transfers_outside_eea: StrictBool = False


class CustomClause(StrictModel):
    title: Text200
    text: Annotated[str, Field(min_length=1, max_length=5000)]


class ContractRequest(StoredModel):
    """A contract request exactly as PRODUCT.md section 2 defines it.

    Field-level rules live on the fields; rules across fields (which blocks each type
    allows, totals, references to configuration and other contracts) live in
    `contract_assets.intake.requests`, which reports every failing path at once.
    Type-dependent defaults are filled in there too, so that equal content hashes equal.
    """

    contract_id: ContractId
    type: ContractType
    requested_by: Email
    our_entity: Annotated[str, Field(min_length=1, max_length=100)]
    counterparty: Counterparty
    governing_law: Jurisdiction
    effective_date: IsoDate | None = None
    term_months: Annotated[StrictInt, Field(ge=1, le=120)]
    auto_renew: StrictBool = False
    renewal_notice_days: Annotated[StrictInt, Field(ge=1, le=365)] = 30
    value: Money | None = None
    payment_terms_days: Annotated[StrictInt, Field(ge=0, le=180)] | None = None
    liability_cap_multiple: LiabilityCap | None = None
    nda: NdaTerms | None = None
    sow: SowTerms | None = None
    personal_data: PersonalData | None = None
    custom_clauses: Annotated[list[CustomClause], Field(max_length=20)] = []
    notes: Annotated[str, Field(max_length=5000)] | None = None


class Revision(StoredModel):
    """One registered revision: the canonical request and where it sits in the contract."""

    contract_id: str
    revision: int
    partition_key: str
    content_hash: str
    submitted_at: datetime
    source_file: str | None = None
    request: ContractRequest


# --- configuration -----------------------------------------------------------------------


class Entity(StrictModel):
    """One of our own legal entities (configuration, `library/entities.yaml`)."""

    key: str
    legal_name: str
    entity_type: str
    jurisdiction: Jurisdiction
    address: str
    signatory: Signatory


# --- the draft ---------------------------------------------------------------------------


class Party(StrictModel):
    role: Literal["us", "counterparty"]
    legal_name: str
    entity_type: str | None = None
    jurisdiction: str
    address: str
    signatory: Signatory


class DraftClause(StrictModel):
    clause_id: str
    title: str
    body: str  # plain text; paragraphs separated by a blank line; never markup
    position: str = "standard"  # the fallback position chosen
    source: Literal["library", "custom"] = "library"
    # The clause is laid out line by line (its front matter says so): every format starts
    # each line of a paragraph on a new line, where otherwise a line break is a soft wrap.
    keep_line_breaks: bool = False


class Deviation(StrictModel):
    clause_id: str
    position: str
    description: str


class DraftAnnex(StrictModel):
    annex_id: str
    title: str
    clauses: list[DraftClause]


class ContractDraft(StoredModel):
    """The assembled contract text of one revision, before rendering."""

    partition_key: str
    contract_id: str
    revision: int
    type: ContractType
    template_id: str
    title: str
    # The executed revision this one amends and restates (its partition key), if any.
    amends: str | None = None
    parties: list[Party]  # ours first
    effective_date: date | None  # None: the date the revision is approved
    term_months: int
    clauses: list[DraftClause]
    annexes: list[DraftAnnex] = []
    deviations: list[Deviation] = []
    mandatory_clause_ids: list[str]
    library_version: str
    library_hash: str
    request_hash: str
    # Library files this draft was made from (template, annexes, every clause they list),
    # each with its sha256: a later change to one of them makes this draft out of date.
    sources: dict[str, str] = {}

    def all_clauses(self) -> list[DraftClause]:
        return [*self.clauses, *(c for annex in self.annexes for c in annex.clauses)]


# --- risk and approval -------------------------------------------------------------------


class RuleHit(StrictModel):
    rule: str  # playbook rule id, e.g. "high_value"
    reasons: list[str]  # each condition of the rule that held, in words
    roles: list[str]


class RiskAssessment(StoredModel):
    partition_key: str
    score: Annotated[int, Field(ge=0, le=100)]
    level: Literal["low", "medium", "high", "critical"]
    rules: list[RuleHit]
    deviations: list[Deviation]
    playbook_version: str


class RequiredApproval(StrictModel):
    role: str
    tier: int
    rules: list[str]


class ApprovalRouting(StoredModel):
    partition_key: str
    content_hash: str
    status: Literal["awaiting_approval", "approved"]
    required_approvals: list[RequiredApproval]
    auto_approved: bool
    playbook_version: str


class RecordedDecision(StrictModel):
    """A verified, signed decision as the approval record keeps it."""

    decision_id: str
    approver: str
    role: str
    decision: Literal["approve", "reject", "request_changes"]
    signed_at: datetime
    comment: str | None = None


class ApprovalRecord(StoredModel):
    """The outcome of approval: approved (by people or automatically), rejected, or closed."""

    partition_key: str
    content_hash: str
    status: Literal["approved", "rejected", "changes_requested"]
    auto_approved: bool
    playbook_version: str
    decided_at: datetime
    decisions: list[RecordedDecision] = []


# --- documents and the signature package --------------------------------------------------


class NotApplicable(StoredModel):
    """What a step stores for a revision it can never apply to (the redline of revision 1):
    a marker, not a document. Readers of the step's documents find none."""

    partition_key: str
    reason: str



class RenderedFile(StrictModel):
    kind: Literal[
        "html",
        "pdf",
        "docx",
        "review_html",
        "manifest",
        "manifest_signature",
        "sealed_pdf",
        "redline",
        "executed_pdf",
        "register_report",
        "package_zip",
    ]
    filename: str
    media_type: str
    sha256: str
    size: int


class FileBundle(StoredModel):
    """A typed record whose files the IO manager writes beside it.

    `content` (filename -> bytes) is what the asset produced; it is not stored in the
    record. `paths` (filename -> absolute path) is filled in by the IO manager on storing.
    """

    partition_key: str
    files: list[RenderedFile]
    content: Annotated[dict[str, bytes], Field(exclude=True, repr=False)] = {}
    paths: dict[str, str] = {}

    def path_of(self, kind: str) -> str | None:
        found = next((f for f in self.files if f.kind == kind), None)
        return self.paths.get(found.filename) if found else None


class RenderedDocuments(FileBundle):
    effective_date: date | None = None  # None for a review copy made before approval
    review: bool = False


class Signer(StrictModel):
    order: int
    role: Literal["us", "counterparty"]
    party: str
    name: str
    title: str
    email: str


class SignaturePackage(FileBundle):
    """The manifest of what is sent for signature: file hashes and signers in order.

    `files` lists the manifest itself, once sealing is set up the sealed PDF and the
    manifest's signature, and the zip of the whole package; `documents` the contract files
    it vouches for, copied into the package's folder beside the manifest.
    """

    contract_id: str
    revision: int
    content_hash: str
    documents: list[RenderedFile]
    signers: list[Signer]
    created_at: datetime
    # SHA-256 of the sealing certificate; None: made while no seal was set up.
    seal_certificate_sha256: str | None = None

    @property
    def sealed(self) -> bool:
        return self.seal_certificate_sha256 is not None
