"""The real command in its own process, as a user runs it: Prefect's ephemeral API,
no test harness. A normal run prints no traceback; a failed one prints one line."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DROPS
from helpers import counts, left_behind

from newsdrop.settings import SAMPLE_INBOX


def newsdrop(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean_env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "NEWSDROP_"))}
    clean_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "newsdrop", *args], cwd=cwd, env=clean_env, capture_output=True, text=True,
        timeout=240, check=False,
    )


@pytest.mark.parametrize("prefect", [False, True], ids=["engine-alone", "prefect"])
def test_run_sample_loads_the_sample_inbox_quietly(tmp_path: Path, prefect: bool) -> None:
    """And a finished run leaves no process behind: with --prefect, its local Prefect server is
    stopped; without it (and no PREFECT_API_URL), no Prefect server is started at all."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "NEWSDROP_"))}
    process = subprocess.Popen([sys.executable, "-m", "newsdrop", "run", "--sample", "--settle-seconds", "0",
                                *(["--prefect"] if prefect else [])],
                               cwd=tmp_path, env={**env, "NEWSDROP_DATA": str(tmp_path / "wh")},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    started = time.monotonic()
    stdout, stderr = process.communicate(timeout=240)
    waited = time.monotonic() - started
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert result.returncode == 0, result.stderr
    # It says its own wall time beside the run's: all of the wait but the interpreter's start.
    wall, run = map(float, re.findall(r"wall time: ([\d.]+) s for the command \(the run itself ([\d.]+) s", stdout)[0])
    assert run <= wall <= waited, (run, wall, waited)
    assert left_behind(process.pid, tmp_path / "wh") == []
    samples = len(list(SAMPLE_INBOX.glob("*.txt")))
    assert f"{samples} seen, {samples} new" in result.stdout
    assert f"of {SAMPLE_INBOX}" in result.stdout  # every run says which inbox it read
    assert "anonymous usage" not in result.stdout + result.stderr
    # The hint's commands work as printed, from where the user is.
    for start in ("query it:", "search it:"):
        hint = next(line for line in result.stdout.splitlines() if line.startswith(start))
        command = shlex.split(hint.removeprefix(start).split("   (")[0])
        assert command[:2] == [sys.executable, "-m"]
        printed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
                                 env={**os.environ, "NEWSDROP_DATA": str(tmp_path / "wh")})
        assert printed.returncode == 0, printed.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "Error" not in result.stderr
    assert counts(tmp_path / "wh")["drops"] + counts(tmp_path / "wh")["rejected_drops"] == samples
    server_database = tmp_path / "wh" / "_state" / "prefect" / "prefect.db"
    assert ("mostly Prefect's" in result.stdout) == prefect
    if not prefect:
        assert not server_database.exists()
        return
    # The run's log lines reached its server (the UI's Logs tab of the run), though the
    # terminal showed none of Prefect's: sent before the command stopped the server.
    with contextlib.closing(sqlite3.connect(server_database)) as db:
        logged = [message for (message,) in db.execute("SELECT message FROM log WHERE flow_run_id IS NOT NULL")]
    assert any(message.startswith("ingest run ") and "lake snapshot" in message for message in logged), logged
    assert any(message.startswith("Finished in state Completed") for message in logged), logged


def test_a_failed_run_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "_state").write_text("not a folder")
    result = newsdrop("run", "--inbox", str(DROPS), "--data", str(data), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("newsdrop: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "_state").write_text("not a folder")
    result = newsdrop("run", "--inbox", str(DROPS), "--data", str(data), "--debug", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_help_describes_every_command(tmp_path: Path) -> None:
    result = newsdrop("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "rebuild"):
        assert command in result.stdout
        sub = newsdrop(command, "--help", cwd=tmp_path)
        assert sub.returncode == 0 and "--data" in sub.stdout and "Example" in sub.stdout


@pytest.mark.parametrize(("env", "expected"), [
    # A machine too busy for the server to answer in time: the wait is the knob named.
    # (No Prefect server answers within a second of its start: importing Prefect takes longer.)
    ({"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1"}, "did not answer within 1 s (its log: "),
    # A server that cannot start (here, a database it cannot open): it is tried again, then
    # the reason from its log.
    ({"PREFECT_SERVER_DATABASE_CONNECTION_URL": "nosuchdriver://"},
     "the local Prefect server exited at start (exit 1): sqlalchemy.exc.NoSuchModuleError: "),
    ({"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "0.5"}, "give whole seconds above 0"),
], ids=["too-slow", "exits", "bad-wait"])
def test_a_local_server_that_does_not_start_is_one_line_and_leaves_nothing(
        tmp_path: Path, env: dict[str, str], expected: str) -> None:
    data = tmp_path / "wh"
    process = subprocess.Popen(
        [sys.executable, "-m", "newsdrop", "run", "--prefect", "--inbox", str(DROPS), "--data", str(data)],
        cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSDROP_"))}, **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 1, stdout + stderr
    assert stdout == "" and len(stderr.splitlines()) == 1 and stderr.startswith("newsdrop: "), stderr
    assert expected in stderr, stderr
    assert left_behind(process.pid, data) == []


def test_a_prefect_home_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("a file, not a folder")
    result = newsdrop("run", "--prefect", "--inbox", str(DROPS), "--data", str(tmp_path / "wh"), cwd=tmp_path,
                      env={"PREFECT_HOME": str(tmp_path / "home" / "prefect")})
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("newsdrop: cannot make the Prefect server's folder"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
