"""Scheduled runs against a real Prefect server: `newsdrop serve` and prefect.yaml."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psutil
import pytest
from conftest import DROPS
from helpers import make_inbox, query

from newsdrop.errors import NewsdropError
from newsdrop.readers import set_parent_death_signal

ROOT = Path(__file__).resolve().parents[1]


def deployment(api_url: str, name: str, wait_seconds: float = 60) -> dict:
    """The deployment as the API has it, waiting for it to be registered."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with urllib.request.urlopen(f"{api_url}/deployments/name/newsdrop-ingest/{name}", timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            if error.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def drops_named(data: Path, name: str) -> int:
    """As an analyst's open session sees it (tests/helpers.py): 0 while there is no warehouse
    (or the first run is still making it)."""
    try:
        return int(query(data, "SELECT count(*) FROM drops WHERE file_name = ?", [name])[0][0])
    except (NewsdropError, duckdb.Error):
        return 0


def start_serve(inbox: Path, data: Path, env: dict[str, str], every: int) -> tuple[subprocess.Popen[str], str]:
    """`newsdrop serve` in its own process group, and the API address its first line names."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "newsdrop", "serve", "--inbox", str(inbox), "--data", str(data), "--every", str(every)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=set_parent_death_signal,  # killed with the test run, if that is killed
    )
    assert serve.stdout is not None
    banner = serve.stdout.readline()
    match = re.search(r"on (http://127\.0\.0\.1:\d+/api)", banner)
    assert match, banner + (serve.stderr.read() if serve.poll() is not None and serve.stderr else "")
    return serve, match.group(1)


def serve_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "NEWSDROP_"))}
    env.update(NEWSDROP_SETTLE_SECONDS="0", PREFECT_HOME=str(tmp_path / "prefect"))
    return env


# How an operator stops serve: Ctrl-C in its terminal (SIGINT to the whole foreground group),
# `kill PID`, `timeout` or `kill -- -PGID` (SIGTERM to the group), closing its terminal (SIGHUP
# to the group); the exit code is 128 + the signal.
STOPS = [
    pytest.param(signal.SIGINT, True, 130, id="ctrl-c"),
    pytest.param(signal.SIGTERM, False, 143, id="kill-pid", marks=pytest.mark.slow),
    pytest.param(signal.SIGTERM, True, 143, id="sigterm-group", marks=pytest.mark.slow),
    pytest.param(signal.SIGHUP, True, 129, id="terminal-closed", marks=pytest.mark.slow),
]


RUN_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ (ingest run |run skipped: )")


@pytest.mark.parametrize(("stop", "to_group", "exit_code"), STOPS)
def test_serve_runs_on_schedule_and_stops_cleanly(tmp_path: Path, stop: signal.Signals, to_group: bool,
                                                  exit_code: int) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    serve, api_url = start_serve(inbox, data, serve_env(tmp_path), every=2)
    signalled = None
    try:

        assert deployment(api_url, "newsdrop-scheduled")["parameters"]["announce"] is True
        # The UI at the address serve prints asks this server's API, not Prefect's default port.
        with urllib.request.urlopen(f"{api_url.removesuffix('/api')}/ui-settings", timeout=30) as answer:
            ui_api = json.load(answer)["api_url"]
        assert ui_api == api_url

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and drops_named(data, "001_c780d2942f53d682.txt") == 0:
            time.sleep(1)
        assert drops_named(data, "001_c780d2942f53d682.txt") == 1, "the first scheduled run never landed"

        (inbox / "900_00000000000000aa.txt").write_text("Dropped while serving.\n\n\nHeadline one\nHeadline two\n")
        dropped_at = time.monotonic()
        while time.monotonic() < dropped_at + 60 and drops_named(data, "900_00000000000000aa.txt") == 0:
            time.sleep(0.5)
        seen_after = time.monotonic() - dropped_at
        assert drops_named(data, "900_00000000000000aa.txt") == 1, "the new file was not taken in"
        print(f"new drop visible in DuckDB {seen_after:.1f} s after it was written")

        # What the UI shows, asked where the UI asks: a completed run, with its task runs, its
        # artifacts and its own log lines (newsdrop's among them).
        done = wait_for_completed_run(ui_api)
        tasks = {task["name"] for task in api_post(ui_api, "/task_runs/filter",
                                                   {"flow_runs": {"id": {"any_": [done["id"]]}}})}
        assert {"discover", "finish", "report"} <= tasks, tasks
        artifacts = {a["key"] for a in api_post(ui_api, "/artifacts/filter",
                                                 {"artifacts": {"flow_run_id": {"any_": [done["id"]]}}})}
        assert "newsdrop-ingest-counts" in artifacts, artifacts
        logs = wait_for_logs(ui_api, done["id"], "lake snapshot")
        assert any(line.startswith("ingest run ") for line in logs), logs

        family = psutil.Process(serve.pid).children(recursive=True)
        server = [p for p in psutil.process_iter(["cmdline"]) if "server" in (p.info["cmdline"] or [])
                  and f"{api_url.split(':')[2].split('/')[0]}" in (p.info["cmdline"] or [])]
        assert server, "the local Prefect server process was not found"
        assert serve.stdout is not None
        serve.stdout.readline()  # a run's line: the signal lands between runs or in one
        signalled = datetime.now(UTC).replace(tzinfo=None)
        (os.killpg if to_group else os.kill)(serve.pid, stop)
        stopping = time.monotonic()
        stdout, stderr = serve.communicate(timeout=120)
        print(f"serve exited {time.monotonic() - stopping:.1f} s after {stop.name}")
    finally:
        if signalled is None:  # the test failed before the stop: leave nothing behind
            os.killpg(serve.pid, signal.SIGKILL)
            serve.communicate(timeout=60)
    # The runs' lines (those in flight finish), then one line; nothing from any other process.
    assert serve.returncode == exit_code, stdout + stderr
    assert stdout.splitlines()[-1] == f"newsdrop: serve stopped ({stop.name})", stdout
    assert [line for line in stdout.splitlines()[:-1] if not RUN_LINE.match(line)] == [], stdout
    assert stderr == "", stderr
    time.sleep(1)
    leftovers = [p for p in [*family, *server] if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert leftovers == [], leftovers
    with contextlib.closing(sqlite3.connect(tmp_path / "prefect" / "prefect.db")) as db:
        # The runs serve had scheduled ahead are gone with it, not left "Late" in the UI.
        scheduled = db.execute("SELECT count(*) FROM flow_run WHERE state_type = 'SCHEDULED'").fetchone()[0]
        # No run was taken after the signal: a run taken (Pending) is one serve started.
        taken = [datetime.fromisoformat(at) for (at,) in db.execute(
            "SELECT min(timestamp) FROM flow_run_state WHERE type = 'PENDING' GROUP BY flow_run_id")]
        ended = [state for (state,) in db.execute("SELECT state_type FROM flow_run")]
    assert scheduled == 0
    assert [at for at in taken if at > signalled] == [], (signalled, taken)
    assert set(ended) <= {"COMPLETED", "CANCELLED"}, ended  # the runs in flight finished (or were skipped)


def api_post(api_url: str, path: str, body: dict) -> list[dict]:
    request = urllib.request.Request(f"{api_url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def wait_for_completed_run(api_url: str, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while not (done := completed(flow_runs(api_url))) and time.monotonic() < deadline:
        time.sleep(1)
    assert done, "no completed flow run in the API the UI asks"
    return done[0]


def wait_for_logs(api_url: str, flow_run_id: str, text: str, seconds: float = 60) -> list[str]:
    """The run's log lines in the API, once one containing `text` has arrived (the log
    handler sends them in batches, a moment after the run)."""
    deadline = time.monotonic() + seconds
    while True:
        logs = [log["message"] for log in api_post(api_url, "/logs/filter",
                                                   {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200})]
        if any(text in line for line in logs) or time.monotonic() > deadline:
            return logs
        time.sleep(1)


def test_prefect_yaml_deploys_to_a_process_pool(tmp_path: Path, prefect_env: dict[str, str]) -> None:
    prefect = [sys.executable, "-m", "prefect"]
    created = subprocess.run([*prefect, "work-pool", "create", "newsdrop-process", "--type", "process",
                              "--overwrite"], env=prefect_env, capture_output=True, text=True, check=False)
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = subprocess.run([*prefect, "--no-prompt", "deploy", "--all"], cwd=ROOT, env=prefect_env,
                              capture_output=True, text=True, check=False, timeout=120)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    found = deployment(prefect_env["PREFECT_API_URL"], "newsdrop-scheduled")
    assert found["entrypoint"] == "flows/ingest.py:ingest"
    assert found["work_pool_name"] == "newsdrop-process"
    assert found["global_concurrency_limit"]["limit"] == 1
    assert found["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert found["parameters"].keys() == {"inbox", "data"}
    scale_out = deployment(prefect_env["PREFECT_API_URL"], "newsdrop-scale-out")
    assert scale_out["parameters"].keys() == {"inbox", "data", "catalog", "dask"}
    assert scale_out["parameters"]["data"].startswith("s3://")


def flow_runs(api_url: str) -> list[dict]:
    request = urllib.request.Request(f"{api_url}/flow_runs/filter", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def completed(runs: list[dict]) -> list[dict]:
    return [run for run in runs if run["state_type"] == "COMPLETED"]


def serve_for(seconds: float, inbox: Path, data: Path, env: dict[str, str], every: int,
              enough: int | None = None) -> tuple[str, str, list[dict]]:
    """Run `serve --every EVERY` for `seconds`, or until `enough` runs have completed (whichever
    comes first: a busy machine runs fewer in a given time); return its output and the
    deployment's flow runs."""
    serve, api_url = start_serve(inbox, data, env, every=every)
    banner = f"on {api_url}\n"
    try:
        assert serve.stdout is not None
        watch = serve.stdout.readline()
        assert f"watch the runs at {api_url.removesuffix('/api')}" in watch
        with urllib.request.urlopen(api_url.removesuffix("/api"), timeout=10) as page:
            assert page.status == 200  # the UI is served
        deadline = time.monotonic() + seconds
        runs = flow_runs(api_url)
        while time.monotonic() < deadline and (enough is None or len(completed(runs)) < enough):
            time.sleep(1)
            runs = flow_runs(api_url)
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        stdout, stderr = serve.communicate(timeout=60)
    return banner + watch + stdout, stderr, runs


