"""The lake as analysts and operators meet it: time travel, vacuum, rebuild's expiry of
history, the conversion of a data folder of the layout before DuckLake, the read-only
connection, and `newsdrop shell`."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pytest
from conftest import DROPS
from helpers import make_inbox, newsdrop, query, table_rows

import newsdrop as api
from newsdrop.errors import NewsdropError
from newsdrop.warehouse.lake import run_snapshot, shell_command
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.schema import PER_RUN_TABLES, TABLES

FIRST = 20  # drops files in the first run (all accepted); the rest (16, of which 2 rejected) in the second


def ingest(inbox: Path, data: Path, batch_size: int = 5) -> api.RunSummary:
    return api.ingest(inbox, data, settle_seconds=0, batch_size=batch_size, workers=1)


def two_runs(root: Path) -> tuple[Path, Path, str, str]:
    """A warehouse after two runs: 20 drops, then 14 more and 2 rejects. Returns inbox, data and run ids."""
    inbox, data = root / "inbox", root / "data"
    make_inbox(inbox, DROPS)
    later = sorted(inbox.iterdir())[FIRST:]
    aside = root / "aside"
    aside.mkdir()
    for path in later:
        path.rename(aside / path.name)
    first = ingest(inbox, data)
    for path in later:
        (aside / path.name).rename(path)
    second = ingest(inbox, data)
    assert (first.loaded, second.loaded, second.rejected) == (20, 14, 2)
    return inbox, data, first.run_id, second.run_id


@pytest.fixture
def warehouse(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """A warehouse of its own, for a test that changes it (vacuum, rebuild)."""
    return two_runs(tmp_path)


@pytest.fixture(scope="module")
def shared_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    """One warehouse for the tests that only read it (each checks it is unchanged after)."""
    return two_runs(tmp_path_factory.mktemp("shared"))


def folder_counts(data: Path) -> dict[str, set[int]]:
    """Each table's folder as pandas, pyarrow, polars and DuckDB read it: the row counts they get."""
    found = {}
    for table, folder in api.status(data)["parquet"].items():
        if not Path(folder).exists():
            found[table] = {0}
            continue
        glob = f"{folder}/**/*.parquet"
        found[table] = {
            len(pd.read_parquet(folder)),
            ds.dataset(folder, format="parquet", partitioning="hive").count_rows(),
            pl.scan_parquet(glob, hive_partitioning=True).collect().height,
            duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)").fetchone()[0],
        }
    return found


def assert_folders_exact(data: Path) -> None:
    counts = {table: query(data, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}
    assert folder_counts(data) == {table: {count} for table, count in counts.items()}


def parquet_files(data: Path, table: str) -> int:
    return len(list(DataLayout(data).table_folder(table).rglob("*.parquet")))


def one_line_error(result: object) -> str:
    output = result.output.strip()  # type: ignore[attr-defined]
    assert result.exit_code == 1, output  # type: ignore[attr-defined]
    assert len(output.splitlines()) == 1, output
    assert output.startswith("newsdrop: "), output
    return output


# -- time travel -------------------------------------------------------------------


def test_time_travel_to_a_run(shared_warehouse: tuple[Path, Path, str, str]) -> None:
    _inbox, data, first, second = shared_warehouse
    sql = "SELECT count(*) AS n FROM drops"
    assert api.query(data, sql).n[0] == 34
    assert api.query(data, sql, at=first).n[0] == FIRST
    assert api.query(data, sql, at=second).n[0] == 34
    with api.connect(data, at=first) as con:
        assert con.execute("SELECT count(*) FROM rejected_drops").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)  # the first run's row is in its snapshot
        assert con.execute("SELECT count(*) FROM headlines").fetchone()[0] > 0
    snapshot = query(data, "SELECT snapshot_id FROM runs WHERE run_id = ?", [first])[0][0]
    assert run_snapshot(DataLayout(data), first) == snapshot
    assert query(data, f"SELECT count(*) FROM drops AT (VERSION => {snapshot})") == [(FIRST,)]

    result = newsdrop("sql", "--data", str(data), "--at", first, "--format", "json", sql)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"n": FIRST}]
    assert json.loads(newsdrop("sql", "--data", str(data), "--format", "json", sql).output) == [{"n": 34}]
    unknown = one_line_error(newsdrop("sql", "--data", str(data), "--at", "no-such-run", sql))
    assert "no run 'no-such-run'" in unknown


# -- vacuum ------------------------------------------------------------------------


