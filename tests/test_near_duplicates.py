"""Near-duplicate clusters (issue 34): every loaded drop in one, kept current batch by batch."""

from __future__ import annotations

import random
import signal
import string
from pathlib import Path

import pyarrow as pa
from helpers import ingest, query, rebuild
from test_crash import assert_consistent, newsdrop_run

from newsdrop import api
from newsdrop.transforms.similarity import THRESHOLD, signatures, similarity, sketches
from newsdrop.warehouse.faults import FAULT_ENV
from newsdrop.warehouse.layout import DataLayout

HEADLINES = "\n\n\nAnother story on the page\nAnd one more\n"


def _words(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9))) for _ in range(count)]


def _drop(inbox: Path, number: int, words: list[str]) -> str:
    inbox.mkdir(parents=True, exist_ok=True)
    name = f"{number:03d}_{number:016x}.txt"
    (inbox / name).write_text(" ".join(words) + ".\n" + HEADLINES, encoding="utf-8")
    return name


def _estimate(left: list[str], right: list[str]) -> float:
    rows = sketches(signatures(pa.array([" ".join(left) + ".", " ".join(right) + "."])))
    return float(similarity(rows[:1], rows[1:])[0])


def _clusters(data: Path) -> dict[str, tuple[int, float, str]]:
    """file name -> (cluster_id, similarity, the first drop's file name)."""
    return {name: (cluster, similar, first) for name, cluster, similar, first in query(data, """
        SELECT d.file_name, n.cluster_id, n.similarity, f.file_name
        FROM near_duplicates AS n JOIN drops AS d USING (drop_id) JOIN drops AS f ON f.drop_id = n.first_drop_id""")}


def _groups(data: Path) -> set[frozenset[str]]:
    found: dict[int, set[str]] = {}
    for name, (cluster, _similar, _first) in _clusters(data).items():
        found.setdefault(cluster, set()).add(name)
    return {frozenset(group) for group in found.values()}


def test_edited_copies_join_their_story_and_every_drop_has_a_cluster(tmp_path: Path) -> None:
    rng = random.Random(34)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    stories = [_words(rng, 300) for _ in range(4)]
    expected: list[set[str]] = []
    bodies: dict[str, tuple[list[str], list[str]]] = {}  # name -> (its words, its story's)
    number = 0
    for story in stories:
        edited = list(story)
        for at in rng.sample(range(len(edited)), 8):
            edited[at] = rng.choice(edited)
        names = set()
        for version in (story, story, edited, story[:-40], ["Reuters", "-", *story]):  # exact, words, cut, agency
            name = _drop(inbox, number, version)
            names.add(name)
            bodies[name] = (version, story)
            number += 1
        expected.append(names)
    alone = _drop(inbox, number, _words(rng, 200))
    empty = _drop(inbox, number + 1, [])
    ingest(inbox, data, batch_size=7, workers=1)  # batches commit in listed order: the first drop is the first name
    clusters = _clusters(data)
    assert len(clusters) == query(data, "SELECT count(*) FROM drops")[0][0] == number + 2
    assert _groups(data) == {frozenset(names) for names in expected} | {frozenset({alone}), frozenset({empty})}
    for names in expected:
        for name in names:
            _cluster, similar, first_name = clusters[name]
            assert first_name == min(names)
            assert similar == _estimate(*bodies[name]) >= THRESHOLD
    assert clusters[alone][1] == 1.0 and clusters[alone][2] == alone
    largest = query(data, "SELECT drops, versions FROM near_duplicate_clusters")
    assert largest == [(5, 4)] * 4  # the singletons are not listed
    assert_consistent(data)


