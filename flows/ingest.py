"""The ingest flow: inbox -> read batches -> commit -> publish -> report.

Tasks are per batch, never per file: each Prefect task run costs the API about
17 ms, and a local server gives "database is locked" under many small ones.
The logic lives in warehouse/; these tasks only name the steps.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

from prefect import State, flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.states import Cancelled

from flows.progress import read_progress
from flows.report import RunSummary, publish_artifacts
from flows.settings import Settings, load_settings
from flows.workers import set_parent_death_signal
from warehouse.batch import BatchResult, BatchSpec, Candidate, read_batch
from warehouse.faults import checkpoint
from warehouse.ingest import Outcome, Plan, check_quality, commit, discover, finish, open_run
from warehouse.layout import DataLayout
from warehouse.ledger import Ledger
from warehouse.lock import RunInProgress
from warehouse.publish import publish
from warehouse.quality import CheckResult
from warehouse.rebuild import commit_rebuild, plan_rebuild


def is_transient_io(_task: Any, _task_run: Any, state: Any) -> bool:
    """Retry what a second try can fix (I/O), not a bug or a full disk."""
    error = state.result(raise_on_failure=False)
    return isinstance(error, OSError) and not isinstance(error, PermissionError) and error.errno != 28


# Steps that only touch files are safe to retry: each one redoes its work whole.
RETRY_IO: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [1, 5],
    "retry_condition_fn": is_transient_io,
    "cache_policy": NO_CACHE,
}


@contextlib.contextmanager
def reader_pool(settings: Settings, batches: int) -> Iterator[Executor | None]:
    """Processes for CPU-bound reading, only when there is more than one batch to share."""
    if batches < 2 or settings.workers < 2:
        yield None
        return
    # spawn: forking a process that runs Prefect's threads is unsafe, and a
    # forkserver would stand between the run and its workers, so that they
    # would outlive a killed run. (Measured: a worker's start is not what limits
    # a run; reading is.)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=settings.workers, mp_context=context, initializer=set_parent_death_signal
    ) as pool:
        yield pool


@task(name="discover", **RETRY_IO)
def discover_new_files(layout: DataLayout, ledger: Ledger, settings: Settings, run_id: str,
                       started_at: datetime) -> Plan:
    return discover(layout, ledger, settings.inbox, run_id, started_at, settings.settle_seconds,
                    settings.batch_size)


@task(name="read-batch", task_run_name="read-batch-{spec.part}", **RETRY_IO)
def read_one_batch(spec: BatchSpec, candidates: list[Candidate], settings: Settings,
                   pool: Executor | None) -> BatchResult:
    arguments = (spec, candidates, settings.inbox, settings.data, settings.max_bytes)
    result = read_batch(*arguments) if pool is None else pool.submit(read_batch, *arguments).result()
    checkpoint("batch-read")
    return result


@task(name="check-quality", cache_policy=NO_CACHE)
def check_staged_quality(layout: DataLayout, ledger: Ledger, plan: Plan,
                         results: list[BatchResult]) -> list[CheckResult]:
    return check_quality(layout, ledger, plan, results)


@task(name="commit", cache_policy=NO_CACHE)
def commit_batches(layout: DataLayout, ledger: Ledger, plan: Plan, results: list[BatchResult],
                   checks: list[CheckResult]) -> Outcome:
    return commit(layout, ledger, plan, results, checks)


@task(name="publish", **RETRY_IO)
def publish_snapshot(layout: DataLayout, ledger: Ledger, plan: Plan, outcome: Outcome) -> bool:
    return finish(layout, ledger, plan, outcome)


@task(name="report", cache_policy=NO_CACHE)
def report(summary: RunSummary) -> RunSummary:
    publish_artifacts(summary)
    return summary


def read_all(batches: list[tuple[BatchSpec, list[Candidate]]], settings: Settings) -> list[BatchResult]:
    files = sum(len(candidates) for _spec, candidates in batches)
    with reader_pool(settings, len(batches)) as pool, read_progress(files, len(batches)) as advance:
        futures = [read_one_batch.submit(spec, candidates, settings, pool) for spec, candidates in batches]
        sizes = {future: len(candidates) for future, (_spec, candidates) in zip(futures, batches, strict=True)}
        for future in as_completed(futures):
            future.result()  # a failed batch fails the run now, not after the others
            advance(sizes[future])
        return [future.result() for future in futures]


def _settings(inbox: str | None, data: str | None, overrides: dict[str, Any] | None) -> Settings:
    return load_settings(inbox=inbox, data=data, **(overrides or {}))


# Read when the module is imported, so that the scheduled runs of `serve`, which
# import it afresh in their own process, get the same value from the environment.
RUN_TIMEOUT_SECONDS = load_settings().run_timeout_seconds


@flow(name="newsdrop-ingest", log_prints=True, timeout_seconds=RUN_TIMEOUT_SECONDS)
def ingest(inbox: str | None = None, data: str | None = None,
           overrides: dict[str, Any] | None = None) -> RunSummary | State[Any]:
    """Take in every new drop of the inbox, all or nothing."""
    return _unless_busy(_ingest, _settings(inbox, data, overrides))


def _unless_busy(run: Callable[[Settings], RunSummary], settings: Settings) -> RunSummary | State[Any]:
    """Another run holds the data folder (a manual run, while a scheduled one fires):
    this run is skipped, which is not a failure."""
    try:
        return run(settings)
    except RunInProgress as busy:
        return Cancelled(message=str(busy))


def _ingest(settings: Settings) -> RunSummary:
    with open_run(settings.data, "ingest", settings.lock_wait_seconds) as run:
        layout, ledger, run_id, started_at = run.layout, run.ledger, run.run_id, run.started_at
        plan = discover_new_files(layout, ledger, settings, run_id, started_at)
        batches = [(BatchSpec(run_id, started_at, part, run_id), candidates)
                   for part, candidates in enumerate(plan.batches)]
        results = read_all(batches, settings)
        checks = check_staged_quality(layout, ledger, plan, results)
        outcome = commit_batches(layout, ledger, plan, results, checks)
        published = publish_snapshot(layout, ledger, plan, outcome)
        summary = RunSummary.of_ingest(settings, plan, outcome, published, started_at, checks)
    return report(summary)


@flow(name="newsdrop-rebuild", log_prints=True, timeout_seconds=RUN_TIMEOUT_SECONDS)
def rebuild(data: str | None = None, overrides: dict[str, Any] | None = None) -> RunSummary | State[Any]:
    """Re-read every kept raw drop with the current rules and rebuild every table."""
    return _unless_busy(_rebuild, _settings(None, data, overrides))


def _rebuild(settings: Settings) -> RunSummary:
    with open_run(settings.data, "rebuild", settings.lock_wait_seconds) as run:
        batches = plan_rebuild(run.layout, run.ledger, run.run_id)
        results = read_all(batches, settings)
        commit_rebuild(run.layout, run.ledger, run.run_id, [spec for spec, _ in batches], results)
        outcome = Outcome.of_results(results)
        run.ledger.finish_run(run.run_id, "succeeded", datetime.now(UTC), outcome.rebuild_counts())
        publish(run.layout, run.ledger)
        summary = RunSummary.of_rebuild(settings, run.run_id, outcome, run.started_at)
    return report(summary)
