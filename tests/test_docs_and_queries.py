"""docs/warehouse.md cannot go stale: every sql example runs, every python example runs,
every table and view it documents has exactly the columns and types it lists, and every
Parquet folder reads back as its table. Also `status` and `sql`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pytest
from conftest import DROPS
from helpers import ingest, make_inbox, newsdrop

import newsdrop as api
from newsdrop.warehouse.lake import extension_path
from newsdrop.warehouse.schema import PARTITION_COLUMN, TABLES, VIEWS

DOC = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"
TEXT = DOC.read_text(encoding="utf-8")
SQL_BLOCKS = re.findall(r"```sql\n(.*?)```", TEXT, flags=re.DOTALL)
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)


def documented_columns() -> dict[str, list[tuple[str, str]]]:
    """Every `### name` section with a column table: its (column, type) rows."""
    sections = re.split(r"^### ", TEXT, flags=re.MULTILINE)[1:]
    found = {}
    for section in sections:
        name, _, body = section.partition("\n")
        rows = re.findall(r"^\| (\w+) \| ([A-Z][A-Z0-9 \[\]]*) \|", body, flags=re.MULTILINE)
        if rows:
            found[name.strip()] = [(column, kind.strip()) for column, kind in rows]
    return found


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs over the fixtures, in a folder named DATA as the docs call it."""
    root = tmp_path_factory.mktemp("docs")
    inbox, data = make_inbox(root / "inbox", DROPS), root / "DATA"
    ingest(inbox, data)
    (inbox / "copy.txt").write_bytes((DROPS / "001_c780d2942f53d682.txt").read_bytes())
    ingest(inbox, data)
    return data


@pytest.fixture
def in_data_parent(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory the docs' relative `DATA/...` paths assume."""
    monkeypatch.chdir(warehouse.parent)
    return warehouse


def test_the_docs_have_examples() -> None:
    assert len(SQL_BLOCKS) >= 5
    assert len(PYTHON_BLOCKS) >= 6
    assert "newsdrop shell --data DATA --print-sql" in TEXT
    assert "INSTALL" not in TEXT  # a download, which fails offline


@pytest.mark.parametrize("sql", SQL_BLOCKS, ids=[f"example-{n}" for n in range(len(SQL_BLOCKS))])
def test_every_documented_query_runs(warehouse: Path, sql: str) -> None:
    with api.connect(warehouse) as con:
        rows = con.execute(sql).fetchall()
    assert rows, f"the example returned nothing on the fixtures:\n{sql}"


@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[f"python-{n}" for n in range(len(PYTHON_BLOCKS))])
def test_every_documented_python_example_runs(in_data_parent: Path, code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {})  # the docs' own examples


def test_the_printed_statements_work_in_a_plain_duckdb_client(in_data_parent: Path) -> None:
    result = newsdrop("shell", "--data", "DATA", "--print-sql")
    assert result.exit_code == 0, result.output
    assert [line.split(" ")[0] for line in result.output.splitlines()] == ["LOAD", "LOAD", "ATTACH", "USE"]
    assert {line.split("'")[1] for line in result.output.splitlines()[:2]} == {
        str(extension_path(name)) for name in ("ducklake", "sqlite_scanner")}
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute(result.output)
    assert con.execute("SELECT count(*) FROM drops").fetchone() == (35,)
    with api.connect(in_data_parent) as ours:
        everything = "FROM headlines ORDER BY ALL"
        assert con.execute(everything).fetchall() == ours.execute(everything).fetchall()
    with pytest.raises(duckdb.Error, match="read-only"):
        con.execute("DELETE FROM drops")


def test_every_table_and_view_is_documented_exactly(warehouse: Path) -> None:
    documented = documented_columns()
    with api.connect(warehouse) as con:
        kinds = dict(con.execute(
            "SELECT table_name, table_type FROM information_schema.tables"
            " WHERE table_catalog = 'lake' AND table_schema = 'main'").fetchall())
        actual = {name: [(row[0], row[1]) for row in con.execute(f'DESCRIBE "{name}"').fetchall()] for name in kinds}
    assert set(documented) == set(actual) == {*TABLES, *VIEWS}
    assert {name for name, kind in kinds.items() if kind == "VIEW"} == set(VIEWS)
    assert kinds["headlines"] == "VIEW"
    for name, columns in actual.items():
        assert documented[name] == columns, name


