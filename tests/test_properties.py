"""Properties of the reader over generated drops: nothing lost, nothing twice, same answer twice."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsdrop.transforms import Rejected, decode, read_drop
from newsdrop.transforms.lines import clean_lines
from newsdrop.transforms.sections import lay_out

WORDS = st.sampled_from(["Storm", "warning", "it", "rose.", "U.S.", "4", "hours", "ago", "“quoted”", "1", "x" * 260,
                         "中文。", "\u200b", "\u00a0", "\t", "Café", "...", "end."])
LINE = st.lists(WORDS, max_size=8).map(" ".join)
BREAK = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def drop_texts(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.one_of(LINE, st.just(""), st.just("   ")), max_size=40))
    return "".join(line + draw(BREAK) for line in lines)


@given(st.lists(st.one_of(LINE, st.just("")), max_size=40))
def test_every_non_blank_line_ends_up_in_exactly_one_place(texts: list[str]) -> None:
    lines = clean_lines("\n".join(texts))
    sections = lay_out(lines)
    placed = [*sections.paragraphs, *sections.headlines, *(dropped.text for dropped in sections.dropped)]
    if sections.title is not None:
        placed.append(sections.title)
    assert sorted(placed) == sorted(line for line in lines if line)
    assert all(lines[dropped.line_no - 1] == dropped.text for dropped in sections.dropped)
    # In order: the title, the paragraphs, then the headline section (its headlines and dropped lines).
    in_line_order = [line for line in lines if line]
    article = [sections.title] if sections.title is not None else []
    article += sections.paragraphs
    assert in_line_order[: len(article)] == article


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(drop_texts(), st.sampled_from(["utf-8", "utf-16", "cp1252"]))
def test_read_drop_conserves_lines_and_is_deterministic(text: str, encoding: str) -> None:
    raw = text.encode(encoding, errors="replace")
    first, second = read_drop(raw), read_drop(bytes(raw))
    assert first == second
    if isinstance(first, Rejected):
        assert first.reason in {"empty", "binary", "undecodable"}
        return
    decoded = decode(raw)
    assert not isinstance(decoded, Rejected)
    non_blank = sum(1 for line in clean_lines(decoded.text) if line)
    placed = len(first.paragraphs) + len(first.headlines) + len(first.dropped_lines) + (first.title is not None)
    assert placed == non_blank
    assert all(paragraph for paragraph in first.paragraphs)
    assert all(headline for headline in first.headlines)


@given(st.binary(max_size=2000))
def test_any_bytes_are_read_or_rejected(raw: bytes) -> None:
    outcome = read_drop(raw)
    assert outcome == read_drop(raw)
    if isinstance(outcome, Rejected):
        assert outcome.reason in {"empty", "binary", "undecodable"}
