"""The contract as an A4 PDF with embedded fonts and "Page X of Y" on every page (reportlab).

Longer than 400 lines on purpose: one renderer of one document model (styles, fonts per
character, tables, headers and footers), read top to bottom; split, the page layout would
be spread over files that only make sense together.
"""

from __future__ import annotations

import io
import math
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache, partial
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from contract_assets.documents.rendering import document as wording
from contract_assets.documents.rendering.document import (
    ContractDocument,
    Section,
    build_document,
    registration_time,
)
from contract_assets.documents.rendering.fonts import FontSet, load_font_set
from contract_assets.platform.models import ContractDraft

PAGE_WIDTH, PAGE_HEIGHT = A4
LEFT_MARGIN = RIGHT_MARGIN = 22 * mm
TOP_MARGIN = 20 * mm
BOTTOM_MARGIN = 22 * mm
TEXT_WIDTH = PAGE_WIDTH - LEFT_MARGIN - RIGHT_MARGIN
CLAUSE_INDENT = 10 * mm  # clause text aligns after "12."
ITEM_INDENT = 9 * mm  # "(iv)" hangs in this much more
LABEL_WIDTH = 48 * mm  # the label column of the cover tables
INK = colors.HexColor("#111111")
MUTED = colors.HexColor("#555555")
RULE = colors.HexColor("#999999")
REVIEW_RED = colors.HexColor("#b00020")


def render_pdf(
    draft: ContractDraft,
    *,
    effective_date: date | None,
    registered_at: datetime,
    review: bool = False,
) -> bytes:
    """The contract as PDF bytes: A4, fonts embedded, page numbers, signature blocks; its
    CreationDate and ModDate are `registered_at` (the revision's registration time).

    Raises fonts.MissingGlyphError naming every character that no available font covers.
    """
    doc = build_document(draft, effective_date=effective_date, review=review)
    fonts = load_font_set()
    fonts.check_covered(_nfc(text) for text in doc.all_text())
    layout = _Layout(fonts, _styles(fonts))

    # Zero frame padding: tables and paragraphs then share the page margins exactly.
    frame = Frame(
        LEFT_MARGIN, BOTTOM_MARGIN, TEXT_WIDTH, PAGE_HEIGHT - TOP_MARGIN - BOTTOM_MARGIN,
        leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="text",
    )  # fmt: skip
    page = PageTemplate(
        "page", frames=[frame], onPage=partial(_decorate_page, layout=layout, doc=doc)
    )
    buffer = io.BytesIO()
    template = BaseDocTemplate(
        buffer,
        pagesize=A4,
        pageTemplates=[page],
        title=_nfc(doc.title),
        author=_nfc(doc.metadata_author),
        subject=_nfc(doc.document_id) + (f" ({wording.REVIEW_MARK})" if review else ""),
        creator="contract_assets",
        lang="en",
        initialFontName=fonts.regular.name,  # else reportlab references unembedded Helvetica
        # Same draft, same bytes: no random id, and the dates are the registration time.
        invariant=True,
    )
    template.build(
        layout.story(doc),
        canvasmaker=partial(
            _NumberedCanvas, layout=layout, footer=_nfc(doc.footer),
            dated=registration_time(registered_at),
        ),
    )
    return buffer.getvalue()


def _nfc(text: str) -> str:
    # reportlab does no glyph shaping: composed characters render better than combining marks.
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    heading: ParagraphStyle
    clause_heading: ParagraphStyle
    body: ParagraphStyle
    lines: ParagraphStyle
    item: ParagraphStyle
    plain: ParagraphStyle
    small: ParagraphStyle
    banner: ParagraphStyle


