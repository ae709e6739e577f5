"""docs/warehouse.md cannot go stale: every sql example runs, and every table and view
it documents has exactly the columns and types it lists. Also `status` and `sql`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from conftest import DROPS
from helpers import make_inbox, newsdrop, run

DOC = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"
TEXT = DOC.read_text(encoding="utf-8")
SQL_BLOCKS = re.findall(r"```sql\n(.*?)```", TEXT, flags=re.DOTALL)


def documented_columns() -> dict[str, list[tuple[str, str]]]:
    sections = re.split(r"^### ", TEXT, flags=re.MULTILINE)[1:]
    found = {}
    for section in sections:
        name, _, body = section.partition("\n")
        rows = re.findall(r"^\| (\w+) \| ([A-Z][A-Z0-9 \[\]]*) \|", body, flags=re.MULTILINE)
        found[name.strip()] = [(column, kind.strip()) for column, kind in rows]
    return found


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> Path:
    root = tmp_path_factory.mktemp("docs")
    inbox, data = make_inbox(root / "inbox", DROPS), root / "data"
    run(inbox, data)
    (inbox / "copy.txt").write_bytes((DROPS / "001_c780d2942f53d682.txt").read_bytes())
    run(inbox, data)
    return data


def test_the_docs_have_examples() -> None:
    assert len(SQL_BLOCKS) >= 5


@pytest.mark.parametrize("sql", SQL_BLOCKS, ids=[f"example-{n}" for n in range(len(SQL_BLOCKS))])
def test_every_documented_query_runs(warehouse: Path, sql: str) -> None:
    with duckdb.connect(str(warehouse / "news.duckdb"), read_only=True) as con:
        rows = con.execute(sql).fetchall()
    assert rows, f"the example returned nothing on the fixtures:\n{sql}"


def test_every_table_and_view_is_documented_exactly(warehouse: Path) -> None:
    documented = documented_columns()
    with duckdb.connect(str(warehouse / "news.duckdb"), read_only=True) as con:
        names = [row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            " AND table_name NOT LIKE '\\_%' ESCAPE '\\'").fetchall()]
        actual = {name: [(row[0], row[1]) for row in con.execute(f'DESCRIBE "{name}"').fetchall()] for name in names}
    assert set(documented) == set(actual)
    for name, columns in actual.items():
        assert documented[name] == columns, name


def test_sql_command_formats(warehouse: Path) -> None:
    by_reason = "SELECT reason, count(*) AS n FROM rejected_drops GROUP BY 1 ORDER BY 1"
    table = newsdrop("sql", "--data", str(warehouse), by_reason)
    assert table.exit_code == 0 and "binary" in table.output and "2 row(s)" in table.output
    as_json = newsdrop("sql", "--data", str(warehouse), "--format", "json", "SELECT count(*) AS n FROM drops")
    assert json.loads(as_json.output) == [{"n": 25}]
    as_csv = newsdrop("sql", "--data", str(warehouse), "--format", "csv", "SELECT 1 AS a, 'x,y' AS b")
    assert as_csv.output == 'a,b\n1,"x,y"\n'


def test_sql_command_is_read_only(warehouse: Path) -> None:
    result = newsdrop("sql", "--data", str(warehouse), "DELETE FROM drops")
    assert result.exit_code == 1
    assert "read-only" in result.output
    assert json.loads(newsdrop("sql", "--data", str(warehouse), "--format", "json",
                               "SELECT count(*) AS n FROM drops").output) == [{"n": 25}]


def test_status_reports_runs_backlog_totals_and_freshness(warehouse: Path, tmp_path: Path) -> None:
    inbox = make_inbox(tmp_path / "inbox", DROPS)
    (inbox / "waiting.txt").write_text("Not yet taken in.\n")
    result = newsdrop("status", "--data", str(warehouse), "--inbox", str(inbox), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["last_run"]["status"] == "succeeded"
    assert report["last_run"]["drops_loaded"] == 1
    assert report["backlog"] == {"files": 1, "in_inbox": 27}  # waiting.txt; copies keep name, size and mtime
    assert report["totals"]["drops"] == 25 and report["totals"]["rejected_drops"] == 2
    assert report["freshness"]["age_seconds"] >= 0
    human = newsdrop("status", "--data", str(warehouse))
    assert "last run: succeeded ingest" in human.output and "totals: drops 25" in human.output


def test_status_of_an_empty_data_folder(tmp_path: Path) -> None:
    result = newsdrop("status", "--data", str(tmp_path / "nothing"), "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["last_run"] is None
