"""The redline of a revision against the previous one: what changed, clause by clause.

Compares what a reader of the contract sees (the wording of `rendering.document`), not the
raw draft: a re-wrapped line is no change, a new amount is. Library clauses are matched by
clause_id; custom clauses (source "custom", numbered by position) by title, else by their
place among the custom clauses when the text is still mostly the same. Inside a changed
clause the words are diffed, with whitespace and punctuation kept as tokens so the marked-up
text reads as the contract does.

Longer than 400 lines on purpose: the matching of clauses, the word diff and the marked-up
output share one token model; a reviewer of "what did the redline show?" needs all three.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Annotated, Literal

from pydantic import Field

from contract_assets.documents.rendering import document as wording
from contract_assets.documents.rendering.document import (
    ContractDocument,
    Section,
    build_document,
)
from contract_assets.documents.rendering.html import HTML_ENVIRONMENT
from contract_assets.platform.files import sha256_bytes
from contract_assets.platform.markdown import literal
from contract_assets.platform.models import (
    ContractDraft,
    DraftAnnex,
    DraftClause,
    FileBundle,
    RenderedFile,
    StrictModel,
)
from contract_assets.platform.protection import without_emails

ChangeKind = Literal["added", "removed", "changed"]
_Mark = Literal["same", "ins", "del"]
# A paragraph break inside a clause: its own token, so that a new paragraph is a change too.
_BREAK = "\n"
# One CJK character, a paragraph break, a word (with inner . , ' so that "480,000.00" and
# "month's" stay whole), a run of other whitespace, or one punctuation character.
_CJK = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"
_WORD = rf"(?:(?!{_CJK})\w)+"
_TOKEN = re.compile(rf"{_CJK}|\n|{_WORD}(?:[.,'’]{_WORD})*|[^\S\n]+|.", re.DOTALL)
_NUMBER = re.compile(r"\d[\d.,'’]*%?")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Below this share of common words, two custom clauses at the same place are different clauses.
_SAME_CLAUSE_RATIO = 0.5
_EDITS_IN_SUMMARY = 3
_ITEMS_IN_SUMMARY = 6
_SHORT = 48
_ROLES = {"us": "Our", "counterparty": "Counterparty"}


class ClauseChange(StrictModel):
    """One difference a reader of the contract would notice."""

    clause_id: str  # a key term: "effective-date", "term", "title", "counterparty.address", ...
    title: str
    kind: ChangeKind
    where: Annotated[str, Field(pattern=r"^(body|terms|annex:.+)$")]
    summary: str  # e.g. "EUR 480,000.00 → EUR 520,000.00; 45 → 75 days"


class Redline(FileBundle):
    """The redline of `partition_key` against `previous_partition_key`, as data and HTML."""

    previous_partition_key: str
    changes: list[ClauseChange]
    summary: str


def compare_drafts(previous: ContractDraft, current: ContractDraft) -> Redline:
    """Every change from `previous` to `current` (key terms, clauses, annexes) and the
    redline as a standalone HTML page (`<partition_key>.redline.html`, all draft text escaped).
    """
    if previous.contract_id != current.contract_id:
        raise ValueError(
            f"a redline compares two revisions of one contract; got {previous.partition_key} "
            f"({previous.contract_id}) and {current.partition_key} ({current.contract_id})"
        )
    old_doc = _document(previous)
    new_doc = _document(current)
    counter = itertools.count(1)  # numbers the changes' anchors in reading order
    terms = _compare_terms(previous, old_doc, current, new_doc, counter)
    scopes = [
        _compare_clauses(
            "body", wording.TERMS_HEADING, _with_sections(previous.clauses, old_doc.sections),
            _with_sections(current.clauses, new_doc.sections), counter,
        ),
        *_compare_annexes(previous, old_doc, current, new_doc, counter),
    ]
    changes = [row.change for row in terms if row.change] + [
        view.change for scope in scopes for view in scope.clauses if view.change
    ]
    summary = _summary(previous, current, changes, scopes)
    data = _TEMPLATE.render(
        previous=previous, current=current, old_doc=old_doc, new_doc=new_doc,
        terms=terms, scopes=scopes, changes=changes, summary=summary, w=wording,
    ).encode("utf-8")
    filename = f"{current.partition_key}.redline.html"
    return Redline(
        partition_key=current.partition_key,
        files=[
            RenderedFile(
                kind="redline", filename=filename, media_type="text/html; charset=utf-8",
                sha256=sha256_bytes(data), size=len(data),
            )
        ],
        content={filename: data},
        previous_partition_key=previous.partition_key,
        changes=changes,
        summary=summary,
    )


_PERSONAL_TERM = re.compile(r"(us|counterparty)\.(address|signatory\.name|signatory\.email)")
_WITHHELD_CHANGE = "details withheld: personal data, see the redline document"


def changes_for_display(
    redline: Redline, previous: ContractDraft, current: ContractDraft
) -> tuple[str, list[str]]:
    """The summary and one line per change, for Dagster's metadata: the old and new wording
    of a change is withheld where it can quote personal data (a party's address or its
    signatory's name or email: those key terms, and the clauses that print them)."""
    personal = {
        value
        for draft in (previous, current)
        for party in draft.parties
        for value in (party.address, party.signatory.name, party.signatory.email)
    }
    bodies = {
        clause.clause_id: clause.body
        for draft in (previous, current)
        for clause in draft.all_clauses()
        if any(value in clause.body for value in personal)
    }
    summary, lines = redline.summary, []
    for change in redline.changes:
        described = change.summary
        if _PERSONAL_TERM.fullmatch(change.clause_id) or change.clause_id in bodies:
            summary = summary.replace(f"({change.summary})", f"({_WITHHELD_CHANGE})")
            described = _WITHHELD_CHANGE
        # User text is shown literally in the UI's Markdown, never as markup.
        lines.append(without_emails(f"**{change.kind}** {literal(change.title)}: {literal(described)}"))
    return without_emails(summary), lines


# --- word diff ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fragment:
    kind: _Mark
    text: str


_Paragraph = list[_Fragment]


@dataclass(frozen=True)
class _Edit:
    """One run of changed tokens, with the words just around it (for the summary)."""

    old: str
    new: str
    before: str
    after: str


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _word_diff(old: str, new: str) -> tuple[list[_Paragraph], list[_Edit]]:
    """`new` marked up against `old` (paragraphs split at "\\n"), and the edits in order."""
    a, b = _tokens(old), _tokens(new)
    paragraphs: list[_Paragraph] = [[]]
    edits: list[_Edit] = []
    for tag, i1, i2, j1, j2 in _runs(a, b):
        if tag == "equal":
            _emit(paragraphs, "same", a[i1:i2])
            continue
        _emit(paragraphs, "del", a[i1:i2])
        _emit(paragraphs, "ins", b[j1:j2])
        edit = _Edit(_flat(a[i1:i2]), _flat(b[j1:j2]), _word(reversed(a[:i1])), _word(a[i2:]))
        if edit.old or edit.new:
            edits.append(edit)
    return [p for p in paragraphs if p], edits


def _runs(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Opcodes with every change merged into one run when only spaces stand between them,
    so that "EUR 480,000.00 net" -> "USD 520,000.00 net" reads as one edit, not two."""
    runs: list[list] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            runs.append(["equal", i1, i2, j1, j2])
            continue
        between = runs[-1] if len(runs) > 1 and runs[-1][0] == "equal" else None
        if between is not None and _spaces(a[between[1] : between[2]]):
            runs.pop()
        if runs and runs[-1][0] == "change":
            runs[-1][2], runs[-1][4] = i2, j2
        else:
            runs.append(["change", i1, i2, j1, j2])
    return [tuple(run) for run in runs]


def _spaces(tokens: Sequence[str]) -> bool:
    return all(t.isspace() and t != _BREAK for t in tokens)


def _emit(paragraphs: list[_Paragraph], kind: _Mark, tokens: Sequence[str]) -> None:
    """Append tokens to the last paragraph; an inserted or deleted break shows as a pilcrow."""
    text = ""
    for token in tokens:
        if token != _BREAK:
            text += token
            continue
        if kind != "same":
            text += "¶"
        _append(paragraphs[-1], kind, text)
        paragraphs.append([])
        text = ""
    _append(paragraphs[-1], kind, text)


def _append(paragraph: _Paragraph, kind: _Mark, text: str) -> None:
    if not text:
        return
    if paragraph and paragraph[-1].kind == kind:
        paragraph[-1] = _Fragment(kind, paragraph[-1].text + text)
    else:
        paragraph.append(_Fragment(kind, text))


def _flat(tokens: Sequence[str]) -> str:
    return "".join(" ¶ " if t == _BREAK else t for t in tokens).strip()


def _word(tokens: Iterable[str]) -> str:
    """The first word in `tokens`, skipping spaces but not a paragraph break."""
    for token in tokens:
        if token == _BREAK or (not token.isspace() and not token[0].isalnum()):
            return ""
        if not token.isspace():
            return token
    return ""


def _describe(edits: list[_Edit]) -> list[str]:
    """Edits in words; a bare number takes its currency or unit ("45 → 75 days")."""
    described = []
    for edit in edits:
        if edit.old and edit.new:
            old, new = _short(edit.old), _short(edit.new)
            if _NUMBER.fullmatch(edit.old) and _NUMBER.fullmatch(edit.new):
                if _CURRENCY.fullmatch(edit.before):
                    old, new = f"{edit.before} {old}", f"{edit.before} {new}"
                elif edit.after.isalpha():
                    new = f"{new} {edit.after}"
            described.append(f"{old} → {new}")
        elif edit.new:
            described.append(f'added "{_short(edit.new)}"')
        else:
            described.append(f'deleted "{_short(edit.old)}"')
    if len(described) > _EDITS_IN_SUMMARY:
        rest = len(described) - _EDITS_IN_SUMMARY
        described = [*described[:_EDITS_IN_SUMMARY], f"{rest} more edit{'s' if rest > 1 else ''}"]
    return described


def _short(text: str) -> str:
    return text if len(text) <= _SHORT else text[: _SHORT - 1].rstrip() + "…"


# --- key terms ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _TermRow:
    """One key term as the redline shows it: the current value, marked up if it changed."""

    label: str
    paragraphs: list[_Paragraph]
    change: ClauseChange | None
    anchor: str | None


def _document(draft: ContractDraft) -> ContractDocument:
    return build_document(draft, effective_date=draft.effective_date, review=False)


def _key_terms(draft: ContractDraft, doc: ContractDocument) -> dict[str, tuple[str, str]]:
    """key term id -> (label, value as printed) for the terms outside the clause text."""
    printed = dict(doc.key_terms)
    terms = {
        "title": ("Title", doc.title),
        "effective-date": ("Effective Date", printed["Effective Date"]),
        "term": ("Term", printed["Term"]),
    }
    rows = dict(doc.parties)
    for index, party in enumerate(draft.parties):
        role = _ROLES[party.role]
        for label in ("Legal name", "Entity type", "Jurisdiction", "Address"):
            value = rows[label][index] if label in rows else ""
            terms[f"{party.role}.{_slug(label)}"] = (f"{role} {label.lower()}", value)
        signature = doc.signatures[index]
        for key, value in (
            ("name", signature.name),
            ("title", signature.title),
            ("email", party.signatory.email),
        ):
            terms[f"{party.role}.signatory.{key}"] = (f"{role} signatory {key}", value)
    return terms


def _compare_terms(
    previous: ContractDraft,
    old_doc: ContractDocument,
    current: ContractDraft,
    new_doc: ContractDocument,
    counter: Iterator[int],
) -> list[_TermRow]:
    old_terms = _key_terms(previous, old_doc)
    rows = []
    for term_id, (label, new) in _key_terms(current, new_doc).items():
        old = old_terms.get(term_id, (label, ""))[1]
        if old == new == "":
            continue
        if old == new:
            rows.append(_TermRow(label, [[_Fragment("same", new)]], None, None))
            continue
        paragraphs, _ = _word_diff(old, new)
        change = ClauseChange(
            clause_id=term_id, title=label, kind="changed", where="terms",
            summary=f"{_short(old) or '(none)'} → {_short(new) or '(none)'}",
        )
        rows.append(_TermRow(label, paragraphs, change, f"change-{next(counter)}"))
    return rows


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


# --- clauses and annexes -----------------------------------------------------------------


@dataclass(frozen=True)
class _Placed:
    """A clause with its section as printed (number, title, paragraphs) and its place."""

    clause: DraftClause
    section: Section
    index: int

    @property
    def text(self) -> str:
        return _BREAK.join(
            f"{block.marker} {block.text}" if block.marker else block.text
            for block in self.section.blocks
        )


@dataclass(frozen=True)
class _ClauseView:
    """One clause in the redline: unchanged (title only), or marked up with its change."""

    kind: Literal["same", "added", "removed", "changed"]
    number: str
    title: list[_Fragment]
    paragraphs: list[_Paragraph]
    change: ClauseChange | None = None
    anchor: str | None = None


@dataclass
class _ScopeView:
    """The main terms or one annex: its clauses in reading order, removed ones in place."""

    where: str
    heading: str
    clauses: list[_ClauseView] = field(default_factory=list)
    status: Literal["same", "added", "removed"] = "same"


def _with_sections(clauses: list[DraftClause], sections: Sequence[Section]) -> list[_Placed]:
    return [_Placed(c, s, i) for i, (c, s) in enumerate(zip(clauses, sections, strict=True))]


def _match(old: list[_Placed], new: list[_Placed]) -> dict[int, int]:
    """new index -> old index for the clauses that are the same clause in both drafts."""
    matched: dict[int, int] = {}

    def pair(key: Callable[[_Placed], object]) -> None:
        free: dict[object, list[int]] = {}
        taken = set(matched.values())
        for placed in old:
            if placed.index not in taken and (k := key(placed)) is not None:
                free.setdefault(k, []).append(placed.index)
        for placed in new:
            k = key(placed)
            if placed.index not in matched and k is not None and free.get(k):
                matched[placed.index] = free[k].pop(0)

    pair(lambda p: p.clause.clause_id if p.clause.source == "library" else None)
    pair(lambda p: p.section.title.casefold() if p.clause.source == "custom" else None)
    # Renamed custom clauses: the n-th unmatched custom clause of each side, if still alike.
    taken = set(matched.values())
    old_left = [p for p in old if p.clause.source == "custom" and p.index not in taken]
    new_left = [p for p in new if p.clause.source == "custom" and p.index not in matched]
    for before, after in zip(old_left, new_left):
        if _likeness(before.text, after.text) >= _SAME_CLAUSE_RATIO:
            matched[after.index] = before.index
    return matched


def _likeness(old: str, new: str) -> float:
    """The share of words two texts have in common (spaces left out: every text has them)."""
    a, b = ([t for t in _tokens(text) if not t.isspace()] for text in (old, new))
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def _compare_clauses(
    where: str,
    heading: str,
    old: list[_Placed],
    new: list[_Placed],
    counter: Iterator[int],
    status: Literal["same", "added", "removed"] = "same",
) -> _ScopeView:
    scope = _ScopeView(where=where, heading=heading, status=status)
    matched = _match(old, new)
    old_matched = set(matched.values())
    next_old = 0

    def removed_until(stop: int) -> None:
        nonlocal next_old
        for placed in old[next_old:stop]:
            if placed.index not in old_matched:
                scope.clauses.append(_whole(where, placed, "removed", counter))
        next_old = max(next_old, stop)

    # Where each gap ends in the old draft: a gap's deletions come before its insertions.
    gap_end = len(old)
    ends = {}
    for placed in reversed(new):
        gap_end = matched.get(placed.index, gap_end)
        ends[placed.index] = gap_end
    for placed in new:
        removed_until(ends[placed.index])
        if placed.index in matched:
            scope.clauses.append(_changed(where, old[matched[placed.index]], placed, counter))
        else:
            scope.clauses.append(_whole(where, placed, "added", counter))
    removed_until(len(old))
    return scope


def _whole(
    where: str, placed: _Placed, kind: Literal["added", "removed"], counter: Iterator[int]
) -> _ClauseView:
    """A clause only one draft has: all of it inserted or deleted."""
    mark: Literal["ins", "del"] = "ins" if kind == "added" else "del"
    paragraphs = [[_Fragment(mark, text)] for text in placed.text.split(_BREAK) if text]
    opening = _short(placed.text.split(_BREAK)[0]) if placed.text else ""
    change = ClauseChange(
        clause_id=placed.clause.clause_id, title=placed.section.title, kind=kind, where=where,
        summary=f'{"new" if kind == "added" else "removed"} clause: "{opening}"',
    )
    return _ClauseView(
        kind, placed.section.number, [_Fragment(mark, placed.section.title)], paragraphs,
        change, f"change-{next(counter)}",
    )


def _changed(where: str, before: _Placed, after: _Placed, counter: Iterator[int]) -> _ClauseView:
    """A clause both drafts have: its title only if unchanged, else marked up word by word."""
    if (before.section.title, before.text, before.clause.position) == (
        after.section.title, after.text, after.clause.position,
    ):
        title = [_Fragment("same", after.section.title)]
        return _ClauseView("same", after.section.number, title, [])
    title, _ = _word_diff(before.section.title, after.section.title)
    paragraphs, edits = _word_diff(before.text, after.text)
    described = []
    if before.section.title != after.section.title:
        described.append(f"title {_short(before.section.title)} → {_short(after.section.title)}")
    if before.clause.position != after.clause.position:
        described.append(f"position {before.clause.position} → {after.clause.position}")
    described += _describe(edits)
    change = ClauseChange(
        clause_id=after.clause.clause_id, title=after.section.title, kind="changed", where=where,
        summary="; ".join(described),
    )
    return _ClauseView(
        "changed", after.section.number, title[0] if title else [], paragraphs, change,
        f"change-{next(counter)}",
    )


def _compare_annexes(
    previous: ContractDraft,
    old_doc: ContractDocument,
    current: ContractDraft,
    new_doc: ContractDocument,
    counter: Iterator[int],
) -> list[_ScopeView]:
    old_annexes = {
        a.annex_id: (a, s) for a, s in zip(previous.annexes, old_doc.annexes, strict=True)
    }
    new_ids = {a.annex_id for a in current.annexes}
    scopes = []
    for annex, printed in zip(current.annexes, new_doc.annexes, strict=True):
        before = old_annexes.get(annex.annex_id)
        old_clauses = _with_sections(before[0].clauses, before[1].sections) if before else []
        status: Literal["same", "added"] = "same" if before else "added"
        scopes.append(
            _annex_scope(annex, printed.heading, old_clauses,
                         _with_sections(annex.clauses, printed.sections), counter, status)
        )
        if before and before[0].title != annex.title:
            scopes[-1].clauses.insert(0, _annex_retitled(before[0], annex, counter))
    for annex_id, (annex, printed) in old_annexes.items():
        if annex_id not in new_ids:
            scopes.append(
                _annex_scope(annex, printed.heading,
                             _with_sections(annex.clauses, printed.sections), [], counter,
                             "removed")
            )
    return scopes


def _annex_scope(
    annex: DraftAnnex,
    heading: str,
    old: list[_Placed],
    new: list[_Placed],
    counter: Iterator[int],
    status: Literal["same", "added", "removed"],
) -> _ScopeView:
    where = f"annex:{annex.annex_id}"
    scope = _compare_clauses(where, heading, old, new, counter, status)
    if status != "same" and not annex.clauses:
        # An annex without clauses still appears or disappears: say so once.
        scope.clauses.append(
            _ClauseView(
                status, "", [_Fragment("ins" if status == "added" else "del", annex.title)], [],
                ClauseChange(
                    clause_id=annex.annex_id, title=annex.title, kind=status, where=where,
                    summary=f"annex {status}",
                ),
                f"change-{next(counter)}",
            )
        )
    return scope


def _annex_retitled(before: DraftAnnex, after: DraftAnnex, counter: Iterator[int]) -> _ClauseView:
    title, _ = _word_diff(before.title, after.title)
    return _ClauseView(
        "changed", "", title[0] if title else [], [],
        ClauseChange(
            clause_id=after.annex_id, title=after.title, kind="changed",
            where=f"annex:{after.annex_id}",
            summary=f"annex title {_short(before.title)} → {_short(after.title)}",
        ),
        f"change-{next(counter)}",
    )


# --- summary -----------------------------------------------------------------------------


def _summary(
    previous: ContractDraft,
    current: ContractDraft,
    changes: list[ClauseChange],
    scopes: list[_ScopeView],
) -> str:
    """"2 changes: changed Fees and Payment (…); added Service credits". An annex added or
    removed as a whole counts as one change."""
    if not changes:
        return f"No changes: {current.partition_key} says what {previous.partition_key} said."
    whole = {s.where: s for s in scopes if s.status != "same"}
    items: list[str] = []
    for change in changes:
        scope = whole.get(change.where)
        if scope is None:
            items.append(
                f"changed {change.title} ({change.summary})" if change.kind == "changed"
                else f"{change.kind} {change.title}"
            )
        elif change is next(c for c in changes if c.where == scope.where):
            count = sum(1 for c in changes if c.where == scope.where)
            items.append(
                f'{scope.status} the annex "{scope.heading}" '
                f"({count} clause{'s' if count != 1 else ''})"
            )
    shown = items[:_ITEMS_IN_SUMMARY]
    if len(items) > len(shown):
        shown.append(f"and {len(items) - len(shown)} more")
    return f"{len(items)} change{'s' if len(items) != 1 else ''}: " + "; ".join(shown)


# --- HTML --------------------------------------------------------------------------------

_TEMPLATE = HTML_ENVIRONMENT.from_string(
    """\
<!DOCTYPE html>
<html lang="en">
<head>
{{ head_meta }}<title>Redline – {{ new_doc.document_id }} against revision {{ previous.revision }}</title>
<style>
{{ page_css }}
{# The marks' colours and backgrounds print too: they are the redline. #}
  body { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h1 { font-size: 17pt; margin: 0.4em 0 0.2em; }
  .revisions { margin: 0 0 1.2em; color: #333; }
{{ clause_css }}
  .clause .change-note { font-size: 8.5pt; color: #444; margin: 0 0 0.4em 2.8em; }
  ins {
    text-decoration: underline; text-decoration-thickness: 1.5px; color: #0b5d1e;
    background: #e6f4ea;
  }
  del { text-decoration: line-through; color: #a50e0e; background: #fce8e6; }
  .legend { font-size: 9pt; color: #333; }
  ol.changes li { margin-bottom: 0.2em; }
  .kind { font-weight: bold; }
  table.terms { border-collapse: collapse; width: 100%; table-layout: fixed; }
  table.terms th, table.terms td { padding: 0.2em 1em 0.2em 0; vertical-align: top; }
  table.terms th { width: 34%; text-align: left; font-weight: bold; }
  table.terms td { overflow-wrap: anywhere; }
  table.terms tr.same { color: #555; }
  .unchanged { margin: 0.15em 0 0.15em 0; color: #555; display: flex; gap: 0.6em; }
  .unchanged .num { min-width: 2.2em; }
  .unchanged .tag { font-size: 8.5pt; font-style: italic; }
  .scope-status { font-weight: bold; }
  footer {
    margin-top: 3em; border-top: 1px solid #999; padding-top: 0.4em; font-size: 8pt; color: #555;
  }
  @media print {
    body { max-width: none; margin: 0; padding: 0; }
    .clause { break-inside: avoid-page; }
  }
</style>
</head>
<body>
{% macro marked(fragments) %}
{% for f in fragments %}\
{% if f.kind == "ins" %}<ins>{{ f.text }}</ins>\
{% elif f.kind == "del" %}<del>{{ f.text }}</del>\
{% else %}{{ f.text }}{% endif %}\
{% endfor %}
{% endmacro %}
<main>
<h1>Redline: {{ new_doc.title }}</h1>
<p class="revisions">
<strong>{{ current.partition_key }}</strong> (revision {{ current.revision }}) compared with
<strong>{{ previous.partition_key }}</strong> (revision {{ previous.revision }}).
{% if previous.library_version != current.library_version %}
Clause library {{ previous.library_version }} → {{ current.library_version }}.
{% endif %}
</p>
<p class="legend">Inserted text is <ins>underlined</ins>; deleted text is <del>struck through</del>.
Unchanged clauses are listed by title only.</p>

<section class="summary">
<h2>SUMMARY OF CHANGES</h2>
<p>{{ summary }}</p>
{% if changes %}
<ol class="changes">
{% for row in terms if row.change %}
<li><a href="#{{ row.anchor }}"><span class="kind">Changed</span> {{ row.label }}</a>: \
{{ row.change.summary }}</li>
{% endfor %}
{% for scope in scopes %}
{% for view in scope.clauses if view.change %}
<li><a href="#{{ view.anchor }}"><span class="kind">{{ view.change.kind | capitalize }}</span> \
{% if view.number %}{{ view.number }} {% endif %}{{ view.change.title }}</a>\
{% if scope.where != "body" %} ({{ scope.heading }}){% endif %}: {{ view.change.summary }}</li>
{% endfor %}
{% endfor %}
</ol>
{% endif %}
</section>

<section class="key-terms">
<h2>{{ w.KEY_TERMS_HEADING }}</h2>
<table class="terms">
{% for row in terms %}
<tr class="{{ 'changed' if row.change else 'same' }}"\
{% if row.anchor %} id="{{ row.anchor }}"{% endif %}>
<th scope="row">{{ row.label }}</th>
<td>{% for p in row.paragraphs %}{{ marked(p) }}{% endfor %}</td>
</tr>
{% endfor %}
</table>
</section>

{% for scope in scopes %}
<section class="scope {{ scope.status }}">
<h2>{{ scope.heading }}</h2>
{% if scope.status != "same" %}
<p class="scope-status">This annex was {{ scope.status }} in revision {{ current.revision }}.</p>
{% endif %}
{% for view in scope.clauses %}
{% if view.kind == "same" %}
<p class="unchanged"><span class="num">{{ view.number }}</span>\
<span>{{ view.title[0].text }}</span><span class="tag">unchanged</span></p>
{% else %}
<section class="clause {{ view.kind }}" id="{{ view.anchor }}">
<h3><span class="num">\
{% if view.kind == "removed" %}<del>{{ view.number }}</del>{% else %}{{ view.number }}{% endif %}\
</span><span>{{ marked(view.title) }}</span></h3>
<p class="change-note">{{ view.change.kind | capitalize }}\
{% if view.kind == "changed" %}: {{ view.change.summary }}{% endif %}</p>
{% for p in view.paragraphs %}
<p>{{ marked(p) }}</p>
{% endfor %}
</section>
{% endif %}
{% endfor %}
</section>
{% endfor %}
</main>
<footer>Redline of {{ current.partition_key }} against {{ previous.partition_key }} · \
clause library {{ current.library_version }}</footer>
</body>
</html>
"""
)
