"""Clean lines to the article and headline sections of a drop (DROP_FORMAT.md §4).

Not to be confused with warehouse.layout, which is where files go on disk.

Lines are the clean lines of the decoded text in order, so line i (from 0) is
line number i + 1: every non-blank line can be traced to the one place it ends up.
Each line is judged (letter? headline-like?) at most once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from newsdrop.transforms.terminals import CLOSERS, NOT_FULL_STOPS, TERMINALS

MAX_HEADLINE_CHARS = 250


class DroppedLineReason(StrEnum):
    """Why a line of the headline section is not a headline (stored in dropped_lines.reason)."""

    NO_LETTER = "no_letter"  # e.g. a rank number
    TOO_LONG = "too_long"  # over MAX_HEADLINE_CHARS


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


def has_letter(text: str) -> bool:
    if text.isascii():
        # An ASCII letter is what lower() or upper() changes (two C loops; a regex costs more).
        return text.lower() != text or text.upper() != text
    return any(map(str.isalpha, text))


def end_mark(text: str) -> tuple[str, int]:
    """The line's end mark and its index: its last character once closing quotes and brackets
    (", ' and categories Pe, Pi, Pf) are left off its end; ("", -1) for a line of only those."""
    index = len(text) - 1
    while index >= 0 and text[index] in CLOSERS:
        index -= 1
    return (text[index], index) if index >= 0 else ("", -1)


def ends_sentence(text: str) -> bool:
    """The end mark is a terminal, but not a "." after an upper-case letter (U.S.) or another "."."""
    mark, index = end_mark(text)
    if mark not in TERMINALS:
        return False
    if mark != "." or index == 0:
        return True
    before = text[index - 1]
    return not (before.isupper() or before == ".")


def ends_in_full_stop(text: str) -> bool:
    """Ends a sentence, and not with a question or exclamation mark (";" included)."""
    return ends_sentence(text) and end_mark(text)[0] not in NOT_FULL_STOPS


def is_headline_like(text: str) -> bool:
    return len(text) <= MAX_HEADLINE_CHARS and has_letter(text) and not ends_sentence(text)


def is_headline(text: str) -> bool:
    """In a headline section a line is a headline however it ends: a letter, and not too long."""
    return len(text) <= MAX_HEADLINE_CHARS and has_letter(text)


def why_not_headline(text: str) -> DroppedLineReason:
    """The reason for a line of a headline section that is not a headline."""
    return DroppedLineReason.NO_LETTER if not has_letter(text) else DroppedLineReason.TOO_LONG


def non_blank(lines: Sequence[str]) -> list[int]:
    """The indexes of the non-blank lines (blank lines at either end are then left out)."""
    return [index for index, text in enumerate(lines) if text]


def longest_gap(filled: list[int]) -> int:
    """g: the longest run of blank lines between two non-blank lines (indexes from non_blank)."""
    return max((after - before - 1 for before, after in itertools.pairwise(filled)), default=0)


def split_blocks(filled: list[int], gap: int) -> list[list[int]]:
    """The non-blank lines in blocks, split at every run of at least `gap` blank lines;
    shorter runs stay inside a block."""
    if not filled:
        return []
    if gap == 0:
        return [filled]
    blocks = [[filled[0]]]
    for before, after in itertools.pairwise(filled):
        if after - before - 1 >= gap:
            blocks.append([after])
        else:
            blocks[-1].append(after)
    return blocks


def judge(text: str) -> tuple[bool, bool]:
    """(has a letter, is headline-like): the two facts the layout needs of a line."""
    letter = has_letter(text)
    return letter, letter and len(text) <= MAX_HEADLINE_CHARS and not ends_sentence(text)


def is_headline_block(lines: Sequence[str], block: list[int], gap: int,
                      verdicts: dict[int, tuple[bool, bool]]) -> bool:
    """Judges the block's lines into `verdicts` (each line once per drop)."""
    lettered = headline_like = 0
    for index in block:
        letter, like = verdicts[index] = judge(lines[index])
        lettered += letter
        headline_like += like
    if headline_like * 2 <= lettered:
        return False
    return not (gap == 1 and len(block) < 2)


def lay_out(lines: Sequence[str]) -> Sections:
    """Decide which clean lines are the title, paragraphs, headlines and dropped lines."""
    filled = non_blank(lines)
    gap = longest_gap(filled)
    blocks = split_blocks(filled, gap)
    verdicts: dict[int, tuple[bool, bool]] = {}

    first_headline_block = len(blocks)
    while first_headline_block > 1 and is_headline_block(lines, blocks[first_headline_block - 1], gap, verdicts):
        first_headline_block -= 1

    headlines: list[str] = []
    dropped: list[DroppedLine] = []
    for block in blocks[first_headline_block:]:
        for index in block:
            text = lines[index]
            letter, _like = verdicts[index]  # judged: the section is made of headline blocks
            if letter and len(text) <= MAX_HEADLINE_CHARS:
                headlines.append(text)
            else:
                dropped.append(DroppedLine(index + 1, text, why_not_headline(text)))

    body = [lines[index] for block in blocks[:first_headline_block] for index in block]
    title: str | None = None
    first = body[0] if body else ""
    if (len(body) > 1 and filled[1] > filled[0] + 1  # a blank line follows the first line
            and is_headline(first) and not ends_in_full_stop(first)):  # a question may be a title
        title, body = body[0], body[1:]
    return Sections(title=title, paragraphs=tuple(body), headlines=tuple(headlines), dropped=tuple(dropped))
