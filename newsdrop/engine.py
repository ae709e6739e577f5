"""The run engine: one run, the same from every door, with no Prefect in it.

    lock ─▶ recover ─▶ discover ─▶ read-batch ×N ─▶ commit-batch ×N ─▶ finish ─▶ report
                                   (the readers)    (this process)

Each batch is committed to the lake as soon as it is read (rows, ledger entries and
quality checks in one snapshot), so a killed run resumes after its last committed batch.
The batches are read by an executor (newsdrop.readers: in this process, local processes,
or a Dask cluster); an orchestrator watches and records the steps through `RunHooks`
(newsdrop.flows: Prefect task runs, artifacts, a progress bar). newsdrop.ingest and
newsdrop.rebuild call it; the CLI and the Prefect flows call those.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from datetime import UTC, datetime
from typing import TypeVar

import duckdb

from newsdrop.errors import RunFailed, first_line
from newsdrop.readers import read_batch_retrying, reading_executor, retrying_io
from newsdrop.settings import Settings, data_layout, require_inbox
from newsdrop.summary import Outcome, RunSummary
from newsdrop.warehouse.batch import Batch, BatchResult, BatchSpec
from newsdrop.warehouse.commit import commit_batch, lake_transaction, write_batch
from newsdrop.warehouse.discover import Plan, discover
from newsdrop.warehouse.faults import checkpoint
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.maintenance import expire_before
from newsdrop.warehouse.rebuild import clear_for_rebuild, plan_rebuild, with_kept_bytes
from newsdrop.warehouse.runs import Run, open_run, record_run
from newsdrop.warehouse.schema import RunKind, RunStatus

T = TypeVar("T")
Advance = Callable[[int], None]
"""advance(files) is called as each batch is read, with the batch's number of files."""


class RunHooks:
    """How an orchestrator watches a run and records its steps (newsdrop.flows makes each a
    Prefect task run). The defaults add nothing: a run of newsdrop.ingest called plainly."""

    def step(self, name: str, part: int | None, call: Callable[[], T]) -> T:
        """One step in the run's own process: discover, commit-batch (with its part), finish,
        replace-tables (a rebuild's one commit). The hook must call `call` once and return its result."""
        return call()

    def read(self, part: int, start: Callable[[], Future[BatchResult]]) -> Future[BatchResult]:
        """The reading of one batch: `start()` hands it to the readers and gives its future.
        The hook must call `start` once, and give a future that ends as that one does."""
        return start()

    @contextlib.contextmanager
    def progress(self, files: int, batches: int, files_read: Callable[[], int] | None) -> Iterator[Advance]:
        """Around the reading (and committing) of a run's batches; `files_read()`, when given,
        counts the files the readers have taken up so far, as they go."""
        yield lambda _files: None

    def finished(self, summary: RunSummary) -> None:
        """The run is recorded in the lake and its lock released."""


PLAIN = RunHooks()


class Deadline:
    """The run's one timeout (run_timeout_seconds), the same from every door. It is checked
    between batches and while waiting for the readers; and when it passes during a query of
    the run's connection (a long commit), DuckDB interrupts that query, which rolls back."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.passed = False

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def error(self) -> RunFailed:
        return RunFailed(f"the run exceeded its timeout of {self.seconds:g} s (run_timeout_seconds, "
                         "--timeout); the batches it committed are kept")

    def check(self) -> None:
        if self.passed or time.monotonic() >= self.ends:
            self.passed = True
            raise self.error()

    @contextlib.contextmanager
    def interrupting(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """While the run uses `con`: when the deadline passes, interrupt its query."""

        def expire() -> None:
            self.passed = True
            con.interrupt()  # a query running now stops; with none running, check() stops the run

        timer = threading.Timer(self.remaining(), expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        except duckdb.InterruptException as interrupted:
            if self.passed:
                raise self.error() from interrupted
            raise
        finally:
            timer.cancel()


def read_in_completion_order(batches: list[Batch], inbox: str | None, layout: DataLayout, settings: Settings,
                             hooks: RunHooks, deadline: Deadline,
                             prepare: Callable[[Batch], Batch] = lambda batch: batch) -> Iterator[BatchResult]:
    """Every batch's result as soon as it is read; a failed batch fails the run at once, not
    after the others. It takes the list of batches over (and empties it). With parallel
    readers, two batches per reader are in flight: a reader always has the next one while
    this process commits, and a committed batch's result is let go (submitting them all at
    once kept every result until the run's end: 700 MB at 300k drops). Read in this process,
    the batches are read and committed one after the other. `prepare` completes a batch as it
    is handed out (rebuild adds its kept bytes then)."""
    files = sum(len(candidates) for _spec, candidates in batches)
    with reading_executor(settings, len(batches)) as readers, \
            hooks.progress(files, len(batches), readers.files_read) as advance:
        waiting = collections.deque(batches)
        batches.clear()  # taken over: each batch's candidates go once it is handed out
        in_flight: dict[Future[BatchResult], int] = {}

        def top_up() -> None:
            while waiting and len(in_flight) < readers.in_flight:
                spec, planned = prepare(waiting.popleft())
                candidates = list(planned)  # made now (an ingest batch is columns until it is handed out)
                start = functools.partial(readers.submit, read_batch_retrying, spec, candidates, inbox, layout,
                                          settings.max_bytes)
                in_flight[hooks.read(spec.part, start)] = len(candidates)

        top_up()
        while in_flight:
            done, _ = wait(in_flight, timeout=deadline.remaining(), return_when=FIRST_COMPLETED)
            if not done:
                deadline.check()
                continue
            future = done.pop()
            size = in_flight.pop(future)
            result = future.result()
            checkpoint("batch-read")
            advance(size)
            if readers.parallel:
                top_up()  # before the commit: the readers never wait for the writer
            yield result
            if not readers.parallel:
                top_up()


def _discover(run: Run, inbox: str, settings: Settings) -> Plan:
    return retrying_io(functools.partial(discover, run.ledger, inbox, settings.settle_seconds, settings.batch_size,
                                         settings.max_bytes))


def _finish(run: Run, outcome: Outcome, plan: Plan | None) -> int:
    """The run's `runs` row; returns the lake snapshot the run ends at."""
    snapshot = record_run(run.con, run.run_id, run.kind, run.started_at, RunStatus.SUCCEEDED, outcome.counts(plan))
    checkpoint("finished")
    return snapshot


