"""The contract as an editable Word document, built with python-docx (no binary template)."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph

from contract_assets.documents.rendering import document as wording
from contract_assets.documents.rendering.document import (
    ContractDocument,
    Section,
    build_document,
    registration_time,
)
from contract_assets.platform.models import ContractDraft

# Word picks the font per character class: Latin text uses LATIN_FONT, CJK text the
# w:eastAsia font. Where a font is missing, Word and LibreOffice substitute one that has
# the characters; these names are the ones the PDF embeds, so both look alike here.
LATIN_FONT = "DejaVu Sans"
EAST_ASIAN_FONT = "Droid Sans Fallback"
BODY_SIZE = Pt(10)
INK = RGBColor(0x11, 0x11, 0x11)
MUTED = RGBColor(0x55, 0x55, 0x55)
REVIEW_RED = RGBColor(0xB0, 0x00, 0x20)
MARGIN_SIDE = Mm(22)
TEXT_WIDTH = Mm(210) - 2 * MARGIN_SIDE
CLAUSE_INDENT = Mm(10)
ITEM_INDENT = Mm(9)
LABEL_WIDTH = Mm(48)  # the label column of the cover tables
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Elements that follow w:pBdr inside w:pPr (WordprocessingML schema order).
_AFTER_PBDR = (
    "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
    "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
    "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
    "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap",
    "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange",
)  # fmt: skip


def render_docx(
    draft: ContractDraft,
    *,
    effective_date: date | None,
    registered_at: datetime,
    review: bool = False,
) -> bytes:
    """The contract as DOCX bytes: real headings, numbered clauses, page-number footer; its
    created and modified properties are `registered_at` (the revision's registration time)."""
    doc = build_document(draft, effective_date=effective_date, review=review)
    word = Document()
    _set_up_page(word)
    _set_up_styles(word)
    _set_up_header_and_footer(word, doc)
    _set_properties(word, doc, registration_time(registered_at))

    if doc.review:
        _review_banner(word)
    _add_paragraph(word, doc.title, "Title")

    _add_paragraph(word, wording.PARTIES_HEADING, "Heading1")
    party_rows = [(label, values, row == 0) for row, (label, values) in enumerate(doc.parties)]
    _cover_table(word, party_rows)
    _add_paragraph(word, wording.KEY_TERMS_HEADING, "Heading1")
    _cover_table(word, [(label, (value,), False) for label, value in doc.key_terms])

    _add_paragraph(word, wording.TERMS_HEADING, "Heading1")
    _sections(word, doc.sections)
    for annex in doc.annexes:
        heading = _add_paragraph(word, annex.heading, "Heading1")
        heading.paragraph_format.page_break_before = True
        _sections(word, annex.sections)

    _signatures(word, doc)

    buffer = io.BytesIO()
    word.save(buffer)
    return _with_fixed_timestamps(buffer.getvalue())


def _add_paragraph(word: WordDocument, text: str, style_id: str) -> Paragraph:
    """A paragraph in the style with this id (python-docx's lookup by name scans every
    style per paragraph and took three quarters of the render time)."""
    paragraph = word.add_paragraph(text)
    paragraph._p.style = style_id
    return paragraph


def _cover_table(word: WordDocument, rows: list[tuple[str, tuple[str, ...], bool]]) -> None:
    """Bold labels in the first column, values beside them; rows of (label, values, bold)."""
    columns = len(rows[0][1])
    table = _fixed_table(
        word, len(rows), [LABEL_WIDTH, *[(TEXT_WIDTH - LABEL_WIDTH) // columns] * columns]
    )
    for row, (label, values, bold) in zip(table.rows, rows, strict=True):
        for cell, text, is_bold in zip(row.cells, (label, *values), (True, *[bold] * columns),
                                       strict=True):
            paragraph = cell.paragraphs[0]
            paragraph.paragraph_format.space_after = Pt(3)
            paragraph.add_run(text).bold = is_bold or None


def _fixed_table(word: WordDocument, rows: int, widths: list[int]) -> Table:
    """A borderless table with fixed column widths, set on the cells (read by Word) and on
    the grid (read by LibreOffice)."""
    table = word.add_table(rows=rows, cols=len(widths))
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
        for cell in column.cells:
            cell.width = width
    return table


def _sections(word: WordDocument, sections: tuple[Section, ...]) -> None:
    for section in sections:
        heading = _hanging(_add_paragraph(word, "", "Heading2"), CLAUSE_INDENT)
        heading.add_run(f"{section.number}\t{section.title}")
        for block in section.blocks:
            paragraph = _add_paragraph(word, "", "ClauseText")
            if block.marker:
                _hanging(paragraph, CLAUSE_INDENT + ITEM_INDENT, hang=ITEM_INDENT)
                paragraph.paragraph_format.space_after = Pt(3)
                paragraph.add_run(f"{block.marker}\t")
            elif len(block.lines) > 1:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT  # ragged lines, not stretched
            for i, line in enumerate(block.lines):
                run = paragraph.add_run(line)
                if i < len(block.lines) - 1:
                    run.add_break()  # a line break inside the paragraph, as Shift+Enter


def _signatures(word: WordDocument, doc: ContractDocument) -> None:
    """One block per signatory side by side, in shared rows so that fields line up."""
    heading = _add_paragraph(word, wording.SIGNATURES_HEADING, "Heading1")
    intro = word.add_paragraph(wording.SIGNATURES_INTRO)
    intro.paragraph_format.space_after = Pt(10)
    count = len(doc.signatures)
    gap, label_width = Mm(12), Mm(17)  # Word cells add 1.9 mm margins on each side
    column = (TEXT_WIDTH - gap * (count - 1)) // count
    widths = [w for _ in range(count) for w in (label_width, column - label_width, gap)][:-1]
    table = _fixed_table(word, 6, widths)
    for row in table.rows:
        # Rows never split and each keeps with the next: the block stays on one page.
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))

    grid = [row.cells for row in table.rows]  # python-docx recomputes table.cell() each call
    for i, sig in enumerate(doc.signatures):
        c = 3 * i  # this signatory's label column; its value column is c + 1
        cell = grid[0][c].merge(grid[0][c + 1])
        cell.paragraphs[0].add_run(wording.SIGNED_FOR)
        cell.add_paragraph().add_run(sig.party_name).bold = True
        line = grid[1][c].merge(grid[1][c + 1]).paragraphs[0]
        line.paragraph_format.space_before = Pt(36)
        _border(line, "bottom")  # the line to sign on
        caption = grid[2][c].merge(grid[2][c + 1]).paragraphs[0]
        caption.add_run("Signature").font.size = Pt(8)
        for r, label, value in ((3, "Name:", sig.name), (4, "Title:", sig.title), (5, "Date:", "")):
            grid[r][c].paragraphs[0].add_run(label)
            grid[r][c + 1].paragraphs[0].add_run(value)
        _border(grid[5][c + 1].paragraphs[0], "bottom")  # the line to date

    for cell in grid[5]:
        cell.paragraphs[0].paragraph_format.space_before = Pt(14)
    for paragraph in (heading, intro, *(p for row in grid[:-1] for cell in row
                                          for p in cell.paragraphs)):
        paragraph.paragraph_format.keep_with_next = True


def _review_banner(word: WordDocument) -> None:
    for text, bold in ((wording.REVIEW_MARK, True), (wording.REVIEW_NOTE, False)):
        paragraph = word.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.space_after = Pt(0)
        run = paragraph.add_run(text)
        run.bold = bold
        run.font.color.rgb = REVIEW_RED
        for side in ("top", "left", "bottom", "right"):
            _border(paragraph, side, color="B00020")
    word.add_paragraph()


def _set_up_page(word: WordDocument) -> None:
    section = word.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = MARGIN_SIDE
    section.top_margin, section.bottom_margin = Mm(22), Mm(24)
    section.header_distance, section.footer_distance = Mm(10), Mm(10)


def _set_up_styles(word: WordDocument) -> None:
    styles = word.styles
    # The defaults and every template style name theme fonts; name ours everywhere, so any
    # style a lawyer applies later also shows CJK.
    for fonts in styles.element.iter(qn("w:rFonts")):
        _set_fonts(fonts)

    normal = styles["Normal"]
    normal.font.size = BODY_SIZE
    normal.font.color.rgb = INK
    normal.paragraph_format.space_after = Pt(5)
    normal.paragraph_format.line_spacing = 1.15

    clause_text = styles.add_style("Clause Text", 1)
    clause_text.base_style = normal
    clause_text.paragraph_format.left_indent = CLAUSE_INDENT
    clause_text.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY

    for name, size, space_before, space_after in (
        ("Title", Pt(16), Pt(0), Pt(14)),
        ("Heading 1", Pt(10.5), Pt(14), Pt(6)),
        ("Heading 2", BODY_SIZE, Pt(8), Pt(3)),
    ):
        style = styles[name]
        style.font.size = size
        style.font.bold = True
        style.font.color.rgb = INK  # replaces the template's theme colour
        style.paragraph_format.space_before = space_before
        style.paragraph_format.space_after = space_after
        style.paragraph_format.keep_with_next = True
    title = styles["Title"]
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title_ppr = title.element.get_or_add_pPr()
    for border in title_ppr.findall(qn("w:pBdr")):
        title_ppr.remove(border)
    _border(styles["Heading 1"], "bottom", color="999999")

    footer = styles["Footer"]
    footer.font.size = Pt(7.5)
    footer.font.color.rgb = MUTED
    footer_ppr = footer.element.get_or_add_pPr()
    for tabs in footer_ppr.findall(qn("w:tabs")):  # Letter-size stops; ours is set per page
        footer_ppr.remove(tabs)


def _set_up_header_and_footer(word: WordDocument, doc: ContractDocument) -> None:
    section = word.sections[0]
    paragraph = section.footer.paragraphs[0]
    paragraph.style = word.styles["Footer"]
    tabs = paragraph.paragraph_format.tab_stops
    tabs.add_tab_stop(TEXT_WIDTH, WD_TAB_ALIGNMENT.RIGHT)
    paragraph.add_run(f"{doc.footer}\tPage ")
    _field(paragraph, "PAGE")
    paragraph.add_run(" of ")
    _field(paragraph, "NUMPAGES")
    if doc.review:
        header = section.header.paragraphs[0]
        header.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = header.add_run(wording.REVIEW_MARK)
        run.bold = True
        run.font.size = Pt(8)
        run.font.color.rgb = REVIEW_RED


def _set_properties(word: WordDocument, doc: ContractDocument, dated: datetime) -> None:
    properties = word.core_properties
    properties.title = doc.title
    properties.subject = doc.document_id
    properties.author = doc.metadata_author
    properties.last_modified_by = "contract_assets"
    properties.identifier = doc.document_id
    properties.content_status = wording.REVIEW_MARK if doc.review else "For signature"
    properties.revision = 1
    # python-docx's default template says "generated by python-docx" here.
    properties.comments = ""
    properties.keywords = ""
    # The registration time, not the clock: the same revision renders to the same bytes.
    # python-docx writes the time as given with a "Z", so it gets the UTC time without zone.
    properties.created = properties.modified = dated.replace(tzinfo=None)


def _set_fonts(fonts) -> None:
    """Name the fonts of a w:rFonts explicitly, East Asian included, dropping theme fonts
    (which would win over them)."""
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attribute), None)
    for attribute, font in (
        ("w:ascii", LATIN_FONT),
        ("w:hAnsi", LATIN_FONT),
        ("w:cs", LATIN_FONT),
        ("w:eastAsia", EAST_ASIAN_FONT),
    ):
        fonts.set(qn(attribute), font)


