"""The contract as one standalone HTML page (UTF-8, inline print stylesheet, no script)."""

from __future__ import annotations

from datetime import date

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from contract_assets.documents.rendering import document as wording
from contract_assets.documents.rendering.document import build_document
from contract_assets.platform.models import ContractDraft

# The stylesheet every HTML page the project writes shares, so that they print alike: the
# A4 page with its page counter and the body text (PAGE_CSS), the section and clause headings
# and paragraphs (CLAUSE_CSS). A template puts them in its <style> with {{ page_css }} and
# {{ clause_css }}, and adds its own rules.
PAGE_CSS = Markup(
    """\
  @page {
    size: A4;
    margin: 22mm 20mm 24mm 20mm;
    @bottom-right {
      content: "Page " counter(page) " of " counter(pages); font-size: 8pt; color: #555;
    }
  }
  :root { color: #111; background: #fff; }
  body {
    font-family: "DejaVu Sans", "Segoe UI", Arial, "Noto Sans CJK JP", "Droid Sans Fallback",
      sans-serif;
    font-size: 10.5pt; line-height: 1.5; max-width: 46em; margin: 2em auto; padding: 0 1.5em;
  }"""
)
CLAUSE_CSS = Markup(
    """\
  h2 {
    font-size: 11pt; letter-spacing: 0.04em; margin: 1.8em 0 0.6em;
    border-bottom: 1px solid #999; padding-bottom: 0.15em;
  }
  h3 { font-size: 10.5pt; margin: 1.2em 0 0.3em; display: flex; gap: 0.6em; break-after: avoid; }
  h3 .num { min-width: 2.2em; }
  p { margin: 0 0 0.6em; }
  .clause p { margin-left: 2.8em; text-align: justify; }"""
)

# Autoescape: every value is data, so `{{ x }}` or `<script>` in a clause shows as typed.
# Shared by every HTML page the project writes (contract, review copy, redline).
HTML_ENVIRONMENT = Environment(
    autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    keep_trailing_newline=True,
)
# The head of every page: the policy lets the page load nothing (no script, no fetch, no
# image), only its own inline style, whatever text it shows.
HEAD_META = Markup(
    """\
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="contract_assets">
"""
)
HTML_ENVIRONMENT.globals.update(page_css=PAGE_CSS, clause_css=CLAUSE_CSS, head_meta=HEAD_META)

