"""Clean lines to the article and headline sections of a drop (DROP_FORMAT.md §4).

Not to be confused with warehouse.layout, which is where files go on disk.

Lines are the clean lines of the decoded text in order, so line i (from 0) is
line number i + 1: every non-blank line can be traced to the one place it ends up.
Each line is judged (letter? headline-like?) at most once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

MAX_HEADLINE_CHARS = 250
_CLOSERS = "\"'\u201d\u2019\u00bb)]"
_SENTENCE_ENDS = frozenset(".\u3002\u0964\u06d4")


class DroppedLineReason(StrEnum):
    """Why a line of the headline section is not a headline (stored in dropped_lines.reason)."""

    NO_LETTER = "no_letter"  # e.g. a rank number
    TOO_LONG = "too_long"  # over MAX_HEADLINE_CHARS
    ENDS_SENTENCE = "ends_sentence"  # e.g. a standfirst sentence


@dataclass(frozen=True, slots=True)
class DroppedLine:
    line_no: int
    text: str
    reason: DroppedLineReason


@dataclass(frozen=True, slots=True)
class Sections:
    """Where every non-blank line of a drop went: title, paragraph, headline or dropped."""

    title: str | None
    paragraphs: tuple[str, ...]
    headlines: tuple[str, ...]
    dropped: tuple[DroppedLine, ...]


_ASCII_LETTER = re.compile(r"[A-Za-z]")


def has_letter(text: str) -> bool:
    if text.isascii():
        return _ASCII_LETTER.search(text) is not None
    return any(map(str.isalpha, text))


def ends_sentence(text: str) -> bool:
    core = text.rstrip(_CLOSERS)
    if not core or core[-1] not in _SENTENCE_ENDS:
        return False
    if len(core) == 1:
        return True
    before = core[-2]
    return not (before.isupper() or before == ".")


def is_headline_like(text: str) -> bool:
    return len(text) <= MAX_HEADLINE_CHARS and has_letter(text) and not ends_sentence(text)


def why_not_headline(text: str) -> DroppedLineReason:
    """The reason for a line that is not headline-like (the checks of is_headline_like, in order)."""
    if not has_letter(text):
        return DroppedLineReason.NO_LETTER
    if len(text) > MAX_HEADLINE_CHARS:
        return DroppedLineReason.TOO_LONG
    return DroppedLineReason.ENDS_SENTENCE


def non_blank_span(lines: Sequence[str]) -> range:
    """The lines without the blank ones at either end."""
    start, end = 0, len(lines)
    while start < end and not lines[start]:
        start += 1
    while end > start and not lines[end - 1]:
        end -= 1
    return range(start, end)


def longest_gap(lines: Sequence[str], span: range) -> int:
    """g: the longest run of blank lines between two non-blank lines of the span."""
    longest = run = 0
    for index in span:
        if lines[index]:
            longest = max(longest, run)
            run = 0
        else:
            run += 1
    return longest


def split_blocks(lines: Sequence[str], span: range, gap: int) -> list[range]:
    """Split at every run of at least `gap` blank lines; shorter runs stay inside a block."""
    if not span:
        return []
    if gap == 0:
        return [span]
    blocks: list[range] = []
    start = span.start
    blanks = 0
    for index in span:
        if not lines[index]:
            blanks += 1
            continue
        if blanks >= gap:
            blocks.append(range(start, index - blanks))
            start = index
        blanks = 0
    blocks.append(range(start, span.stop))
    return blocks


class _Judged:
    """Whether each line has a letter and is headline-like, worked out once per line."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        self.verdicts: dict[int, tuple[bool, bool]] = {}

    def __call__(self, index: int) -> tuple[bool, bool]:
        verdict = self.verdicts.get(index)
        if verdict is None:
            text = self.lines[index]
            letter = has_letter(text)
            verdict = (letter, letter and len(text) <= MAX_HEADLINE_CHARS and not ends_sentence(text))
            self.verdicts[index] = verdict
        return verdict


def is_headline_block(lines: Sequence[str], block: range, gap: int, judged: _Judged) -> bool:
    lettered = headline_like = non_blank = 0
    for index in block:
        if not lines[index]:
            continue
        non_blank += 1
        letter, like = judged(index)
        lettered += letter
        headline_like += like
    if headline_like * 2 <= lettered:
        return False
    return not (gap == 1 and non_blank < 2)


def lay_out(lines: Sequence[str]) -> Sections:
    """Decide which clean lines are the title, paragraphs, headlines and dropped lines."""
    span = non_blank_span(lines)
    gap = longest_gap(lines, span)
    blocks = split_blocks(lines, span, gap)
    judged = _Judged(lines)

    first_headline_block = len(blocks)
    while first_headline_block > 1 and is_headline_block(lines, blocks[first_headline_block - 1], gap, judged):
        first_headline_block -= 1

    headlines: list[str] = []
    dropped: list[DroppedLine] = []
    section_start = blocks[first_headline_block].start if first_headline_block < len(blocks) else span.stop
    for index in range(section_start, span.stop):
        text = lines[index]
        if not text:
            continue
        if judged(index)[1]:
            headlines.append(text)
        else:
            dropped.append(DroppedLine(index + 1, text, why_not_headline(text)))

    body = [lines[index] for index in range(span.start, section_start) if lines[index]]
    title: str | None = None
    if len(body) > 1 and judged(span.start)[1] and not lines[span.start + 1]:
        # span.start is body[0]: blank ends were trimmed
        title, body = body[0], body[1:]
    return Sections(title=title, paragraphs=tuple(body), headlines=tuple(headlines), dropped=tuple(dropped))
