"""The `runs` table's rows: one appended when a run ends (succeeded, failed or interrupted)."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from datetime import UTC, datetime

import duckdb

from newsdrop.errors import QualityCheckFailed, first_line, stopped_by_signal
from newsdrop.warehouse.commit import checks_table, insert, label_commit, transaction
from newsdrop.warehouse.lake import LAKE, current_snapshot
from newsdrop.warehouse.ledger import Ledger
from newsdrop.warehouse.quality import CheckResult
from newsdrop.warehouse.schema import RUNS, FileOutcome, RunCounts, RunKind, RunStatus, table_from_rows


def committed_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> RunCounts:
    """The counters of a run that did not finish, from what its batches committed."""
    committed = Ledger(con).counts_of_run(run_id)
    loaded, rejected = committed.get(FileOutcome.LOADED, 0), committed.get(FileOutcome.REJECTED, 0)
    return RunCounts(files_new=loaded + rejected, drops_loaded=loaded, files_rejected=rejected,
                     files_unchanged=committed.get(FileOutcome.UNCHANGED, 0))


def record_run(con: duckdb.DuckDBPyConnection, run_id: str, kind: RunKind, started_at: datetime,
               status: RunStatus, counts: RunCounts, error: str | None = None,
               failed_part: int | None = None, checks: list[CheckResult] | None = None,
               in_transaction: bool = False) -> int:
    """Append the run's `runs` row; returns the snapshot that holds it (the run's last)."""
    finished_at = datetime.now(UTC)
    with contextlib.nullcontext() if in_transaction else transaction(con):
        # One writer at a time (the run lock): this commit's snapshot is the next one.
        snapshot = current_snapshot(con) + 1
        row = {"run_id": run_id, "kind": str(kind), "status": str(status), "started_at": started_at,
               "finished_at": finished_at, "seconds": (finished_at - started_at).total_seconds(),
               "error": error, "snapshot_id": snapshot, **asdict(counts.counts())}
        insert(con, f"{LAKE}.main.runs", table_from_rows(RUNS, [row]))
        if failed_part is not None and checks:
            insert(con, f"{LAKE}.main.quality_checks", checks_table(run_id, failed_part, checks, finished_at))
        label_commit(con, run_id, f"{kind} {status}")
    return snapshot


def record_failure(con: duckdb.DuckDBPyConnection, run_id: str, kind: RunKind, started_at: datetime,
                   error: BaseException) -> None:
    part, checks = None, None
    if isinstance(error, QualityCheckFailed):
        part, checks = error.part, error.checks
    message = first_line(error)
    status, error_text = RunStatus.FAILED, f"{type(error).__name__}: {message}"
    if stopped_by_signal(error):
        status, error_text = RunStatus.INTERRUPTED, "stopped by a signal (Ctrl-C or SIGTERM)"
    record_run(con, run_id, kind, started_at, status, committed_counts(con, run_id),
               error=error_text, failed_part=part, checks=checks)
