"""The Prefect flows: newsdrop.ingest and newsdrop.rebuild, with each step a Prefect task run.

The run itself is newsdrop's run engine (newsdrop.engine), the same as the Python API's;
this module only gives Prefect what it adds, through the engine's hooks: a task run for
each step (discover, read-batch-N, commit-batch-N, finish, report), the artifacts, and
serve's one line per run. Tasks are per batch, never per file: each Prefect task run costs
the API about 17 ms, and a local server gives "database is locked" under many small ones.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from prefect import State, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.states import Cancelled
from prefect.task_runners import ThreadPoolTaskRunner

import newsdrop
from newsdrop.engine import Advance
from newsdrop.errors import RunInProgress, first_line
from newsdrop.flows.artifacts import publish_artifacts
from newsdrop.flows.progress import TerminalHooks
from newsdrop.flows.signals import recording_sigterm_in_flow
from newsdrop.summary import RunSummary
from newsdrop.warehouse.batch import BatchResult
from newsdrop.warehouse.discover import Plan

T = TypeVar("T")

# Each batch being read is a read-batch task run in a thread of the flow's task runner,
# waiting for its reader; the engine keeps two batches per reader in flight.
TASK_THREADS = 128


class Sealed(Generic[T]):
    """A task argument or result that Prefect does not look inside. Prefect walks every
    list, dataclass and model a task is given or returns, looking for futures: measured,
    280k objects and 6 s of a 20k-drop run's main process, as a plan and a batch hold
    one object per file."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


def _call(part: int | None, call: Sealed[Callable[[], Any]]) -> Sealed[Any]:
    return Sealed(call.value())


def _wait_for(part: int, start: Sealed[Callable[[], Future[BatchResult]]]) -> Sealed[BatchResult]:
    return Sealed(start.value().result())


STEPS = {
    "discover": task(name="discover", task_run_name="discover", cache_policy=NO_CACHE)(_call),
    "commit-batch": task(name="commit-batch", task_run_name="commit-batch-{part}", cache_policy=NO_CACHE)(_call),
    "finish": task(name="finish", task_run_name="finish", cache_policy=NO_CACHE)(_call),
    "replace-tables": task(name="replace-tables", task_run_name="replace-tables", cache_policy=NO_CACHE)(_call),
}
READ_BATCH = task(name="read-batch", task_run_name="read-batch-{part}", cache_policy=NO_CACHE)(_wait_for)


def _task_runner() -> Any:
    return ThreadPoolTaskRunner(max_workers=TASK_THREADS)


@task(name="report", task_run_name="report", cache_policy=NO_CACHE)
def report(summary: Sealed[RunSummary]) -> None:
    publish_artifacts(summary.value)


class PrefectHooks(TerminalHooks):
    """A run's steps as Prefect task runs of the flow run in progress, its progress in the flow
    run's log too, its summary as artifacts."""

    def step(self, name: str, part: int | None, call: Callable[[], T]) -> T:
        def as_task_run() -> T:
            sealed: Sealed[T] = STEPS[name](part, Sealed(call))
            return sealed.value

        done = super().step(name, part, as_task_run)
        if isinstance(done, Plan):
            get_run_logger().info("listed the inbox: %d files, %d new, %d unchanged, %d still being written",
                                  done.seen, done.new, done.unchanged, len(done.settling))
        if name == "commit-batch" and self._reading is not None:
            get_run_logger().info("committed batch %d/%d", self._reading.committed_batches, self._reading.batches)
        return done

    def read(self, part: int, start: Callable[[], Future[BatchResult]]) -> Future[BatchResult]:
        read: PrefectFuture[Sealed[BatchResult]] = READ_BATCH.submit(part, Sealed(start))
        result: Future[BatchResult] = Future()

        def settle(done: PrefectFuture[Sealed[BatchResult]]) -> None:
            try:
                result.set_result(done.result().value)
            except BaseException as error:  # the engine's wait raises it
                result.set_exception(error)

        read.add_done_callback(settle)
        return result

    @contextlib.contextmanager
    def progress(self, files: int, batches: int, files_read: Callable[[], int] | None) -> Iterator[Advance]:
        log = get_run_logger()  # the flow run's log, which the UI shows under the run
        log.info("reading %d new files in %d batch%s", files, batches, "" if batches == 1 else "es")
        with super().progress(files, batches, files_read) as advance:
            def advance_and_log(files_done: int) -> None:
                advance(files_done)
                if self._reading is not None:
                    log.info("read batch %d/%d (%d/%d files)", self._reading.read_batches, batches,
                             self._reading.read_files, files)

            yield advance_and_log

    def finished(self, summary: RunSummary) -> None:
        log = get_run_logger()
        for line in summary.lines():
            log.info(line)
        report(Sealed(summary))


PREFECT = PrefectHooks()


def announce_line(text: str) -> None:
    """One line on stdout for `serve`, whose runner streams each run's output (print would
    go to Prefect's logger, which log_prints makes of it)."""
    sys.stdout.write(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z {text}\n")
    sys.stdout.flush()


@contextlib.contextmanager
def finishing_on_sigterm(scheduled: bool) -> Iterator[None]:
    """A scheduled run finishes what it is doing when `serve` is stopped: a SIGTERM that
    reaches the run itself (systemd's default stop sends it to every process of the unit;
    serve's own stop does not) is held until the run ends, and serve waits for it. A run of
    `newsdrop run` keeps stopping at once, the signal recorded first (flows.signals)."""
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


@flow(name="newsdrop-ingest", log_prints=True, task_runner=_task_runner())
def ingest(inbox: str | None = None, data: str | None = None, settle_seconds: float | None = None,
           max_bytes: int | None = None, batch_size: int | None = None, workers: int | None = None,
           lock_wait_seconds: float | None = None, run_timeout_seconds: float | None = None,
           catalog: str | None = None, dask: str | None = None, announce: bool = False) -> RunSummary | State[Any]:
    """newsdrop.ingest as a Prefect flow. `announce`: a scheduled run of serve, which prints one
    line for the run, and is skipped (Cancelled, not failed) when another run holds the data."""
    try:
        with finishing_on_sigterm(announce):
            summary = newsdrop.ingest(inbox, data, settle_seconds=settle_seconds, max_bytes=max_bytes,
                                      batch_size=batch_size, workers=workers, lock_wait_seconds=lock_wait_seconds,
                                      run_timeout_seconds=run_timeout_seconds, catalog=catalog, dask=dask,
                                      hooks=PREFECT)
    except RunInProgress as busy:
        if not announce:
            raise
        announce_line(f"run skipped: {busy}")
        return Cancelled(message=str(busy))
    except Exception as error:
        if announce:
            announce_line(f"run failed: {first_line(error)}")
        raise
    if announce:
        announce_line(summary.one_line())
    return summary


@flow(name="newsdrop-rebuild", log_prints=True, task_runner=_task_runner())
def rebuild(data: str | None = None, workers: int | None = None, lock_wait_seconds: float | None = None,
            run_timeout_seconds: float | None = None, catalog: str | None = None,
            dask: str | None = None) -> RunSummary:
    """newsdrop.rebuild as a Prefect flow."""
    with recording_sigterm_in_flow():
        return newsdrop.rebuild(data, workers=workers, lock_wait_seconds=lock_wait_seconds,
                                run_timeout_seconds=run_timeout_seconds, catalog=catalog, dask=dask, hooks=PREFECT)
