"""Today's reader, frozen as the reference for the fast one (issue #10).

A copy of newsdrop.transforms (decode, lines, sections, keys, read) as it was
before the fast path, with the package's data types. Never edit it to make a
test pass: the fast reader must give exactly what this gives, on every input.
It changes only with the contract: the revision of DROP_FORMAT.md §4 (every
script's sentence ends, issue #18) is written here from the contract's words, with
the `regex` package's Unicode properties where the fast reader has its own tables.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass

import chardet
import ftfy
import regex

from newsdrop.transforms.decode import Decoded, Rejected, RejectReason
from newsdrop.transforms.read import Reading
from newsdrop.transforms.sections import DroppedLine, DroppedLineReason


@dataclass(frozen=True, slots=True)
class Line:
    no: int
    text: str


@dataclass(frozen=True, slots=True)
class Sections:
    title: Line | None
    paragraphs: tuple[Line, ...]
    headlines: tuple[Line, ...]
    dropped: tuple[DroppedLine, ...]

# --- decode ---
# Longest marks first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
)

_BINARY_SIGNATURES: tuple[bytes, ...] = (
    b"\x1f\x8b",  # gzip
    b"\x89PNG\r\n\x1a\n",
    b"%PDF-",
    b"PK\x03\x04",
    b"PK\x05\x06",  # empty zip
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
)

# Answers that mean "some single-byte Latin text": WHATWG decodes all of them as cp1252.
_LATIN1_ANSWERS = frozenset({"ascii", "iso-8859-1", "iso8859-1", "latin-1", "latin1"})

# The byte shapes UTF-8 takes when it was read as cp1252 or latin-1: a lead byte
# (Â..ï) rendered as a letter, followed by a continuation byte rendered as
# punctuation, a symbol or a C1 control; or a bare C1 control, which is a cp1252
# byte read as latin-1. Clean text almost never has them, so ftfy (3-14 MB/s)
# only runs where this finds something.
_MOJIBAKE_HINT = re.compile(
    "[\u0080-\u009f]|[\u00c2-\u00ef][\u0080-\u00bf\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a"
    "\u20ac\u2122\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc]"
)

# Only the encoding fixer: ftfy's other defaults rewrite real text (curly quotes,
# full-width CJK punctuation, HTML entities).
_FIX_ENCODING_ONLY = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=False,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)

WARNING_NON_UTF8 = "non_utf8"
WARNING_MOJIBAKE = "mojibake_repaired"


def decode(raw: bytes) -> Decoded | Rejected:
    """Turn a drop's bytes into text, or say why they are not a drop."""
    if not raw.strip():
        return Rejected(RejectReason.EMPTY, f"{len(raw)} bytes, none of them text")

    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                detail = f"{name} byte-order mark, but {exc.reason} at byte {exc.start}"
                return Rejected(RejectReason.UNDECODABLE, detail)
            if not text.strip():
                return Rejected(RejectReason.EMPTY, f"{name} byte-order mark and nothing else")
            return _repair_mojibake(Decoded(text, name))

    for signature in _BINARY_SIGNATURES:
        if raw.startswith(signature):
            return Rejected(RejectReason.BINARY, f"starts with the signature {signature[:4].hex(' ')}")
    if b"\x00" in raw:
        return Rejected(RejectReason.BINARY, f"NUL byte at offset {raw.index(0)} and no byte-order mark")

    try:
        return _repair_mojibake(Decoded(raw.decode("utf-8"), "utf-8"))
    except UnicodeDecodeError:
        pass
    return _detect(raw)


def _detect(raw: bytes) -> Decoded | Rejected:
    answers = [guess.get("encoding") for guess in chardet.detect_all(raw)]
    candidates: list[str] = []
    for answer in answers:
        if not answer:
            continue
        name = answer.lower()
        candidates.append("cp1252" if name in _LATIN1_ANSWERS else name)
    candidates.append("cp1252")
    for name in dict.fromkeys(candidates):
        try:
            text = raw.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        return Decoded(text, name, (WARNING_NON_UTF8,))
    tried = ", ".join(dict.fromkeys(candidates))
    return Rejected(RejectReason.UNDECODABLE, f"not UTF-8, and no detected encoding decodes it (tried {tried})")


