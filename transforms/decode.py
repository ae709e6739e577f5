"""Bytes to text (DROP_FORMAT.md §2).

The order of the checks is the contract: empty, byte-order mark, binary sniff,
strict UTF-8, detector. Mojibake repair runs on text decoded by a byte-order mark
or as strict UTF-8, not on text the detector decoded. The size limit is checked
by the caller (warehouse.batch) before the bytes are read (a too-large file is
never read whole); see RejectReason.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from enum import StrEnum

import chardet
import ftfy

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
# only runs where this finds something. One character class finds the candidates
# (a regex alternation over the whole text costs several times more).
_C1_CONTROLS = "\u0080-\u009f"
_LEADS = "\u00c2-\u00ef"
_CONTINUATIONS = frozenset(
    [chr(code) for code in range(0x80, 0xC0)]
    + list("\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u2020\u2021\u2022\u2026\u2030\u2039\u203a"
           "\u20ac\u2122\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc")
)
_MOJIBAKE_CANDIDATE = re.compile(f"[{_C1_CONTROLS}{_LEADS}]")

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

_PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\n"

WARNING_NON_UTF8 = "non_utf8"
WARNING_MOJIBAKE = "mojibake_repaired"


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    warnings: tuple[str, ...] = ()
    # The text's characters other than printable ASCII and line feeds, in order, when
    # decoding found them for free (None: not worked out). Lines use it to skip a pass.
    unusual: str | None = field(default=None, compare=False)


class RejectReason(StrEnum):
    """Why a file is not loaded as a drop (stored in rejected_drops.reason)."""

    EMPTY = "empty"
    UNDECODABLE = "undecodable"
    BINARY = "binary"
    # Decided by the storage layer (warehouse.batch), which never hands these bytes to decode():
    TOO_LARGE = "too_large"  # over the size limit, so never read whole
    UNREADABLE = "unreadable"  # the file could not be read (or its bytes were never kept)
    NAME_NOT_UTF8 = "name_not_utf8"  # read and kept, but its name can't be recorded as it is


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectReason
    detail: str


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
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _detect(raw)
    if not utf8_has_mojibake_hint(raw):
        # The bytes left when printable ASCII and line feeds are deleted are whole
        # UTF-8 sequences: the unusual characters, at a byte-translate's cost.
        return Decoded(text, "utf-8", unusual=raw.translate(None, _PLAIN_BYTES).decode("utf-8"))
    return _repair_mojibake(Decoded(text, "utf-8"))


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
    """A C1 control, or a lead followed by a continuation (see _CONTINUATIONS)."""
    if text.isascii():
        return False
    for found in _MOJIBAKE_CANDIDATE.finditer(text):
        if found.group() <= "\u009f" or text[found.end():found.end() + 1] in _CONTINUATIONS:
            return True
    return False


def utf8_has_mojibake_hint(raw: bytes) -> bool:
    """has_mojibake_hint(raw.decode("utf-8")) for valid UTF-8, found in the bytes: a C1
    control is C2 80..9F, a lead (U+00C2..U+00EF) is C3 82..AF, and bytes.find is a
    memchr, some twenty times faster than a character class over the text."""
    at = raw.find(b"\xc2")
    while at >= 0:
        if raw[at + 1] <= 0x9F:
            return True
        at = raw.find(b"\xc2", at + 2)
    at = raw.find(b"\xc3")
    while at >= 0:
        if 0x82 <= raw[at + 1] <= 0xAF and raw[at + 2:at + 6].decode("utf-8", "ignore")[:1] in _CONTINUATIONS:
            return True
        at = raw.find(b"\xc3", at + 2)
    return False


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