def _hanging(paragraph: Paragraph, indent, *, hang=None) -> Paragraph:
    """Text at `indent`, the first line's label hanging `hang` to the left, up to a tab."""
    hang = indent if hang is None else hang
    paragraph.paragraph_format.left_indent = indent
    paragraph.paragraph_format.first_line_indent = -hang
    paragraph.paragraph_format.tab_stops.add_tab_stop(indent)
    return paragraph


def _border(target, side: str, *, color: str = "111111") -> None:
    """A single line on one side of a paragraph or paragraph style."""
    ppr = target._p.get_or_add_pPr() if isinstance(target, Paragraph) else (
        target.element.get_or_add_pPr()
    )
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.insert_element_before(borders, *_AFTER_PBDR)
    line = OxmlElement(f"w:{side}")
    line.set(qn("w:val"), "single")
    line.set(qn("w:sz"), "6")
    line.set(qn("w:space"), "4")
    line.set(qn("w:color"), color)
    borders.append(line)


def _field(paragraph: Paragraph, instruction: str) -> None:
    """A Word field (PAGE, NUMPAGES) that the viewer fills in as it lays out the pages."""
    code = OxmlElement("w:instrText")
    code.set(qn("xml:space"), "preserve")
    code.text = f" {instruction} "
    for node in (_field_char("begin"), code, _field_char("separate")):
        paragraph.add_run()._r.append(node)
    paragraph.add_run("1")  # shown until the viewer updates the field
    paragraph.add_run()._r.append(_field_char("end"))


def _field_char(kind: str):
    node = OxmlElement("w:fldChar")
    node.set(qn("w:fldCharType"), kind)
    return node


def _with_fixed_timestamps(data: bytes) -> bytes:
    """Rewrite the zip with fixed member times, so the same draft gives the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(member, source.read(info.filename))
    return out.getvalue()
