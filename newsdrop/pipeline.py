"""One run, step by step: the same composition for the Python API and the Prefect flows.

    inbox ─▶ discover ─▶ read-batch ×N ─▶ commit-batch ×N ─▶ finish ─▶ report

Each batch is committed to the lake as soon as it is read (rows, ledger entries
and quality checks in one snapshot), so a killed run resumes after its last
committed batch. Each step is a plain function; `Steps` says how it is called:
directly (newsdrop.ingest, newsdrop.rebuild) or as a Prefect task
(newsdrop.flows). Nothing in this module imports Prefect.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from newsdrop.errors import RunFailed
from newsdrop.readers import dask_threads, reader_pool
from newsdrop.settings import Settings, data_layout, require_inbox
from newsdrop.summary import Outcome, RunSummary
from newsdrop.warehouse.batch import BatchResult, BatchSpec, Candidate, read_batch
from newsdrop.warehouse.commit import commit_batch, lake_transaction, write_batch
from newsdrop.warehouse.discover import Plan
from newsdrop.warehouse.discover import discover as discover_inbox
from newsdrop.warehouse.faults import checkpoint
from newsdrop.warehouse.maintenance import expire_before
from newsdrop.warehouse.quality import CheckResult
from newsdrop.warehouse.rebuild import (
    clear_for_rebuild,
    import_legacy_history,
    kept_versions,
    plan_rebuild,
    remove_legacy_files,
)
from newsdrop.warehouse.run_rows import record_run
from newsdrop.warehouse.runs import Run, open_run
from newsdrop.warehouse.schema import RunKind, RunStatus

Batch = tuple[BatchSpec, list[Candidate]]
Advance = Callable[[int], None]
Progress = Callable[[int, int], contextlib.AbstractContextManager[Advance]]
"""progress(files, batches) gives advance(files_done), called as each batch is read."""


@contextlib.contextmanager
def no_progress(_files: int, _batches: int) -> Iterator[Advance]:
    yield lambda _done: None


def read_one_batch(spec: BatchSpec, candidates: list[Candidate], settings: Settings,
                   pool: Executor | None) -> BatchResult:
    """Read one batch, in a reader process when there is a pool."""
    arguments = (spec, candidates, settings.inbox, data_layout(settings), settings.max_bytes)
    return read_batch(*arguments) if pool is None else pool.submit(read_batch, *arguments).result()


class Pending(Protocol):
    """A batch being read: a concurrent future, a Prefect future, or a read not started yet."""

    def result(self) -> BatchResult: ...


Submit = Callable[[BatchSpec, list[Candidate], Settings, Executor | None], Pending]


FirstDone = Callable[[list[Pending]], Pending]
"""first_done(pending) waits for one of the batches being read and gives it."""
Readers = Callable[[Settings, int], contextlib.AbstractContextManager[Executor | None]]
"""readers(settings, batches): the pool batches are read in, if any."""


def in_completion_order(batches: list[Batch], settings: Settings, progress: Progress, submit: Submit,
                        first_done: FirstDone, readers: Readers = reader_pool) -> Iterator[BatchResult]:
    """Every batch's result as soon as it is read; a failed batch fails the run at once, not
    after the others. It takes the list of batches over (and empties it). Two batches per
    worker are in flight: a reader always has the next one while the writer commits, and a
    committed batch's result is let go (submitting them all at once kept every result until
    the run's end: 700 MB at 300k drops). How a batch is submitted, and how one is awaited,
    is the caller's (plain, or Prefect tasks); so is the pool (local processes, a Dask
    cluster, or none when Prefect's task runner is the Dask cluster)."""
    files = sum(len(candidates) for _spec, candidates in batches)
    with readers(settings, len(batches)) as pool, progress(files, len(batches)) as advance:
        waiting = collections.deque(batches)
        batches.clear()  # taken over: each batch's candidates go once it is handed out
        in_flight: dict[Pending, int] = {}
        window = 2 * dask_threads(settings.dask) if settings.dask else 1 if pool is None else 2 * settings.workers

        def top_up() -> None:
            while waiting and len(in_flight) < window:
                spec, candidates = waiting.popleft()
                in_flight[submit(spec, candidates, settings, pool)] = len(candidates)

        top_up()
        while in_flight:
            done = first_done(list(in_flight))
            size = in_flight.pop(done)
            result = done.result()
            checkpoint("batch-read")
            advance(size)
            top_up()  # before the commit: the readers never wait for the writer
            yield result


@dataclass(frozen=True, eq=False)  # by identity: the futures are dict keys
class Deferred:
    """A batch read in this process when its result is asked for, so that without a pool
    the batches are read and committed one after another."""

    arguments: tuple[BatchSpec, list[Candidate], Settings]

    def result(self) -> BatchResult:
        return read_one_batch(*self.arguments, None)


def submit_plainly(spec: BatchSpec, candidates: list[Candidate], settings: Settings,
                   pool: Executor | None) -> Pending:
    if pool is None:
        return Deferred((spec, candidates, settings))
    return pool.submit(read_batch, spec, candidates, settings.inbox, data_layout(settings), settings.max_bytes)


