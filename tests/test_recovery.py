"""Recovery from what a review found could go wrong: relative data paths, a rebuild killed
after its commit, a lake whose creation was cut short, kept bytes that are gone."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import api_run
import pyarrow.dataset as ds
import pytest
from conftest import DROPS
from helpers import make_inbox, newsdrop, query

import newsdrop as api
from newsdrop.warehouse.faults import FAULT_ENV
from newsdrop.warehouse.lake import _duckdb, attach_sql, open_lake
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.schema import PER_RUN_TABLES


def folder_rows(data: Path) -> dict[str, int]:
    return {table: ds.dataset(DataLayout(data).table_folder(table), format="parquet", partitioning="hive").count_rows()
            for table in PER_RUN_TABLES}


def lake_rows(data: Path) -> dict[str, int]:
    return {table: query(data, f"SELECT count(*) FROM {table}")[0][0] for table in PER_RUN_TABLES}


def test_a_relative_data_path_keeps_its_files_through_recovery_and_vacuum(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_inbox(tmp_path / "inbox", DROPS)
    monkeypatch.chdir(tmp_path)
    api.ingest("inbox", "data", settle_seconds=0, workers=1)
    data = tmp_path / "data"
    DataLayout(data).running_marker.write_text("20260101T000000Z-dead00 ingest 2026-01-01T00:00:00+00:00\n")
    monkeypatch.chdir(tmp_path / "inbox")  # another working directory
    assert newsdrop("vacuum", "--data", str(data), "--keep-days", "0").exit_code == 0
    assert lake_rows(data)["drops"] == 34 and folder_rows(data) == lake_rows(data)


def test_a_rebuild_killed_after_its_commit_is_finished_by_the_next_run(tmp_path: Path,
                                                                        plain_env: dict[str, str]) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    api.ingest(inbox, data, settle_seconds=0, workers=1)
    killed = subprocess.run(api_run.command("rebuild", str(data)), env={**plain_env, FAULT_ENV: "rebuild-committed"},
                            capture_output=True, text=True, timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert folder_rows(data)["drops"] == 68  # the replaced files are still in the folders
    assert lake_rows(data)["drops"] == 34
    again = subprocess.run(api_run.command("ingest", str(inbox), str(data)), env=plain_env, capture_output=True,
                           text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert folder_rows(data) == lake_rows(data) and lake_rows(data)["drops"] == 34
    assert [status for (status,) in query(data, "SELECT status FROM runs ORDER BY finished_at")] == \
        ["succeeded", "succeeded", "succeeded"]


def test_a_lake_whose_creation_was_cut_short_is_created_by_the_next_run(tmp_path: Path) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    layout = DataLayout(data)
    layout.ensure()
    con = _duckdb(layout)
    con.execute(attach_sql(layout, read_only=False))  # the catalog file exists, with no tables
    con.close()
    assert layout.catalog.exists()
    assert api.ingest(inbox, data, settle_seconds=0, workers=1).drops_loaded == 34


def test_rebuild_refuses_when_kept_bytes_are_gone(tmp_path: Path) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    api.ingest(inbox, data, settle_seconds=0, workers=1)
    # The bytes of one drop taken out of raw_drops behind newsdrop's back.
    (sha256,) = query(data, "SELECT sha256 FROM drops WHERE file_name = '001_c780d2942f53d682.txt'")[0]
    con = open_lake(DataLayout(data))
    try:
        con.execute("DELETE FROM raw_drops WHERE sha256 = ?", [sha256])
    finally:
        con.close()
    with pytest.raises(api.RunFailed, match=r"raw bytes of 001_c780d2942f53d682\.txt .* are missing from raw_drops"):
        api.rebuild(data, workers=1)
    assert lake_rows(data)["drops"] == 34  # nothing of the failed rebuild is visible
    assert folder_rows(data) == lake_rows(data)


def test_rebuild_after_a_raised_size_limit_keeps_one_drop(tmp_path: Path) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    api.ingest(inbox, data, settle_seconds=0, workers=1, max_bytes=100)
    api.ingest(inbox, data, settle_seconds=0, workers=1)
    summary = api.rebuild(data, workers=1)
    assert summary.drops_loaded == 34
    assert lake_rows(data)["drops"] == 34 and folder_rows(data) == lake_rows(data)
    shutil.rmtree(inbox)