def test_the_quality_checks_are_documented() -> None:
    from newsdrop.warehouse.quality import CHECKS

    for name, severity, _sql in CHECKS:
        assert f"| {name} | {severity} |" in TEXT, name


def test_every_folder_reads_back_as_its_table(warehouse: Path) -> None:
    """pandas, pyarrow, polars and DuckDB read each folder of status()["parquet"] and get the
    table's rows; partitioned folders gain year/month/day."""
    folders = api.status(warehouse)["parquet"]
    assert set(folders) == set(TABLES)
    for table, folder in folders.items():
        expected = api.query(warehouse, f"SELECT count(*) AS n FROM {table}").n[0]
        assert expected > 0, table
        frame = pd.read_parquet(folder)
        arrow = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
        lazy = pl.scan_parquet(folder + "/**/*.parquet", hive_partitioning=True).collect()
        with duckdb.connect() as con:
            described = con.execute(
                f"DESCRIBE SELECT * FROM read_parquet('{folder}/**/*.parquet', hive_partitioning = true)").fetchall()
            counted = con.execute(
                f"SELECT count(*) FROM read_parquet('{folder}/**/*.parquet', hive_partitioning = true)").fetchone()
        assert (len(frame), arrow.num_rows, lazy.height, counted[0]) == (expected,) * 4, table
        columns = list(TABLES[table].names)
        partitioned = {"year", "month", "day"} if table in PARTITION_COLUMN else set()
        for names in (list(frame.columns), arrow.schema.names, lazy.columns, [row[0] for row in described]):
            assert set(names) == {*columns, *partitioned}, (table, names)


def test_sql_command_formats(warehouse: Path) -> None:
    by_reason = "SELECT reason, count(*) AS n FROM rejected_drops GROUP BY 1 ORDER BY 1"
    table = newsdrop("sql", "--data", str(warehouse), by_reason)
    assert table.exit_code == 0 and "binary" in table.output and "2 row(s)" in table.output
    as_json = newsdrop("sql", "--data", str(warehouse), "--format", "json", "SELECT count(*) AS n FROM drops")
    assert json.loads(as_json.output) == [{"n": 35}]
    as_csv = newsdrop("sql", "--data", str(warehouse), "--format", "csv", "SELECT 1 AS a, 'x,y' AS b")
    assert as_csv.output == 'a,b\n1,"x,y"\n'


def test_sql_command_is_read_only(warehouse: Path) -> None:
    result = newsdrop("sql", "--data", str(warehouse), "DELETE FROM drops")
    assert result.exit_code == 1
    assert "read-only" in result.output or "only reads the warehouse" in result.output, result.output
    assert json.loads(newsdrop("sql", "--data", str(warehouse), "--format", "json",
                               "SELECT count(*) AS n FROM drops").output) == [{"n": 35}]


def test_status_reports_runs_backlog_totals_and_freshness(warehouse: Path, tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", DROPS)
    (inbox / "waiting.txt").write_text("Not yet taken in.\n")
    result = newsdrop("status", "--data", str(warehouse), "--inbox", str(inbox), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["last_run"]["status"] == "succeeded"
    assert report["last_run"]["drops_loaded"] == 1
    assert report["backlog"] == {"files": 1, "in_inbox": 37}  # waiting.txt; copies keep name, size and mtime
    assert report["totals"]["drops"] == 35 and report["totals"]["rejected_drops"] == 2
    assert report["freshness"]["age_seconds"] >= 0
    assert report["catalog"] == str(warehouse / "catalog.sqlite")
    assert report["snapshot"]["id"] == report["last_run"]["snapshot_id"]
    assert report["parquet"]["drops"] == str(warehouse / "lake" / "main" / "drops")
    human = newsdrop("status", "--data", str(warehouse))
    assert "last run: succeeded ingest" in human.output and "totals: drops 35" in human.output


def test_status_of_a_folder_with_no_warehouse_says_so(tmp_path: Path) -> None:
    result = newsdrop("status", "--data", str(tmp_path / "nothing"), "--json")
    assert result.exit_code == 1
    assert result.output.startswith("newsdrop: no warehouse at") and len(result.output.strip().splitlines()) == 1
