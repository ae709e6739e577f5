"""Ranked search over every article (issue 35): the index beside the lake, kept up with it."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tantivy
from helpers import ingest, newsdrop, query, rebuild
from test_crash import assert_consistent, newsdrop_run
from test_near_duplicates import _drop as _story_drop
from test_near_duplicates import _words

from newsdrop import api
from newsdrop.errors import NewsdropError
from newsdrop.warehouse import search as search_module
from newsdrop.warehouse.faults import FAULT_ENV
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.search import RESULT_COLUMNS, STATE_FILE, Caught, catch_up

HEADLINES = "\n\n\nAnother story on the page\nAnd one more\n"
FILLER = ("the council said on monday that the plan would be looked at again next year after residents asked "
          "for more time to read it and to write to their members about what it would mean for them").split()
STORIES = {
    "oil": "oil prices rose again as crude supplies fell and traders priced in a cut in output by producers",
    "tax": "the tax on fuel will rise in april the treasury said adding that oil companies would pay more",
    "football": "the football club won the cup final with a late goal from its captain in front of a full stadium",
    "rail": "rail fares will rise by three percent in january as the operators pay for new trains and stations",
}


def _body(rng: random.Random, story: str, repeats: int) -> list[str]:
    words = list(FILLER)
    rng.shuffle(words)
    return (STORIES[story].split() * repeats) + words * 3


def _drop(inbox: Path, number: int, words: list[str], received: datetime | None = None) -> str:
    inbox.mkdir(parents=True, exist_ok=True)
    name = f"{number:03d}_{number:016x}.txt"
    path = inbox / name
    path.write_text(" ".join(words) + ".\n" + HEADLINES, encoding="utf-8")
    if received is not None:
        os.utime(path, (received.timestamp(), received.timestamp()))
    return name


def _drop_ids(data: Path) -> dict[str, str]:
    return dict(query(data, "SELECT file_name, drop_id FROM drops"))


def _found(data: Path, words: str, **options: object) -> list[str]:
    """File names of a search's results, in order."""
    names = {drop_id: name for name, drop_id in _drop_ids(data).items()}
    return [names[drop_id] for drop_id in api.search(data, words, **options)["drop_id"]]  # type: ignore[arg-type]


def _indexed(data: Path) -> tuple[int, int]:
    """The lake snapshot the index recorded, and its number of documents."""
    folder = DataLayout(data).search_index
    state = json.loads((folder / STATE_FILE).read_text())
    return state["snapshot_id"], tantivy.Index.open(str(folder)).searcher().num_docs


def _rewind(data: Path, snapshot_id: int, time_of_snapshot: str | None = None) -> None:
    """The index's record as if it had taken in the lake only up to `snapshot_id`."""
    time_of_snapshot = time_of_snapshot or str(query(
        data, "SELECT snapshot_time::VARCHAR FROM lake.snapshots() WHERE snapshot_id = ?", [snapshot_id])[0][0])
    state = DataLayout(data).search_index / STATE_FILE
    state.write_text(json.dumps({**json.loads(state.read_text()), "snapshot_id": snapshot_id,
                                 "snapshot_time": time_of_snapshot}))


def _last_snapshot(data: Path) -> int:
    return int(query(data, "SELECT max(snapshot_id) FROM lake.snapshots()")[0][0])


def test_search_ranks_stems_and_shows_one_drop_a_cluster(tmp_path: Path) -> None:
    rng = random.Random(35)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    oil = _body(rng, "oil", 3)
    copy = list(oil)
    copy[-1] = "yesterday"  # an edited copy: a near-duplicate of the oil story
    names = {"oil": _drop(inbox, 1, oil), "copy": _drop(inbox, 2, copy), "tax": _drop(inbox, 3, _body(rng, "tax", 1)),
             "football": _drop(inbox, 4, _body(rng, "football", 2))}
    ingest(inbox, data)
    hits = api.search(data, "oil price")  # "price" finds "prices" and "priced": stemmed
    assert list(hits.columns) == RESULT_COLUMNS
    found = [{drop_id: name for name, drop_id in _drop_ids(data).items()}[d] for d in hits["drop_id"]]
    assert found[0] in {names["oil"], names["copy"]}
    assert found[1:] == [names["tax"]]  # the copy shares the oil story's cluster: not shown again
    clusters = dict(query(data, "SELECT drop_id, cluster_id FROM near_duplicates"))
    assert hits["cluster_id"].tolist() == [clusters[drop_id] for drop_id in hits["drop_id"]]
    assert hits["score"].is_monotonic_decreasing and hits["score"].iloc[-1] > 0
    assert "oil prices rose" in hits["snippet"].iloc[0]
    received = dict(query(data, "SELECT drop_id, received_at FROM drops"))
    assert hits["received_at"].tolist() == [received[drop_id] for drop_id in hits["drop_id"]]
    assert _found(data, "football OR rail") == [names["football"]]
    assert _found(data, "stadium -football") == []
    assert _found(data, 'oil "prices AND (') is not None  # a query tantivy cannot parse is read leniently
    assert api.search(data, "nothing like this anywhere").empty


