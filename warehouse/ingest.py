"""The steps of an ingest run, as plain functions (flows/ wraps them in Prefect tasks).

discover -> read batches (warehouse.batch) -> check quality -> commit -> publish.
The commit is the ledger transaction; everything before it is invisible to
readers, and everything after it is redone by the next run if this one dies.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from newsdrop.errors import QualityCheckFailed
from newsdrop.warehouse.atomic import move_into_place
from newsdrop.warehouse.batch import BatchResult, Candidate, remove_staging
from newsdrop.warehouse.faults import checkpoint
from newsdrop.warehouse.inbox import list_inbox
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import Ledger
from newsdrop.warehouse.lock import run_lock
from newsdrop.warehouse.publish import check_run, publish
from newsdrop.warehouse.quality import CheckResult, failed_errors


def new_run_id(now: datetime) -> str:
    """Sortable by start time, unique across machines."""
    return f"{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Run:
    layout: DataLayout
    ledger: Ledger
    run_id: str
    started_at: datetime


@contextmanager
def open_run(data: Path, kind: str, lock_wait_seconds: float) -> Iterator[Run]:
    """Hold the data folder's run lock, repair what an interrupted run left, and record
    this run in the ledger; a run that raises is recorded as failed."""
    layout = DataLayout(data)
    layout.ensure()
    started_at = datetime.now(UTC)
    run_id = new_run_id(started_at)
    with run_lock(layout.lock, lock_wait_seconds), Ledger(layout.ledger) as ledger:
        recover(layout, ledger)
        ledger.start_run(run_id, kind, started_at)
        try:
            yield Run(layout, ledger, run_id, started_at)
        except BaseException as error:
            ledger.fail_run(run_id, datetime.now(UTC), error=f"{type(error).__name__}: {error}")
            raise


@dataclass
class Plan:
    run_id: str
    started_at: datetime
    seen: int
    batches: list[list[Candidate]]
    unchanged: int
    settling: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(len(batch) for batch in self.batches)


def recover(layout: DataLayout, ledger: Ledger) -> None:
    """Undo what a run left before its commit, finish what it left after."""
    for run_id in ledger.runs_with_status("running"):
        remove_staging(layout, run_id)
        ledger.finish_run(run_id, "interrupted", datetime.now(UTC), error="the process stopped before commit")
    unfinished = ledger.runs_with_status("committed")
    for run_id in unfinished:
        move_committed_files(layout, ledger, run_id)
        ledger.finish_run(run_id, "succeeded", datetime.now(UTC),
                          error="interrupted after commit; finished by the next run")
    if layout.staging.exists():
        for stray in layout.staging.iterdir():
            shutil.rmtree(stray, ignore_errors=True)


def move_committed_files(layout: DataLayout, ledger: Ledger, run_id: str) -> None:
    """Roll a committed run's staged files forward into parquet/. Idempotent."""
    staging = layout.staging_for(run_id)
    if not staging.exists():
        return
    committed = {path for _table, path, _run in ledger.parquet_files()}
    staged_files = sorted(staging.rglob("*.parquet"))
    for index, staged in enumerate(staged_files):
        if index == len(staged_files) // 2:
            checkpoint("moving")
        relative = str(staged.relative_to(staging))
        if relative in committed:
            move_into_place(staged, layout.parquet / relative)
    remove_staging(layout, run_id)


def discover(layout: DataLayout, ledger: Ledger, inbox: Path, run_id: str, started_at: datetime,
             settle_seconds: float, batch_size: int) -> Plan:
    listing = list_inbox(inbox, settle_seconds)
    known = ledger.known_listing()
    fresh = [item for item in listing.drops if (item.name, item.size_bytes, item.mtime_ns) not in known]
    shas = ledger.shas_by_name(item.name for item in fresh)
    candidates = [Candidate(item, frozenset(shas.get(item.name, ()))) for item in fresh]
    batches = [candidates[start : start + batch_size] for start in range(0, len(candidates), batch_size)]
    checkpoint("discovered")
    return Plan(run_id=run_id, started_at=started_at, seen=len(listing.drops) + len(listing.refused),
                batches=batches, unchanged=len(listing.drops) - len(fresh),
                settling=listing.settling, refused=listing.refused)


@dataclass
class Outcome:
    loaded: int = 0
    rejected: int = 0
    unchanged: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    skips: list[tuple[str, str]] = field(default_factory=list)  # (name, why): not read, not recorded

    @property
    def skipped(self) -> int:
        return len(self.skips)

    @classmethod
    def of_results(cls, results: list[BatchResult], refused: list[tuple[str, str]] | None = None) -> Outcome:
        outcome = cls(skips=list(refused or []))
        for result in results:
            outcome.loaded += result.loaded
            outcome.rejected += result.rejected
            outcome.unchanged += result.unchanged
            outcome.skips.extend(result.skipped)
            outcome.rejects.extend(result.rejects)
            for table, count in result.rows.items():
                outcome.rows[table] = outcome.rows.get(table, 0) + count
        return outcome

    def rebuild_counts(self) -> dict[str, int]:
        kept = self.loaded + self.rejected
        return {"files_seen": kept, "files_new": kept, "drops_loaded": self.loaded, "files_rejected": self.rejected}

    def counts(self, plan: Plan) -> dict[str, int]:
        return {
            "files_seen": plan.seen,
            "files_new": plan.new - self.unchanged,
            "drops_loaded": self.loaded,
            "files_rejected": self.rejected,
            "files_unchanged": plan.unchanged + self.unchanged,
            "files_skipped": self.skipped,
        }


def check_quality(layout: DataLayout, ledger: Ledger, plan: Plan, results: list[BatchResult]) -> list[CheckResult]:
    """Run the checks with the run's staged rows in place. Raises QualityCheckFailed,
    after recording the results, when an error check fails."""
    staged = [item for result in results for item in result.staged]
    if not staged:
        return []
    outcome = Outcome.of_results(results)
    checks = check_run(layout, ledger, plan.run_id, staged, outcome.loaded, outcome.rejected)
    failed = failed_errors(checks)
    if failed:
        ledger.record_checks(plan.run_id, datetime.now(UTC), checks)
        names = "; ".join(f"{check.check} ({check.detail})" for check in failed)
        raise QualityCheckFailed(f"quality check failed, nothing committed: {names}")
    return checks


def commit(layout: DataLayout, ledger: Ledger, plan: Plan, results: list[BatchResult],
           checks: list[CheckResult]) -> Outcome:
    outcome = Outcome.of_results(results, plan.refused)
    versions = [version for result in results for version in result.versions]
    staged = [item for result in results for item in result.staged]
    # One sync makes every kept raw file and staged Parquet file durable before the
    # commit point, instead of one fsync per file.
    os.sync()
    checkpoint("staged")
    ledger.commit_run(plan.run_id, plan.started_at, versions, staged, outcome.counts(plan))
    ledger.record_checks(plan.run_id, datetime.now(UTC), checks)
    checkpoint("committed")
    move_committed_files(layout, ledger, plan.run_id)
    return outcome


def finish(layout: DataLayout, ledger: Ledger, plan: Plan, outcome: Outcome) -> bool:
    """Record the run as succeeded and publish if committed rows are not yet published.

    A run that committed no rows publishes nothing, so a rerun with nothing new
    leaves every file under DATA as it was (the ledger records the run).
    Returns whether a snapshot was published."""
    ledger.finish_run(plan.run_id, "succeeded", datetime.now(UTC), outcome.counts(plan))
    if layout.published_db.exists() and not ledger.snapshot_stale():
        return False
    publish(layout, ledger)
    return True
