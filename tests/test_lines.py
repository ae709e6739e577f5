from __future__ import annotations

import pytest

from newsdrop.transforms.lines import clean_line, clean_lines, split_lines

PERSIAN_ZWNJ = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # mi-khaham: ZWNJ keeps the prefix apart
EMOJI_ZWJ = "\U0001f469\u200d\U0001f4bb"  # woman technologist: one emoji joined by ZWJ


def test_only_cr_lf_and_crlf_break_lines() -> None:
    text = "a\r\nb\rc\nd\u2028e\u2029f\x85g\x0ch\x0bi"
    assert split_lines(text) == ["a", "b", "c", "d\u2028e\u2029f\x85g\x0ch\x0bi"]


def test_crlf_is_one_break_not_two() -> None:
    assert split_lines("a\r\n\r\nb") == ["a", "", "b"]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Headline  with   spaces \t", "Headline with spaces"),
        ("Non\u00a0breaking\u3000space", "Non breaking space"),
        ("zero\u200bwidth\u2060joiner\ufeffbom\u00adshy", "zerowidthjoinerbomshy"),
        ("\u200b", ""),
        ("\u00a0\u200b \t", ""),
        ("line\u2028separator\x85nel\x0cff\x0bvt", "line separator nel ff vt"),
        ("(\u200eBBC\u200e)", "(BBC)"),
        (PERSIAN_ZWNJ + " " + EMOJI_ZWJ, PERSIAN_ZWNJ + " " + EMOJI_ZWJ),  # ZWNJ and ZWJ are text: kept
        ("Cafe\u0301", "Café"),  # NFC
        ("《疯狂小事》全角！\u3000", "《疯狂小事》全角！"),  # never NFKC
        ("½ № …", "½ № …"),
        ("plain ascii", "plain ascii"),
        ("ascii   runs  of spaces ", "ascii runs of spaces"),
    ],
)
def test_clean_line(raw: str, clean: str) -> None:
    assert clean_line(raw) == clean


def test_clean_lines_keeps_blank_lines_as_empty_strings() -> None:
    assert clean_lines("a\n \n\u200b\nb") == ["a", "", "", "b"]
