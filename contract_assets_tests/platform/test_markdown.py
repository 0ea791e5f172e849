"""User text in the Dagster UI's Markdown metadata shows as typed (rendered here with
markdown-it-py, a CommonMark renderer that dagster's own dependencies bring)."""

from __future__ import annotations

import re
import string
from html.parser import HTMLParser

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from contract_assets.platform.markdown import literal
from contract_assets.register.register import markdown_table

MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOSTILE = "**Acme** _x_ [pay here](https://evil.example) <img src=x onerror=alert(1)> | a | `c` &amp; # ~~s~~ \\"


class _Parts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def rendered(markdown: str) -> _Parts:
    parts = _Parts()
    parts.feed(MARKDOWN.render(markdown))
    return parts


@settings(max_examples=200, deadline=None)
@given(st.text(string.printable + "é株–", min_size=1).filter(str.strip))
def test_any_text_renders_as_itself(text):
    parts = rendered(literal(text))
    assert parts.tags == ["p"]
    assert "".join(parts.text).strip() == " ".join(text.split())


def test_hostile_text_is_neither_a_link_nor_html_nor_bold():
    parts = rendered(literal(HOSTILE))
    assert parts.tags == ["p"] and "".join(parts.text).strip() == HOSTILE


def test_register_preview_keeps_each_cell_in_its_column():
    frame = pd.DataFrame({"counterparty": [HOSTILE, "Plain AS"], "stage": ["approved", "rejected"]})
    html = MARKDOWN.render(markdown_table(frame))
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    cells = [re.findall(r"<t[hd]>(.*?)</t[hd]>", row, re.S) for row in rows]
    assert [len(row) for row in cells] == [2, 2, 2]
    first = _Parts()
    first.feed(cells[1][0])
    assert first.tags == [] and "".join(first.text) == HOSTILE