def test_vacuum_expires_history_and_keeps_the_folders_exact(warehouse: tuple[Path, Path, str, str]) -> None:
    _inbox, data, first, second = warehouse
    assert_folders_exact(data)
    kept = newsdrop("vacuum", "--data", str(data))  # keeps 7 days: nothing goes
    assert kept.exit_code == 0, kept.output
    assert kept.output.startswith("vacuum: 0 snapshot(s) expired")
    assert api.query(data, "SELECT count(*) AS n FROM drops", at=first).n[0] == FIRST

    result = newsdrop("vacuum", "--data", str(data), "--keep-days", "0")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("vacuum: ") and "0 snapshot(s) expired" not in result.output
    gone = one_line_error(newsdrop("sql", "--data", str(data), "--at", first, "SELECT count(*) FROM drops"))
    assert "no longer keeps the snapshot" in gone
    with pytest.raises(NewsdropError, match="no longer keeps"):
        api.query(data, "SELECT 1", at=first)
    assert api.query(data, "SELECT count(*) AS n FROM drops", at=second).n[0] == 34  # the current snapshot stays
    assert_folders_exact(data)


def test_vacuum_merge_merges_small_files(warehouse: tuple[Path, Path, str, str]) -> None:
    _inbox, data, _first, _second = warehouse
    before = {table: table_rows(data, table) for table in TABLES}
    files_before = parquet_files(data, "drops")
    assert files_before >= 5  # one per batch of 5
    result = newsdrop("vacuum", "--data", str(data), "--merge")
    assert result.exit_code == 0, result.output
    assert " 0 merge(s)" not in result.output
    assert parquet_files(data, "drops") < files_before
    assert {table: table_rows(data, table) for table in TABLES} == before
    assert_folders_exact(data)


# -- rebuild -----------------------------------------------------------------------


def test_rebuild_expires_history_and_says_so(warehouse: tuple[Path, Path, str, str]) -> None:
    _inbox, data, first, _second = warehouse
    before = {table: table_rows(data, table) for table in PER_RUN_TABLES}
    summary = api.rebuild(data, workers=1)
    assert any("time travel before this rebuild is gone" in line for line in summary.lines())
    assert {table: table_rows(data, table) for table in PER_RUN_TABLES} == before
    with pytest.raises(NewsdropError, match="no longer keeps the snapshot"):
        api.query(data, "SELECT 1", at=first)
    assert query(data, "SELECT count(*) FROM snapshots()") == [(1,)]
    assert_folders_exact(data)


# -- the layout before DuckLake ----------------------------------------------------

