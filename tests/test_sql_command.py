"""`newsdrop sql`: literal output, scripts' formats whole, read-only for files too, every statement's result."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import DROPS
from helpers import ingest, make_inbox, newsdrop


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sql")
    folder = root / "data"
    ingest(make_inbox(root / "inbox", DROPS), folder)
    return folder


def sql(data: Path, *args: str) -> tuple[int, str]:
    result = newsdrop("sql", "--data", str(data), *args)
    return result.exit_code, result.output


@pytest.mark.parametrize("value", ["[b]Breaking[/b] news", ":fire: hot", "closing [/] tag", "[link=x]y[/link]"])
def test_table_values_print_literally(data: Path, value: str) -> None:
    code, output = sql(data, f"SELECT '{value}' AS headline")
    assert code == 0, output
    assert value in output


def test_long_values_are_cut_only_in_the_table_and_it_says_so(data: Path) -> None:
    query = "SELECT run_id, string_agg(file_name, ',' ORDER BY file_name) AS names FROM drops GROUP BY run_id"
    code, output = sql(data, query)
    assert code == 0
    row = next(line for line in output.splitlines() if line.startswith("│ 2"))
    assert row.endswith("… │") and len(row.split("│")[2].strip()) == 80
    assert output.splitlines()[-1] == ("1 row(s); text over 80 characters is cut (…): --format csv or json "
                                       "prints it whole")
    code, output = sql(data, "--format", "csv", query)
    whole = json.loads(sql(data, "--format", "json", query)[1])[0]["names"]
    assert len(whole) > 500 and whole.startswith(row.split("│")[2].strip().removesuffix("…"))
    assert code == 0 and list(csv.reader(io.StringIO(output)))[1][1] == whole


def test_piped_output_is_one_line_a_row_in_every_format(data: Path) -> None:
    """A script reads each row whole: the run_id that --at needs, ISO times as `status --json`
    prints them, and one JSON document for several statements."""
    status = json.loads(newsdrop("status", "--data", str(data), "--json").output)["last_run"]
    query = "SELECT run_id, started_at, 'line one\nline two' AS text FROM runs"
    _, table = sql(data, query)
    assert f"│ {status['run_id']} │ {status['started_at']} │ line one↵line two │" in table
    _, csv_text = sql(data, "--format", "csv", query)
    assert csv_text.splitlines()[1] == f'{status["run_id"]},{status["started_at"]},"line one'
    _, json_text = sql(data, "--format", "json", query + "; SELECT 1 AS one")
    assert json.loads(json_text) == [[{"run_id": status["run_id"], "started_at": status["started_at"],
                                       "text": "line one\nline two"}], [{"one": 1}]]
    assert len(json_text.strip().splitlines()) == 1


@pytest.mark.parametrize("statement", [
    "COPY (SELECT 1 AS x) TO '{data}/lake/main/drops/evil.parquet'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "ATTACH '{data}/evil.sqlite' AS evil (TYPE sqlite)",
    "SELECT * FROM sqlite_scan('{data}/catalog.sqlite', 'ducklake_snapshot')",
    "SELECT * FROM sqlite_scan/**/('{data}/catalog.sqlite', 'ducklake_snapshot')",
    "SELECT * FROM sqlite_scan --\n('{data}/catalog.sqlite', 'ducklake_snapshot')",
    "INSERT INTO drops SELECT * FROM drops",
    "CREATE TABLE mine AS SELECT 1",
    "SET enable_external_access = true",
    "INSTALL httpfs",
])
def test_anything_but_reading_the_warehouse_is_refused_in_one_line(data: Path, statement: str) -> None:
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    code, output = sql(data, statement.format(data=data))
    assert code == 1, output
    assert len(output.strip().splitlines()) == 1 and output.startswith("newsdrop: ")
    assert "Traceback" not in output
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before


@pytest.mark.parametrize("nothing", ["  ", " ; ", " -- only a comment", "/* c */"])
def test_empty_sql_says_what_to_do(data: Path, nothing: str) -> None:
    code, output = sql(data, nothing)
    assert code == 1
    assert output.startswith("newsdrop: no SQL given") and "Traceback" not in output


def test_install_is_refused_by_its_name(data: Path) -> None:
    code, output = sql(data, "INSTALL httpfs")
    assert code == 1 and "INSTALL or LOAD statements are not allowed" in output


def test_each_statement_prints_its_result(data: Path) -> None:
    code, output = sql(data, "--format", "json", "SELECT 1 AS a; SELECT 2 AS b")
    assert code == 0
    assert json.loads(output) == [[{"a": 1}], [{"b": 2}]]


def test_json_keeps_non_ascii_text(data: Path) -> None:
    code, output = sql(data, "--format", "json", "SELECT 'Café' AS word")
    assert code == 0
    assert json.loads(output) == [{"word": "Café"}] and "Café" in output


def test_raw_bytes_print_as_duckdb_shows_a_blob_in_every_format(data: Path) -> None:
    """raw_drops.content (a BLOB): printable ASCII as it is, any other byte as \\xNN, as DuckDB
    casts a BLOB to text: the same in the table, CSV and JSON, never a Python b'...'."""
    query = ("SELECT content, content::VARCHAR AS shown FROM raw_drops r JOIN drops d USING (sha256) "
             "WHERE d.file_name = '017_b1600e147dc1f4c0.txt'")  # cp1252: bytes outside ASCII
    _, json_text = sql(data, "--format", "json", query)
    (row,) = json.loads(json_text)
    assert row["content"] == row["shown"] and "\\x" in row["content"] and "b'" not in json_text
    _, csv_text = sql(data, "--format", "csv", query)
    (content, shown), = list(csv.reader(io.StringIO(csv_text)))[1:]
    assert content == shown == row["content"]


def test_every_byte_prints_as_duckdb_casts_it() -> None:
    import duckdb

    from newsdrop.summary import iso_value

    every = bytes(range(256))
    assert iso_value(every) == duckdb.execute("SELECT ?::BLOB::VARCHAR", [every]).fetchone()[0]  # type: ignore[index]
