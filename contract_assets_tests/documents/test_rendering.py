"""The contract in HTML, PDF and DOCX: every character shown, nothing interpreted, ready to sign.

Tests that start external programs (pdftoppm, LibreOffice) are marked `slow`; a missing
program fails them with what to install, never skips them.
"""

from __future__ import annotations

import html
import io
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

import docx
import pypdf
import pytest

from contract_assets.drafting.assembly import assemble_draft
from contract_assets.drafting.clause_library import load_entities, load_library
from contract_assets.platform.models import (
    ContractDraft,
    DraftAnnex,
    DraftClause,
    Party,
    Signatory,
)
from contract_assets.documents.rendering import (
    MissingGlyphError,
    render_docx,
    render_html,
    render_pdf,
)
from contract_assets.documents.rendering.fonts import FONT_DIR_ENV, load_font_set

COUNTERPARTY = "Zoë Ångström 株式会社"
OUR_SIGNATORY = "Lena Vogt"
THEIR_SIGNATORY = "Åsa Nyström-Tanaka 田中"
LITERALS = ("{{ x }}", "<script>alert(1)</script>", "&amp;")
REVIEW_MARK = "DRAFT FOR REVIEW – NOT FOR SIGNATURE"
EFFECTIVE = date(2027, 1, 1)
# When the revision was registered (Revision.submitted_at): the PDF and DOCX are dated so.
REGISTERED = datetime(2026, 11, 30, 21, 14, 5, 123456, tzinfo=UTC)


def make_draft(*, extra_clause: DraftClause | None = None) -> ContractDraft:
    clauses = [
        DraftClause(
            clause_id="msa-services",
            title="Services",
            body=(
                "The Supplier provides the Services described in each Statement of Work.\n\n"
                "The Customer shall:\n"
                "(a) pay the fees when due;\n"
                "(b) give the Supplier reasonable access to its\n"
                "systems; and\n"
                "(c) comply with applicable law."
            ),
        ),
        DraftClause(
            clause_id="custom-1",
            title="Special terms {{ x }}",
            body=f"Reports may quote {LITERALS[0]} and {LITERALS[1]} and {LITERALS[2]} as typed.",
            source="custom",
        ),
        DraftClause(
            clause_id="governing-law",
            title="Governing Law",
            body="This Agreement is governed by the laws of Germany.",
        ),
    ]
    if extra_clause is not None:
        clauses.append(extra_clause)
    return ContractDraft(
        partition_key="zoe-msa.r2",
        contract_id="zoe-msa",
        revision=2,
        type="msa",
        template_id="msa",
        title="Master Services Agreement",
        parties=[
            Party(
                role="us",
                legal_name="Orbital GmbH",
                entity_type="GmbH",
                jurisdiction="DE",
                address="Hauptstraße 1, 10115 Berlin, Germany",
                signatory=Signatory(
                    name=OUR_SIGNATORY, title="Managing Director", email="lena@orbital.example"
                ),
            ),
            Party(
                role="counterparty",
                legal_name=COUNTERPARTY,
                jurisdiction="JP",
                address="1-2-3 Marunouchi, Chiyoda-ku, Tokyo 100-0005, Japan",
                signatory=Signatory(
                    name=THEIR_SIGNATORY, title="代表取締役 Representative Director",
                    email="asa@zoe.example",
                ),
            ),
        ],
        effective_date=EFFECTIVE,
        term_months=36,
        clauses=clauses,
        annexes=[
            DraftAnnex(
                annex_id="dpa",
                title="Data Processing",
                clauses=[
                    DraftClause(
                        clause_id="dpa-subject-matter",
                        title="Subject Matter",
                        body="The Supplier processes contact details for the Customer.",
                    )
                ],
            )
        ],
        mandatory_clause_ids=["governing-law"],
        library_version="2027.1",
        library_hash="0" * 64,
        request_hash="1" * 64,
    )


# --- reading the rendered files back ------------------------------------------------------


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def docx_text(data: bytes) -> str:
    """Every paragraph of the body, its tables, header and footer, one per line."""
    document = docx.Document(io.BytesIO(data))
    section = document.sections[0]
    paragraphs = [
        *document.paragraphs,
        *(p for t in document.tables for c in unique_cells(t.rows) for p in c.paragraphs),
        *section.header.paragraphs,
        *section.footer.paragraphs,
    ]
    return "\n".join(p.text for p in paragraphs)


