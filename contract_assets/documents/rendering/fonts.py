"""Where the PDF fonts come from, and which font draws each character.

The PDF embeds TrueType fonts so that every character of a request is visible wherever
the file is opened. DejaVu Sans is the main font; characters it lacks (CJK such as
株式会社) are drawn with the first fallback font that has them. A character that no
available font covers is an error, never a blank or a box.

Fonts are looked up by file name in `$CONTRACT_ASSETS_FONT_DIR` first, then in the usual
system folders. Any other `.ttf` file in `$CONTRACT_ASSETS_FONT_DIR` becomes an extra
fallback, so an operator can add coverage for a script without a code change.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR_ENV = "CONTRACT_ASSETS_FONT_DIR"

SYSTEM_FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/truetype/droid",
    "/usr/share/fonts/google-droid-sans-fonts",
    "/usr/local/share/fonts",
    "/opt/homebrew/share/fonts",
    "/Library/Fonts",
)

# (base of the name registered with reportlab, file names to look for, by preference)
MAIN_REGULAR = ("DejaVuSans", ("DejaVuSans.ttf",))
MAIN_BOLD = ("DejaVuSans-Bold", ("DejaVuSans-Bold.ttf",))
FALLBACKS = (("DroidSansFallback", ("DroidSansFallbackFull.ttf", "DroidSansFallback.ttf")),)


class FontError(ValueError):
    """The PDF cannot be rendered with the fonts available on this machine."""


class MissingGlyphError(FontError):
    """Some characters are covered by no available font; `characters` lists them."""

    def __init__(self, characters: Iterable[str], fonts: Iterable[FontFace]):
        self.characters = tuple(sorted(set(characters)))
        listed = ", ".join(
            f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed character')} ({c!r})"
            for c in self.characters
        )
        font_list = ", ".join(f"{f.name} ({f.path})" for f in fonts)
        super().__init__(
            f"no available font covers {listed}; fonts tried: {font_list}. Put a TrueType "
            f"(.ttf) font that covers these characters into the folder named by "
            f"${FONT_DIR_ENV}, or change the text."
        )


@dataclass(frozen=True, eq=False)  # identity: two faces are equal only if they are one
class FontFace:
    """One TrueType font file, registered with reportlab under `name`."""

    name: str
    path: Path
    ttfont: TTFont
    characters: frozenset[str]  # every character the font has a glyph for

    def covers(self, char: str) -> bool:
        return char in self.characters


@dataclass(frozen=True)
class FontSet:
    """The main regular and bold fonts plus the ordered fallbacks for missing characters."""

    regular: FontFace
    bold: FontFace
    fallbacks: tuple[FontFace, ...]

    @property
    def all_faces(self) -> tuple[FontFace, ...]:
        return (self.regular, self.bold, *self.fallbacks)

    def face_for(self, char: str, *, bold: bool = False) -> FontFace | None:
        """The font that draws `char`: the main face if it can, else the first fallback."""
        main = self.bold if bold else self.regular
        if main.covers(char):
            return main
        return next((f for f in self.fallbacks if f.covers(char)), None)

    def runs(self, text: str, *, bold: bool = False) -> list[tuple[FontFace, str]]:
        """Split `text` into maximal runs that one font draws; raise if a character has none."""
        main = self.bold if bold else self.regular
        if main.characters.issuperset(text):  # the common case, without a loop in Python
            return [(main, text)] if text else []
        faces = [(self.face_for(char, bold=bold), char) for char in text]
        missing = [char for face, char in faces if face is None]
        if missing:
            raise MissingGlyphError(missing, self.all_faces)
        return [
            (face, "".join(char for _, char in run))
            for face, run in groupby(faces, key=itemgetter(0))
        ]

    def check_covered(self, texts: Iterable[str]) -> None:
        """Raise one MissingGlyphError naming every uncovered character in `texts`."""
        in_main = self.regular.characters & self.bold.characters
        missing = {
            char
            for char in set().union(*texts) - in_main
            if self.face_for(char) is None or self.face_for(char, bold=True) is None
        }
        if missing:
            raise MissingGlyphError(missing, self.all_faces)


def load_font_set() -> FontSet:
    """The fonts for the current `$CONTRACT_ASSETS_FONT_DIR`, parsed and registered once."""
    return _load_font_set(os.environ.get(FONT_DIR_ENV, ""))


@lru_cache(maxsize=4)
def _load_font_set(override_dir: str) -> FontSet:
    dirs = [Path(d) for d in (override_dir, *SYSTEM_FONT_DIRS) if d]
    regular = _required_face(*MAIN_REGULAR, dirs)
    bold = _required_face(*MAIN_BOLD, dirs)
    fallbacks = [
        _register(name, path)
        for name, file_names in FALLBACKS
        if (path := _find_font_file(file_names, dirs)) is not None
    ]
    if override_dir:
        known = {regular.path, bold.path, *(f.path for f in fallbacks)}
        for path in sorted(Path(override_dir).glob("*.ttf")):
            if path not in known:
                fallbacks.append(_register(f"Extra-{path.stem}", path))
    return FontSet(regular=regular, bold=bold, fallbacks=tuple(fallbacks))


def _find_font_file(file_names: Iterable[str], dirs: list[Path]) -> Path | None:
    """The first existing `dir/file_name`, by preference of file name, then of folder."""
    for file_name in file_names:
        for folder in dirs:
            if (folder / file_name).is_file():
                return folder / file_name
    return None


def _required_face(name: str, file_names: tuple[str, ...], dirs: list[Path]) -> FontFace:
    path = _find_font_file(file_names, dirs)
    if path is None:
        raise FontError(
            f"font {' or '.join(file_names)} not found in {', '.join(map(str, dirs))}; "
            f"install it (Debian: apt-get install fonts-dejavu-core) or put it into the "
            f"folder named by ${FONT_DIR_ENV}"
        )
    return _register(name, path)


def _register(base_name: str, path: Path) -> FontFace:
    # One registered name per file: the same name never stands for two different files.
    name = f"{base_name}-{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]}"
    try:
        ttfont = pdfmetrics.getFont(name)
    except KeyError:
        try:
            ttfont = TTFont(name, str(path))
        except Exception as exc:  # reportlab raises TTFError, OSError, struct errors...
            raise FontError(f"cannot use font file {path}: {exc}") from exc
        pdfmetrics.registerFont(ttfont)
        # reportlab keeps the first font of a PostScript name; draw with what it will use.
        ttfont = pdfmetrics.getFont(name)
    characters = frozenset(map(chr, ttfont.face.charToGlyph))
    return FontFace(name=name, path=path, ttfont=ttfont, characters=characters)
