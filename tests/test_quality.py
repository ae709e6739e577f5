"""Data-quality checks: they pass on good data, catch broken data, and a failed
error check keeps the run's data out."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import DROPS
from helpers import counts, make_inbox, newsdrop, query, run

from newsdrop.warehouse import quality
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import Ledger


def checks_by_name(data: Path) -> dict[str, tuple[str, bool]]:
    return {name: (severity, passed) for name, severity, passed in
            query(data, 'SELECT "check", severity, passed FROM quality_checks')}


@pytest.fixture
def broken_copy(tmp_path: Path, prefect_api: None) -> duckdb.DuckDBPyConnection:
    data = tmp_path / "data"
    run(make_inbox(tmp_path / "inbox", DROPS), data)
    con = duckdb.connect(str(data / "news.duckdb"), read_only=True)
    copy = duckdb.connect()
    for table in ("drops", "articles", "headlines", "drop_headlines", "dropped_lines", "rejected_drops"):
        copy.register("_t", con.table(table).to_arrow_table())
        copy.execute(f"CREATE TABLE {table} AS SELECT * FROM _t")
        copy.unregister("_t")
    con.close()
    return copy


def test_every_check_passes_on_the_fixtures(tmp_path: Path, prefect_api: None) -> None:
    data = tmp_path / "data"
    run(make_inbox(tmp_path / "inbox", DROPS), data)
    results = checks_by_name(data)
    assert len(results) == len(quality.CHECKS)
    assert all(passed for _severity, passed in results.values())
    assert results["no empty bodies"] == ("warning", True)


@pytest.mark.parametrize(
    ("corruption", "caught_by"),
    [
        ("INSERT INTO drops SELECT * FROM drops LIMIT 1", "drops.drop_id is unique"),
        ("DELETE FROM drop_headlines WHERE position = 3", "headline positions run 1..n with no gap"),
        ("DELETE FROM headlines WHERE headline_id IN (SELECT headline_id FROM headlines LIMIT 1)",
         "every drop_headlines.headline_id is in headlines"),
        ("UPDATE headlines SET drop_count = drop_count + 1", "headlines.drop_count agrees with drop_headlines"),
        ("DELETE FROM articles WHERE drop_id IN (SELECT drop_id FROM articles LIMIT 1)", "one article per drop"),
        ("UPDATE articles SET body = '' WHERE drop_id IN (SELECT drop_id FROM articles LIMIT 1)", "no empty bodies"),
    ],
)
def test_each_check_catches_its_corruption(broken_copy: duckdb.DuckDBPyConnection, corruption: str,
                                          caught_by: str) -> None:
    loaded = broken_copy.execute("SELECT count(*) FROM drops").fetchall()[0][0]
    assert all(result.passed for result in quality.run_checks(broken_copy, loaded, 2))
    broken_copy.execute(corruption)
    loaded_after = loaded if "INSERT INTO drops" not in corruption else loaded + 1
    failed = {result.check for result in quality.run_checks(broken_copy, loaded_after, 2) if not result.passed}
    assert caught_by in failed


def test_a_failed_error_check_fails_the_run_and_keeps_its_data_out(
    tmp_path: Path, prefect_api: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    run(inbox, data)
    before = counts(data)
    (inbox / "900_00000000000000aa.txt").write_text("A new body.\n\n\nHeadline one\nHeadline two\n")
    always_fails = ("the run has a new drop", quality.ERROR, "SELECT count(*) FROM drops WHERE file_name LIKE '900%'")
    monkeypatch.setattr(quality, "CHECKS", (*quality.CHECKS, always_fails))
    result = newsdrop("run", "--inbox", str(inbox), "--data", str(data), "--settle-seconds", "0")
    assert result.exit_code == 1
    assert "quality check failed, nothing committed: the run has a new drop (1 violation(s))" in result.output
    assert counts(data) == before
    with Ledger(DataLayout(data).ledger) as ledger:
        runs = ledger.runs()
        assert runs[-1]["status"] == "failed"
        failed = [c for c in ledger.quality_checks() if c["run_id"] == runs[-1]["run_id"] and not c["passed"]]
        assert [c["check_name"] for c in failed] == ["the run has a new drop"]
    assert not list((data / "parquet").rglob("*900*"))

    monkeypatch.setattr(quality, "CHECKS", quality.CHECKS[:-1])
    run(inbox, data)
    assert counts(data)["drops"] == before["drops"] + 1
    assert query(data, "SELECT count(*) FROM runs WHERE status = 'failed'") == [(1,)]
