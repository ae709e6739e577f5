"""Match keys and identifiers (DROP_FORMAT.md §6).

Keys are for matching only; stored text is never rewritten with them.
"""

from __future__ import annotations

import hashlib
import unicodedata

_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u0060\u00b4\uff07"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\uff02\u301d\u301e"
_MINUS_SIGNS = "\u2212\u2796\ufe63\uff0d"
# Unicode's dash punctuation (category Pd, Unicode 14); a test checks it against unicodedata.
DASHES = (
    "\u058a\u05be\u1400\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2e17\u2e1a\u2e3a\u2e3b\u2e40\u2e5d"
    "\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d\U00010ead"
)
_INVISIBLE = (
    "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero-width and soft hyphen
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi marks
)

_FOLD = str.maketrans(
    {
        **{ch: "'" for ch in _SINGLE_QUOTES},
        **{ch: '"' for ch in _DOUBLE_QUOTES},
        **{ch: "-" for ch in _MINUS_SIGNS + DASHES},
        **{ch: None for ch in _INVISIBLE},
    }
)


def match_text(text: str) -> str:
    """The folded form two texts share when a reader would call them the same."""
    if text.isascii():
        return " ".join(text.lower().split())  # NFKC, casefold and the folds change no ASCII but case
    return " ".join(unicodedata.normalize("NFKC", text).casefold().translate(_FOLD).split())


def short_hash(text: str, hex_digits: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:hex_digits]


def headline_key(text: str) -> str:
    return match_text(text)


def headline_id(text: str) -> str:
    return short_hash(headline_key(text))


def body_key(paragraphs: list[str] | tuple[str, ...]) -> str:
    """Same value for two bodies that differ only in case, quotes, dashes or spacing."""
    return short_hash("\n".join(match_text(p) for p in paragraphs), 32)


def drop_id(file_name: str, sha256: str) -> str:
    """One id per file version: the same name with the same bytes is the same drop."""
    return short_hash(f"{file_name}\x00{sha256}")
