"""Data-quality checks, batch by batch: each passes on good data and catches the corruption
it is for, and a failed error check keeps its batch out and fails the run, while the
batches committed before it stay."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import DROPS
from helpers import make_inbox, query

import newsdrop
from newsdrop.errors import RunFailed
from newsdrop.warehouse import quality
from newsdrop.warehouse.batch import BatchResult, BatchSpec, Candidate, StagedFile, read_batch
from newsdrop.warehouse.inbox import Listed
from newsdrop.warehouse.lake import open_lake
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.schema import PER_RUN_TABLES, FileOutcome

Tables = dict[str, pa.Table]


def staged_tables(files: dict[str, StagedFile]) -> dict[str, pa.Table]:
    """A batch's staged files read whole, to corrupt them."""
    return {table: pq.read_table(staged.path) for table, staged in files.items()}


def read_fixture_batch(data: Path) -> BatchResult:
    """The fixture drops (34 accepted, 2 rejected) read as one batch, as a run would."""
    candidates = [Candidate(Listed(path.name, path.stat().st_size, path.stat().st_mtime_ns))
                  for path in sorted(DROPS.glob("*.txt"))]
    spec = BatchSpec("20260101T000000Z-abcdef", datetime.now(UTC), 0, "20260101T000000Z-abcdef")
    return read_batch(spec, candidates, str(DROPS), DataLayout(data), 10_000_000)


def rewrite(tables: Tables, table: str, sql: str) -> Tables:
    """A copy of the batch with one table replaced by `sql` over it (as `t`), in its own schema."""
    with duckdb.connect() as con:
        con.register("t", tables[table])
        changed = con.execute(sql).to_arrow_table()
    return {**tables, table: changed.select(PER_RUN_TABLES[table].names).cast(PER_RUN_TABLES[table])}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> BatchResult:
    return read_fixture_batch(tmp_path_factory.mktemp("batch") / "data")


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writer's connection on an empty lake, inside a transaction that is rolled back."""
    con = open_lake(DataLayout(tmp_path / "data"))
    con.begin()
    try:
        yield con
    finally:
        con.rollback()
        con.close()


def staged_files(tables: Tables, folder: Path) -> dict[str, str]:
    """Each table as a staged Parquet file in `folder`, as a reader stages a batch."""
    folder.mkdir(exist_ok=True)
    staged = {}
    for table, rows in tables.items():
        staged[table] = str(folder / f"{table}.parquet")
        pq.write_table(rows, staged[table])
    return staged


def failed_checks(con: duckdb.DuckDBPyConnection, staged: dict[str, str], loaded: int, rejected: int) -> set[str]:
    return {result.check for result in quality.run_checks(con, staged, loaded, rejected) if not result.passed}


def loaded_and_rejected(batch: BatchResult) -> tuple[int, int]:
    return batch.count(FileOutcome.LOADED), batch.count(FileOutcome.REJECTED)


def test_every_check_passes_on_a_good_batch(writer: duckdb.DuckDBPyConnection, batch: BatchResult) -> None:
    assert batch.rows["drops"] == 34 and batch.rows["rejected_drops"] == 2
    staged = {table: staged.path for table, staged in batch.files.items()}
    results = quality.run_checks(writer, staged, *loaded_and_rejected(batch))
    assert [result.check for result in results] == [name for name, _severity, _sql in quality.CHECKS]
    assert all(result.passed and result.detail == "" for result in results)


def test_a_batch_with_no_rows_passes(writer: duckdb.DuckDBPyConnection) -> None:
    assert failed_checks(writer, {}, 0, 0) == set()


def in_lake(table: str) -> Callable[[duckdb.DuckDBPyConnection, str], None]:
    """The lake already holds one of the batch's keys (a second batch with the same rows)."""
    def corrupt(con: duckdb.DuckDBPyConnection, staged: str) -> None:
        con.execute(f"INSERT INTO lake.main.{table} SELECT * FROM read_parquet(?) LIMIT 1", [staged])

    return corrupt


# (corruption of the batch's tables, or of the lake; extra loaded/rejected in the ledger; the check that catches it)
CORRUPTIONS: list[tuple[str, str | None, str | Callable[[duckdb.DuckDBPyConnection, str], None] | None,
                        tuple[int, int], str]] = [
    ("drop already in the lake", "drops", in_lake("drops"), (0, 0), "drops.drop_id is unique"),
    ("article already in the lake", "articles", in_lake("articles"), (0, 0), "articles.article_id is unique"),
    ("two headlines at one position", "drop_headlines",
     "SELECT * REPLACE (CASE WHEN position = 2 AND drop_id = (SELECT min(drop_id) FROM t WHERE position = 3)"
     " THEN 1 ELSE position END AS position) FROM t", (0, 0), "drop_headlines (drop_id, position) is unique"),
    ("a dropped line twice", "dropped_lines", "SELECT * FROM t UNION ALL (SELECT * FROM t LIMIT 1)", (0, 0),
     "dropped_lines (drop_id, line_no) is unique"),
    ("an article without its drop", "articles",
     "SELECT * REPLACE (CASE WHEN article_id = (SELECT min(article_id) FROM t) THEN 'nosuchdrop' ELSE drop_id END"
     " AS drop_id) FROM t", (0, 0), "every article has its drop"),
    ("a headline without its drop", "drop_headlines",
     "SELECT * FROM t UNION ALL (SELECT * REPLACE ('nosuchdrop' AS drop_id, 1 AS position) FROM t LIMIT 1)", (0, 0),
     "every drop_headlines row has its drop"),
    ("a gap in the positions", "drop_headlines",
     "SELECT * REPLACE (CASE WHEN drop_id = (SELECT min(drop_id) FROM t) THEN position + 1 ELSE position END"
     " AS position) FROM t", (0, 0), "headline positions run 1..n with no gap"),
    ("a wrong headline_count", "drops",
     "SELECT * REPLACE (CASE WHEN drop_id = (SELECT min(drop_id) FROM t) THEN headline_count + 1"
     " ELSE headline_count END AS headline_count) FROM t", (0, 0), "drops.headline_count agrees with drop_headlines"),
    ("a missing article", "articles", "SELECT * FROM t WHERE article_id <> (SELECT min(article_id) FROM t)", (0, 0),
     "one article per drop"),
    ("the ledger says one more loaded", None, None, (1, 0), "drops agree with the ledger"),
    ("the ledger says one more rejected", None, None, (0, 1), "rejected_drops agree with the ledger"),
    ("an empty body", "articles",
     "SELECT * REPLACE (CASE WHEN article_id = (SELECT min(article_id) FROM t) THEN '' ELSE body END AS body) FROM t",
     (0, 0), "no empty bodies"),
]