def unique_cells(rows) -> list:
    """The cells of table rows, a merged cell once (python-docx repeats it per grid column)."""
    cells = []
    for row in rows:
        row_cells = row.cells
        cells += [c for i, c in enumerate(row_cells) if i == 0 or c._tc is not row_cells[i - 1]._tc]
    return cells


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(data: bytes) -> str:
    """The text a browser shows, entities decoded."""
    parser = _VisibleText()
    parser.feed(data.decode("utf-8"))
    return " ".join(" ".join(parser.parts).split())


def pdf_text(data: bytes) -> str:
    return "\n".join(pdf_pages(data))


# Visible text of each format; HTML text is whitespace-normalised like the others' lines.
FORMATS: dict[str, tuple[Callable[..., bytes], Callable[[bytes], str]]] = {
    "html": (render_html, html_text),
    "pdf": (partial(render_pdf, registered_at=REGISTERED), pdf_text),
    "docx": (partial(render_docx, registered_at=REGISTERED), docx_text),
}


def require_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"this test needs the program '{name}' on PATH "
            f"(Debian: poppler-utils for pdftoppm, libreoffice-writer-nogui for libreoffice; "
            f"scripts/system-deps.sh test installs both)"
        )
    return path


# --- every format ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_names_and_user_text_appear_literally(fmt: str) -> None:
    render, text_of = FORMATS[fmt]
    text = text_of(render(make_draft(), effective_date=EFFECTIVE))
    for expected in (COUNTERPARTY, OUR_SIGNATORY, THEIR_SIGNATORY, "Orbital GmbH", *LITERALS):
        assert expected in text, f"{expected!r} missing from the {fmt} text"
    assert "Special terms {{ x }}" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_clauses_are_numbered_in_order_then_annexes_then_signatures(fmt: str) -> None:
    render, text_of = FORMATS[fmt]
    text = text_of(render(make_draft(), effective_date=EFFECTIVE))
    flat = " ".join(text.split())
    order = [
        "1. Services",
        "2. Special terms",
        "3. Governing Law",
        "Annex A – Data Processing",
        "1. Subject Matter",
        "SIGNATURES",
    ]
    positions = [flat.find(marker) for marker in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions), dict(zip(order, positions, strict=True))


@pytest.mark.parametrize("fmt", FORMATS)
def test_signature_block_for_each_signatory(fmt: str) -> None:
    render, text_of = FORMATS[fmt]
    flat = " ".join(text_of(render(make_draft(), effective_date=EFFECTIVE)).split())
    signatures = flat[flat.rindex("SIGNATURES"):]
    assert signatures.count("For and on behalf of") == 2
    for expected in ("Orbital GmbH", COUNTERPARTY, OUR_SIGNATORY, THEIR_SIGNATORY,
                     "Managing Director", "代表取締役 Representative Director"):
        assert expected in signatures
    assert signatures.count("Date") >= 2
    assert signatures.count("Signature") >= 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_effective_date_and_term(fmt: str) -> None:
    render, text_of = FORMATS[fmt]
    dated = " ".join(text_of(render(make_draft(), effective_date=EFFECTIVE)).split())
    undated = " ".join(text_of(render(make_draft(), effective_date=None)).split())
    assert "1 January 2027" in dated
    assert "the date on which this Agreement is approved" not in dated
    assert "the date on which this Agreement is approved" in undated
    assert "1 January 2027" not in undated
    assert "36 months from the Effective Date" in dated


@pytest.mark.parametrize("fmt", FORMATS)
def test_review_copy_is_marked_as_draft_and_final_copy_is_not(fmt: str) -> None:
    render, text_of = FORMATS[fmt]
    review = text_of(render(make_draft(), effective_date=None, review=True))
    final = text_of(render(make_draft(), effective_date=EFFECTIVE))
    assert REVIEW_MARK in review
    assert REVIEW_MARK not in final


