from __future__ import annotations

import pytest

from newsdrop.transforms.sections import (
    DroppedLineReason,
    ends_in_full_stop,
    ends_sentence,
    is_headline_like,
    lay_out,
    longest_gap,
    non_blank,
    split_blocks,
)


def lines_of(*texts: str) -> list[str]:
    return list(texts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It rose.", True),
        ("He said “it rose.”", True),
        ("It rose.)", True),
        ("Made in the U.S.", False),
        ("And then...", False),
        ("No full stop", False),
        ("中文句子。", True),
        ("हिंदी वाक्य।", True),
        ("اردو جملہ۔", True),
        (".", True),
        # Every script's sentence ends (the contract's revision of §4)
        ("ዜናው ተሰራጨ።", True),  # Ethiopic full stop
        ("သတင်း ထွက်ပြီ။", True),  # Burmese
        ("Լուրը տարածվեց։", True),  # Armenian full stop
        ("Լուրը տարածվեց:", True),  # Armenian typed with a colon
        ("Τι έγινε;", True),  # the Greek question mark U+037E after NFC
        ("何が起きた？", True),
        ("ماذا حدث؟", True),
        ("彼は「終わった。」", True),  # the closing bracket is skipped
        ("「本当に？」", True),
        ("Is it over?\u201d", True),
        ("ข่าววันนี้", False),  # Thai has no terminal
        ("And then…", False),
        ("One, two,", False),
        ("\u201d", False),  # only a closing quote: no end mark
    ],
)
def test_ends_sentence(text: str, expected: bool) -> None:
    assert ends_sentence(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It rose.", True),
        ("ዜናው ተሰራጨ።", True),
        ("သတင်း ထွက်ပြီ။", True),
        ("Is it over?", False),
        ("Τι έγινε;", False),
        ("ماذا حدث؟", False),
        ("It rose!", False),
        ("Made in the U.S.", False),
        ("No mark", False),
    ],
)
def test_ends_in_full_stop(text: str, expected: bool) -> None:
    assert ends_in_full_stop(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Storm warning issued for the north coast", True),
        ("4 hours ago", True),
        ("12", False),
        ("A sentence that ends.", False),
        ("x" * 250, True),
        ("x" * 251, False),
    ],
)
def test_is_headline_like(text: str, expected: bool) -> None:
    assert is_headline_like(text) is expected


def test_trim_and_gap() -> None:
    lines = lines_of("", "a", "", "", "b", "", "c", "", "")
    filled = non_blank(lines)
    assert [lines[index] for index in filled] == ["a", "b", "c"]
    assert longest_gap(filled) == 2  # blank ends are not gaps
    assert non_blank(lines_of("", "")) == [] and longest_gap([]) == 0


def test_blocks_split_only_at_runs_of_at_least_g() -> None:
    lines = lines_of("a", "", "b", "", "", "c")
    filled = non_blank(lines)
    assert [[lines[index] for index in block] for block in split_blocks(filled, 2)] == [["a", "b"], ["c"]]
    assert [[lines[index] for index in block] for block in split_blocks(filled, 1)] == [["a"], ["b"], ["c"]]
    assert len(split_blocks(non_blank(lines_of("a", "b")), 0)) == 1


def test_the_example_layout() -> None:
    sections = lay_out(lines_of("Para one is here.", "Para two is here.", "", "", "Head one", "Head two", "", "", ""))
    assert sections.title is None
    assert list(sections.paragraphs) == ["Para one is here.", "Para two is here."]
    assert list(sections.headlines) == ["Head one", "Head two"]


def test_title_needs_a_blank_line_after_it_and_more_article() -> None:
    sections = lay_out(lines_of("A Title", "", "Body one.", "", "Body two.", "", "", "Head one", "Head two"))
    assert sections.title == "A Title"
    assert list(sections.paragraphs) == ["Body one.", "Body two."]
    no_blank = lay_out(lines_of("A Title", "Body one.", "", "", "Head one", "Head two"))
    assert no_blank.title is None


def test_g1_list_after_one_blank_line_is_the_headline_section() -> None:
    sections = lay_out(lines_of("Body one.", "Body two.", "", "Head one", "Head two", "Head three"))
    assert list(sections.headlines) == ["Head one", "Head two", "Head three"]


def test_g1_single_line_block_is_not_a_headline_block() -> None:
    sections = lay_out(lines_of("Body one.", "", "Lonely line"))
    assert sections.headlines == ()
    assert list(sections.paragraphs) == ["Body one.", "Lonely line"]


def test_first_block_is_always_the_article() -> None:
    sections = lay_out(lines_of("Short Headline Like Body", "", "", "Head one", "Head two"))
    assert list(sections.paragraphs) == ["Short Headline Like Body"]
    assert len(sections.headlines) == 2


def test_section_break_with_sentences_stays_in_the_article() -> None:
    sections = lay_out(lines_of("Part one.", "", "", "Part two.", "More two.", "", "", "Head one", "Head two"))
    assert list(sections.paragraphs) == ["Part one.", "Part two.", "More two."]


def test_rank_numbers_and_long_lines_are_dropped_with_reasons() -> None:
    long_line = "y" * 300
    sections = lay_out(lines_of("Body.", "", "", "1", "Head one", "2", "Head two", long_line, "Head three"))
    assert list(sections.headlines) == ["Head one", "Head two", "Head three"]
    assert [(d.line_no, d.reason) for d in sections.dropped] == [(4, "no_letter"), (6, "no_letter"), (8, "too_long")]


def test_duplicate_headlines_keep_both_positions() -> None:
    sections = lay_out(lines_of("Body.", "", "", "Same", "Other", "Same"))
    assert list(sections.headlines) == ["Same", "Other", "Same"]


def test_body_only_has_no_headlines() -> None:
    sections = lay_out(lines_of("One.", "Two."))
    assert sections.headlines == ()


def test_dropped_line_reasons_are_the_stored_strings() -> None:
    # dropped_lines.reason holds these values.
    assert {reason.value for reason in DroppedLineReason} == {"no_letter", "too_long"}
    sections = lay_out(lines_of("Body.", "", "", "Head one", "12", "x" * 251, "Head two"))
    assert [d.reason for d in sections.dropped] == [DroppedLineReason.NO_LETTER, DroppedLineReason.TOO_LONG]


def test_in_a_headline_section_every_line_with_a_letter_is_a_headline_however_it_ends() -> None:
    sections = lay_out(lines_of("Body.", "", "", "Head one", "Storm closes ferry routes. Services resume on Friday.",
                                "Head two", "Is it over?", "Head three"))  # 3 of 5 headline-like
    assert list(sections.headlines) == ["Head one", "Storm closes ferry routes. Services resume on Friday.",
                                        "Head two", "Is it over?", "Head three"]
    assert sections.dropped == ()


def test_a_question_may_be_a_title_and_a_full_stop_may_not() -> None:
    assert lay_out(lines_of("Who won?", "", "It was close.", "", "Very close.")).title == "Who won?"
    assert lay_out(lines_of("ዜናው ተሰራጨ።", "", "It was close.", "", "Very close.")).title is None
    assert lay_out(lines_of("ماذا حدث؟", "", "It was close.", "", "Very close.")).title == "ماذا حدث؟"
