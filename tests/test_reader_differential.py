"""The fast reader gives exactly what the reader before it gave (issue #10).

tests/reference_reader.py is that reader, frozen. Every comparison covers the
whole reading (encoding, warnings, title, paragraphs, headlines, dropped lines
with their numbers and reasons) and the keys made from it (headline ids, body key).
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
import reference_reader as reference
import regex
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from benchmarks.generate import drop_bytes, load_corpus
from newsdrop.transforms import keys, lines, read
from newsdrop.transforms.decode import Decoded, decode, has_mojibake_hint, utf8_has_mojibake_hint

FIXTURES = Path(__file__).parent / "fixtures" / "drops"


def keyed(read_drop: Callable[[bytes], object], headline_id: Callable[[str], str],
          body_key: Callable[[tuple[str, ...]], str], raw: bytes) -> object:
    """A drop's reading and its keys, as a reader process makes them (warehouse.rows)."""
    reading = read_drop(raw)
    if not isinstance(reading, read.Reading):
        return reading
    return reading, [headline_id(text) for text in reading.headlines], body_key(reading.paragraphs)


def assert_same(raw: bytes) -> None:
    fast = keyed(read.read_drop, keys.headline_id, keys.clean_body_key, raw)
    assert fast == keyed(reference.read_drop, reference.headline_id, reference.body_key, raw), raw[:200]
    if isinstance(fast, tuple):  # the article's word count, as warehouse.rows makes it
        body = "\n".join(fast[0].paragraphs)
        assert lines.count_words(body) == len(body.split())


@pytest.mark.parametrize("path", sorted(FIXTURES.iterdir()), ids=lambda path: path.name)
def test_every_fixture_reads_as_the_reference_reads_it(path: Path) -> None:
    assert_same(path.read_bytes())


def generated_drops_read_as_the_reference_reads_them(count: int) -> None:
    articles, headlines = load_corpus(None)
    for index in range(count):
        assert_same(drop_bytes(index, 7, articles, headlines))


def test_every_drop_of_a_generated_1k_inbox_reads_as_the_reference_reads_it() -> None:
    generated_drops_read_as_the_reference_reads_them(1_000)


@pytest.mark.slow
def test_every_drop_of_a_generated_10k_inbox_reads_as_the_reference_reads_it() -> None:
    generated_drops_read_as_the_reference_reads_them(10_000)


# Characters the fast paths have to notice: controls, invisibles and bidi marks, the
# line and paragraph separators, NEL, NBSP and other spaces, combining marks (NFC),
# compatibility forms (NFKC in keys), curly quotes, dashes, backticks, mojibake
# pieces, CJK and RTL text.
SPECIAL = st.sampled_from(list(
    "\x00\x01\x07\x0b\x0c\x1c\x1f\x7f\x85\x9d\xa0\xad\u061c\u1680\u2000\u2007\u200a\u200b\u200c\u200d\u200e"
    "\u200f\u2028\u2029\u202a\u202e\u202f\u205f\u2060\u2066\u2069\u3000\ufeff\t\r\n "
    "\u0301\u0308\u0327e\u00e9\u00c5\u212b\u1e0b\u0323"
    "\u00bd\u2116\u2026\ufb01\uff21\uff0c\u3002\u00a8\u00b4\ufdfa\u2460"
    "\u2018\u2019\u201c\u201d\u00ab\u00bb`'\"\u2013\u2014\u2212-\u058a"
    "\u00c3\u00a2\u20ac\u2122\u00c2\u00e2\u0080\u0153"
    "\u4e2d\u6587\u05e9\u05dc\u05d5\u05dd\u0627\u0644\u0639\u0631\u0628\u064a\u0629\u06d4\u0964"
    # Sentence ends of every script (DROP_FORMAT.md §4): terminals, questions, the Greek
    # question mark that NFC makes ";", and the closing quotes and brackets skipped before them.
    ".!?;:\u0589\u061f\u0965\u104a\u104b\u1362\u1367\u17d4\u203c\u2047\u2e60\u3002\uff01\uff0e\uff1f\uff61"
    "\u037e\U00011f43\u300d\u300f\uff09\u2039\u203a\u2e21\u0e02\u0e48\u0e32\u1200\u1000"
))
WORD = st.sampled_from(["Storm", "warning", "it", "rose.", "U.S.", "4", "hours", "ago", "Caf\u00e9", "...", "end.",
                        "x" * 260, "\u00e2\u20ac\u2122", "\u00c3\u00a9t\u00c3\u00a9", "na\u00efve"])
PIECE = st.one_of(WORD, SPECIAL, st.text(max_size=6))
LINE = st.lists(PIECE, max_size=10).map(" ".join)
BREAK = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\n\n\n"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    return "".join(draw(LINE) + draw(BREAK) for _ in range(draw(st.integers(0, 30))))


ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "cp1252", "latin-1"])

# The long differential properties run a quarter of their examples in the default run and
# all of them in the slow one.
DEPTH = pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["quick", "full"])