def read_batches(batches: list[Batch], settings: Settings, progress: Progress) -> Iterator[BatchResult]:
    def first_done(pending: list[Pending]) -> Pending:
        if isinstance(pending[0], Deferred):
            return pending[0]  # in order, each read when asked
        return next(as_completed(pending))  # type: ignore[arg-type]

    return in_completion_order(batches, settings, progress, submit_plainly, first_done)


def discover(run: Run, settings: Settings) -> Plan:
    return discover_inbox(run.ledger, require_inbox(settings), settings.settle_seconds, settings.batch_size,
                          settings.max_bytes)


def commit(run: Run, result: BatchResult) -> list[CheckResult]:
    return commit_batch(run.con, run.layout, result, run.run_id)


def finish(run: Run, outcome: Outcome, plan: Plan | None) -> int:
    """The run's `runs` row; returns the lake snapshot the run ends at."""
    snapshot = record_run(run.con, run.run_id, run.kind, run.started_at, RunStatus.SUCCEEDED, outcome.counts(plan))
    checkpoint("finished")
    return snapshot


def ignore_summary(_summary: RunSummary) -> None:
    """The plain API returns the summary; only Prefect turns it into artifacts."""


@dataclass(frozen=True)
class Steps:
    """How each step is called. The defaults call the plain functions."""

    discover: Callable[[Run, Settings], Plan] = discover
    read_batches: Callable[[list[Batch], Settings, Progress], Iterator[BatchResult]] = read_batches
    commit: Callable[[Run, BatchResult], list[CheckResult]] = commit
    finish: Callable[[Run, Outcome, Plan | None], int] = finish
    report: Callable[[RunSummary], Any] = ignore_summary


PLAIN = Steps()


def within_timeout(settings: Settings, started_at: datetime) -> None:
    """Checked after each batch, so that the timeout holds in every way of running (API,
    run, serve); Prefect's own flow timeout may stop a run sooner."""
    if datetime.now(UTC) - started_at > timedelta(seconds=settings.run_timeout_seconds):
        raise RunFailed(f"the run exceeded its timeout of {settings.run_timeout_seconds:g} s "
                        "(run_timeout_seconds); its committed batches are kept")


def run_ingest(settings: Settings, call: Steps = PLAIN, progress: Progress = no_progress) -> RunSummary:
    """Take in every new drop of the inbox, committing batch by batch."""
    require_inbox(settings)  # before the lock and the lake: a wrong path is not a failed run
    with open_run(data_layout(settings), RunKind.INGEST, settings.lock_wait_seconds) as run:
        plan = call.discover(run, settings)
        batches = [(BatchSpec(run.run_id, run.started_at, part, run.run_id), candidates)
                   for part, candidates in enumerate(plan.batches)]
        plan.batches.clear()  # the batches are handed out, and let go, one by one
        outcome = Outcome()
        for result in call.read_batches(batches, settings, progress):
            outcome.add(result, call.commit(run, result))
            within_timeout(settings, run.started_at)
        snapshot = call.finish(run, outcome, plan)
    seconds = (datetime.now(UTC) - run.started_at).total_seconds()
    summary = RunSummary.of(RunKind.INGEST, run.run_id, settings.data, str(settings.inbox), plan, outcome,
                            seconds, snapshot)
    call.report(summary)
    return summary


def run_rebuild(settings: Settings, call: Steps = PLAIN, progress: Progress = no_progress) -> RunSummary:
    """Re-read every kept raw drop with the current rules; replace every table in one snapshot.

    Every batch is read and staged first; then one transaction replaces the tables and
    the expiry right after it deletes the replaced files. Readers of the lake see the
    swap at once; readers of the folders see old and new files together from the first
    rename to the expiry (seconds), or, if the process dies in between, until the next
    run's recovery finishes the expiry."""
    with open_run(data_layout(settings), RunKind.REBUILD, settings.lock_wait_seconds) as run:
        legacy = run.layout.is_legacy()
        batches = plan_rebuild(run.layout, kept_versions(run.layout, run.ledger, legacy), run.run_id)
        results = list(call.read_batches(batches, settings, progress))
        within_timeout(settings, run.started_at)
        outcome = Outcome()
        with lake_transaction(run.con) as moved:
            clear_for_rebuild(run.con)
            if legacy:
                import_legacy_history(run.con, run.layout)
            for result in results:
                outcome.add(result, write_batch(run.con, run.layout, result, run.run_id, moved))
            snapshot = record_run(run.con, run.run_id, run.kind, run.started_at, RunStatus.SUCCEEDED,
                                  outcome.counts(None), in_transaction=True)
        checkpoint("rebuild-committed")
        expired, deleted = expire_before(run.con, datetime.now(UTC))
        notes = [f"expired {expired} older lake snapshot(s) and deleted {deleted} replaced file(s): "
                 "each table's folder holds exactly the rebuilt rows; time travel before this rebuild is gone"]
        if legacy:
            remove_legacy_files(run.layout)
            notes.append("converted the older warehouse layout onto DuckLake and removed its files")
    seconds = (datetime.now(UTC) - run.started_at).total_seconds()
    summary = RunSummary.of(RunKind.REBUILD, run.run_id, settings.data, None, None, outcome, seconds, snapshot,
                            notes)
    call.report(summary)
    return summary
