from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsdrop.transforms.keys import body_key, drop_id, headline_id, headline_key
from newsdrop.transforms.names import DropName, is_drop_name, name_is_utf8, parse_drop_name, recorded_name


def test_headline_key_folds_what_readers_call_the_same() -> None:
    variants = [
        "Kenny: Treatment of Grace a ‘disgrace’ – to our country",
        "kenny: treatment of grace a 'disgrace' - to our country",
        "KENNY:  Treatment of Grace a \u2018disgrace\u2019 \u2212 to our\u00a0country",
        "Kenny: Treatment of Grace a \u200b‘disgrace’ – to our country\u200f",
    ]
    assert len({headline_key(text) for text in variants}) == 1
    assert len({headline_id(text) for text in variants}) == 1


def test_headline_key_ignores_joiners_that_stored_text_keeps() -> None:
    with_zwnj = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert headline_key(with_zwnj) == headline_key(with_zwnj.replace("\u200c", ""))
    assert headline_key("Caf\u00e9 \u200dnews") == headline_key("Caf\u00e9 news")


def test_headline_key_uses_nfkc_only_for_matching() -> None:
    assert headline_key("ＡＢＣ！") == "abc!"


def test_different_headlines_differ() -> None:
    assert headline_id("Storm warning issued") != headline_id("Storm warning lifted")


def test_body_key_ignores_case_quotes_and_spacing_only() -> None:
    assert body_key(["It’s here.", "Second  para."]) == body_key(["it's here.", "second para."])
    assert body_key(["One.", "Two."]) != body_key(["One. Two."])


def test_drop_id_is_per_name_and_bytes() -> None:
    assert drop_id("a.txt", "00") == drop_id("a.txt", "00")
    assert drop_id("a.txt", "00") != drop_id("b.txt", "00")
    assert drop_id("a.txt", "00") != drop_id("a.txt", "01")


@pytest.mark.parametrize(
    ("name", "is_drop"),
    [
        ("000_e6477bceacb7f61a.txt", True),
        ("NOTES.TXT", True),
        ("article one.txt", True),
        (".hidden.txt", False),
        ("000_e6477bceacb7f61a.txt.part", False),
        ("a.tmp", False),
        ("a.txt.partial", False),
        ("a.txt.crdownload", False),
        ("a.txt~", False),
        ("a.md", False),
    ],
)
def test_is_drop_name(name: str, is_drop: bool) -> None:
    assert is_drop_name(name) is is_drop


def test_parse_drop_name() -> None:
    assert parse_drop_name("000_e6477bceacb7f61a.txt") == DropName(0, "e6477bceacb7f61a")
    assert parse_drop_name("12345_E6477BCEACB7F61A.TXT") == DropName(12345, "e6477bceacb7f61a")
    assert parse_drop_name("12_e6477bceacb7f61a.txt") == DropName(None, None)
    assert parse_drop_name("notes.txt") == DropName(None, None)


def test_dash_table_is_unicode_dash_punctuation() -> None:
    import sys
    import unicodedata

    from newsdrop.transforms.keys import DASHES

    every_dash = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Pd"}
    assert set(DASHES) | {"-"} == every_dash


@given(st.binary(min_size=1, max_size=255))
def test_a_name_of_any_bytes_is_recorded_as_utf8_text(raw: bytes) -> None:
    os_name = raw.decode("utf-8", "surrogateescape")  # as os.listdir gives it on Linux
    shown = recorded_name(os_name)
    shown.encode("utf-8")  # what a table, a log line and a terminal can take
    if name_is_utf8(os_name):
        assert shown == os_name
    else:
        assert "\\x" in shown
    if b"\\" not in raw:  # the escapes name the very bytes (a name with a backslash of its own can't say)
        assert re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), shown.encode("utf-8")) == raw


def test_recorded_name_escapes_exactly_the_bytes_that_are_not_utf8() -> None:
    assert recorded_name(b"caf\xe9 \xff\xfe.txt".decode("utf-8", "surrogateescape")) == "caf\\xe9 \\xff\\xfe.txt"
    assert recorded_name("café 新闻.txt") == "café 新闻.txt"
