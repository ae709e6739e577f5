"""One door (issue #28): the CLI and the Prefect flows are adapters over newsdrop.api and its run engine;
what they report, how busy looks and how the timeout stops a run are the same from every door."""

from __future__ import annotations

import ast
import errno
import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import DROPS
from helpers import ingest, make_inbox, newsdrop, query

from newsdrop import api
from newsdrop.errors import RunFailed, RunInProgress
from newsdrop.warehouse.layout import PREFECT_DATABASE, DataLayout
from newsdrop.warehouse.lock import file_lock

CLI = Path(__file__).resolve().parents[1] / "flows" / "cli.py"


def test_the_cli_imports_nothing_from_the_warehouse() -> None:
    imported = set()
    for node in ast.walk(ast.parse(CLI.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert [name for name in imported if name.startswith("newsdrop.warehouse")] == []
    assert "newsdrop.api" in imported or "newsdrop" in imported


def test_status_from_the_cli_and_the_api_agree_with_the_inbox_setting(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    ingest(inbox, data)
    (inbox / "900_00000000000000aa.txt").write_text("A new body line.\n\n\nHeadline one\nHeadline two\n")
    monkeypatch.setenv("NEWSDROP_INBOX", str(inbox))
    from_api = api.status(data)
    assert from_api["backlog"] == {"files": 1, "in_inbox": 37}  # NEWSDROP_INBOX, as the command reads it
    from_cli = json.loads(newsdrop("status", "--data", str(data), "--json").output)
    from_api.pop("freshness"), from_cli.pop("freshness")  # its age is measured when asked
    assert from_cli == json.loads(json.dumps(from_api, default=str))


ENGINE = Path(__file__).resolve().parents[1] / "newsdrop" / "engine.py"


def test_the_run_engine_imports_no_prefect() -> None:
    imported = {node.module for node in ast.walk(ast.parse(ENGINE.read_text(encoding="utf-8")))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert [name for name in imported if name.startswith(("prefect", "newsdrop.flows"))] == []


@pytest.mark.usefixtures("prefect_api")
def test_a_run_or_rebuild_that_finds_the_folder_busy_is_exit_3_through_the_flow(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a wait, the command's preflight lets the run start, and the run itself (the flow,
    through newsdrop.ingest) finds the folder busy: the same exit 3 and line as the preflight's,
    and RunInProgress from the API."""
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    ingest(inbox, data)
    with file_lock(DataLayout(data).lock):
        refused = newsdrop("run", "--inbox", str(inbox), "--data", str(data))  # the preflight finds it
        busy = newsdrop("run", "--inbox", str(inbox), "--data", str(data), "--wait", "0.2")  # the run does
        monkeypatch.setenv("NEWSDROP_LOCK_WAIT_SECONDS", "0.2")  # rebuild has no --wait of its own
        busy_rebuild = newsdrop("rebuild", "--data", str(data))
        with pytest.raises(RunInProgress):
            api.ingest(inbox, data)
        with pytest.raises(RunInProgress):
            api.rebuild(data)
    expected = (f"newsdrop: another newsdrop run is in progress on this data folder (pid {os.getpid()}); "
                "try again later, or pass --wait SECONDS")
    for result in (refused, busy, busy_rebuild):
        assert result.exit_code == 3, result.output
        # (Prefect's own log lines show here only because this process configured its logging first.)
        assert [line for line in result.output.splitlines() if line.startswith("newsdrop:")] == [expected]


def _long_query_before(commit: Any) -> Any:
    """A batch commit that first runs a query that would take hours on the run's connection."""

    def slow_commit(con: duckdb.DuckDBPyConnection, *arguments: Any) -> Any:
        con.execute("SELECT count(*) FROM range(1000000000000) a")
        return commit(con, *arguments)

    return slow_commit


@pytest.mark.timeout(120)
def test_the_timeout_interrupts_a_query_in_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsdrop import engine

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    monkeypatch.setattr(engine, "commit_batch", _long_query_before(engine.commit_batch))
    with pytest.raises(RunFailed, match=r"the run exceeded its timeout of 2 s"):
        api.ingest(inbox, data, settle_seconds=0, run_timeout_seconds=2)
    monkeypatch.undo()
    assert query(data, "SELECT count(*) FROM drops") == [(0,)]
    assert query(data, "SELECT status, error FROM runs") == [
        ("failed", "RunFailed: the run exceeded its timeout of 2 s (run_timeout_seconds, --timeout); "
                   "the batches it committed are kept")]
    again = api.ingest(inbox, data, settle_seconds=0)  # nothing of the stopped run is in the way
    assert again.drops_loaded == 34


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.timeout(120)
def test_the_flow_serve_runs_honours_the_same_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from newsdrop import engine
    from newsdrop.flows.ingest import ingest as ingest_flow

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    monkeypatch.setattr(engine, "commit_batch", _long_query_before(engine.commit_batch))
    with pytest.raises(RunFailed, match=r"the run exceeded its timeout of 2 s"):
        ingest_flow(inbox=str(inbox), data=str(data), settle_seconds=0, run_timeout_seconds=2, announce=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].endswith("run failed: the run exceeded its timeout of 2 s "
                                                 "(run_timeout_seconds, --timeout); the batches it committed "
                                                 "are kept"), lines


def test_a_transient_read_error_is_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsdrop import readers

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    failures = [OSError(errno.EIO, "Input/output error (a network file system hiccup)")]
    read_batch = readers.read_batch

    def flaky(*arguments: Any) -> Any:
        if failures:
            raise failures.pop()
        return read_batch(*arguments)

    monkeypatch.setattr(readers, "read_batch", flaky)
    monkeypatch.setattr(readers, "RETRY_DELAYS", (0.01, 0.01))
    assert api.ingest(inbox, data, settle_seconds=0, workers=1).drops_loaded == 34
    assert failures == []
    failures[:] = [OSError(errno.ENOSPC, "No space left on device")]  # not transient: the run fails
    (inbox / "900_00000000000000aa.txt").write_text("A new body line.\n\n\nHeadline one\nHeadline two\n")
    with pytest.raises(RunFailed, match="No space left on device"):
        api.ingest(inbox, data, settle_seconds=0, workers=1)


@pytest.mark.usefixtures("prefect_api")
def test_a_scheduled_run_that_finds_the_folder_busy_is_skipped_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """serve's runs call the flow with announce: busy after its wait is a skip (Cancelled), not a failure."""
    from newsdrop.flows.ingest import ingest as ingest_flow

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    with file_lock(DataLayout(data).lock):
        state = ingest_flow(inbox=str(inbox), data=str(data), lock_wait_seconds=0.2, announce=True,
                            return_state=True)
    assert state.is_cancelled()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        f"run skipped: another newsdrop run is in progress on this data folder (pid {os.getpid()}); "
        "try again later, or pass --wait SECONDS"), lines


async def _task_runs_of_the_flow_run_on(data: Path) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        (flow_run,) = [each for each in await client.read_flow_runs() if each.parameters.get("data") == str(data)]
        task_runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
        return sorted(task_run.name for task_run in task_runs)


@pytest.mark.usefixtures("prefect_api")
def test_the_flow_records_each_step_as_a_task_run(tmp_path: Path) -> None:
    import asyncio

    from newsdrop.flows.ingest import ingest as ingest_flow

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    summary = ingest_flow(inbox=str(inbox), data=str(data), settle_seconds=0, batch_size=10, workers=2)
    assert summary.drops_loaded == 34
    assert asyncio.run(_task_runs_of_the_flow_run_on(data)) == sorted([
        "discover", *(f"read-batch-{part}" for part in range(4)), *(f"commit-batch-{part}" for part in range(4)),
        "finish", "report"])


def test_one_run_record_in_the_summary_the_runs_row_and_status(tmp_path: Path) -> None:
    """The counters are named once (RunCounts): the summary, the `runs` row and `status` agree."""
    from dataclasses import asdict

    from newsdrop.warehouse.schema import RUN_COUNTERS, RUNS

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    summary = api.ingest(inbox, data, settle_seconds=0)
    counters = asdict(summary.counts())
    assert list(counters) == list(RUN_COUNTERS) and counters["drops_loaded"] == 34
    (row,) = query(data, f"SELECT {', '.join(RUN_COUNTERS)} FROM runs")
    assert dict(zip(RUN_COUNTERS, row, strict=True)) == counters
    last = api.status(data)["last_run"]
    assert list(last) == RUNS.names and {name: last[name] for name in RUN_COUNTERS} == counters


def test_status_names_a_command_that_browses_the_runs_without_an_activated_venv(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import shlex
    import subprocess

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    ingest(inbox, data)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    DataLayout(data).prefect_home.mkdir(parents=True)
    (DataLayout(data).prefect_home / PREFECT_DATABASE).write_bytes(b"")  # as `newsdrop run` leaves it
    browse = shlex.split(api.status(data)["prefect"]["browse"])
    assert browse[0] == f"PREFECT_HOME={DataLayout(data).prefect_home}"
    assert browse[2:] == ["-m", "prefect", "server", "start"]
    # The program named is there, and has Prefect, with nothing on the PATH.
    asked = subprocess.run([browse[1], "-m", "prefect", "--version"], env={**os.environ, "PATH": ""},
                           capture_output=True, text=True, timeout=120, check=False)
    assert asked.returncode == 0 and asked.stdout.strip(), asked.stderr
