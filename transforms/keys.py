"""Match keys and identifiers (DROP_FORMAT.md §6).

Keys are for matching only; stored text is never rewritten with them.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

from newsdrop.transforms.lines import DELETED_FROM_STORED_TEXT

_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u0060\u00b4\uff07"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\uff02\u301d\u301e"
# Minus signs that are not dash punctuation (the small and full-width hyphen-minus are, so they are in DASHES).
_MINUS_SIGNS = "\u2212\u2796"
# Unicode's dash punctuation (category Pd, Unicode 14); a test checks it against unicodedata.
DASHES = (
    "\u058a\u05be\u1400\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2e17\u2e1a\u2e3a\u2e3b\u2e40\u2e5d"
    "\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d\U00010ead"
)
# Removed from match keys: what stored text already lacks (lines.py), plus ZWNJ
# and ZWJ, which stored text keeps because they change how a word is written
# (Persian, Indic scripts, emoji) but which must not make two headlines differ.
_REMOVED_FROM_KEYS = DELETED_FROM_STORED_TEXT + "\u200c\u200d"

_FOLDS: dict[str, str] = {
    **{ch: "'" for ch in _SINGLE_QUOTES},
    **{ch: '"' for ch in _DOUBLE_QUOTES},
    **{ch: "-" for ch in _MINUS_SIGNS + DASHES},
    **{ch: "" for ch in _REMOVED_FROM_KEYS},
}
_FOLDABLE = re.compile("[" + "".join(re.escape(ch) for ch in _FOLDS) + "]")
# Headlines recur across drops: the same few thousand texts would be keyed again in every drop.
_CACHED_HEADLINES = 1 << 16


def _fold(text: str) -> tuple[str, bool]:
    """Quotes, dashes and invisibles folded, and whether an invisible was removed. No
    fold makes a character another fold would change, so one replace per character
    present gives what str.translate gives, at a fraction of its cost on long text."""
    removed = False
    for ch in dict.fromkeys(_FOLDABLE.findall(text)):
        text = text.replace(ch, _FOLDS[ch])
        removed = removed or not _FOLDS[ch]
    return text, removed


def match_text(text: str) -> str:
    """The folded form two texts share when a reader would call them the same."""
    if text.isascii():
        # Fast path: NFKC and casefold change no ASCII but case. The folds change one
        # ASCII character, the backtick (in _SINGLE_QUOTES), which this path keeps: an
        # all-ASCII "it`s" keys as "it`s", not "it's". Known; changing it changes ids.
        return " ".join(text.lower().split())
    return " ".join(_fold(unicodedata.normalize("NFKC", text).casefold())[0].split())


def short_hash(text: str, hex_digits: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:hex_digits]


def headline_key(text: str) -> str:
    return match_text(text)


@functools.lru_cache(maxsize=_CACHED_HEADLINES)
def headline_id(text: str) -> str:
    return short_hash(headline_key(text))


def body_key(paragraphs: list[str] | tuple[str, ...]) -> str:
    """Same value for two bodies that differ only in case, quotes, dashes or spacing."""
    return short_hash("\n".join(match_text(p) for p in paragraphs), 32)


def clean_body_key(paragraphs: list[str] | tuple[str, ...], body: str | None = None) -> str:
    """body_key of clean lines (a reading's paragraphs: no line breaks, no whitespace but
    single spaces, none at the ends); `body`, when given, is them joined by line feeds.
    Such a line's match text is its lower case when it is ASCII (most are: then so is the
    whole body, lowered at once), and needs its spacing fixed only when NFKC changed it (a
    compatibility form can hold a space) or an invisible was removed."""
    body = "\n".join(paragraphs) if body is None else body
    if body.isascii():
        return short_hash(body.lower(), 32)
    return short_hash("\n".join(p.lower() if p.isascii() else _clean_match_text(p) for p in paragraphs), 32)


def _clean_match_text(line: str) -> str:
    compatible = unicodedata.is_normalized("NFKC", line)
    folded, removed = _fold((line if compatible else unicodedata.normalize("NFKC", line)).casefold())
    return folded if compatible and not removed else " ".join(folded.split())


def drop_id(file_name: str, sha256: str) -> str:
    """One id per file version: the same name with the same bytes is the same drop."""
    return short_hash(f"{file_name}\x00{sha256}")


def clear_caches() -> None:
    """Forget cached keys (for benchmarks that time a cold reader)."""
    headline_id.cache_clear()
