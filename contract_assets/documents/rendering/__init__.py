"""Render a ContractDraft into the formats people sign and negotiate in: HTML, PDF, DOCX.

Pure functions, no Dagster and no file writes: each returns the document as bytes. The
three formats carry the same words (see `document.build_document`).
"""

from contract_assets.documents.rendering.docx import render_docx
from contract_assets.documents.rendering.fonts import FontError, MissingGlyphError
from contract_assets.documents.rendering.html import render_html
from contract_assets.documents.rendering.pdf import render_pdf

__all__ = ["FontError", "MissingGlyphError", "render_docx", "render_html", "render_pdf"]
