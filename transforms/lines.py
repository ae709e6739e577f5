"""Text to clean lines (DROP_FORMAT.md §3).

Most drops need none of the careful work: no invisible or control characters, no
whitespace but spaces and tabs, already NFC. One whole-text check finds those, and
their lines only need their spacing fixed (or nothing at all). Every other text is
cleaned line by line, by the rules as written. Both give the same lines (a test
compares them with the reader as it was before the fast path).
"""

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

# What a line may hold for " ".join(line.split()) to be its whole cleaning: anything
# but the characters above, save space and tab (and the line breaks, split off
# first). Every str.isspace() character is below U+3100, so the range is complete.
_CAREFUL_CHARACTERS = sorted(
    ({chr(code) for code in range(0x3100) if _SPACE_LIKE.fullmatch(chr(code))} | set(DELETED_FROM_STORED_TEXT))
    - {" ", "\t", "\n", "\r"}
)
_NEEDS_CARE = re.compile("[" + "".join(re.escape(ch) for ch in _CAREFUL_CHARACTERS) + "]")


def split_lines(text: str) -> list[str]:
    return text.split("\n") if "\r" not in text else _LINE_BREAK.split(text)


def clean_line(line: str) -> str:
    """One line as it is stored: invisibles gone, spacing collapsed, NFC."""
    if _ASCII_CLEAN.fullmatch(line):
        # Fast path for the common case: printable ASCII needs only spacing fixed.
        return " ".join(line.split())
    line = line.translate(_DELETE_INVISIBLE)
    line = _SPACE_LIKE.sub(" ", line).strip(" ")
    return unicodedata.normalize("NFC", line)


def needs_care(text: str, unusual: str | None = None) -> bool:
    """Whether some line of the text needs more than its spacing fixed. `unusual`: the
    text's characters other than printable ASCII and line feeds (decode's hint), where
    the careful characters would be; it is far shorter than the text."""
    if _NEEDS_CARE.search(text if unusual is None else unusual) is not None:
        return True
    return not (text.isascii() or unicodedata.is_normalized("NFC", text))


def clean_lines(text: str, unusual: str | None = None) -> list[str]:
    """All lines of a text, cleaned; blank lines are kept as empty strings."""
    lines = split_lines(text)
    if needs_care(text, unusual):
        return [clean_line(line) for line in lines]
    # NFC text split at line breaks (which never compose) is NFC line by line, and
    # fixing spaces keeps it so. Single-character tests are fast (memchr); a regex
    # over the whole text costs several times more.
    if "\t" in text or "  " in text:
        return [" ".join(line.split()) for line in lines]
    return [line.strip(" ") for line in lines]


def count_words(clean_text: str) -> int:
    """len(clean_text.split()) for clean lines joined by line feeds (a reading's body),
    whose only whitespace is single spaces between words and the line feeds: counting
    two characters is several times cheaper than making every word a string."""
    if not clean_text:
        return 0
    return clean_text.count(" ") + clean_text.count("\n") + 1
