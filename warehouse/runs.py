"""A run's life in the lake: the run lock, recovery of a run that died, and the `runs` row.

A run holds the data folder's lock, leaves a marker naming itself while it runs,
and appends one `runs` row when it ends (succeeded or failed). A run that was
killed leaves its marker; the next run deletes the files its open transaction
had written and records it as interrupted, with what it had committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from newsdrop.errors import NewsdropError, QualityCheckFailed
from newsdrop.warehouse.commit import checks_table, insert, label_commit, transaction
from newsdrop.warehouse.lake import LAKE, current_snapshot, open_lake
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import Ledger
from newsdrop.warehouse.lock import run_lock
from newsdrop.warehouse.maintenance import expire_before
from newsdrop.warehouse.quality import CheckResult
from newsdrop.warehouse.rebuild import remove_legacy_files
from newsdrop.warehouse.schema import RUN_COUNTERS, RUNS, FileOutcome, RunKind, RunStatus, table_from_rows

VACUUM = "vacuum"  # the running marker's kind while `newsdrop vacuum` works


def new_run_id(now: datetime) -> str:
    """Sortable by start time, unique across machines."""
    return f"{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Run:
    layout: DataLayout
    con: duckdb.DuckDBPyConnection
    run_id: str
    kind: RunKind
    started_at: datetime

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.con)


@contextlib.contextmanager
def open_run(data: Path, kind: RunKind, lock_wait_seconds: float) -> Iterator[Run]:
    """Hold the data folder's run lock and open the lake; a run that raises is recorded as failed."""
    layout = DataLayout(data)
    if kind is RunKind.INGEST and layout.is_legacy():
        raise NewsdropError(f"{data} holds a warehouse of an older newsdrop: run `newsdrop rebuild --data {data}` "
                            "once to move it onto DuckLake (no inbox needed)")
    started_at = datetime.now(UTC)
    run_id = new_run_id(started_at)
    layout.state.mkdir(parents=True, exist_ok=True)
    with run_lock(layout.lock, lock_wait_seconds), contextlib.closing(open_lake(layout)) as con:
        recover(layout, con)
        layout.running_marker.write_text(f"{run_id} {kind} {started_at.isoformat()}\n")
        run = Run(layout, con, run_id, kind, started_at)
        try:
            yield run
        except BaseException as error:
            with contextlib.suppress(Exception):  # the lake itself may be what failed
                record_failure(run, error)
            raise
        finally:
            shutil.rmtree(layout.staging_for(run_id), ignore_errors=True)
            layout.running_marker.unlink(missing_ok=True)


def recover(layout: DataLayout, con: duckdb.DuckDBPyConnection) -> None:
    """Clean up after a run that died: the marker it left names it."""
    marker = layout.running_marker
    if not marker.exists():
        return
    run_id, kind, started = [*marker.read_text().split(), "", "", ""][:3]
    # The Parquet files an open transaction wrote before its COMMIT are in no
    # snapshot: delete them (we hold the lock, so no transaction is open now).
    con.execute(f"CALL ducklake_delete_orphaned_files('{LAKE}', cleanup_all => true)")
    shutil.rmtree(layout.staging, ignore_errors=True)
    recorded = con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if kind in (RunKind.REBUILD, VACUUM) and (kind == VACUUM or recorded is not None):
        # Died after its commit, before expiring the snapshots that still reference the
        # files it replaced: those files still sit in the table folders. Finish the job.
        expire_before(con, datetime.now(UTC))
        if kind == RunKind.REBUILD and layout.is_legacy():
            remove_legacy_files(layout)
    if run_id and kind != VACUUM and recorded is None:
        started_at = datetime.fromisoformat(started) if started else datetime.now(UTC)
        record_run(con, run_id, RunKind(kind or RunKind.INGEST), started_at, RunStatus.INTERRUPTED,
                   committed_counts(con, run_id),
                   error="the process stopped; its committed batches are kept, the rest is taken by a later run")
    marker.unlink(missing_ok=True)


@contextlib.contextmanager
def maintenance(layout: DataLayout, lock_wait_seconds: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """The lake for upkeep (vacuum): the run lock, recovery first, and a marker, so that a
    vacuum killed half way is finished by the next run."""
    with run_lock(layout.lock, lock_wait_seconds), contextlib.closing(open_lake(layout)) as con:
        recover(layout, con)
        layout.running_marker.write_text(f"vacuum-{datetime.now(UTC):%Y%m%dT%H%M%S} {VACUUM}\n")
        try:
            yield con
        finally:
            shutil.rmtree(layout.staging, ignore_errors=True)
            layout.running_marker.unlink(missing_ok=True)


def committed_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int]:
    """The counters of a run that did not finish, from what its batches committed."""
    committed = Ledger(con).counts_of_run(run_id)
    new = committed.get(FileOutcome.LOADED, 0) + committed.get(FileOutcome.REJECTED, 0)
    return {"files_new": new, "drops_loaded": committed.get(FileOutcome.LOADED, 0),
            "files_rejected": committed.get(FileOutcome.REJECTED, 0),
            "files_unchanged": committed.get(FileOutcome.UNCHANGED, 0)}


def record_run(con: duckdb.DuckDBPyConnection, run_id: str, kind: RunKind, started_at: datetime,
               status: RunStatus, counts: dict[str, int], error: str | None = None,
               failed_part: int | None = None, checks: list[CheckResult] | None = None,
               in_transaction: bool = False) -> int:
    """Append the run's `runs` row; returns the snapshot that holds it (the run's last)."""
    finished_at = datetime.now(UTC)
    with contextlib.nullcontext() if in_transaction else transaction(con):
        # One writer at a time (the run lock): this commit's snapshot is the next one.
        snapshot = current_snapshot(con) + 1
        row = {"run_id": run_id, "kind": str(kind), "status": str(status), "started_at": started_at,
               "finished_at": finished_at, "seconds": (finished_at - started_at).total_seconds(),
               "error": error, "snapshot_id": snapshot, **{name: counts.get(name, 0) for name in RUN_COUNTERS}}
        insert(con, f"{LAKE}.main.runs", table_from_rows(RUNS, [row]))
        if failed_part is not None and checks:
            insert(con, f"{LAKE}.main.quality_checks", checks_table(run_id, failed_part, checks, finished_at))
        label_commit(con, run_id, f"{kind} {status}")
    return snapshot


def record_failure(run: Run, error: BaseException) -> None:
    part, checks = None, None
    if isinstance(error, QualityCheckFailed):
        part, checks = error.part, error.checks
    message = (str(error) or type(error).__name__).splitlines()[0]
    if isinstance(error, TimeoutError | asyncio.CancelledError):  # how Prefect stops a flow at its timeout
        message = f"the run was stopped (timeout or cancellation): {message}"
    record_run(run.con, run.run_id, run.kind, run.started_at, RunStatus.FAILED, committed_counts(run.con, run.run_id),
               error=f"{type(error).__name__}: {message}", failed_part=part, checks=checks)
