"""What a rendered contract says, independent of the file format.

`build_document` turns a ContractDraft into plain strings in reading order: the HTML,
PDF and DOCX renderers only lay them out, so the three formats always carry the same
words. Nothing here interprets user text: clause bodies are split into paragraphs, their
lines and sub-items, never parsed as markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from contract_assets.drafting.assembly import jurisdiction_info
from contract_assets.drafting.clause_library import longdate, quantity
from contract_assets.platform.models import ContractDraft, DraftClause, Party

REVIEW_MARK = "DRAFT FOR REVIEW – NOT FOR SIGNATURE"
REVIEW_NOTE = (
    "This copy is for review only. It is not the version to be signed and may still change."
)
UNAPPROVED_EFFECTIVE_DATE = "the date on which this Agreement is approved"
# Fixed wording shared by every format (never upper-case draft text: 'ß' would change).
PARTIES_HEADING = "PARTIES"
KEY_TERMS_HEADING = "KEY TERMS"
TERMS_HEADING = "TERMS"
SIGNATURES_HEADING = "SIGNATURES"
SIGNATURES_INTRO = (
    "Signed by the duly authorised representatives of the parties on the dates below."
)
SIGNED_FOR = "For and on behalf of"

_BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n")
# Not str.split(): a no-break space or other typed space must survive as typed.
_SPACES = re.compile(r"[ \t\f\v]+")
_ASCII_WHITESPACE = re.compile(r"[ \t\r\n\f\v]+")
# "(a)", "(b)", "(iv)", "(12)" at the start of a line opens a sub-item.
_SUB_ITEM = re.compile(r"^\((?:[a-z]{1,2}|[ivxlc]{1,6}|\d{1,3})\)\s+")


@dataclass(frozen=True)
class TextBlock:
    """One paragraph of a clause body; `marker` is "(a)" etc. for a sub-item, else empty.

    `lines` holds more than one line where the clause lays its text out line by line (one
    field of an SOW deliverable per line): every format starts each on a new line.
    """

    lines: tuple[str, ...]
    marker: str = ""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Section:
    number: str  # "1."
    title: str
    blocks: tuple[TextBlock, ...]


@dataclass(frozen=True)
class Annex:
    heading: str  # "Annex A – Data Processing"
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class SignatureBlock:
    party_name: str
    name: str
    title: str


@dataclass(frozen=True)
class ContractDocument:
    title: str
    # The cover table of the parties, ours first: (label, (value for us, for them)).
    parties: tuple[tuple[str, tuple[str, ...]], ...]
    key_terms: tuple[tuple[str, str], ...]  # (label, value), e.g. ("Effective Date", "...")
    sections: tuple[Section, ...]
    annexes: tuple[Annex, ...]
    signatures: tuple[SignatureBlock, ...]
    document_id: str  # "blue-fjord-msa revision 2"
    footer: str  # document id and clause library version
    review: bool
    metadata_author: str

    def all_text(self) -> list[str]:
        """Every string that appears in the document, for font coverage checks."""
        texts = [self.title, self.footer]
        if self.review:
            texts += [REVIEW_MARK, REVIEW_NOTE]
        for label, values in self.parties:
            texts += [label, *values]
        texts += [part for pair in self.key_terms for part in pair]
        for section in (*self.sections, *(s for a in self.annexes for s in a.sections)):
            texts += [section.number, section.title, *(b.marker for b in section.blocks)]
            texts += [line for block in section.blocks for line in block.lines]
        texts += [annex.heading for annex in self.annexes]
        for sig in self.signatures:
            texts += [sig.party_name, sig.name, sig.title]
        return texts


def build_document(
    draft: ContractDraft, *, effective_date: date | None, review: bool
) -> ContractDocument:
    """The words of the contract in reading order, ready to lay out in any format."""
    if len(draft.parties) != 2:
        raise ValueError(
            f"a contract is rendered for exactly two parties (ours first); "
            f"draft {draft.partition_key} has {len(draft.parties)}"
        )
    document_id = f"{draft.contract_id} revision {draft.revision}"
    effective = longdate(effective_date) if effective_date else UNAPPROVED_EFFECTIVE_DATE
    return ContractDocument(
        title=_inline(draft.title),
        parties=_party_table(draft.parties),
        key_terms=(
            ("Effective Date", effective),
            ("Term", f"{quantity(draft.term_months, 'month')} from the Effective Date"),
            ("Reference", document_id),
        ),
        sections=_sections(draft.clauses),
        annexes=tuple(
            Annex(heading=f"Annex {_annex_letter(i)} – {_inline(annex.title)}",
                  sections=_sections(annex.clauses))
            for i, annex in enumerate(draft.annexes)
        ),
        signatures=tuple(
            SignatureBlock(
                party_name=_inline(p.legal_name),
                name=_inline(p.signatory.name),
                title=_inline(p.signatory.title),
            )
            for p in draft.parties
        ),
        document_id=document_id,
        footer=f"{document_id} · clause library {draft.library_version}",
        review=review,
        metadata_author=_inline(draft.parties[0].legal_name),
    )


def registration_time(registered_at: datetime) -> datetime:
    """The revision's registration time as the documents record it: UTC, whole seconds.

    It is the creation and modification date of every PDF and DOCX of the revision, so a
    re-render gives the same bytes and the date a viewer shows is when the request came in.
    """
    if registered_at.tzinfo is None:
        raise ValueError("the registration time must carry its time zone (UTC)")
    return registered_at.astimezone(UTC).replace(microsecond=0)


def split_body(body: str, *, keep_line_breaks: bool = False) -> tuple[TextBlock, ...]:
    """Paragraphs (split at blank lines) and "(a)" sub-items of a plain-text clause body.

    A line that opens a sub-item starts a new block. Other single line breaks inside a
    paragraph are soft wraps and become spaces, unless `keep_line_breaks` (a clause laid out
    line by line, such as the fields of an SOW deliverable): then each line stays a line.
    """
    blocks: list[TextBlock] = []
    for paragraph in _BLANK_LINE.split(body.replace("\r\n", "\n").replace("\r", "\n")):
        current: list[str] = []
        marker = ""
        for line in paragraph.split("\n"):
            line = _SPACES.sub(" ", line).strip(" ")
            if not line:
                continue
            match = _SUB_ITEM.match(line)
            if match:
                if current:
                    blocks.append(_block(current, marker, keep_line_breaks))
                marker, current = match.group(0).strip(), [line[match.end():]]
            else:
                current.append(line)
        if current:
            blocks.append(_block(current, marker, keep_line_breaks))
    return tuple(blocks)


def _block(lines: list[str], marker: str, keep_line_breaks: bool) -> TextBlock:
    return TextBlock(tuple(lines) if keep_line_breaks else (" ".join(lines),), marker)


def _party_table(parties: list[Party]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The parties as a cover table; the first clause of every template states them in prose."""
    rows = [
        ("Legal name", [p.legal_name for p in parties]),
        ("Entity type", [p.entity_type or "" for p in parties]),
        ("Jurisdiction", [jurisdiction_info(p.jurisdiction)["full_name"] for p in parties]),
        ("Address", [p.address for p in parties]),
    ]
    return tuple((label, tuple(map(_inline, values))) for label, values in rows if any(values))


def _inline(text: str) -> str:
    """A one-line field: line breaks and tabs typed into it (a multi-line address) are spaces."""
    return _ASCII_WHITESPACE.sub(" ", text).strip(" ")


def _sections(clauses: list[DraftClause]) -> tuple[Section, ...]:
    return tuple(
        Section(
            number=f"{i}.",
            title=_inline(clause.title),
            blocks=split_body(clause.body, keep_line_breaks=clause.keep_line_breaks),
        )
        for i, clause in enumerate(clauses, start=1)
    )


def _annex_letter(index: int) -> str:
    """A, B, ..., Z, AA, AB, ... like spreadsheet columns."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