LEGACY_LEDGER = """
CREATE TABLE runs (run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, started_us INTEGER NOT NULL,
    finished_us INTEGER, seconds REAL, files_seen INTEGER NOT NULL DEFAULT 0, files_new INTEGER NOT NULL DEFAULT 0,
    drops_loaded INTEGER NOT NULL DEFAULT 0, files_rejected INTEGER NOT NULL DEFAULT 0,
    files_unchanged INTEGER NOT NULL DEFAULT 0, files_skipped INTEGER NOT NULL DEFAULT 0, error TEXT);
CREATE TABLE file_versions (file_name TEXT NOT NULL, size_bytes INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, outcome TEXT NOT NULL, run_id TEXT NOT NULL, part INTEGER NOT NULL,
    ingested_us INTEGER NOT NULL, reason TEXT, PRIMARY KEY (file_name, size_bytes, mtime_ns)) WITHOUT ROWID;
CREATE TABLE parquet_files (path TEXT PRIMARY KEY, table_name TEXT NOT NULL, run_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE quality_checks (run_id TEXT NOT NULL, check_name TEXT NOT NULL, severity TEXT NOT NULL,
    passed INTEGER NOT NULL, detail TEXT NOT NULL, checked_us INTEGER NOT NULL, PRIMARY KEY (run_id, check_name));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


def legacy_copy(fresh: Path, legacy: Path) -> None:
    """The data folder newsdrop 0.1 (commit f852fc0) would have left for the same runs: its
    SQLite ledger (ledger.sql of that version), the raw bytes, news.duckdb and parquet/."""
    us = "CAST(epoch_us({}) AS BIGINT)"
    versions = query(fresh, "SELECT file_name, size_bytes, mtime_ns, sha256, outcome, run_id, part, "
                            f"{us.format('ingested_at')}, reason FROM ledger.file_versions")
    runs = query(fresh, f"SELECT run_id, kind, status, {us.format('started_at')}, {us.format('finished_at')}, "
                        "seconds, files_seen, files_new, drops_loaded, files_rejected, files_unchanged, "
                        "files_skipped, error FROM runs")
    layout = DataLayout(legacy)
    layout.state.mkdir(parents=True)
    db = sqlite3.connect(layout.legacy_ledger)
    db.executescript(LEGACY_LEDGER)
    db.executemany("INSERT INTO file_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", versions)
    db.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
    db.commit()
    db.close()
    shutil.copytree(DataLayout(fresh).raw, layout.raw)
    (legacy / "news.duckdb").write_bytes(b"an old snapshot")
    (legacy / "parquet" / "drops" / "ingest_date=2026-01-01").mkdir(parents=True)
    (legacy / "parquet" / "drops" / "ingest_date=2026-01-01" / "x-00000.parquet").write_bytes(b"old")
    (layout.state / "staging").mkdir()


def test_a_legacy_data_folder_is_converted_by_rebuild(tmp_path: Path, prefect_env: dict[str, str]) -> None:
    inbox, fresh, _first, _second = two_runs(tmp_path / "fresh")
    (inbox / "copy.txt").write_bytes((DROPS / "001_c780d2942f53d682.txt").read_bytes())
    (inbox / "copy.txt").touch()
    ingest(inbox, fresh)  # a third run: one new drop; an unchanged entry needs a touched copy of a known name
    legacy = tmp_path / "legacy"
    legacy_copy(fresh, legacy)
    layout = DataLayout(legacy)
    assert layout.is_legacy()

    refused = subprocess.run([sys.executable, "-m", "newsdrop", "run", "--inbox", str(inbox), "--data", str(legacy)],
                             env=prefect_env, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert refused.stderr.startswith("newsdrop: ") and f"newsdrop rebuild --data {legacy}" in refused.stderr
    assert not layout.catalog.exists()
    status = one_line_error(newsdrop("status", "--data", str(legacy)))
    assert "rebuild" in status

    result = newsdrop("rebuild", "--data", str(legacy), "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "converted the older warehouse layout onto DuckLake" in result.output
    assert not any(path.exists() for path in layout.legacy_files)
    assert layout.exists() and not layout.is_legacy()

    for table in PER_RUN_TABLES:
        assert table_rows(legacy, table) == table_rows(fresh, table), table
    assert table_rows(legacy, "headlines") == table_rows(fresh, "headlines")
    old_runs = table_rows(fresh, "runs", exclude=("snapshot_id", "finished_at", "seconds"))
    converted = query(legacy, "SELECT run_id, kind, status FROM runs WHERE kind = 'ingest' ORDER BY run_id")
    assert [row[:3] for row in sorted(old_runs, key=lambda row: row[0])] == converted
    assert query(legacy, "SELECT status FROM runs WHERE kind = 'rebuild'") == [("succeeded",)]
    assert query(legacy, "SELECT count(*) FROM ledger.file_versions") == query(
        fresh, "SELECT count(*) FROM ledger.file_versions")
    assert_folders_exact(legacy)

    # The converted folder takes runs again: nothing of the inbox is new.
    again = ingest(inbox, legacy)
    assert again.loaded == 0 and again.new == 0


# -- the read-only connection ------------------------------------------------------


@pytest.mark.parametrize("sql", [
    "COPY drops TO '{outside}/drops.csv'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "INSERT INTO runs SELECT * FROM runs",
    "DELETE FROM drops",
    "CREATE TABLE mine AS SELECT 1 AS x",
    "ATTACH '{outside}/other.duckdb' AS other",
    "SET enable_external_access = true",
])
def test_the_read_only_connection_refuses(shared_warehouse: tuple[Path, Path, str, str], tmp_path: Path,
                                         sql: str) -> None:
    _inbox, data, _first, _second = shared_warehouse
    outside = tmp_path / "outside"
    outside.mkdir()
    with api.connect(data) as con, pytest.raises(duckdb.Error):
        con.execute(sql.format(outside=outside))
    assert list(outside.iterdir()) == []
    assert query(data, "SELECT count(*) FROM drops") == [(34,)]


def test_query_runs_only_queries(shared_warehouse: tuple[Path, Path, str, str]) -> None:
    """newsdrop.query takes SQL from anyone a notebook or a service passes it on from:
    like `newsdrop sql`, it refuses anything but queries, so nothing is written."""
    _inbox, data, _first, _second = shared_warehouse
    target = DataLayout(data).table_folder("runs") / "mine.parquet"
    with pytest.raises(api.NewsdropError, match="refused"):
        api.query(data, f"COPY (SELECT 1 AS x) TO '{target}'")
    assert not target.exists()


# -- newsdrop shell ----------------------------------------------------------------


def test_the_shell_opens_the_lake_read_only(shared_warehouse: tuple[Path, Path, str, str]) -> None:
    _inbox, data, first, _second = shared_warehouse
    layout = DataLayout(data)

    def shell(*args: str, snapshot: int | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*shell_command(layout, snapshot), "-csv", "-noheader", *args],
                              capture_output=True, text=True, timeout=60, check=False)

    counted = shell("-c", "SELECT count(*) FROM drops")
    assert (counted.returncode, counted.stdout) == (0, "34\n"), counted.stderr
    headlines = query(data, "SELECT count(*) FROM headlines")[0][0]
    assert shell("-c", "SELECT count(*) FROM headlines").stdout == f"{headlines}\n"
    assert shell("-c", "SELECT count(*) FROM drops", snapshot=run_snapshot(layout, first)).stdout == f"{FIRST}\n"
    refused = shell("-c", "DELETE FROM drops")
    assert refused.returncode != 0 and "read-only" in refused.stderr + refused.stdout
    assert query(data, "SELECT count(*) FROM drops") == [(34,)]


def test_the_shell_of_a_folder_with_no_warehouse_says_what_to_do(tmp_path: Path) -> None:
    result = one_line_error(newsdrop("shell", "--data", str(tmp_path / "nothing")))
    assert "newsdrop run --inbox INBOX" in result
