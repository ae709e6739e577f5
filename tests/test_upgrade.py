"""The upgrade of a warehouse made before raw_drops: DATA/raw/ moved into the lake by the first run.

tests/fixtures/warehouse-with-raw-folder was made by newsdrop at git commit 04ed39c (the last
to keep each drop's bytes as a file, DATA/raw/<aa>/<sha256>) with
tests/fixtures/make_warehouse_with_raw_folder.py: two runs, drops loaded and rejected, the same
bytes under two names, a name that is not UTF-8, a file over max_bytes (20,000). Each test works
on its own copy.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
from pathlib import Path

import api_run
import pytest
from conftest import DROPS, FIXTURES
from helpers import make_inbox, query, table_rows
from test_crash import assert_consistent, assert_lake_consistent, run_statuses

import newsdrop
from newsdrop.warehouse.faults import FAULT_ENV
from newsdrop.warehouse.layout import DataLayout

BEFORE = FIXTURES / "warehouse-with-raw-folder"
MAX_BYTES = "20000"  # the fixture's
READ_TABLES = ("drops", "articles", "drop_headlines", "dropped_lines", "rejected_drops")


@pytest.fixture
def before(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(BEFORE, data)
    return data


def legacy_files(data: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (data / "raw").rglob("*") if path.is_file()}


def kept_bytes(data: Path) -> dict[str, bytes]:
    """Each hash's bytes as raw_drops holds them (chunks joined)."""
    rows = query(data, "SELECT sha256, content FROM raw_drops ORDER BY sha256, chunk")
    joined: dict[str, bytes] = {}
    for sha256, content in rows:
        joined[sha256] = joined.get(sha256, b"") + content
    return joined


def tables(data: Path) -> dict[str, list[tuple]]:
    return {table: table_rows(data, table, exclude=("raw_path", "rules_version")) for table in READ_TABLES}


def run_process(kind: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(api_run.command(kind, *args), env=env, capture_output=True, text=True, timeout=300,
                          start_new_session=True)


def test_the_first_run_moves_data_raw_into_the_lake_and_rebuild_reads_it(
        before: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    legacy = legacy_files(before)
    assert len(legacy) == 10
    old = tables(before)
    assert "raw_path" in [row[0] for row in query(before, "DESCRIBE drops")]

    empty = tmp_path / "empty-inbox"
    empty.mkdir()
    summary = newsdrop.ingest(empty, before, settle_seconds=0, max_bytes=int(MAX_BYTES))
    assert summary.notes == [f"upgrade: moved 10 file(s) of {before / 'raw'} into the lake's raw_drops table in "
                             "1 commit(s), and deleted the folder"]
    assert not (before / "raw").exists()
    # Nothing lost, each hash once, each as its file was.
    assert kept_bytes(before) == legacy
    assert all(hashlib.sha256(content).hexdigest() == sha for sha, content in kept_bytes(before).items())
    assert query(before, "SELECT count(*) - count(DISTINCT sha256) FROM raw_drops") == [(0,)]
    # raw_path went; nothing else of the tables changed.
    assert "raw_path" not in [row[0] for row in query(before, "DESCRIBE drops")]
    assert tables(before) == old
    # The bytes of each batch are found by the batch that first took them in.
    first = dict(query(before, "SELECT sha256, arg_min(run_id || '/' || part, (run_id, part)) "
                               "FROM lake.ledger.file_versions WHERE outcome <> 'unchanged' GROUP BY sha256"))
    assert dict(query(before, "SELECT sha256, run_id || '/' || part FROM raw_drops")) == first

    # rebuild reads raw_drops only: the same rows as the fixture's runs made.
    monkeypatch.setenv("NEWSDROP_MAX_BYTES", MAX_BYTES)
    rebuilt = newsdrop.rebuild(before)
    assert (rebuilt.drops_loaded, rebuilt.files_rejected) == (8, 3)
    assert tables(before) == old
    assert_consistent(before)
    assert newsdrop.ingest(empty, before, settle_seconds=0).notes == []  # nothing left to upgrade


def test_the_upgrade_is_idempotent_under_sigkill(before: Path, tmp_path: Path, plain_env: dict[str, str]) -> None:
    legacy = legacy_files(before)
    old = tables(before)
    inbox = make_inbox(tmp_path / "inbox", DROPS)
    env = {**plain_env, "NEWSDROP_BATCH_SIZE": "3", "NEWSDROP_MAX_BYTES": MAX_BYTES}
    for point in ("upgrade-committed", "upgrade-commit", "upgrade-committed"):
        killed = run_process("ingest", str(inbox), str(before), env={**env, FAULT_ENV: point})
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        assert (before / "raw").exists()
        # What the lake shows is whole (the folder may hold the killed commit's file until
        # the next run's recovery, as after a kill in a batch's commit).
        assert query(before, "SELECT count(*) - count(DISTINCT sha256) FROM raw_drops") == [(0,)]
        assert_lake_consistent(before, upgraded=False)
    moved_before_the_last_run = len(kept_bytes(before))
    assert 0 < moved_before_the_last_run < len(legacy)

    finished = run_process("ingest", str(inbox), str(before), env=env)
    assert finished.returncode == 0, finished.stderr
    assert f"moved {len(legacy) - moved_before_the_last_run} file(s)" in finished.stdout
    assert not (before / "raw").exists()
    kept = kept_bytes(before)
    assert {sha: kept[sha] for sha in legacy} == legacy
    assert query(before, "SELECT count(*) - count(DISTINCT sha256) FROM raw_drops WHERE chunk = 0") == [(0,)]
    assert_consistent(before)
    # The kills were not runs: no runs row names them; the fixture's two runs, then this one.
    assert [status for status, _error in run_statuses(before)] == ["succeeded"] * 3
    assert not DataLayout(before).running_marker.exists()
    rebuilt = run_process("rebuild", str(before), env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = tables(before)
    assert {table: [row for row in rows if row in after[table]] for table, rows in old.items()} == old


def test_a_folder_left_by_a_kill_after_the_last_move_is_deleted(before: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-inbox"
    empty.mkdir()
    newsdrop.ingest(empty, before, settle_seconds=0)
    stale = before / "raw" / "ab" / ("ab" * 32)  # as if the deletion of the folder was cut short
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"bytes of a batch that never committed")
    summary = newsdrop.ingest(empty, before, settle_seconds=0)
    assert summary.notes == [f"upgrade: moved 0 file(s) of {before / 'raw'} into the lake's raw_drops table in "
                             "0 commit(s), and deleted the folder"]
    assert not (before / "raw").exists()


def test_vacuum_merge_rewrites_the_older_files_without_raw_path(before: Path) -> None:
    import polars as pl

    newsdrop.ingest(make_inbox(before.parent / "inbox", DROPS), before, settle_seconds=0, max_bytes=int(MAX_BYTES))
    folder = before / "lake" / "main" / "drops"
    lake = tables(before)
    # Files before the upgrade hold raw_path, files after it do not: vacuum --merge rewrites the
    # partition from the lake, as the lake reads it.
    newsdrop.vacuum(before, merge=True, keep_days=0)
    frame = pl.scan_parquet(f"{folder}/**/*.parquet", hive_partitioning=True).collect()
    assert "raw_path" not in frame.columns
    assert frame.height == query(before, "SELECT count(*) FROM drops")[0][0] == 35
    assert tables(before) == lake
