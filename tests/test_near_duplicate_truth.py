"""The planted near-duplicates of issue 34 and how a grouping is scored against them."""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from pathlib import Path

from benchmarks.generate import EDITS, generate_edited
from benchmarks.near_duplicates import scores


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[at:at + 3]) for at in range(len(words) - 2)}


def test_edited_copies_stay_close_to_their_story_and_far_from_others(tmp_path: Path) -> None:
    inbox, truth_file = tmp_path / "inbox", tmp_path / "truth.csv"
    generate_edited(400, inbox, truth_file, corpora=None, stories=40)
    with truth_file.open(encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    assert sorted(row["file_name"] for row in truth) == sorted(path.name for path in inbox.iterdir())
    kinds = {kind for row in truth for kind in row["edits"].split("+") if kind}
    assert kinds == set(EDITS)

    def body(name: str) -> str:
        return (inbox / name).read_text(encoding="utf-8").split("\n\n\n")[0]

    by_story = defaultdict(list)
    for row in truth:
        by_story[row["story"]].append(row)
    first = {story: _shingles(body(rows[0]["file_name"])) for story, rows in by_story.items()}
    edited = []
    for row in truth:
        mine = _shingles(body(row["file_name"]))
        same = len(mine & first[row["story"]]) / len(mine | first[row["story"]])
        if row["edits"]:
            edited.append(same)
        else:
            assert same == 1.0, row
    # Small edits: nearly every copy keeps most of its story's word 3-shingles.
    assert len(edited) > 200
    assert sum(1 for same in edited if same > 0.6) >= 0.95 * len(edited)
    stories = sorted(first)
    for one, other in itertools.pairwise(stories):
        assert len(first[one] & first[other]) / len(first[one] | first[other]) < 0.3


def test_pair_precision_and_recall() -> None:
    story = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2", "f": "3"}
    edits = {name: "words" for name in story}
    perfect = scores(dict(story), story, edits)
    assert (perfect["precision"], perfect["recall"]) == (1.0, 1.0)
    # a, b together; c alone; d, e, f lumped: pairs grouped 1 (a-b) + 3 (d-e, d-f, e-f), of which
    # 2 share a story (a-b, d-e); pairs in truth 3 (a-b, a-c, b-c) + 1 (d-e).
    grouped = {"a": "x", "b": "x", "c": "y", "d": "z", "e": "z", "f": "z"}
    result = scores(grouped, story, edits)
    assert result["precision"] == 2 / 4
    assert result["recall"] == 2 / 4
    assert result["recall_words"] == (1 + 1 + 0 + 1 + 1) / (2 + 2 + 2 + 1 + 1)