def test_since_and_until_bound_received_at(tmp_path: Path) -> None:
    rng = random.Random(36)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    early = _drop(inbox, 1, _body(rng, "rail", 2), datetime(2026, 11, 2, 23, 30, tzinfo=UTC))
    late = _drop(inbox, 2, _body(rng, "rail", 1) + ["again"] * 40, datetime(2026, 11, 5, 0, 10, tzinfo=UTC))
    ingest(inbox, data)
    assert set(_found(data, "rail fares")) == {early, late}
    assert _found(data, "rail fares", until="2026-11-02") == [early]  # a date is its whole day
    assert _found(data, "rail fares", since="2026-11-03") == [late]
    assert _found(data, "rail fares", since="2026-11-03", until="2026-11-04") == []
    with pytest.raises(NewsdropError, match="is not a date"):
        api.search(data, "rail", since="last week")
    with pytest.raises(NewsdropError, match="give words"):
        api.search(data, "  ")


def test_the_index_follows_the_lake_through_runs_rebuilds_and_expired_history(tmp_path: Path) -> None:
    rng = random.Random(37)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    layout = DataLayout(data)
    oil = _drop(inbox, 1, _body(rng, "oil", 2))
    ingest(inbox, data)
    assert _found(data, "crude") == [oil]
    rail = _drop(inbox, 2, _body(rng, "rail", 2))
    ingest(inbox, data)
    assert _indexed(data) == (_last_snapshot(data), 2)  # the run took its changes in
    with api.connect(data) as con:
        caught = catch_up(layout, con)
    assert caught == Caught(whole=False, changes=0, snapshot_id=_last_snapshot(data))
    assert _found(data, "fares") == [rail]

    # Died after the index's commit but before its snapshot was recorded: the changes come again,
    # from the change feed, and change nothing.
    _rewind(data, 1)
    with api.connect(data) as con:
        caught = catch_up(layout, con)
    assert caught is not None and not caught.whole and caught.changes == 2
    assert _indexed(data) == (_last_snapshot(data), 2)
    assert _found(data, "fares") == [rail]

    rebuild(data)  # every article deleted and inserted again, in one snapshot
    assert _found(data, "crude") == [oil] and _found(data, "fares") == [rail]
    assert tantivy.Index.open(str(layout.search_index)).searcher().num_docs == 2

    football = _drop(inbox, 3, _body(rng, "football", 2))
    ingest(inbox, data)
    api.vacuum(data, keep_days=0, merge=True)  # files merged: the same rows
    with api.connect(data) as con:
        caught = catch_up(layout, con)
    assert caught is not None and not caught.whole  # the snapshot it had taken in is kept
    assert _found(data, "stadium") == [football]
    assert _indexed(data) == (_last_snapshot(data), 3)

    # An index left behind by snapshots the lake no longer keeps is built whole.
    _rewind(data, 1, time_of_snapshot="2026-01-01 00:00:00+00")  # what the state said of it then
    with api.connect(data) as con:
        caught = catch_up(layout, con)
    assert caught == Caught(whole=True, changes=3, snapshot_id=_last_snapshot(data))
    assert _found(data, "stadium") == [football]


def test_runs_keep_the_index_current_and_one_killed_between_the_two_commits_is_caught_up(
        tmp_path: Path, plain_env: dict[str, str]) -> None:
    rng = random.Random(41)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    for number in range(3):
        _drop(inbox, number, [*_body(rng, "rail", 1), f"marker{number}"])
    ingest(inbox, data)
    assert _indexed(data) == (_last_snapshot(data), 3)  # no search yet: the run kept it
    for number in range(3, 11):
        _drop(inbox, number, [*_body(rng, "rail", 1), f"marker{number}"])
    env = {**plain_env, "NEWSDROP_BATCH_SIZE": "2"}
    killed = newsdrop_run(inbox, data, {**env, FAULT_ENV: "committed"})  # after a batch's lake commit
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    indexed_at, documents = _indexed(data)
    assert indexed_at < _last_snapshot(data) and documents == 3
    assert query(data, "SELECT count(*) FROM articles")[0][0] == 5
    assert newsdrop_run(inbox, data, env).returncode == 0
    assert _indexed(data) == (_last_snapshot(data), 11)
    for number in range(11):
        assert len(_found(data, f"marker{number}")) == 1, number
    assert_consistent(data)


def test_a_run_goes_on_without_the_index(tmp_path: Path) -> None:
    rng = random.Random(42)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    _drop(inbox, 1, _body(rng, "oil", 1))
    data.mkdir()
    (data / "_search").write_text("not an index")  # where the index would go: it cannot
    summary = api.ingest(inbox, data, settle_seconds=0)
    assert summary.drops_loaded == 1
    assert [note for note in summary.notes if note.startswith("search index not brought up to date (")], summary.notes
    with pytest.raises(NewsdropError, match=r"cannot open the search index at .*: delete it"):
        api.search(data, "oil")
    (data / "_search").unlink()
    assert len(_found(data, "crude")) == 1


