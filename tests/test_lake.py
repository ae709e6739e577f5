"""The lake as analysts and operators meet it: time travel, vacuum, rebuild's expiry of
history, the conversion of a data folder of the layout before DuckLake, the read-only
connection, and `newsdrop shell`."""

from __future__ import annotations

import json
import subprocess
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
    assert (first.drops_loaded, second.drops_loaded, second.files_rejected) == (20, 14, 2)
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


def test_a_data_folder_of_the_layout_before_ducklake_is_refused_in_one_line(tmp_path: Path) -> None:
    """newsdrop before DuckLake kept a SQLite ledger in DATA/_state; this version does not convert
    it (the last that does is named): every command says so, and writes nothing there."""
    inbox, legacy = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "legacy"
    (legacy / "_state").mkdir(parents=True)
    (legacy / "_state" / "ledger.sqlite3").write_bytes(b"an old ledger")
    (legacy / "news.duckdb").write_bytes(b"an old snapshot")
    before = sorted(legacy.rglob("*"))
    expected = (f"newsdrop: {legacy} holds a warehouse of newsdrop before DuckLake, which this version does not "
                f"read: convert it once with `newsdrop rebuild --data {legacy}` of newsdrop at git commit 30fbad6, "
                "then use it here")
    for command in (["run", "--inbox", str(inbox)], ["rebuild"], ["status"], ["sql", "SELECT 1"]):
        result = newsdrop(*command, "--data", str(legacy))
        assert result.exit_code == 1, result.output
        assert result.output.strip() == expected, result.output
    with pytest.raises(NewsdropError, match="before DuckLake"):
        api.ingest(inbox, legacy)
    with pytest.raises(NewsdropError, match="before DuckLake"):
        api.rebuild(legacy)
    assert sorted(legacy.rglob("*")) == before


# -- where the data goes -----------------------------------------------------------

WRONG_DATA = {
    "a file": ("afile", "the data folder {data} is a file: give --data a folder (a new or empty one, "
                        "or a newsdrop warehouse)"),
    "another program's folder": ("other", "the data folder {data} holds files that are not newsdrop's "
                                          "('notes.md' and 1 more): give --data a new or empty folder, or a "
                                          "newsdrop warehouse"),
    "the inbox itself": ("inbox", "the inbox {inbox} and the data folder {data} are the same folder: give --inbox "
                                  "and --data folders apart (e.g. news/inbox and news/data)"),
    "inside the inbox": ("inbox/data", "the inbox {inbox} and the data folder {data} overlap (the data folder is "
                                       "inside the inbox): give --inbox and --data folders apart (e.g. news/inbox "
                                       "and news/data)"),
}


@pytest.mark.parametrize("case", list(WRONG_DATA))
def test_a_data_folder_that_is_not_one_is_refused_in_one_line_with_nothing_written(case: str,
                                                                                   tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", DROPS)
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "other" / "sub").mkdir(parents=True)
    (tmp_path / "other" / "notes.md").write_text("another program's files")
    name, message = WRONG_DATA[case]
    data = tmp_path / name
    expected = "newsdrop: " + message.format(data=data, inbox=inbox)
    before = sorted((path, path.stat().st_mtime_ns) for path in tmp_path.rglob("*"))
    result = newsdrop("run", "--inbox", str(inbox), "--data", str(data), "--settle-seconds", "0")
    assert (result.exit_code, result.output.strip()) == (1, expected), result.output
    with pytest.raises(NewsdropError) as raised:
        api.ingest(inbox, data, settle_seconds=0)
    assert str(raised.value) == expected.removeprefix("newsdrop: ")
    if "inbox" not in message:
        result = newsdrop("rebuild", "--data", str(data))
        assert (result.exit_code, result.output.strip()) == (1, expected), result.output
    assert sorted((path, path.stat().st_mtime_ns) for path in tmp_path.rglob("*")) == before


def test_the_inbox_inside_the_data_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    api.ingest(make_inbox(tmp_path / "inbox", DROPS), data, settle_seconds=0)
    inbox = make_inbox(data / "inbox", DROPS)
    with pytest.raises(NewsdropError, match=r"overlap \(the inbox is inside the data folder\)"):
        api.ingest(inbox, data, settle_seconds=0)


def test_a_warehouse_with_a_file_of_its_owner_beside_it_and_a_first_run_cut_short_are_data_folders(
        tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", DROPS)
    warehouse, cut_short = tmp_path / "warehouse", tmp_path / "cut-short"
    api.ingest(inbox, warehouse, settle_seconds=0)
    (warehouse / "README.txt").write_text("the newsroom's notes on this warehouse")
    (cut_short / "lake").mkdir(parents=True)
    (cut_short / "raw").mkdir()
    (inbox / "new.txt").write_bytes((DROPS / "001_c780d2942f53d682.txt").read_bytes())
    assert api.ingest(inbox, warehouse, settle_seconds=0).drops_loaded == 1
    assert api.ingest(inbox, cut_short, settle_seconds=0).drops_loaded > 1


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