@pytest.mark.slow
def test_serve_runs_every_period_without_cancelling_and_collapses_missed_runs(tmp_path: Path) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    env = serve_env(tmp_path)
    # The guarantee is for runs shorter than the period. A run here (a process that starts,
    # imports Prefect and ingests) takes about 3 s on a busy machine, so 5 s, not 3 s: at 3 s
    # CI once saw a run wait its one period for the previous one and be cancelled.
    every = 5
    stdout, stderr, runs = serve_for(240, inbox, data, env, every, enough=5)
    finished = completed(runs)
    cancelled = [run for run in runs if run["state_type"] == "CANCELLED"]
    assert cancelled == [], [run["state"]["message"] for run in cancelled]
    assert len(finished) >= 5, (len(finished), [run["state_type"] for run in runs])  # one after another
    lines = [line for line in stdout.splitlines() if "ingest run" in line]
    assert len(lines) >= len(finished) - 1 and "loaded" in lines[0], stdout  # one line per run
    assert "Traceback" not in stderr and "RuntimeWarning" not in stderr, stderr

    time.sleep(4 * every)  # serve is down: about 4 runs come due and are missed
    _stdout, stderr, runs_after = serve_for(2 * every, inbox, data, env, every)
    new_runs = [run for run in runs_after if run["id"] not in {old["id"] for old in runs}]
    assert [run for run in new_runs if run["state_type"] == "CANCELLED"] == []
    started = sorted(run["start_time"] for run in new_runs if run["start_time"])
    assert len(started) <= 3, started  # two periods' worth, not a burst of the four missed ones


