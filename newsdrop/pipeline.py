"""One run, step by step: the same composition for the Python API and the Prefect flows.

    inbox ─▶ discover ─▶ read-batch ×N ─▶ check-quality ─▶ commit ─▶ publish ─▶ report

Each step is a plain function of newsdrop.warehouse. `Steps` says how a step is
called: directly (newsdrop.ingest, newsdrop.rebuild) or as a Prefect task
(newsdrop.flows), so the order of the steps is written once, here, and nothing
in this module imports Prefect.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsdrop.errors import RunFailed
from newsdrop.readers import reader_pool
from newsdrop.settings import Settings
from newsdrop.summary import RunSummary
from newsdrop.warehouse import ingest as steps
from newsdrop.warehouse.batch import BatchResult, BatchSpec, Candidate, read_batch
from newsdrop.warehouse.faults import checkpoint
from newsdrop.warehouse.ingest import Outcome, Plan, open_run
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import Ledger
from newsdrop.warehouse.publish import publish
from newsdrop.warehouse.quality import CheckResult
from newsdrop.warehouse.rebuild import commit_rebuild, plan_rebuild

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
    arguments = (spec, candidates, settings.inbox, settings.data, settings.max_bytes)
    result = read_batch(*arguments) if pool is None else pool.submit(read_batch, *arguments).result()
    checkpoint("batch-read")
    return result


def read_batches(batches: list[Batch], settings: Settings, progress: Progress) -> list[BatchResult]:
    """Read every batch, as many at once as there are workers; a failed batch fails the run at once."""
    files = sum(len(candidates) for _spec, candidates in batches)
    with reader_pool(settings.workers, len(batches)) as pool, progress(files, len(batches)) as advance:
        if pool is None:
            results = []
            for spec, candidates in batches:
                results.append(read_one_batch(spec, candidates, settings, None))
                advance(len(candidates))
            return results
        futures = {pool.submit(read_batch, spec, candidates, settings.inbox, settings.data, settings.max_bytes):
                   len(candidates) for spec, candidates in batches}
        for future in as_completed(futures):
            future.result()
            checkpoint("batch-read")
            advance(futures[future])
        return [future.result() for future in futures]


def discover(layout: DataLayout, ledger: Ledger, settings: Settings, run_id: str, started_at: datetime) -> Plan:
    return steps.discover(layout, ledger, settings.inbox, run_id, started_at, settings.settle_seconds,
                          settings.batch_size)


def ignore_summary(_summary: RunSummary) -> None:
    """The plain API returns the summary; only Prefect turns it into artifacts."""


@dataclass(frozen=True)
class Steps:
    """How each step is called. The defaults call the plain functions."""

    discover: Callable[[DataLayout, Ledger, Settings, str, datetime], Plan] = discover
    read_batches: Callable[[list[Batch], Settings, Progress], list[BatchResult]] = read_batches
    check_quality: Callable[[DataLayout, Ledger, Plan, list[BatchResult]], list[CheckResult]] = steps.check_quality
    commit: Callable[[DataLayout, Ledger, Plan, list[BatchResult], list[CheckResult]], Outcome] = steps.commit
    publish: Callable[[DataLayout, Ledger, Plan, Outcome], bool] = steps.finish
    report: Callable[[RunSummary], Any] = ignore_summary


PLAIN = Steps()


def within_timeout(settings: Settings, started_at: datetime) -> None:
    """Checked between steps, so that the timeout holds in every way of running (API, run,
    serve); Prefect's own flow timeout may stop a run sooner."""
    seconds = (datetime.now(UTC) - started_at).total_seconds()
    if seconds > settings.run_timeout_seconds:
        raise RunFailed(f"the run exceeded its timeout of {settings.run_timeout_seconds:g} s "
                        f"(run_timeout_seconds); nothing of it was committed")


def run_ingest(settings: Settings, call: Steps = PLAIN, progress: Progress = no_progress) -> RunSummary:
    """Take in every new drop of the inbox."""
    with open_run(settings.data, "ingest", settings.lock_wait_seconds) as run:
        plan = call.discover(run.layout, run.ledger, settings, run.run_id, run.started_at)
        batches = [(BatchSpec(run.run_id, run.started_at, part, run.run_id), candidates)
                   for part, candidates in enumerate(plan.batches)]
        results = call.read_batches(batches, settings, progress)
        within_timeout(settings, run.started_at)
        checks = call.check_quality(run.layout, run.ledger, plan, results)
        outcome = call.commit(run.layout, run.ledger, plan, results, checks)
        published = call.publish(run.layout, run.ledger, plan, outcome)
        summary = RunSummary.of_ingest(settings, plan, outcome, published, run.started_at, checks)
    call.report(summary)
    return summary


def run_rebuild(settings: Settings, call: Steps = PLAIN, progress: Progress = no_progress) -> RunSummary:
    """Re-read every kept raw drop with the current rules and rebuild every table."""
    with open_run(settings.data, "rebuild", settings.lock_wait_seconds) as run:
        batches = plan_rebuild(run.layout, run.ledger, run.run_id)
        results = call.read_batches(batches, settings, progress)
        within_timeout(settings, run.started_at)
        commit_rebuild(run.layout, run.ledger, run.run_id, [spec for spec, _ in batches], results)
        outcome = Outcome.of_results(results)
        run.ledger.finish_run(run.run_id, "succeeded", datetime.now(UTC), outcome.rebuild_counts())
        publish(run.layout, run.ledger)
        summary = RunSummary.of_rebuild(settings, run.run_id, outcome, run.started_at)
    call.report(summary)
    return summary
