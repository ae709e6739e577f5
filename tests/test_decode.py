from __future__ import annotations

import codecs
import gzip

import pytest

from newsdrop.transforms.decode import Decoded, Rejected, RejectReason, decode, has_mojibake_hint

TEXT = "Prices rose – by 3% – in “the market’s” best week.\n\nHeadline one\nHeadline two\n"


def decoded(raw: bytes) -> Decoded:
    outcome = decode(raw)
    assert isinstance(outcome, Decoded), outcome
    return outcome


@pytest.mark.parametrize("raw", [b"", b"   ", b"\n\r\n\t ", codecs.BOM_UTF8 + b"  \n"])
def test_nothing_but_whitespace_is_empty(raw: bytes) -> None:
    outcome = decode(raw)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "empty"


@pytest.mark.parametrize(
    ("bom", "codec", "name"),
    [
        (codecs.BOM_UTF8, "utf-8", "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
        (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    ],
)
def test_byte_order_mark_decides_before_the_nul_sniff(bom: bytes, codec: str, name: str) -> None:
    result = decoded(bom + TEXT.encode(codec))
    assert result.text == TEXT
    assert result.encoding == name
    assert result.warnings == ()


@pytest.mark.parametrize(
    "raw",
    [
        gzip.compress(TEXT.encode()),
        b"\x89PNG\r\n\x1a\n" + b"rest",
        b"%PDF-1.7 hello",
        b"PK\x03\x04zipdata",
        b"\xff\xd8\xff\xe0jpeg",
        b"GIF89a....",
        b"plain text with a \x00 NUL inside",
    ],
)
def test_binary_is_rejected(raw: bytes) -> None:
    outcome = decode(raw)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "binary"


def test_strict_utf8_has_no_warning() -> None:
    result = decoded(TEXT.encode("utf-8"))
    assert (result.text, result.encoding, result.warnings) == (TEXT, "utf-8", ())


def test_cp1252_is_detected_with_a_warning() -> None:
    text = "Le prix a augmenté de 5 € – c’est « énorme », dit-il. " * 3
    result = decoded(text.encode("cp1252"))
    assert result.text == text
    assert "non_utf8" in result.warnings


def test_a_lone_latin1_byte_reads_as_cp1252() -> None:
    result = decoded(b"The deal was worth \xa3600m to the firm, analysts said.")
    assert result.encoding in {"cp1252", "windows-1252"}
    assert result.warnings == ("non_utf8",)
    assert result.text == "The deal was worth £600m to the firm, analysts said."


def test_mojibake_is_repaired_and_real_curly_quotes_stay() -> None:
    good = "He’s back – it’s done."
    broken = good.encode("utf-8").decode("cp1252")
    result = decoded(f"{broken}\n{good}\n".encode())
    assert result.text == f"{good}\n{good}\n"
    assert "mojibake_repaired" in result.warnings


def test_clean_text_never_reaches_ftfy() -> None:
    assert not has_mojibake_hint(TEXT)
    assert not has_mojibake_hint("《疯狂小事》上海发布，全角标点！")
    assert has_mojibake_hint("the worldâ€™s")


def test_ftfy_other_fixes_stay_off() -> None:
    # HTML entities, full-width punctuation and curly quotes are real text here.
    text = "A &amp; B say “hi”！ ﬁne"
    assert decoded(f"{text}\nthe worldâ€™s\n".encode()).text.splitlines()[0] == text


def test_reject_reasons_are_the_stored_strings() -> None:
    # rejected_drops.reason holds these values; renaming one breaks stored data and queries.
    assert {reason.value for reason in RejectReason} == {"empty", "undecodable", "binary", "too_large", "unreadable",
                                                         "name_not_utf8"}
    outcome = decode(b"")
    assert isinstance(outcome, Rejected)
    assert outcome.reason is RejectReason.EMPTY