def test_a_later_batch_that_links_two_clusters_merges_them(tmp_path: Path) -> None:
    rng = random.Random(7)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    core, left, right = _words(rng, 200), _words(rng, 90), _words(rng, 90)
    first, second, bridge = core + left, right + core, core
    # The two first bodies are not near-duplicates of each other, but each is of the bridge.
    assert _estimate(first, second) < THRESHOLD <= min(_estimate(first, bridge), _estimate(second, bridge))
    first_name, second_name = _drop(inbox, 1, first), _drop(inbox, 2, second)
    ingest(inbox, data)
    before = _clusters(data)
    assert before[first_name][0] != before[second_name][0]
    assert before[second_name][1:] == (1.0, second_name)

    bridge_name = _drop(inbox, 3, bridge)
    ingest(inbox, data)
    after = _clusters(data)
    assert {cluster for cluster, _similar, _first in after.values()} == {before[first_name][0]}
    assert {first for _cluster, _similar, first in after.values()} == {first_name}
    assert after[second_name][1] == _estimate(first, second)
    assert after[bridge_name][1] == _estimate(first, bridge)
    # The merge rewrote rows of the clusters table only: the per-run tables have no delete files.
    assert_consistent(data)

    # vacuum --merge compacts the clusters table: its delete files gone, the clusters the same.
    clusters_folder = DataLayout(data).table_folder("body_clusters", "similarity")
    assert list(clusters_folder.rglob("*-delete.parquet"))
    api.vacuum(data, merge=True)
    assert not list(clusters_folder.rglob("*-delete.parquet"))
    assert len(list(clusters_folder.rglob("*.parquet"))) == 1
    assert _clusters(data) == after

    rebuild(data, workers=1)  # one reader: the batches commit in their runs' order, as they did
    assert _clusters(data) == after
    assert query(data, "SELECT count(*) FROM similarity.body_signatures") == [(3,)]


def test_a_run_killed_between_batches_resumes_to_the_same_clusters(tmp_path: Path,
                                                                    plain_env: dict[str, str]) -> None:
    rng = random.Random(3)
    inbox, data, reference = tmp_path / "inbox", tmp_path / "data", tmp_path / "reference"
    number = 0
    for _story in range(12):
        story = _words(rng, 150)
        for _copy in range(rng.randint(1, 4)):
            edited = list(story)
            for at in rng.sample(range(len(edited)), 4):
                edited[at] = rng.choice(edited)
            _drop(inbox, number, edited)
            number += 1
    env = {**plain_env, "NEWSDROP_BATCH_SIZE": "4"}
    killed = newsdrop_run(inbox, data, {**env, FAULT_ENV: "committed"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert 0 < query(data, "SELECT count(*) FROM near_duplicates")[0][0] < number
    assert newsdrop_run(inbox, data, env).returncode == 0
    assert newsdrop_run(inbox, reference, env).returncode == 0
    assert len(_clusters(data)) == number
    assert _groups(data) == _groups(reference)
    assert query(data, "SELECT count(*) - count(DISTINCT body_key) FROM similarity.body_signatures") == [(0,)]
    assert_consistent(data)


def test_rebuild_recomputes_the_clusters(tmp_path: Path) -> None:
    rng = random.Random(5)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    story = _words(rng, 200)
    for number in range(6):
        _drop(inbox, number, story[number * 5:] if number % 2 else story)
    # One reader: the batches commit in the order they were listed, so that the rebuild, which
    # reads them in that order, numbers the bodies as the run did (with two, a later batch may
    # commit first and bring the story first: the same clusters, another first drop).
    ingest(inbox, data, batch_size=2, workers=1)
    before = _clusters(data)
    tables = {table: query(data, f"SELECT count(*) FROM similarity.{table}")
              for table in ("body_signatures", "body_bands", "body_clusters")}
    rebuild(data, workers=1)
    assert _clusters(data) == before
    assert {table: query(data, f"SELECT count(*) FROM similarity.{table}") for table in tables} == tables
    stored = query(data, "SELECT sketch FROM similarity.body_signatures ORDER BY body_number")
    assert [len(sketch) for (sketch,) in stored] == [128] * 4  # the story and three cuts of it

