"""The 36 fixture drops read exactly as expected.jsonl (the contract's own examples)."""

from __future__ import annotations

import pytest
from conftest import DROPS, expected_readings

from newsdrop.transforms import Rejected, read_drop

CASES = expected_readings()


def test_every_fixture_has_an_expectation() -> None:
    assert {case["file"] for case in CASES} == {path.name for path in DROPS.glob("*.txt")}
    assert len(CASES) == 36  # 26 drops, and 026-035 in many scripts (the contract revision of §4)


@pytest.mark.parametrize("case", CASES, ids=[case["file"] for case in CASES])
def test_fixture_reads_as_expected(case: dict) -> None:
    outcome = read_drop((DROPS / case["file"]).read_bytes())
    if case["status"] == "rejected":
        assert isinstance(outcome, Rejected)
        assert outcome.reason == case["reason"]
        return
    assert not isinstance(outcome, Rejected), outcome
    assert outcome.encoding == case["encoding"]
    assert outcome.title == case["title"]
    assert list(outcome.paragraphs) == case["paragraphs"]
    assert list(outcome.headlines) == case["headlines"]
    assert len(outcome.dropped_lines) == case["dropped_lines"]
