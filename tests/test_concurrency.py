"""Concurrent runs, and analysts who keep the warehouse open while runs commit. The runs are
plain Python processes (tests/api_run.py, see test_crash.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import DROPS
from helpers import make_inbox, query
from test_crash import assert_consistent, newsdrop_process, newsdrop_run

from benchmarks.generate import generate
from newsdrop.warehouse.layout import DataLayout

ANALYST = Path(__file__).parent / "analyst.py"
FIXTURE_FILES = 36  # 34 drops and 2 rejects
BATCH = 50


def analyst(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, str(ANALYST), *args], stdout=subprocess.PIPE, text=True,
                               stdin=subprocess.PIPE)
    assert process.stdout is not None
    if args[0] != "hold":
        assert process.stdout.readline().strip() == "ready"
    return process


def analyst_result(process: subprocess.Popen[str]) -> dict[str, Any]:
    """What a watching analyst saw, once told to stop (its standard input closes)."""
    stdout, _ = process.communicate(timeout=120)
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_two_runs_at_once_load_each_drop_exactly_once(tmp_path: Path, plain_env: dict[str, str]) -> None:
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    generate(1500, inbox, seed=3, corpora=None)
    first = newsdrop_process(inbox, data, plain_env)
    second = newsdrop_process(inbox, data, plain_env)
    outputs = [process.communicate(timeout=300) for process in (first, second)]
    codes = sorted(process.returncode for process in (first, second))
    assert codes in ([0, 0], [0, 3]), outputs
    if codes == [0, 3]:
        busy = next(err for (_, err), p in zip(outputs, (first, second), strict=True) if p.returncode == 3)
        assert busy.strip() == busy.strip().splitlines()[0]
        assert "another newsdrop run is in progress" in busy
        assert "Traceback" not in busy
    assert query(data, "SELECT count(*), count(DISTINCT file_name) FROM drops") == [(1500, 1500)]
    assert_consistent(data)


def test_a_waiting_run_takes_its_turn(tmp_path: Path, plain_env: dict[str, str]) -> None:
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    generate(1000, inbox, seed=4, corpora=None)
    runs = [newsdrop_process(inbox, data, plain_env, "--wait", "120") for _ in range(2)]
    for process in runs:
        process.communicate(timeout=300)
    assert [process.returncode for process in runs] == [0, 0]
    assert query(data, "SELECT count(*) FROM drops") == [(1000,)]
    assert query(data, "SELECT sum(drops_loaded) FROM runs") == [(1000,)]


@pytest.mark.parametrize("mode", ["connect", pytest.param("attach", marks=pytest.mark.slow)])
def test_an_open_analyst_session_never_blocks_a_run(mode: str, tmp_path: Path, plain_env: dict[str, str]) -> None:
    """An analyst holds a read transaction (newsdrop.connect, or a plain DuckDB ATTACH as the
    docs show) across a whole run: the run neither waits nor fails, and the analyst keeps the
    snapshot their transaction began with until they end it."""
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    assert newsdrop_run(inbox, data, plain_env).returncode == 0
    reader = analyst("hold", str(data), mode)
    assert reader.stdin is not None and reader.stdout is not None

    def seen(say: str) -> dict[str, Any]:
        assert reader.stdin is not None and reader.stdout is not None
        reader.stdin.write(say + "\n")
        reader.stdin.flush()
        return json.loads(reader.stdout.readline())  # type: ignore[no-any-return]

    try:
        opened = json.loads(reader.stdout.readline())
        assert opened == {"stage": "open", "drops": 34, "broken": []}, opened

        generate(300, inbox, seed=5, corpora=None)
        # The analyst's transaction stays open until told otherwise: the run can only
        # finish (with a timeout far below the test's) if nothing waits for it.
        result = newsdrop_run(inbox, data, {**plain_env, "NEWSDROP_BATCH_SIZE": "100"})
        assert result.returncode == 0, result.stderr
        assert query(data, "SELECT count(*) FROM drops") == [(334,)]  # a new connection sees the new rows
        assert [status for (status,) in query(data, "SELECT status FROM runs ORDER BY finished_at")] == \
            ["succeeded", "succeeded"]

        assert seen("again") == {"stage": "still open", "drops": 34, "broken": []}  # its own snapshot
        assert seen("commit") == {"stage": "after commit", "drops": 334, "broken": []}
        assert json.loads(reader.stdout.readline()) == {"stage": "new transaction", "drops": 334, "broken": []}
        assert reader.wait(timeout=60) == 0
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()


@pytest.mark.slow  # the default suite's snapshot guarantee: test_an_open_analyst_session_never_blocks_a_run
def test_readers_never_see_a_half_committed_batch(tmp_path: Path, plain_env: dict[str, str]) -> None:
    """Readers during two runs of four batches each: one that reconnects in a loop sees
    whole batches only (a batch is one snapshot), and one that reads the Parquet folders
    directly never fails and never sees a row twice."""
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    assert newsdrop_run(inbox, data, plain_env).returncode == 0
    watcher = analyst("watch", str(data), "240")
    parquet_reader = analyst("parquet", str(data), "240")
    env = {**plain_env, "NEWSDROP_BATCH_SIZE": str(BATCH)}
    for round_no in range(2):
        generate(4 * BATCH, inbox, seed=6, corpora=None, start=round_no * 4 * BATCH)
        assert newsdrop_run(inbox, data, env).returncode == 0
    final = 34 + 8 * BATCH
    assert query(data, "SELECT count(*) FROM drops") == [(final,)]
    assert_consistent(data)

    seen = analyst_result(watcher)
    assert seen["errors"] == [] and seen["broken"] == [], seen
    assert seen["reads"] > 10, seen
    files = [drops + rejected for drops, rejected in seen["counts"]]
    assert all((n - FIXTURE_FILES) % BATCH == 0 for n in files), seen  # whole batches only
    assert len(files) > 1, seen  # it did read while runs committed
    read = analyst_result(parquet_reader)
    assert read["errors"] == [] and read["duplicates"] == 0, read
    assert read["reads"] > 10 and all(34 <= n <= final for n in read["counts"]), read
    print(f"snapshot reads: {seen['reads']} (counts {files}), parquet reads: {read['reads']}")


def test_a_run_that_finds_the_data_folder_busy_is_skipped_not_failed(tmp_path: Path, prefect_api: None) -> None:
    from helpers import newsdrop

    from newsdrop.warehouse.lock import file_lock

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    with file_lock(DataLayout(data).lock):  # as a manual run would hold it while a scheduled one fires
        result = newsdrop("run", "--inbox", str(inbox), "--data", str(data))
    assert result.exit_code == 3
    assert "another newsdrop run is in progress on this data folder" in result.output
    assert not DataLayout(data).catalog.exists()  # it did not even open the lake