def examples(count: int, full: bool) -> settings:
    return settings(max_examples=count if full else count // 4, suppress_health_check=[HealthCheck.too_slow])


@given(texts(), ENCODINGS)
@example("Body \u2018one\u2019.\r\n\u200b\r\n\r\nHead\u00a0one \n\u2028Head two\t\n", "utf-8")
@example("T\u0065\u0301xt e\u0301.\n\n\nHead \ufb01 one\nHead `two`\n", "utf-8")
def hypothesis_texts_read_as_the_reference_reads_them(text: str, encoding: str) -> None:
    assert_same(text.encode(encoding, errors="replace"))


@DEPTH
def test_hypothesis_texts_read_as_the_reference_reads_them(full: bool) -> None:
    examples(600, full)(hypothesis_texts_read_as_the_reference_reads_them)()


@given(st.binary(max_size=3000))
def test_any_bytes_read_as_the_reference_reads_them(raw: bytes) -> None:
    assert_same(raw)


@DEPTH
def test_clean_lines_and_mojibake_hint_as_the_reference(full: bool) -> None:
    examples(400, full)(clean_lines_and_mojibake_hint_as_the_reference)()


@given(texts())
def clean_lines_and_mojibake_hint_as_the_reference(text: str) -> None:
    assert lines.clean_lines(text) == reference.clean_lines(text)
    plain = bytes(range(0x20, 0x7F)) + b"\n"
    unusual = text.encode("utf-8", "surrogatepass").translate(None, plain).decode("utf-8", "surrogatepass")
    assert lines.clean_lines(text, unusual) == reference.clean_lines(text)
    assert has_mojibake_hint(text) == reference.has_mojibake_hint(text)
    assert utf8_has_mojibake_hint(text.encode("utf-8", "surrogatepass")) == reference.has_mojibake_hint(text)


@DEPTH
def test_body_key_of_any_paragraphs_as_the_reference(full: bool) -> None:
    examples(400, full)(body_key_of_any_paragraphs_as_the_reference)()


@given(st.lists(st.one_of(LINE, texts()), max_size=12))
def body_key_of_any_paragraphs_as_the_reference(paragraphs: list[str]) -> None:
    # Not only clean lines: body_key is a public function.
    assert keys.body_key(paragraphs) == reference.body_key(paragraphs)
    assert [keys.headline_id(p) for p in paragraphs] == [reference.headline_id(p) for p in paragraphs]


def test_the_careful_characters_are_every_character_the_rules_change() -> None:
    """The fast path's one whole-text check misses no character that cleaning changes
    (every code point, not a sample)."""
    missed = []
    for code in range(0x110000):
        ch = chr(code)
        if 0xD800 <= code <= 0xDFFF or ch in "\n\r":
            continue
        line = f"a{ch}b"
        if reference.clean_line(line) != " ".join(line.split()) and unicodedata_is_nfc(line) \
                and not (lines.needs_care(line) and lines.needs_care(line, unusual_of(line))):
            missed.append(hex(code))
    assert missed == []


def test_sentence_ends_are_judged_as_the_reference_judges_them_for_every_character() -> None:
    """The fast reader's tables (transforms/terminals.py, categories by unicodedata) against
    the reference's `regex` properties, for every code point: which characters are skipped
    as closing, which are terminals, which ask or exclaim; then, for each of those, a line
    ending in it (after a letter, after an upper-case letter, before a closing quote)."""
    from newsdrop.transforms import sections

    every = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
    closing = {ch for ch in every if sections.end_mark(f"a{ch}")[1] == 0}
    assert closing == set(regex.findall(r"[\"'\p{Pe}\p{Pi}\p{Pf}]", every))
    terminals = {ch for ch in every if sections.ends_sentence(f"a{ch}")}
    assert terminals == set(reference._TERMINAL.findall(every))
    assert {ch for ch in terminals if not sections.ends_in_full_stop(f"a{ch}")} == \
        {ch for ch in terminals if reference.asks_or_exclaims(ch)}
    differ = [line for ch in sorted(terminals | closing) for line in (f"a{ch}", f"A{ch}", f"a{ch}\u201d", ch)
              if (sections.ends_sentence(line), sections.ends_in_full_stop(line)) !=
              (reference.ends_sentence(line), reference.ends_in_full_stop(line))]
    assert differ == []


def unicodedata_is_nfc(text: str) -> bool:
    return unicodedata.is_normalized("NFC", text)


def test_what_keying_clean_paragraphs_relies_on_holds_for_every_character() -> None:
    """clean_body_key keeps a clean paragraph's spacing unless NFKC changed it or an
    invisible was removed: so casefold must make no whitespace and never drop a
    character (every code point, not a sample)."""
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        folded = ch.casefold()
        assert folded, hex(code)
        if not ch.isspace():
            assert not any(c.isspace() for c in folded), hex(code)


def unusual_of(text: str) -> str:
    """What decode's hint should be, worked out character by character."""
    return "".join(ch for ch in text if not (" " <= ch <= "~" or ch == "\n"))


@DEPTH
def test_utf8_texts_read_as_the_reference_reads_them(full: bool) -> None:
    examples(600, full)(utf8_texts_read_as_the_reference_reads_them)()


@given(texts())
def utf8_texts_read_as_the_reference_reads_them(text: str) -> None:
    """Strict UTF-8 is where decode hands lines its hint of unusual characters."""
    raw = text.encode("utf-8", "surrogatepass")
    assert_same(raw)
    decoded = decode(raw)
    if isinstance(decoded, Decoded) and decoded.unusual is not None:
        assert decoded.unusual == unusual_of(decoded.text)


def test_byte_order_marks_are_read_as_the_reference_reads_them() -> None:
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                       (codecs.BOM_UTF32_BE, "utf-32-be")):
        assert_same(bom + "Body.\n\n\nHead one\nHead two\n".encode(codec))