class SearchFeed:
    """The search index brought up to each commit of a run (warehouse.search), after the lake's
    commit: a run killed in between leaves it behind, and the next run or search catches it up.
    One writer is held for the run (closed on leaving the block). A failure is a note in the
    run's report, said once; the run goes on without the index."""

    def __init__(self, run: Run) -> None:
        from newsdrop.warehouse.search import IndexWriting

        self.run = run
        self.writing = IndexWriting(run.layout)
        self.notes: list[str] = []

    def __enter__(self) -> SearchFeed:
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self.writing.close()
        except Exception as error:
            self.notes.append(f"search index: its merges did not finish ({first_line(error)})")

    def follow(self) -> None:
        from newsdrop.warehouse.search import keep_current

        if not self.notes:
            note = keep_current(self.writing, self.run.con)
            self.notes += [note] if note else []


def _seconds_since(started_at: datetime) -> float:
    return (datetime.now(UTC) - started_at).total_seconds()


def run_ingest(settings: Settings, hooks: RunHooks = PLAIN) -> RunSummary:
    """Take in every new drop of the inbox, committing batch by batch."""
    inbox = require_inbox(settings)  # before the lock and the lake: a wrong path is not a failed run
    deadline = Deadline(settings.run_timeout_seconds)
    with open_run(data_layout(settings), RunKind.INGEST, settings.lock_wait_seconds, settings.batch_size) as run, \
            deadline.interrupting(run.con):
        plan = hooks.step("discover", None, functools.partial(_discover, run, inbox, settings))
        batches: list[Batch] = [(BatchSpec(run.run_id, run.started_at, part, run.run_id), planned)
                                for part, planned in enumerate(plan.batches)]
        plan.batches.clear()  # the batches are handed out, and let go, one by one
        outcome = Outcome()
        with SearchFeed(run) as search:
            for result in read_in_completion_order(batches, inbox, run.layout, settings, hooks, deadline):
                deadline.check()
                checks = hooks.step("commit-batch", result.spec.part,
                                    functools.partial(commit_batch, run.con, run.layout, result, run.run_id))
                outcome.add(result, checks)
                search.follow()
            deadline.check()
            snapshot = hooks.step("finish", None, functools.partial(_finish, run, outcome, plan))
            search.follow()  # also when nothing was new: a run killed before its index update is caught up
    summary = RunSummary.of(RunKind.INGEST, run.run_id, settings.data, inbox, plan, outcome,
                            _seconds_since(run.started_at), snapshot, [*run.notes, *search.notes])
    hooks.finished(summary)
    return summary


def _replace_tables(run: Run, results: list[BatchResult], outcome: Outcome) -> int:
    """A rebuild's one commit: every table replaced by the batches read; returns its snapshot."""
    with lake_transaction(run.con) as moved:
        clear_for_rebuild(run.con)
        for result in results:
            outcome.add(result, write_batch(run.con, run.layout, result, run.run_id, moved))
        return record_run(run.con, run.run_id, run.kind, run.started_at, RunStatus.SUCCEEDED,
                          outcome.counts(None), in_transaction=True)


def run_rebuild(settings: Settings, hooks: RunHooks = PLAIN) -> RunSummary:
    """Re-read every drop's bytes kept in raw_drops with the current rules; replace every table in one snapshot.

    Every batch is read and staged first; then one transaction replaces the tables and
    the expiry right after it deletes the replaced files. Readers of the lake see the
    swap at once; readers of the folders see old and new files together from the first
    rename to the expiry (seconds), or, if the process dies in between, until the next
    run's recovery finishes the expiry."""
    deadline = Deadline(settings.run_timeout_seconds)
    with open_run(data_layout(settings), RunKind.REBUILD, settings.lock_wait_seconds, settings.batch_size) as run, \
            deadline.interrupting(run.con):
        batches = plan_rebuild(run.ledger.kept_versions(), run.run_id)
        with_bytes = functools.partial(with_kept_bytes, run.con, max_bytes=settings.max_bytes)
        results = list(read_in_completion_order(batches, None, run.layout, settings, hooks, deadline, with_bytes))
        deadline.check()
        outcome = Outcome()
        snapshot = hooks.step("replace-tables", None, functools.partial(_replace_tables, run, results, outcome))
        checkpoint("rebuild-committed")
        expired, deleted = expire_before(run.con, datetime.now(UTC))
        with SearchFeed(run) as search:
            search.follow()  # built whole: the snapshots it had taken in are expired
        notes = [*run.notes, f"expired {expired} older lake snapshot(s) and deleted {deleted} replaced file(s): "
                 "each table's folder holds exactly the rebuilt rows; time travel before this rebuild is gone",
                 *search.notes]
    summary = RunSummary.of(RunKind.REBUILD, run.run_id, settings.data, None, None, outcome,
                            _seconds_since(run.started_at), snapshot, notes)
    hooks.finished(summary)
    return summary