@pytest.mark.slow
def test_stopping_serve_lets_the_run_in_flight_finish(tmp_path: Path) -> None:
    """SIGTERM to serve's process group (as systemd stops it) in the middle of a run: the run
    finishes and is recorded, Prefect has no crashed run, and nothing warns."""
    from benchmarks.generate import generate
    from newsdrop.warehouse.layout import DataLayout

    inbox, data = tmp_path / "inbox", tmp_path / "data"
    generate(800, inbox, seed=5, corpora=None)
    env = serve_env(tmp_path)
    # Longer than the run, so that no second run comes due while it goes.
    serve, _api_url = start_serve(inbox, data, env, every=15)
    marker = DataLayout(data).running_marker
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the first run never started"
    os.killpg(serve.pid, signal.SIGTERM)
    stdout, stderr = serve.communicate(timeout=120)
    assert serve.returncode == 143, stderr
    assert "ingest run" in stdout and "800 loaded" in stdout, stdout
    assert "RuntimeWarning" not in stderr and "Traceback" not in stderr, stderr
    from helpers import query

    assert query(data, "SELECT status, drops_loaded FROM runs") == [("succeeded", 800)]
    with sqlite3.connect(tmp_path / "prefect" / "prefect.db") as db:
        states = [state for (state,) in db.execute("SELECT state_type FROM flow_run WHERE state_type IS NOT NULL")]
    assert "CRASHED" not in states and "COMPLETED" in states, states
