"""The Prefect flows: the pipeline of newsdrop.pipeline, with each step a Prefect task.

Tasks are per batch, never per file: each Prefect task run costs the API about
17 ms, and a local server gives "database is locked" under many small ones.
The logic lives in newsdrop.warehouse and the order of the steps in
newsdrop.pipeline; this module only names the steps for Prefect.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prefect import State, flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.states import Cancelled

from newsdrop import pipeline
from newsdrop.errors import RunInProgress
from newsdrop.flows.artifacts import publish_artifacts
from newsdrop.flows.progress import read_progress
from newsdrop.flows.signals import recording_sigterm_in_flow
from newsdrop.pipeline import Batch, Progress, Steps
from newsdrop.settings import Settings, load_settings
from newsdrop.summary import RunSummary
from newsdrop.warehouse.batch import BatchResult


def is_transient_io(_task: Any, _task_run: Any, state: Any) -> bool:
    """Retry what a second try can fix (I/O), not a bug, a missing file or a full disk."""
    error = state.result(raise_on_failure=False)
    return (isinstance(error, OSError) and not isinstance(error, PermissionError | FileNotFoundError)
            and error.errno != 28)


# Steps that only touch files are safe to retry: each one redoes its work whole.
RETRY_IO: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [1, 5],
    "retry_condition_fn": is_transient_io,
    "cache_policy": NO_CACHE,
}

discover_task = task(name="discover", **RETRY_IO)(pipeline.discover)
read_batch_task = task(name="read-batch", task_run_name="read-batch-{spec.part}", **RETRY_IO)(pipeline.read_one_batch)
commit_task = task(name="commit-batch", task_run_name="commit-batch-{result.spec.part}",
                   cache_policy=NO_CACHE)(pipeline.commit)
finish_task = task(name="finish", cache_policy=NO_CACHE)(pipeline.finish)
report_task = task(name="report", cache_policy=NO_CACHE)(publish_artifacts)


def read_batches_as_tasks(batches: list[Batch], settings: Settings, progress: Progress) -> Iterator[BatchResult]:
    """One read-batch task per batch, each handing its batch to a reader process; results
    as they finish, so the commits keep pace with the readers."""
    return pipeline.in_completion_order(batches, settings, progress, read_batch_task.submit,
                                        as_completed)  # type: ignore[arg-type]  # Prefect's futures are Pending


AS_TASKS = Steps(
    discover=discover_task,
    read_batches=read_batches_as_tasks,
    commit=commit_task,
    finish=finish_task,
    report=report_task,
)


def _unless_busy(run: Any, settings: Settings) -> RunSummary | State[Any]:
    """Another run holds the data folder (a manual run, while a scheduled one fires):
    this run is skipped, which is not a failure."""
    try:
        return run(settings, AS_TASKS, read_progress)  # type: ignore[no-any-return]
    except RunInProgress as busy:
        return Cancelled(message=str(busy))


def announce_line(text: str) -> None:
    """One line on stdout for `serve`, whose runner streams each run's output (print would
    go to Prefect's logger, which log_prints makes of it)."""
    sys.stdout.write(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z {text}\n")
    sys.stdout.flush()


@contextlib.contextmanager
def finishing_on_sigterm(scheduled: bool) -> Iterator[None]:
    """A scheduled run finishes what it is doing when `serve` is stopped: SIGTERM (sent to
    serve's whole process group) is held until the run ends, and serve waits for it. A run
    of `newsdrop run` keeps stopping at once, the signal recorded first (flows.signals)."""
    if not scheduled or threading.current_thread() is not threading.main_thread():
        with recording_sigterm_in_flow():
            yield
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@flow(name="newsdrop-ingest", log_prints=True)
def ingest(inbox: str | None = None, data: str | None = None, settle_seconds: float | None = None,
           max_bytes: int | None = None, batch_size: int | None = None, workers: int | None = None,
           lock_wait_seconds: float | None = None, run_timeout_seconds: float | None = None,
           announce: bool = False) -> RunSummary | State[Any]:
    """Take in every new drop of the inbox. `announce`: print one line for the run (serve)."""
    settings = load_settings(inbox=inbox, data=data, settle_seconds=settle_seconds, max_bytes=max_bytes,
                             batch_size=batch_size, workers=workers, lock_wait_seconds=lock_wait_seconds,
                             run_timeout_seconds=run_timeout_seconds)
    try:
        with finishing_on_sigterm(announce):
            outcome = _unless_busy(pipeline.run_ingest, settings)
    except Exception as error:
        if announce:
            announce_line(f"run failed: {(str(error) or type(error).__name__).splitlines()[0]}")
        raise
    if announce:
        announce_line(outcome.one_line() if isinstance(outcome, RunSummary) else f"run skipped: {outcome.message}")
    return outcome


@flow(name="newsdrop-rebuild", log_prints=True)
def rebuild(data: str | None = None, workers: int | None = None, lock_wait_seconds: float | None = None,
            run_timeout_seconds: float | None = None) -> RunSummary | State[Any]:
    """Re-read every kept raw drop with the current rules and rebuild every table."""
    settings = load_settings(data=data, workers=workers, lock_wait_seconds=lock_wait_seconds,
                             run_timeout_seconds=run_timeout_seconds)
    with recording_sigterm_in_flow():
        return _unless_busy(pipeline.run_rebuild, settings)

