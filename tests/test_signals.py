"""Ctrl-C and SIGTERM stop a run in one line, and a run leaves no process behind.

Without PREFECT_API_URL, as a user's `newsdrop run` is: the run engine alone, and with
--prefect, a run with a local Prefect server of its own, which proves that server is stopped
when the run is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import api_run
import pytest
from helpers import left_behind, query, without_progress

from benchmarks.generate import generate
from newsdrop.errors import stopped_by_signal

pytestmark = pytest.mark.timeout(400)


def start(inbox: Path, data: Path, batch_size: int = 200, prefect: bool = True) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "NEWSDROP_"))}
    env.update(NEWSDROP_SETTLE_SECONDS="0", NEWSDROP_BATCH_SIZE=str(batch_size))
    return subprocess.Popen(
        [sys.executable, "-m", "newsdrop", "run", "--inbox", str(inbox), "--data", str(data), "--workers", "2",
         *(["--prefect"] if prefect else [])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


@pytest.mark.parametrize(("signum", "code", "whole_group", "prefect"), [
    # Ctrl-C in a terminal, pressed twice: the whole foreground group gets it
    pytest.param(signal.SIGINT, 130, True, True, marks=pytest.mark.slow),
    (signal.SIGTERM, 143, False, True),  # a service manager stopping the process
    (signal.SIGINT, 130, False, False),  # the run engine alone
])
def test_a_signal_stops_the_run_in_one_line_and_a_rerun_finishes(tmp_path: Path, signum: int, code: int,
                                                                  whole_group: bool, prefect: bool,
                                                                  plain_env: dict[str, str]) -> None:
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    drops = 3000 if whole_group else 600
    generate(drops, inbox, seed=3, corpora=None)
    # Ctrl-C: batches big enough that stopping takes a moment (the readers end theirs), so
    # that the second Ctrl-C lands while the first is stopping the run. SIGTERM: six batches,
    # so that the run is still under way when the first one has been read.
    process = start(inbox, data, 1000 if whole_group else 100, prefect)
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.startswith("newsdrop: reading "), line
    line = process.stderr.readline()  # the first batch is read: the run is under way
    assert line.startswith("newsdrop: read batch"), line
    if whole_group:
        os.killpg(process.pid, signum)
        time.sleep(0.1)  # a second Ctrl-C while the first is stopping the run: ignored, no traceback
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    sent = time.monotonic()
    stdout, stderr = process.communicate(timeout=60)
    print(f"stopped {time.monotonic() - sent:.1f} s after the signal")
    assert process.returncode == code, stderr
    lines = without_progress(stderr)
    assert len(lines) == 1 and lines[0].startswith("newsdrop: interrupted"), stderr
    assert "Traceback" not in stderr and stdout == ""
    assert left_behind(process.pid, data) == []
    (status, error), = query(data, "SELECT status, error FROM runs")
    assert (status, error) == ("interrupted", "stopped by a signal (Ctrl-C or SIGTERM)")

    # The next run finds the stopped one recorded and takes in the rest (the warehouse's steps in
    # a plain process: a finished `newsdrop run` leaving nothing behind is test_cli_process's).
    rerun = subprocess.run(api_run.command("ingest", str(inbox), str(data), "--workers", "2"),
                           env={**plain_env, "NEWSDROP_BATCH_SIZE": "100"}, capture_output=True, text=True,
                           timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert query(data, "SELECT count(*) FROM drops") == [(drops,)]


def raised_from(cause: BaseException) -> BaseException:
    """What DuckDB raises when a signal handler's error lands in a query (measured with
    SIGALRM: RuntimeError("Query interrupted"), raised from the handler's error)."""
    try:
        try:
            raise cause
        except BaseException as error:
            raise RuntimeError("Query interrupted") from error
    except RuntimeError as outer:
        return outer


@pytest.mark.timeout(10)
def test_a_stop_and_a_timeout_are_told_apart_wherever_they_landed() -> None:
    import duckdb

    from newsdrop.engine import Deadline

    assert stopped_by_signal(KeyboardInterrupt())
    assert stopped_by_signal(raised_from(KeyboardInterrupt()))
    # The run's timeout interrupts its query: a failure (RunFailed), not a stop.
    timeout = Deadline(1).error()
    timeout.__cause__ = duckdb.InterruptException("INTERRUPT Error: Interrupted!")
    assert not stopped_by_signal(timeout) and "exceeded its timeout" in str(timeout)
    assert not stopped_by_signal(ValueError("a bug"))
