"""Text to clean lines (DROP_FORMAT.md §3)."""

from __future__ import annotations

import re
import unicodedata

# Only CR LF, CR and LF break a line. str.splitlines() also breaks on U+2028,
# U+2029, NEL, FF and VT, which the contract treats as spaces inside a line.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# Invisible characters deleted from stored text rather than turned into a space:
# the contract's four (ZWSP, word joiner, BOM, soft hyphen) and the bidi marks,
# which the expected readings of the RTL fixture show removed from stored text.
# Not ZWNJ/ZWJ (U+200C/U+200D): they are part of the text (Persian and Indic
# spelling, emoji sequences) and are stored; only match keys drop them (keys.py).
DELETED_FROM_STORED_TEXT = (
    "\u200b\u2060\ufeff\u00ad"  # ZWSP, word joiner, BOM, soft hyphen
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi marks
)
_DELETE_INVISIBLE = str.maketrans("", "", DELETED_FROM_STORED_TEXT)

# Every other whitespace or control character becomes a space.
_SPACE_LIKE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_ASCII_CLEAN = re.compile(r"[\x20-\x7e]*")


def split_lines(text: str) -> list[str]:
    return _LINE_BREAK.split(text)


def clean_line(line: str) -> str:
    """One line as it is stored: invisibles gone, spacing collapsed, NFC."""
    if _ASCII_CLEAN.fullmatch(line):
        # Fast path for the common case: printable ASCII needs only spacing fixed.
        return " ".join(line.split())
    line = line.translate(_DELETE_INVISIBLE)
    line = _SPACE_LIKE.sub(" ", line).strip(" ")
    return unicodedata.normalize("NFC", line)


def clean_lines(text: str) -> list[str]:
    """All lines of a text, cleaned; blank lines are kept as empty strings."""
    return [clean_line(line) for line in split_lines(text)]