@pytest.mark.parametrize("fmt", FORMATS)
def test_footer_identifies_revision_and_library(fmt: str) -> None:
    render, text_of = FORMATS[fmt]
    assert "zoe-msa revision 2 · clause library 2027.1" in text_of(
        render(make_draft(), effective_date=EFFECTIVE)
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_line_breaks_typed_into_one_line_fields_become_spaces(fmt: str) -> None:
    draft = make_draft()
    theirs = draft.parties[1].model_copy(
        update={"address": "1-2-3 Marunouchi\nChiyoda-ku\tTokyo\r\nJapan"}
    )
    draft = draft.model_copy(update={"parties": [draft.parties[0], theirs]})
    render, text_of = FORMATS[fmt]
    flat = " ".join(text_of(render(draft, effective_date=EFFECTIVE)).split())
    assert "1-2-3 Marunouchi Chiyoda-ku Tokyo Japan" in flat


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
def test_same_draft_renders_to_the_same_bytes(fmt: str) -> None:
    render, _ = FORMATS[fmt]
    assert render(make_draft(), effective_date=EFFECTIVE) == render(
        make_draft(), effective_date=EFFECTIVE
    )


# --- HTML --------------------------------------------------------------------------------


def test_html_is_a_standalone_escaped_page_without_script() -> None:
    page = render_html(make_draft(), effective_date=EFFECTIVE).decode("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert "@media print" in page and "@page" in page
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&amp;amp;" in page  # the typed "&amp;" stays five characters on screen
    assert html.escape(COUNTERPARTY) in page


# --- PDF ---------------------------------------------------------------------------------


def test_pdf_is_a4_with_page_x_of_y_on_every_page() -> None:
    draft = make_draft(
        extra_clause=DraftClause(
            clause_id="general", title="General", body="\n\n".join(["Boilerplate text. " * 60] * 8)
        )
    )
    data = render_pdf(draft, effective_date=EFFECTIVE, registered_at=REGISTERED)
    reader = pypdf.PdfReader(io.BytesIO(data))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)


def test_pdf_embeds_every_font_it_uses() -> None:
    data = render_pdf(make_draft(), effective_date=EFFECTIVE, registered_at=REGISTERED)
    reader = pypdf.PdfReader(io.BytesIO(data))
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts[str(font["/BaseFont"])] = font
    for name, font in fonts.items():
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, f"{name} is not embedded"
    names = " ".join(fonts)
    assert "DejaVuSans" in names
    assert "DroidSansFallback" in names  # the CJK of the counterparty's name


def test_pdf_character_without_any_font_is_an_error_not_a_blank() -> None:
    hieroglyph = "\U00013000"  # in neither DejaVu Sans nor Droid Sans Fallback
    draft = make_draft(
        extra_clause=DraftClause(clause_id="x", title="Symbols", body=f"Seal: {hieroglyph}")
    )
    with pytest.raises(MissingGlyphError) as info:
        render_pdf(draft, effective_date=EFFECTIVE, registered_at=REGISTERED)
    assert info.value.characters == (hieroglyph,)
    assert "U+13000" in str(info.value)
    assert FONT_DIR_ENV in str(info.value)


def test_font_folder_override_is_searched_first(tmp_path: Path, monkeypatch) -> None:
    system = load_font_set()
    for face in (system.regular, system.bold):
        shutil.copy(face.path, tmp_path / face.path.name)
    monkeypatch.setenv(FONT_DIR_ENV, str(tmp_path))
    overridden = load_font_set()
    assert overridden.regular.path == tmp_path / system.regular.path.name
    data = render_pdf(make_draft(), effective_date=EFFECTIVE, registered_at=REGISTERED)
    assert COUNTERPARTY in pdf_text(data)


@pytest.mark.slow
def test_pdf_renders_to_images_with_pdftoppm(tmp_path: Path) -> None:
    program = require_program("pdftoppm")
    data = render_pdf(make_draft(), effective_date=EFFECTIVE, registered_at=REGISTERED, review=True)
    (tmp_path / "contract.pdf").write_bytes(data)
    subprocess.run(
        [program, "-r", "50", "-png", str(tmp_path / "contract.pdf"), str(tmp_path / "page")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    images = sorted(tmp_path.glob("page*.png"))
    assert len(images) == len(pdf_pages(data))
    assert all(image.stat().st_size > 1000 for image in images)


# --- DOCX --------------------------------------------------------------------------------


def test_docx_structure_for_word() -> None:
    data = render_docx(make_draft(), effective_date=EFFECTIVE, registered_at=REGISTERED)
    document = docx.Document(io.BytesIO(data))
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)

    styled = [(p.style.name, p.text) for p in document.paragraphs]
    assert ("Title", "Master Services Agreement") in styled
    assert ("Heading 2", "1.\tServices") in styled
    assert ("Heading 1", "Annex A – Data Processing") in styled
    items = [text for _, text in styled if re.match(r"\([a-z]\)\t", text)]
    assert items == [
        "(a)\tpay the fees when due;",
        "(b)\tgive the Supplier reasonable access to its systems; and",
        "(c)\tcomply with applicable law.",
    ]

    # Side by side: our block in the first two columns, theirs in the last two.
    rows = document.tables[-1].rows
    ours = " ".join(c.text for row in rows for c in row.cells[:2])
    theirs = " ".join(c.text for row in rows for c in row.cells[-2:])
    assert OUR_SIGNATORY in ours and "Orbital GmbH" in ours and THEIR_SIGNATORY not in ours
    assert THEIR_SIGNATORY in theirs and COUNTERPARTY in theirs and OUR_SIGNATORY not in theirs

    with zipfile.ZipFile(io.BytesIO(data)) as package:
        styles = package.read("word/styles.xml").decode("utf-8")
        footers = "".join(
            package.read(name).decode("utf-8")
            for name in package.namelist()
            if name.startswith("word/footer")
        )
    assert 'w:eastAsia="Droid Sans Fallback"' in styles
    assert "eastAsiaTheme" not in styles  # a theme font would override the East Asian one
    assert " PAGE " in footers and " NUMPAGES " in footers


@pytest.mark.slow
def test_docx_converts_with_libreoffice_and_keeps_every_character(tmp_path: Path) -> None:
    program = require_program("libreoffice")
    source = tmp_path / "contract.docx"
    source.write_bytes(
        render_docx(make_draft(), effective_date=EFFECTIVE, registered_at=REGISTERED, review=True)
    )
    profile = tmp_path / "lo-profile"  # its own profile: parallel runs do not clash
    result = subprocess.run(
        [
            program, f"-env:UserInstallation={profile.as_uri()}", "--headless",
            "--convert-to", "pdf", "--outdir", str(tmp_path), str(source),
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    converted = tmp_path / "contract.pdf"
    assert converted.exists(), f"LibreOffice did not convert: {result.stdout}{result.stderr}"
    pages = pdf_pages(converted.read_bytes())
    text = "\n".join(pages)
    for expected in (COUNTERPARTY, THEIR_SIGNATORY, REVIEW_MARK, *LITERALS):
        assert expected in text
    assert f"Page 1 of {len(pages)}" in text


# --- clauses laid out line by line ---------------------------------------------------------

DELIVERABLES = [
    [
        "Deliverable 1: Audit",
        "Description: Review of the current stack",
        "Due date: 15 February 2027",
        "Fee: USD 40,000.00",
    ],
    [
        "Deliverable 2: Migration plan",
        "Description: Target architecture and plan",
        "Due date: 1 April 2027",
        "Fee: USD 60,000.00",
    ],
]


@pytest.fixture
def sow_draft(validate, make_raw) -> ContractDraft:
    """The SOW of the domain conftest (two deliverables) drafted from the shipped library."""
    request = validate(make_raw("sow"))
    parent = validate(make_raw("msa"))
    return assemble_draft(
        partition_key="acme-sow-1.r1", revision=1, request=request, request_hash="f" * 64,
        entity=load_entities()[request.our_entity], library=load_library(), parent=parent,
    )  # fmt: skip


class _Paragraphs(HTMLParser):
    """Each <p> of a page as its lines: a <br> starts a new line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[list[str]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "p":
            self._open = True
            self.paragraphs.append([""])
        elif tag == "br" and self._open:
            self.paragraphs[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._open = False

    def handle_data(self, data: str) -> None:
        if self._open:
            self.paragraphs[-1][-1] += data


def html_paragraphs(data: bytes) -> list[list[str]]:
    parser = _Paragraphs()
    parser.feed(data.decode("utf-8"))
    return [[" ".join(line.split()) for line in p] for p in parser.paragraphs]


def test_sow_deliverables_are_one_block_each_with_a_field_per_line_in_html(sow_draft) -> None:
    paragraphs = html_paragraphs(render_html(sow_draft, effective_date=EFFECTIVE))
    for deliverable in DELIVERABLES:
        assert deliverable in paragraphs, f"no <p> holding exactly {deliverable}"


def test_sow_deliverables_have_a_field_per_line_in_pdf_text(sow_draft) -> None:
    data = FORMATS["pdf"][0](sow_draft, effective_date=EFFECTIVE)
    lines = [line.strip() for line in pdf_text(data).splitlines()]
    for deliverable in DELIVERABLES:
        start = lines.index(deliverable[0])
        assert lines[start:start + len(deliverable)] == deliverable


def test_sow_deliverables_are_one_paragraph_each_with_a_field_per_line_in_docx(sow_draft) -> None:
    document = docx.Document(io.BytesIO(FORMATS["docx"][0](sow_draft, effective_date=EFFECTIVE)))
    paragraphs = [p.text.split("\n") for p in document.paragraphs]
    for deliverable in DELIVERABLES:
        assert deliverable in paragraphs, f"no paragraph holding exactly {deliverable}"


def test_a_custom_clause_wrapped_by_its_writer_still_reads_as_one_paragraph() -> None:
    wrapped = DraftClause(
        clause_id="custom-2", title="Credits", source="custom",
        body="Service credits are the Customer's\nsole remedy for missed availability.",
    )  # fmt: skip
    draft = make_draft(extra_clause=wrapped)
    sentence = "Service credits are the Customer's sole remedy for missed availability."
    assert [sentence] in html_paragraphs(render_html(draft, effective_date=EFFECTIVE))
    pdf = render_pdf(draft, effective_date=EFFECTIVE, registered_at=REGISTERED)
    assert sentence in pdf_text(pdf).splitlines()
    document = docx.Document(
        io.BytesIO(render_docx(draft, effective_date=EFFECTIVE, registered_at=REGISTERED))
    )
    assert sentence in [p.text for p in document.paragraphs]


# --- dates in the files --------------------------------------------------------------------


def test_pdf_is_dated_when_the_revision_was_registered_and_renders_the_same_twice() -> None:
    data = render_pdf(make_draft(), effective_date=EFFECTIVE, registered_at=REGISTERED)
    again = render_pdf(make_draft(), effective_date=EFFECTIVE, registered_at=REGISTERED)
    assert data == again
    info = pypdf.PdfReader(io.BytesIO(data)).metadata
    assert info["/CreationDate"] == info["/ModDate"] == "D:20261130211405+00'00'"
    registered = datetime(2026, 11, 30, 21, 14, 5, tzinfo=UTC)
    assert info.creation_date == info.modification_date == registered


def test_docx_is_dated_when_the_revision_was_registered_and_renders_the_same_twice() -> None:
    data = render_docx(make_draft(), effective_date=EFFECTIVE, registered_at=REGISTERED)
    assert data == render_docx(make_draft(), effective_date=EFFECTIVE, registered_at=REGISTERED)
    properties = docx.Document(io.BytesIO(data)).core_properties
    registered = datetime(2026, 11, 30, 21, 14, 5, tzinfo=UTC)
    assert properties.created == properties.modified == registered
    assert "python-docx" not in f"{properties.comments} {properties.author} {properties.keywords}"


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
def test_a_registration_time_in_another_zone_is_recorded_in_utc(fmt: str) -> None:
    render, _ = FORMATS[fmt]
    in_berlin = REGISTERED.astimezone(timezone(timedelta(hours=1)))
    assert render(make_draft(), effective_date=EFFECTIVE, registered_at=in_berlin) == render(
        make_draft(), effective_date=EFFECTIVE
    )
    with pytest.raises(ValueError, match="time zone"):
        render(make_draft(), effective_date=EFFECTIVE, registered_at=REGISTERED.replace(tzinfo=None))
