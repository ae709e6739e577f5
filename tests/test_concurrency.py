"""Concurrent runs, and analysts who keep DuckDB open while runs publish."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DROPS
from helpers import make_inbox, query
from test_crash import assert_consistent, newsdrop_process, newsdrop_run

from benchmarks.generate import generate

ANALYST = Path(__file__).parent / "analyst.py"


def analyst(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, str(ANALYST), *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def analyst_result(process: subprocess.Popen[str]) -> dict:
    stdout, _ = process.communicate(timeout=120)
    return json.loads(stdout.strip().splitlines()[-1])


def test_two_runs_at_once_load_each_drop_exactly_once(tmp_path: Path, prefect_env: dict[str, str]) -> None:
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    generate(1500, inbox, seed=3, corpora=None)
    first = newsdrop_process(inbox, data, prefect_env)
    second = newsdrop_process(inbox, data, prefect_env)
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


def test_a_waiting_run_takes_its_turn(tmp_path: Path, prefect_env: dict[str, str]) -> None:
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    generate(1000, inbox, seed=4, corpora=None)
    runs = [newsdrop_process(inbox, data, prefect_env, "--wait", "120") for _ in range(2)]
    for process in runs:
        process.communicate(timeout=300)
    assert [process.returncode for process in runs] == [0, 0]
    assert query(data, "SELECT count(*) FROM drops") == [(1000,)]
    assert query(data, "SELECT sum(drops_loaded) FROM runs") == [(1000,)]


@pytest.mark.parametrize("mode", ["ro", "rw"])
def test_an_open_analyst_session_never_blocks_a_run(mode: str, tmp_path: Path, prefect_env: dict[str, str]) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    assert newsdrop_run(inbox, data, prefect_env).returncode == 0
    reader = analyst("hold", str(data), mode, "8")  # read-only, or read-write as a notebook might

    generate(300, inbox, seed=5, corpora=None)
    started = time.monotonic()
    result = newsdrop_run(inbox, data, prefect_env)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert query(data, "SELECT count(*) FROM drops") == [(324,)]  # a new connection sees the new rows

    seen = analyst_result(reader)
    assert seen["broken"] == []
    assert seen["counts"] == [24]  # the open session kept its own consistent snapshot
    print(f"run with an analyst session ({mode}) open: {elapsed:.1f} s")


def test_readers_never_see_a_half_published_state(tmp_path: Path, prefect_env: dict[str, str]) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    assert newsdrop_run(inbox, data, prefect_env).returncode == 0
    watcher = analyst("watch", str(data), "20")
    parquet_reader = analyst("parquet", str(data), "20")
    for round_no in range(4):
        generate(200, inbox, seed=6, corpora=None, start=round_no * 200)
        assert newsdrop_run(inbox, data, prefect_env).returncode == 0
    final = 24 + 800
    assert query(data, "SELECT count(*) FROM drops") == [(final,)]

    seen = analyst_result(watcher)
    assert seen["errors"] == [] and seen["broken"] == [], seen
    assert seen["reads"] > 10 and set(seen["counts"]) <= {24, 224, 424, 624, 824}, seen
    read = analyst_result(parquet_reader)
    assert read["errors"] == [] and read["duplicates"] == 0, read
    assert read["reads"] > 10 and set(read["counts"]) <= {24, 224, 424, 624, 824}, read
    print(f"snapshot reads: {seen['reads']}, parquet reads: {read['reads']}")


def test_a_run_that_finds_the_data_folder_busy_is_skipped_not_failed(tmp_path: Path, prefect_api: None) -> None:
    from helpers import newsdrop

    from newsdrop.warehouse.layout import DataLayout
    from newsdrop.warehouse.lock import run_lock

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    with run_lock(DataLayout(data).lock):  # as a manual run would hold it while a scheduled one fires
        result = newsdrop("run", "--inbox", str(inbox), "--data", str(data))
    assert result.exit_code == 3
    assert "another newsdrop run is in progress on this data folder" in result.output
    assert not (data / "news.duckdb").exists()
