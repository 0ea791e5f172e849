"""Text for the Dagster UI's Markdown metadata (outline, risk, redline, register preview).

User text is data there too: a counterparty called `**Acme** [pay here](https://x)` or a
clause title with `|` or `<img>` must show as typed, not as bold, a link, a broken table or
HTML. CommonMark lets a backslash escape every ASCII punctuation character, so escaping all
of them shows any text literally.
"""

from __future__ import annotations

import re

_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def literal(text: object) -> str:
    """`text` as Markdown that renders exactly as the text, on one line."""
    return _ASCII_PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))