def has_mojibake_hint(text: str) -> bool:
    return _MOJIBAKE_HINT.search(text) is not None


def _repair_mojibake(decoded: Decoded) -> Decoded:
    if not has_mojibake_hint(decoded.text):
        return decoded
    # Line by line, as ftfy itself does: one line's mojibake must not decide how a
    # clean line with real curly quotes is read.
    fixed = "".join(ftfy.fix_encoding(line, _FIX_ENCODING_ONLY) if has_mojibake_hint(line) else line
                    for line in decoded.text.splitlines(keepends=True))
    if fixed == decoded.text:
        return decoded
    return Decoded(fixed, decoded.encoding, (*decoded.warnings, WARNING_MOJIBAKE))


# --- lines ---
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


# --- sections ---
MAX_HEADLINE_CHARS = 250
# Closing quotes and brackets at a line's end, and the characters that follow them there.
_CLOSERS_AT_END = regex.compile(r"[\"'\p{Pe}\p{Pi}\p{Pf}]+$")
_TERMINAL = regex.compile(r"[\p{Sentence_Terminal};:]")
# Terminals whose Unicode 17.0 name has QUESTION, EXCLAMATION or INTERROBANG. Python 3.11's
# unicodedata (Unicode 14.0) names all but two, added in Unicode 17.0.
_NAMED_IN_UNICODE_17 = {"\u2e60": "WIGGLY EXCLAMATION MARK", "\u2e61": "INVERTED WIGGLY EXCLAMATION MARK"}


_ASCII_LETTER = re.compile(r"[A-Za-z]")


def has_letter(text: str) -> bool:
    if text.isascii():
        return _ASCII_LETTER.search(text) is not None
    return any(ch.isalpha() for ch in text)


def end_mark_core(text: str) -> str:
    """The line less the closing quotes and brackets at its end: its last character is the end mark."""
    return _CLOSERS_AT_END.sub("", text)


def ends_sentence(text: str) -> bool:
    core = end_mark_core(text)
    if not core or not _TERMINAL.fullmatch(core[-1]):
        return False
    if core[-1] != "." or len(core) == 1:
        return True
    before = core[-2]
    return not (before.isupper() or before == ".")


def asks_or_exclaims(mark: str) -> bool:
    name = unicodedata.name(mark, "") or _NAMED_IN_UNICODE_17.get(mark, "")
    return mark == ";" or any(word in name for word in ("QUESTION", "EXCLAMATION", "INTERROBANG"))


def ends_in_full_stop(text: str) -> bool:
    return ends_sentence(text) and not asks_or_exclaims(end_mark_core(text)[-1])


def is_headline_like(text: str) -> bool:
    return len(text) <= MAX_HEADLINE_CHARS and has_letter(text) and not ends_sentence(text)


def is_headline(text: str) -> bool:
    """A line of the headline section with a letter and at most 250 characters, however it ends."""
    return len(text) <= MAX_HEADLINE_CHARS and has_letter(text)


def why_not_headline(text: str) -> DroppedLineReason:
    if not has_letter(text):
        return DroppedLineReason.NO_LETTER
    return DroppedLineReason.TOO_LONG


def trim_blank_ends(lines: list[Line]) -> list[Line]:
    start = 0
    while start < len(lines) and not lines[start].text:
        start += 1
    end = len(lines)
    while end > start and not lines[end - 1].text:
        end -= 1
    return lines[start:end]


def longest_gap(lines: list[Line]) -> int:
    """g: the longest run of blank lines between two non-blank lines."""
    longest = run = 0
    for line in lines:
        if line.text:
            longest = max(longest, run)
            run = 0
        else:
            run += 1
    return longest


