"""Clean lines to the article and headline sections of a drop (DROP_FORMAT.md §4).

Not to be confused with warehouse.layout, which is where files go on disk.

Lines carry their 1-based line number in the decoded text, so that every
non-blank line can be traced to the one place it ends up.
"""

from __future__ import annotations

import re
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
class Line:
    no: int
    text: str


@dataclass(frozen=True, slots=True)
class DroppedLine:
    line_no: int
    text: str
    reason: DroppedLineReason


@dataclass(frozen=True, slots=True)
class Sections:
    """Where every non-blank line of a drop went: title, paragraph, headline or dropped."""

    title: Line | None
    paragraphs: tuple[Line, ...]
    headlines: tuple[Line, ...]
    dropped: tuple[DroppedLine, ...]


_ASCII_LETTER = re.compile(r"[A-Za-z]")


def has_letter(text: str) -> bool:
    if text.isascii():
        return _ASCII_LETTER.search(text) is not None
    return any(ch.isalpha() for ch in text)


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

    headlines = tuple(line for line in headline_section if is_headline_like(line.text))
    dropped = tuple(
        DroppedLine(line.no, line.text, why_not_headline(line.text))
        for line in headline_section
        if not is_headline_like(line.text)
    )

    title: Line | None = None
    body = [line for line in article if line.text]
    if (
        len(body) > 1
        and is_headline_like(body[0].text)
        and not lines[1].text  # lines[0] is body[0]: blank ends were trimmed
    ):
        title, body = body[0], body[1:]
    return Sections(title=title, paragraphs=tuple(body), headlines=headlines, dropped=dropped)
