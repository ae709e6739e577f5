"""The reader's table of sentence ends (transforms/terminals.py) is Unicode's, as `regex` has it."""

from __future__ import annotations

import unicodedata

import regex

from newsdrop.transforms.terminals import (
    CLOSERS,
    CLOSING_PUNCTUATION,
    NOT_FULL_STOPS,
    QUESTION_MARKS,
    SENTENCE_TERMINALS,
    TERMINALS,
)

EVERY_CHARACTER = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)


def test_the_table_is_the_sentence_terminal_property() -> None:
    assert set(regex.findall(r"\p{Sentence_Terminal}", EVERY_CHARACTER)) == SENTENCE_TERMINALS
    assert len(SENTENCE_TERMINALS) == 172  # Unicode 17.0, as the contract counts them
    assert SENTENCE_TERMINALS | {";", ":"} == TERMINALS


def test_question_marks_are_the_terminals_named_so() -> None:
    named = {ch for ch in SENTENCE_TERMINALS
             if any(word in unicodedata.name(ch, "") for word in ("QUESTION", "EXCLAMATION", "INTERROBANG"))}
    # Python 3.11's unicodedata is Unicode 14.0: the two that Unicode 17.0 added are not named in it.
    unnamed = {ch for ch in SENTENCE_TERMINALS if not unicodedata.name(ch, "")}
    assert {"\u2e60", "\u2e61"} <= unnamed  # WIGGLY EXCLAMATION MARK and its inverted form
    assert named | {"\u2e60", "\u2e61"} == QUESTION_MARKS
    assert len(QUESTION_MARKS) == 28
    assert QUESTION_MARKS | {";"} == NOT_FULL_STOPS
    assert unicodedata.normalize("NFC", "\u037e") == ";"  # why ";" asks: the Greek question mark


def test_closing_punctuation_is_categories_pe_pi_and_pf() -> None:
    assert set(regex.findall(r"[\p{Pe}\p{Pi}\p{Pf}]", EVERY_CHARACTER)) == CLOSING_PUNCTUATION
    assert CLOSING_PUNCTUATION | {'"', "'"} == CLOSERS
    assert {"\u300d", "\u300f", "\uff09", "\u00bb", "\u201c", "\u2e63"} <= CLOSERS