def test_a_new_lake_at_the_same_path_gets_a_new_index(tmp_path: Path) -> None:
    rng = random.Random(38)
    data = tmp_path / "data"
    _drop(tmp_path / "first", 1, _body(rng, "oil", 2))
    ingest(tmp_path / "first", data)
    assert len(_found(data, "crude")) == 1
    for entry in data.iterdir():  # the warehouse deleted, its search index left behind
        if entry.name != "_search":
            entry.unlink() if entry.is_file() else shutil.rmtree(entry)
    rail = _drop(tmp_path / "second", 1, _body(rng, "rail", 2))
    ingest(tmp_path / "second", data)
    assert _found(data, "crude") == []
    assert _found(data, "fares") == [rail]


def test_a_search_while_another_process_writes_the_index_reads_it_as_it_is(tmp_path: Path) -> None:
    rng = random.Random(39)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    _drop(inbox, 1, _body(rng, "oil", 2))
    ingest(inbox, data)
    assert len(_found(data, "crude")) == 1
    rail = _drop(inbox, 2, _body(rng, "rail", 2))
    writer = tantivy.Index.open(str(DataLayout(data).search_index)).writer(heap_size=15_000_000, num_threads=1)
    try:
        assert "search index" not in ingest(inbox, data)  # the run leaves it to the writer, and says nothing
        assert _found(data, "fares") == []  # not yet taken in: the writer is held
        with pytest.raises(NewsdropError, match="another process"):
            api.reindex(data)
    finally:
        writer.rollback()
        del writer
    assert _found(data, "fares") == [rail]


def test_search_command(tmp_path: Path) -> None:
    rng = random.Random(40)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    _drop(inbox, 1, _body(rng, "oil", 2))
    _drop(inbox, 2, _body(rng, "tax", 1))
    ingest(inbox, data)
    table = newsdrop("search", "--data", str(data), "oil")
    assert table.exit_code == 0, table.output
    assert "drop_id" in table.output and "2 row(s)" in table.output
    rows = json.loads(newsdrop("search", "--data", str(data), "--format", "json", "--limit", "1", "oil").output)
    assert [list(row) for row in rows] == [RESULT_COLUMNS] and rows[0]["snippet"]
    assert rows[0]["received_at"].endswith("+00:00")
    csv_lines = newsdrop("search", "--data", str(data), "--format", "csv", "fuel").output.splitlines()
    assert csv_lines[0] == ",".join(RESULT_COLUMNS) and len(csv_lines) == 2
    built = newsdrop("search", "--data", str(data), "--reindex")
    assert built.exit_code == 0 and built.output.strip() == "search index built: 2 article(s)"
    for arguments, said in ((["--since", "soon", "oil"], "newsdrop: --since 'soon' is not a date"),
                            ([], "newsdrop: give words to search for"),
                            (["--limit", "0", "oil"], "newsdrop: limit = 0 is not allowed")):
        failed = newsdrop("search", "--data", str(data), *arguments)
        assert failed.exit_code == 1 and failed.output.startswith(said), failed.output
        assert len(failed.output.strip().splitlines()) == 1


def _index_clusters(data: Path) -> dict[str, int | None]:
    """drop_id -> the cluster the index stored with it."""
    searcher = tantivy.Index.open(str(DataLayout(data).search_index)).searcher()
    hits = searcher.search(tantivy.Query.all_query(), searcher.num_docs).hits
    return {doc["drop_id"][0]: (doc.get_all("cluster_id") or [None])[0]
            for doc in (searcher.doc(address) for _score, address in hits)}


def test_clusters_merged_by_a_later_run_are_merged_in_the_results(tmp_path: Path) -> None:
    rng = random.Random(7)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    core, left, right = _words(rng, 200), _words(rng, 90), _words(rng, 90)
    _story_drop(inbox, 1, core + left)
    _story_drop(inbox, 2, right + core)
    ingest(inbox, data)
    clusters = dict(query(data, "SELECT drop_id, cluster_id FROM near_duplicates"))
    assert len(set(clusters.values())) == 2 and _index_clusters(data) == clusters
    assert len(api.search(data, core[0])) == 2  # two stories

    _story_drop(inbox, 3, core)  # a near-duplicate of both: their clusters merge
    ingest(inbox, data)
    clusters = dict(query(data, "SELECT drop_id, cluster_id FROM near_duplicates"))
    assert len(set(clusters.values())) == 1 and _index_clusters(data) == clusters
    hits = api.search(data, core[0])
    assert len(hits) == 1 and hits["cluster_id"].tolist() == list(set(clusters.values()))


def test_a_search_of_a_current_index_reads_the_index_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(43)
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    oil = _drop(inbox, 1, _body(rng, "oil", 2))
    ingest(inbox, data)

    def no_lake(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the lake was opened")

    monkeypatch.setattr(search_module, "connect_read_only", no_lake)
    assert _found(data, "crude") == [oil]  # the run left the index current: the catalog says so
    _rewind(data, 1)
    with pytest.raises(AssertionError, match="the lake was opened"):
        api.search(data, "crude")  # behind: the lake is opened to catch it up