@lru_cache(maxsize=4)
def _styles(fonts: FontSet) -> _Styles:
    regular, bold = fonts.regular.name, fonts.bold.name
    body = ParagraphStyle(
        "body", fontName=regular, fontSize=10, leading=14.2, textColor=INK,
        leftIndent=CLAUSE_INDENT, spaceAfter=5, alignment=TA_JUSTIFY,
    )  # fmt: skip
    return _Styles(
        title=ParagraphStyle(
            "title", fontName=bold, fontSize=16, leading=21, alignment=TA_CENTER,
            spaceBefore=4, spaceAfter=14, textColor=INK,
        ),
        heading=ParagraphStyle(
            "heading", fontName=bold, fontSize=10.5, leading=14, textColor=INK,
            spaceBefore=10, spaceAfter=2,
        ),
        clause_heading=ParagraphStyle(
            "clause_heading", parent=body, fontName=bold, alignment=0, spaceBefore=7,
            spaceAfter=3, bulletFontName=bold, bulletIndent=0, keepWithNext=1,
        ),
        body=body,
        # A block laid out line by line (an SOW deliverable): ragged lines, not stretched ones.
        lines=ParagraphStyle("lines", parent=body, alignment=0),
        item=ParagraphStyle(
            "item", parent=body, leftIndent=CLAUSE_INDENT + ITEM_INDENT,
            bulletIndent=CLAUSE_INDENT, bulletFontName=regular, spaceAfter=3,
        ),
        plain=ParagraphStyle("plain", parent=body, leftIndent=0, alignment=0, spaceAfter=3),
        small=ParagraphStyle(
            "small", parent=body, leftIndent=0, alignment=0, fontSize=8, leading=10,
            textColor=MUTED, spaceAfter=0,
        ),
        banner=ParagraphStyle(
            "banner", parent=body, leftIndent=0, alignment=TA_CENTER, textColor=REVIEW_RED,
            spaceAfter=0,
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class _Layout:
    fonts: FontSet
    styles: _Styles

    def markup(self, text: str, *, bold: bool = False) -> str:
        """Paragraph markup that shows `text` literally, each run in a font that has it."""
        # Styles use the regular face (headings the bold one, which then repeats harmlessly).
        return "".join(
            escape(run)
            if face is self.fonts.regular
            else f'<font name="{face.name}">{escape(run)}</font>'
            for face, run in self.fonts.runs(_nfc(text), bold=bold)
        )

    def para(self, text: str, style: ParagraphStyle, *, bold: bool = False, **kw) -> Paragraph:
        return Paragraph(self.markup(text, bold=bold), style, **kw)

    def story(self, doc: ContractDocument) -> list[Flowable]:
        s = self.styles
        story: list[Flowable] = []
        if doc.review:
            story += [self._review_banner(), Spacer(1, 6 * mm)]
        story.append(self.para(doc.title, s.title))

        story.append(self._heading(wording.PARTIES_HEADING))
        party_count = len(doc.signatures)
        party_rows = [
            [
                self.para(label, s.plain, bold=True),
                *(self.para(value, s.plain, bold=row == 0) for value in values),
            ]
            for row, (label, values) in enumerate(doc.parties)
        ]
        party_width = (TEXT_WIDTH - LABEL_WIDTH) / party_count
        story.append(self._grid(party_rows, [LABEL_WIDTH, *[party_width] * party_count]))

        story.append(self._heading(wording.KEY_TERMS_HEADING))
        term_rows = [
            [self.para(label, s.plain, bold=True), self.para(value, s.plain)]
            for label, value in doc.key_terms
        ]
        story.append(self._grid(term_rows, [LABEL_WIDTH, TEXT_WIDTH - LABEL_WIDTH]))

        story.append(self._heading(wording.TERMS_HEADING))
        story += self._sections(doc.sections)
        for annex in doc.annexes:
            story.append(PageBreak())
            story.append(self._heading(annex.heading))
            story += self._sections(annex.sections)

        story.append(CondPageBreak(95 * mm))
        story.append(
            KeepTogether(
                [
                    self._heading(wording.SIGNATURES_HEADING),
                    self.para(wording.SIGNATURES_INTRO, s.plain),
                    Spacer(1, 4 * mm),
                    self._signature_table(doc),
                ]
            )
        )
        return story

    def _sections(self, sections: tuple[Section, ...]) -> list[Flowable]:
        s = self.styles
        flowables: list[Flowable] = []
        for section in sections:
            flowables.append(
                self.para(section.title, s.clause_heading, bulletText=section.number)
            )
            for block in section.blocks:
                if block.marker:
                    style, kw = s.item, {"bulletText": block.marker}
                else:
                    style, kw = (s.body if len(block.lines) == 1 else s.lines), {}
                markup = "<br/>".join(self.markup(line) for line in block.lines)
                paragraph = Paragraph(markup, style, **kw)
                # A block of lines (one deliverable) reads as a unit: not split over two pages.
                flowables.append(KeepTogether([paragraph]) if len(block.lines) > 1 else paragraph)
        return flowables

    def _heading(self, text: str) -> Flowable:
        # The empty second row is the gap under the rule, inside the one flowable that
        # keepWithNext binds to the text after it.
        table = self._table(
            [[self.para(text, self.styles.heading)], [""]],
            [TEXT_WIDTH],
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ],
            rowHeights=[None, 2.5 * mm],
        )
        table.keepWithNext = True
        return table

    def _grid(self, rows: list[list[Flowable]], widths: list[float]) -> Table:
        """Label/value rows without lines, aligned at the top."""
        return self._table(
            rows,
            widths,
            [
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ],
        )

    def _table(self, rows: list[list], widths: list[float], commands: list[tuple], **kw) -> Table:
        """A left-aligned table; its font is ours even in empty cells (no stray Helvetica)."""
        table = Table(rows, colWidths=widths, hAlign="LEFT", **kw)
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), self.fonts.regular.name),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    *commands,
                ]
            )
        )
        return table

    def _signature_table(self, doc: ContractDocument) -> Table:
        """One block per signatory side by side, in shared rows so that fields line up."""
        s = self.styles
        gap, label_width = 12 * mm, 14 * mm
        count = len(doc.signatures)
        column = (TEXT_WIDTH - gap * (count - 1)) / count
        widths = [w for i in range(count) for w in (label_width, column - label_width, gap)][:-1]
        rows: list[list] = [[""] * len(widths) for _ in range(6)]
        commands: list[tuple] = [("TOPPADDING", (0, 5), (-1, 5), 10)]
        for i, sig in enumerate(doc.signatures):
            c = 3 * i  # this signatory's label column; its value column is c + 1
            rows[0][c] = [
                self.para(wording.SIGNED_FOR, s.plain),
                self.para(sig.party_name, s.plain, bold=True),
            ]
            rows[2][c] = self.para("Signature", s.small)
            rows[3][c:c + 2] = [self.para("Name:", s.plain), self.para(sig.name, s.plain)]
            rows[4][c:c + 2] = [self.para("Title:", s.plain), self.para(sig.title, s.plain)]
            rows[5][c] = self.para("Date:", s.plain)
            commands += [
                *(("SPAN", (c, r), (c + 1, r)) for r in (0, 1, 2)),
                ("LINEBELOW", (c, 1), (c + 1, 1), 0.8, INK),  # the line to sign on
                ("LINEBELOW", (c + 1, 5), (c + 1, 5), 0.8, INK),  # the line to date
                ("VALIGN", (c, 5), (c + 1, 5), "BOTTOM"),
            ]
        return self._table(rows, widths, commands, rowHeights=[None, 16 * mm, *[None] * 4])

    def _review_banner(self) -> Table:
        s = self.styles
        return self._table(
            [
                [self.para(wording.REVIEW_MARK, s.banner, bold=True)],
                [self.para(wording.REVIEW_NOTE, s.banner)],
            ],
            [TEXT_WIDTH],
            [
                ("BOX", (0, 0), (-1, -1), 1.2, REVIEW_RED),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#fff5f5")),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ],
        )


def _decorate_page(canvas: Canvas, _template: BaseDocTemplate, *, layout: _Layout,
                   doc: ContractDocument) -> None:
    """Draw what sits behind every page's text: the review watermark and header."""
    if not doc.review:
        return
    canvas.saveState()
    canvas.setFillColor(REVIEW_RED)
    canvas.setFillAlpha(0.08)
    # Along the page diagonal, sized to fill about two thirds of it.
    diagonal = math.hypot(PAGE_WIDTH, PAGE_HEIGHT)
    width_at_1pt = _text_width(layout.fonts, wording.REVIEW_MARK, size=1, bold=True)
    canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
    canvas.rotate(math.degrees(math.atan2(PAGE_HEIGHT, PAGE_WIDTH)))
    _draw_text(canvas, layout.fonts, 0, -10, wording.REVIEW_MARK,
               size=0.66 * diagonal / width_at_1pt, bold=True, align="center")
    canvas.restoreState()
    canvas.saveState()
    canvas.setFillColor(REVIEW_RED)
    _draw_text(canvas, layout.fonts, PAGE_WIDTH / 2, PAGE_HEIGHT - 11 * mm,
               wording.REVIEW_MARK, size=8, bold=True, align="center")
    canvas.restoreState()


class _NumberedCanvas(Canvas):
    """Holds pages back until the total is known, then writes "Page X of Y" on each."""

    def __init__(self, *args, layout: _Layout, footer: str, dated: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self._layout = layout
        self._footer = footer
        self._pages: list[dict] = []
        # The Info dictionary's CreationDate and ModDate, in place of reportlab's own clock.
        stamp = dated.strftime("D:%Y%m%d%H%M%S+00'00'")
        self.setDateFormatter(lambda *_ignored: stamp)

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(number, total)
            super().showPage()
        super().save()

    def _draw_footer(self, number: int, total: int) -> None:
        fonts = self._layout.fonts
        y = BOTTOM_MARGIN - 10 * mm
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(LEFT_MARGIN, y + 10, PAGE_WIDTH - RIGHT_MARGIN, y + 10)
        self.setFillColor(MUTED)
        _draw_text(self, fonts, LEFT_MARGIN, y, self._footer, size=7.5)
        _draw_text(self, fonts, PAGE_WIDTH - RIGHT_MARGIN, y, f"Page {number} of {total}",
                   size=7.5, align="right")
        self.restoreState()


def _draw_text(canvas: Canvas, fonts: FontSet, x: float, y: float, text: str, *, size: float,
               bold: bool = False, align: str = "left") -> None:
    """Draw one line of text on the canvas, switching fonts per run like Paragraph markup."""
    width = _text_width(fonts, text, size=size, bold=bold)
    x -= {"left": 0, "center": width / 2, "right": width}[align]
    for face, run in fonts.runs(_nfc(text), bold=bold):
        canvas.setFont(face.name, size)
        canvas.drawString(x, y, run)
        x += face.ttfont.stringWidth(run, size)


def _text_width(fonts: FontSet, text: str, *, size: float, bold: bool = False) -> float:
    runs = fonts.runs(_nfc(text), bold=bold)
    return sum(face.ttfont.stringWidth(run, size) for face, run in runs)
