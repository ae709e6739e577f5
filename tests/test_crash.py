"""Crashes lose nothing and duplicate nothing.

A run is killed with SIGKILL at every step boundary (deterministic fault
injection, warehouse/faults.py), and at random moments of a real run; the next
run must leave every table identical, row for row, to a run that was never
interrupted, and each table's Parquet folder must hold exactly the lake's rows.

The runs are plain Python processes (tests/api_run.py): the same steps as the Prefect flow,
without a Prefect server to start or reach for each one. The flow's own handling of a kill
and a signal is tested end to end in test_signals.py.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import api_run
import pytest
from conftest import DROPS
from helpers import make_inbox, query, table_rows

from benchmarks.generate import generate
from newsdrop.warehouse.faults import FAULT_ENV, POINTS
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.schema import PER_RUN_TABLES, RAW_TABLES

# Columns that name the run that took a row in: they differ between two
# otherwise identical histories, everything else must not.
RUN_COLUMNS = ("run_id", "ingested_at", "rejected_at")
DATA_TABLES = ("drops", "articles", "headlines", "drop_headlines", "dropped_lines", "rejected_drops")
LEDGER_KEPT = "SELECT count(*) FROM lake.ledger.file_versions WHERE outcome <> 'unchanged'"
LEDGER_SHAS = ("SELECT sha256 FROM lake.ledger.file_versions WHERE outcome <> 'unchanged' "
               "AND coalesce(reason, '') <> 'unreadable'")


def newsdrop_process(inbox: Path, data: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """A run of the warehouse's steps in a plain Python process (tests/api_run.py): what a
    kill, a lock or a crash does to a run is the warehouse's, with or without Prefect."""
    return subprocess.Popen(
        api_run.command("ingest", str(inbox), str(data), *extra),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def newsdrop_run(inbox: Path, data: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    process = newsdrop_process(inbox, data, env, *extra)
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def near_duplicate_groups(data: Path) -> list[list[str]]:
    """The drops grouped by near-duplicate cluster (the ids and first drops follow the order the
    batches committed in, which two readers do not fix)."""
    return sorted(sorted(names) for (names,) in query(
        data, "SELECT list(drop_id) FROM near_duplicates GROUP BY cluster_id"))


def snapshot(data: Path) -> dict[str, Any]:
    return {**{table: table_rows(data, table, exclude=RUN_COLUMNS) for table in DATA_TABLES},
            "near_duplicates": near_duplicate_groups(data)}


def run_statuses(data: Path) -> list[tuple[str, str | None]]:
    return query(data, "SELECT status, error FROM runs ORDER BY finished_at")  # type: ignore[return-value]


def folder_rows(folder: Path) -> int:
    """The rows a plain Parquet reader sees in a table's folder (no lake, no catalog)."""
    import pyarrow.dataset as ds

    if not folder.exists():
        return 0
    return ds.dataset(folder, format="parquet", partitioning="hive").count_rows()


def assert_lake_consistent(data: Path, upgraded: bool = True) -> None:
    """What the lake shows is whole: no duplicate, every kept ledger entry has its row (and
    its bytes, unless the upgrade that moves them into the lake is still under way)."""
    assert query(data, "SELECT count(*) - count(DISTINCT drop_id) FROM drops") == [(0,)]
    assert query(data, "SELECT count(*) - count(DISTINCT (drop_id, position)) FROM drop_headlines") == [(0,)]
    assert query(data, "SELECT (SELECT count(*) FROM drops) + (SELECT count(*) FROM rejected_drops)") == \
        query(data, LEDGER_KEPT)
    # Every version read has its bytes in raw_drops, stored once.
    assert query(data, "SELECT count(*) - count(DISTINCT (sha256, chunk)) FROM raw_drops") == [(0,)]
    if upgraded:
        assert query(data, f"{LEDGER_SHAS} EXCEPT SELECT sha256 FROM raw_drops") == []


def assert_consistent(data: Path, upgraded: bool = True) -> None:
    """The lake is whole, and each table's Parquet folder, read directly, holds exactly the
    lake's rows: no orphaned file of a killed transaction, no stale replaced file, no
    delete file that a plain reader would not apply, no temporary file."""
    assert_lake_consistent(data, upgraded)
    layout = DataLayout(data)
    for table in (*PER_RUN_TABLES, *RAW_TABLES):
        folder = layout.table_folder(table)
        assert folder_rows(folder) == query(data, f"SELECT count(*) FROM {table}")[0][0], table
        assert not list(folder.rglob("*-delete.parquet")), table
        assert not [path for path in folder.rglob("*") if path.name.endswith(".tmp") or ".tmp." in path.name], table


@pytest.fixture(scope="module")
def clean_reference(tmp_path_factory: pytest.TempPathFactory, plain_env: dict[str, str]) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("reference")
    inbox, data = make_inbox(root / "inbox", DROPS), root / "data"
    result = newsdrop_run(inbox, data, plain_env, "--workers", "2")
    assert result.returncode == 0, result.stderr
    return snapshot(data)


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_step_then_rerun_equals_a_clean_run(
    point: str, tmp_path: Path, plain_env: dict[str, str], clean_reference: dict[str, Any]
) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    # Small batches, so that a kill can fall between batches and inside a batch's transaction.
    env = {**plain_env, FAULT_ENV: point, "NEWSDROP_BATCH_SIZE": "5"}
    killed = newsdrop_run(inbox, data, env)
    assert killed.returncode == -signal.SIGKILL, (point, killed.returncode, killed.stderr)
    # Every fault point comes after the run wrote its marker: the next run must find it.
    assert DataLayout(data).running_marker.exists(), point
    # Right after the kill, before any recovery, the lake shows whole batches only.
    assert_lake_consistent(data)

    rerun = newsdrop_run(inbox, data, {**plain_env, "NEWSDROP_BATCH_SIZE": "5"})
    assert rerun.returncode == 0, rerun.stderr
    assert not DataLayout(data).running_marker.exists()
    assert snapshot(data) == clean_reference
    assert_consistent(data)
    statuses = [status for status, _error in run_statuses(data)]
    if point == "finished":
        # Its runs row was committed before the kill: nothing is left to recover but the marker.
        assert statuses == ["succeeded", "succeeded"]
    else:
        assert statuses == ["interrupted", "succeeded"], statuses
        interrupted = query(data, "SELECT error, drops_loaded + files_rejected FROM runs WHERE status = 'interrupted'")
        assert interrupted[0][0].startswith("the process stopped")
        # What it had committed: nothing before its first commit, then at least one batch.
        if point in ("discovered", "batch-read", "batch-commit"):
            assert interrupted[0][1] == 0, (point, interrupted)
        else:
            assert interrupted[0][1] > 0, (point, interrupted)


def test_a_failure_inside_a_batch_fails_cleanly_and_keeps_what_was_committed(
    tmp_path: Path, plain_env: dict[str, str]
) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    first = sorted(DROPS.glob("*.txt"))[:10]
    early = make_inbox(tmp_path / "early", DROPS)
    for path in early.iterdir():
        if path.name not in {p.name for p in first}:
            path.unlink()
    assert newsdrop_run(early, data, plain_env).returncode == 0
    before = snapshot(data)

    failed = newsdrop_run(inbox, data, {**plain_env, FAULT_ENV: "batch-read:enospc"})
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [failed.stderr.strip()]
    assert "No space left on device" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert snapshot(data) == before
    assert_consistent(data)
    assert not DataLayout(data).running_marker.exists()
    runs = run_statuses(data)
    assert [status for status, _error in runs] == ["succeeded", "failed"]
    assert runs[-1][1].startswith("OSError"), runs

    assert newsdrop_run(inbox, data, plain_env).returncode == 0
    assert query(data, "SELECT count(*) FROM drops") == [(34,)]
    assert [status for status, _error in run_statuses(data)] == ["succeeded", "failed", "succeeded"]
    assert_consistent(data)


def random_kills(tmp_path: Path, plain_env: dict[str, str], drops: int, kills: int, seed: int) -> dict[str, int]:
    """Grow the inbox by a chunk before each attempt, so that every attempt has work to
    be killed in; kill each at a random moment; then finish and compare with a clean run."""
    inbox, data, reference = tmp_path / "inbox", tmp_path / "data", tmp_path / "reference"
    env = {**plain_env, "NEWSDROP_BATCH_SIZE": "200"}
    chunk = drops // kills
    rng = random.Random(seed)
    outcome = {"killed": 0, "finished_before_kill": 0}
    generate(chunk, inbox, seed=seed, corpora=None)
    started = time.monotonic()
    assert newsdrop_run(inbox, data, env).returncode == 0  # also measures one chunk's run time
    chunk_seconds = time.monotonic() - started
    for attempt in range(1, kills):
        generate(chunk, inbox, seed=seed, corpora=None, start=attempt * chunk)
        process = newsdrop_process(inbox, data, env)
        time.sleep(rng.uniform(0.1, chunk_seconds))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            outcome["killed"] += 1
        else:
            outcome["finished_before_kill"] += 1
        process.wait(timeout=60)
    assert newsdrop_run(inbox, data, env).returncode == 0
    assert newsdrop_run(inbox, reference, env).returncode == 0
    assert snapshot(data) == snapshot(reference)
    assert query(data, "SELECT count(*) FROM drops") == [(chunk * kills,)]
    assert_consistent(data)
    statuses = [status for status, _error in run_statuses(data)]
    assert set(statuses) <= {"succeeded", "interrupted"}, statuses
    assert statuses[-1] == "succeeded"
    # A run killed before it wrote its marker (Prefect still starting) or after its runs
    # row left nothing to record as interrupted; no other run is recorded so.
    outcome["interrupted"] = statuses.count("interrupted")
    assert outcome["interrupted"] <= outcome["killed"], outcome
    return outcome


def test_random_sigkills_during_a_real_run(tmp_path: Path, plain_env: dict[str, str]) -> None:
    outcome = random_kills(tmp_path, plain_env, drops=1200, kills=4, seed=7)
    print(outcome)
    assert outcome["killed"] >= 2, outcome


@pytest.mark.slow
def test_many_random_sigkills(tmp_path: Path, plain_env: dict[str, str]) -> None:
    outcome = random_kills(tmp_path, plain_env, drops=6000, kills=30, seed=11)
    print(outcome)
    assert outcome["killed"] >= 15, outcome