def split_blocks(lines: list[Line], gap: int) -> list[list[Line]]:
    """Split at every run of at least `gap` blank lines; shorter runs stay inside a block."""
    if gap == 0:
        return [lines] if lines else []
    blocks: list[list[Line]] = []
    current: list[Line] = []
    blanks: list[Line] = []
    for line in lines:
        if not line.text:
            blanks.append(line)
            continue
        if blanks:
            if len(blanks) >= gap:
                blocks.append(current)
                current = []
            else:
                current.extend(blanks)
            blanks = []
        current.append(line)
    if current:
        blocks.append(current)
    return blocks


def is_headline_block(block: list[Line], gap: int) -> bool:
    lettered = [line.text for line in block if has_letter(line.text)]
    headline_like = sum(1 for text in lettered if is_headline_like(text))
    if headline_like * 2 <= len(lettered):
        return False
    return not (gap == 1 and sum(1 for line in block if line.text) < 2)


def lay_out(lines: list[Line]) -> Sections:
    """Decide which clean lines are the title, paragraphs, headlines and dropped lines."""
    lines = trim_blank_ends(lines)
    gap = longest_gap(lines)
    blocks = split_blocks(lines, gap)

    first_headline_block = len(blocks)
    while first_headline_block > 1 and is_headline_block(blocks[first_headline_block - 1], gap):
        first_headline_block -= 1

    article = [line for block in blocks[:first_headline_block] for line in block]
    headline_section = [line for block in blocks[first_headline_block:] for line in block if line.text]

    headlines = tuple(line for line in headline_section if is_headline(line.text))
    dropped = tuple(
        DroppedLine(line.no, line.text, why_not_headline(line.text))
        for line in headline_section
        if not is_headline(line.text)
    )

    title: Line | None = None
    body = [line for line in article if line.text]
    if (
        len(body) > 1
        and is_headline(body[0].text)
        and not ends_in_full_stop(body[0].text)
        and not lines[1].text  # lines[0] is body[0]: blank ends were trimmed
    ):
        title, body = body[0], body[1:]
    return Sections(title=title, paragraphs=tuple(body), headlines=headlines, dropped=dropped)


# --- keys ---
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

_FOLD = str.maketrans(
    {
        **{ch: "'" for ch in _SINGLE_QUOTES},
        **{ch: '"' for ch in _DOUBLE_QUOTES},
        **{ch: "-" for ch in _MINUS_SIGNS + DASHES},
        **{ch: None for ch in _REMOVED_FROM_KEYS},
    }
)


def match_text(text: str) -> str:
    """The folded form two texts share when a reader would call them the same."""
    if text.isascii():
        # Fast path: NFKC and casefold change no ASCII but case. The folds change one
        # ASCII character, the backtick (in _SINGLE_QUOTES), which this path keeps: an
        # all-ASCII "it`s" keys as "it`s", not "it's". Known; changing it changes ids.
        return " ".join(text.lower().split())
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


# --- read ---
WARNING_NO_HEADLINES = "no_headlines"


def read_text(decoded: Decoded) -> Reading:
    lines = [Line(no, text) for no, text in enumerate(clean_lines(decoded.text), start=1)]
    sections = lay_out(lines)
    warnings = decoded.warnings if sections.headlines else (*decoded.warnings, WARNING_NO_HEADLINES)
    return Reading(
        encoding=decoded.encoding,
        warnings=warnings,
        title=sections.title.text if sections.title else None,
        paragraphs=tuple(line.text for line in sections.paragraphs),
        headlines=tuple(line.text for line in sections.headlines),
        dropped_lines=sections.dropped,
    )


def read_drop(raw: bytes) -> Reading | Rejected:
    decoded = decode(raw)
    if isinstance(decoded, Rejected):
        return decoded
    return read_text(decoded)
