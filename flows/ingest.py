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
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from prefect import State, flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.states import Cancelled

from newsdrop import pipeline
from newsdrop.errors import NewsdropError, RunInProgress
from newsdrop.flows.artifacts import publish_artifacts
from newsdrop.flows.progress import read_progress
from newsdrop.flows.signals import recording_sigterm_in_flow
from newsdrop.pipeline import Batch, Progress, Steps
from newsdrop.settings import Settings, load_settings
from newsdrop.summary import Outcome, RunSummary
from newsdrop.warehouse.batch import BatchResult, BatchSpec, Candidate
from newsdrop.warehouse.discover import Plan
from newsdrop.warehouse.quality import CheckResult
from newsdrop.warehouse.runs import Run

T = TypeVar("T")


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

class Sealed(Generic[T]):
    """A task argument or result that Prefect does not look inside. Prefect walks every
    list, dataclass and model a task is given or returns, looking for futures: measured,
    280k objects and 6 s of a 20k-drop run's main process, as a plan and a batch hold
    one object per file (and the finish step was handed the whole plan)."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


@task(name="discover", **RETRY_IO)
def discover_task(run: Sealed[Run], settings: Settings) -> Sealed[Plan]:
    return Sealed(pipeline.discover(run.value, settings))


@task(name="read-batch", task_run_name="read-batch-{part}", **RETRY_IO)
def read_batch_task(part: int, batch: Sealed[Batch], settings: Settings,
                    pool: Executor | None) -> Sealed[BatchResult]:
    spec, candidates = batch.value
    return Sealed(pipeline.read_one_batch(spec, candidates, settings, pool))


@task(name="commit-batch", task_run_name="commit-batch-{part}", cache_policy=NO_CACHE)
def commit_task(part: int, run: Sealed[Run], result: Sealed[BatchResult]) -> list[CheckResult]:
    return pipeline.commit(run.value, result.value)


@task(name="finish", cache_policy=NO_CACHE)
def finish_task(run: Sealed[Run], outcome: Sealed[Outcome], plan: Sealed[Plan | None]) -> int:
    return pipeline.finish(run.value, outcome.value, plan.value)


@task(name="report", cache_policy=NO_CACHE)
def report_task(summary: Sealed[RunSummary]) -> None:
    publish_artifacts(summary.value)


class _ReadTask:
    """A read-batch task run, awaited like any batch being read (newsdrop.pipeline.Pending)."""

    def __init__(self, future: PrefectFuture[Sealed[BatchResult]]) -> None:
        self.future = future

    def result(self) -> BatchResult:
        return self.future.result().value


def read_batches_as_tasks(batches: list[Batch], settings: Settings, progress: Progress) -> Iterator[BatchResult]:
    """One read-batch task per batch, each handing its batch to a reader process; results
    as they finish, so the commits keep pace with the readers. With a Dask cluster, the
    read-batch tasks run on its workers instead."""
    if settings.dask:
        return read_batches_on_dask(batches, settings, progress)

    def submit(spec: BatchSpec, candidates: list[Candidate], settings: Settings, pool: Executor | None) -> _ReadTask:
        return _ReadTask(read_batch_task.submit(spec.part, Sealed((spec, candidates)), settings, pool))

    def first_done(pending: list[_ReadTask]) -> _ReadTask:
        by_future = {task.future: task for task in pending}
        return by_future[next(as_completed(list(by_future)))]

    return pipeline.in_completion_order(batches, settings, progress, submit, first_done)  # type: ignore[arg-type]


@contextlib.contextmanager
def no_readers(_settings: Settings, _batches: int) -> Iterator[None]:
    yield None  # the task runner is the pool


def dask_task_runner(address: str) -> Any:
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError:
        raise NewsdropError(f'reading on Dask ({address}) needs pip install "newsdrop[scale]"') from None
    return DaskTaskRunner(address=address)


def read_batches_on_dask(batches: list[Batch], settings: Settings, progress: Progress) -> Iterator[BatchResult]:
    """The read-batch tasks on the Dask cluster at settings.dask, through prefect-dask's
    DaskTaskRunner; the commits stay in this process, in completion order."""
    assert settings.dask
    try:
        runner = dask_task_runner(settings.dask).__enter__()
    except (OSError, TimeoutError) as error:
        raise NewsdropError(f"cannot reach the Dask scheduler at {settings.dask}: {error}") from None
    try:
        def submit(spec: BatchSpec, candidates: list[Candidate], settings: Settings,
                   _pool: Executor | None) -> _ReadTask:
            parameters = {"part": spec.part, "batch": Sealed((spec, candidates)), "settings": settings, "pool": None}
            return _ReadTask(runner.submit(read_batch_task, parameters))

        def first_done(pending: list[_ReadTask]) -> _ReadTask:
            by_future = {task.future: task for task in pending}
            return by_future[next(as_completed(list(by_future)))]

        yield from pipeline.in_completion_order(batches, settings, progress, submit, first_done,  # type: ignore[arg-type]
                                                readers=no_readers)
    finally:
        runner.__exit__(None, None, None)


AS_TASKS = Steps(
    discover=lambda run, settings: discover_task(Sealed(run), settings).value,
    read_batches=read_batches_as_tasks,
    commit=lambda run, result: commit_task(result.spec.part, Sealed(run), Sealed(result)),
    finish=lambda run, outcome, plan: finish_task(Sealed(run), Sealed(outcome), Sealed(plan)),
    report=lambda summary: report_task(Sealed(summary)),
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
           catalog: str | None = None, dask: str | None = None, announce: bool = False) -> RunSummary | State[Any]:
    """Take in every new drop of the inbox. `announce`: print one line for the run (serve)."""
    settings = load_settings(inbox=inbox, data=data, settle_seconds=settle_seconds, max_bytes=max_bytes,
                             batch_size=batch_size, workers=workers, lock_wait_seconds=lock_wait_seconds,
                             run_timeout_seconds=run_timeout_seconds, catalog=catalog, dask=dask)
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
            run_timeout_seconds: float | None = None, catalog: str | None = None,
            dask: str | None = None) -> RunSummary | State[Any]:
    """Re-read every kept raw drop with the current rules and rebuild every table."""
    settings = load_settings(data=data, workers=workers, lock_wait_seconds=lock_wait_seconds,
                             run_timeout_seconds=run_timeout_seconds, catalog=catalog, dask=dask)
    with recording_sigterm_in_flow():
        return _unless_busy(pipeline.run_rebuild, settings)