_TEMPLATE = HTML_ENVIRONMENT.from_string(
    """\
<!DOCTYPE html>
<html lang="en">
<head>
{{ head_meta }}<title>
{{ doc.title }} – {{ doc.document_id }}{% if doc.review %} ({{ w.REVIEW_MARK }}){% endif %}
</title>
<style>
  /* No draft text goes into CSS: the footer with the document id is an element. */
{{ page_css }}
  h1 { font-size: 17pt; text-align: center; margin: 0.4em 0 1.2em; letter-spacing: 0.02em; }
{{ clause_css }}
  .clause p.item { margin-left: 5.2em; text-indent: -2.4em; }
  .clause p.item .marker { display: inline-block; width: 2.4em; text-indent: 0; }
  /* A block laid out line by line (an SOW deliverable): ragged lines, not stretched ones. */
  .clause p.lines { text-align: left; }
  table.cover {
    border-collapse: collapse; width: 100%; margin: 0.2em 0 0.8em; table-layout: fixed;
  }
  table.cover th, table.cover td { padding: 0.2em 1em 0.2em 0; vertical-align: top; }
  table.cover th { width: 30%; text-align: left; font-weight: bold; }
  table.cover td { overflow-wrap: anywhere; }
  section.annex { break-before: page; }
  .signatures { display: flex; gap: 3em; margin-top: 1em; break-inside: avoid; }
  .signature { flex: 1; break-inside: avoid; }
  .signature .for { margin-bottom: 0.2em; }
  .signature .line { border-bottom: 1px solid #111; height: 3.5em; }
  .signature .caption { font-size: 8.5pt; color: #444; margin-bottom: 0.6em; }
  .signature .date { border-bottom: 1px solid #111; min-height: 1.5em; }
  .signature dl {
    display: grid; grid-template-columns: 4.5em 1fr; margin: 0.3em 0; row-gap: 0.2em;
  }
  .signature dt { color: #444; }
  .signature dd { margin: 0; }
  footer {
    margin-top: 3em; border-top: 1px solid #999; padding-top: 0.4em; font-size: 8pt; color: #555;
  }
  .review-banner {
    border: 2px solid #b00020; color: #b00020; background: #fff5f5; padding: 0.6em 1em;
    margin-bottom: 1.5em; text-align: center;
  }
  .review-banner strong { letter-spacing: 0.08em; }
  .watermark {
    position: fixed; top: 45%; left: 0; right: 0; text-align: center; white-space: nowrap;
    transform: rotate(-35deg); font-size: 44pt; font-weight: bold;
    color: rgba(176, 0, 32, 0.09); pointer-events: none; z-index: -1;
  }
  @media print {
    body { max-width: none; margin: 0; padding: 0; }
  }
</style>
</head>
<body{% if doc.review %} class="review"{% endif %}>
{% if doc.review %}
<div class="watermark" aria-hidden="true">{{ w.REVIEW_MARK }}</div>
<div class="review-banner" role="note">
<strong>{{ w.REVIEW_MARK }}</strong><br>{{ w.REVIEW_NOTE }}
</div>
{% endif %}
<main>
<h1>{{ doc.title }}</h1>

<section class="parties">
<h2>{{ w.PARTIES_HEADING }}</h2>
<table class="cover">
{% for label, values in doc.parties %}
{% set names = loop.first %}
<tr><th scope="row">{{ label }}</th>
{% for value in values %}
<td>{% if names %}<strong>{{ value }}</strong>{% else %}{{ value }}{% endif %}</td>
{% endfor %}
</tr>
{% endfor %}
</table>
</section>

<section class="key-terms">
<h2>{{ w.KEY_TERMS_HEADING }}</h2>
<table class="cover">
{% for label, value in doc.key_terms %}
<tr><th scope="row">{{ label }}</th><td>{{ value }}</td></tr>
{% endfor %}
</table>
</section>

{# A block's own lines, each from a new line. #}
{% macro lines(block) %}{% for line in block.lines %}{% if not loop.first %}<br>
{% endif %}{{ line }}{% endfor %}{% endmacro %}
{% macro sections(items, prefix) %}
{% for section in items %}
<section class="clause" id="{{ prefix }}{{ loop.index }}">
<h3><span class="num">{{ section.number }}</span><span>{{ section.title }}</span></h3>
{% for block in section.blocks %}
{% if block.marker %}
<p class="item"><span class="marker">{{ block.marker }}</span>{{ lines(block) }}</p>
{% else %}
<p{% if block.lines | length > 1 %} class="lines"{% endif %}>{{ lines(block) }}</p>
{% endif %}
{% endfor %}
</section>
{% endfor %}
{% endmacro %}

<section class="terms">
<h2>{{ w.TERMS_HEADING }}</h2>
{{ sections(doc.sections, "clause-") }}
</section>

{% for annex in doc.annexes %}
<section class="annex" id="annex-{{ loop.index }}">
<h2>{{ annex.heading }}</h2>
{{ sections(annex.sections, "annex-" ~ loop.index ~ "-clause-") }}
</section>
{% endfor %}

<section class="signature-page">
<h2>{{ w.SIGNATURES_HEADING }}</h2>
<p>{{ w.SIGNATURES_INTRO }}</p>
<div class="signatures">
{% for sig in doc.signatures %}
<div class="signature">
<div class="for">{{ w.SIGNED_FOR }}<br><strong>{{ sig.party_name }}</strong></div>
<div class="line"></div>
<div class="caption">Signature</div>
<dl>
<dt>Name</dt><dd>{{ sig.name }}</dd>
<dt>Title</dt><dd>{{ sig.title }}</dd>
<dt>Date</dt><dd class="date">&nbsp;</dd>
</dl>
</div>
{% endfor %}
</div>
</section>
</main>
<footer>{{ doc.footer }}</footer>
</body>
</html>
"""
)


def render_html(
    draft: ContractDraft, *, effective_date: date | None, review: bool = False
) -> bytes:
    """The contract as a standalone UTF-8 HTML document; all draft text is escaped."""
    doc = build_document(draft, effective_date=effective_date, review=review)
    return _TEMPLATE.render(doc=doc, w=wording).encode("utf-8")