@pytest.mark.parametrize(("table", "corruption", "ledger", "caught_by"),
                         [case[1:] for case in CORRUPTIONS], ids=[case[0] for case in CORRUPTIONS])
def test_each_check_catches_its_corruption(
    writer: duckdb.DuckDBPyConnection, batch: BatchResult, table: str | None,
    corruption: str | Callable[[duckdb.DuckDBPyConnection, str], None] | None, ledger: tuple[int, int], caught_by: str,
    tmp_path: Path,
) -> None:
    tables = dict(staged_tables(batch.files))
    loaded, rejected = loaded_and_rejected(batch)
    if isinstance(corruption, str):
        assert table is not None
        tables = rewrite(tables, table, corruption)
        assert tables[table] != staged_tables(batch.files)[table]
    staged = staged_files(tables, tmp_path / "staged")
    if table is not None and callable(corruption):
        corruption(writer, staged[table])
    failed = failed_checks(writer, staged, loaded + ledger[0], rejected + ledger[1])
    assert failed == {caught_by}
    severity = {name: severity for name, severity, _sql in quality.CHECKS}[caught_by]
    assert severity == (quality.WARNING if caught_by == "no empty bodies" else quality.ERROR)


def test_every_check_has_a_corruption() -> None:
    assert {case[-1] for case in CORRUPTIONS} == {name for name, _severity, _sql in quality.CHECKS}


@contextlib.contextmanager
def extra_check(monkeypatch: pytest.MonkeyPatch, check: tuple[str, quality.Severity, str]) -> Iterator[None]:
    with monkeypatch.context() as patch:
        patch.setattr(quality, "CHECKS", (*quality.CHECKS, check))
        yield


def test_a_failed_error_check_keeps_its_batch_out_and_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    names = sorted(path.name for path in inbox.iterdir())
    bad = names[12]  # batches of 5 in name order: the third batch (part 2) holds it
    check = ("no drop 012", quality.ERROR, f"SELECT count(*) FROM new_drops WHERE file_name = '{bad}'")
    with extra_check(monkeypatch, check), pytest.raises(RunFailed) as failure:
        newsdrop.ingest(inbox, data, settle_seconds=0, batch_size=5, workers=1)
    assert str(failure.value).startswith("quality check failed in batch 2, which was not committed: no drop 012 "
                                          "(1 violation(s))")

    # The two batches before it are committed; nothing of it or after it is.
    assert query(data, "SELECT count(*) FROM drops") == [(10,)]
    assert sorted(row[0] for row in query(data, "SELECT file_name FROM drops")) == names[:10]
    assert query(data, "SELECT count(*) FROM drop_headlines JOIN drops USING (drop_id) WHERE file_name = ?",
                 [bad]) == [(0,)]
    assert query(data, "SELECT count(*) FROM ledger.file_versions") == [(10,)]
    (run_id, status, error, drops_loaded), = query(data, "SELECT run_id, status, error, drops_loaded FROM runs")
    assert status == "failed" and drops_loaded == 10
    assert "QualityCheckFailed" in error and "no drop 012" in error
    parts = query(data, "SELECT part, count(*), count(*) FILTER (WHERE NOT passed) FROM quality_checks"
                        " WHERE run_id = ? GROUP BY part ORDER BY part", [run_id])
    total = len(quality.CHECKS) + 1
    assert parts == [(0, total, 0), (1, total, 0), (2, total, 1)]
    assert query(data, "SELECT \"check\", severity, detail FROM quality_checks WHERE NOT passed") == [
        ("no drop 012", "error", "1 violation(s)")]
    assert not any(bad in path.name for path in (data / "lake").rglob("*"))

    # Without the check, the next run takes in the rest.
    summary = newsdrop.ingest(inbox, data, settle_seconds=0, batch_size=5, workers=1)
    assert summary.drops_loaded == 24 and summary.files_rejected == 2
    assert query(data, "SELECT count(*) FROM drops") == [(34,)]
    assert query(data, "SELECT status FROM runs ORDER BY finished_at") == [("failed",), ("succeeded",)]


def test_a_failed_warning_is_reported_and_the_batch_is_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    check = ("every drop is small", quality.WARNING, "SELECT count(*) FROM new_drops WHERE size_bytes > 0")
    with extra_check(monkeypatch, check):
        summary = newsdrop.ingest(inbox, data, settle_seconds=0, batch_size=100, workers=1)
    assert summary.drops_loaded == 34
    assert query(data, "SELECT status FROM runs") == [("succeeded",)]
    assert query(data, "SELECT \"check\", severity, passed, detail FROM quality_checks WHERE NOT passed") == [
        ("every drop is small", "warning", False, "34 violation(s)")]
