"""A run's life, in one place: the data folder's (or catalog's) lock, recovery first, a
marker naming the run while it runs (so that the next run can recover if it dies), and
its `runs` row when it ends (succeeded, failed or interrupted).

Recovery: whoever takes the lock next calls `recover` first. The running marker names
the one that died; its open transaction's files are in no snapshot and are deleted; a
rebuild or vacuum that died after its commit has its expiry finished; a run that never
recorded its end is recorded as interrupted, with what it committed.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import asdict, astuple, dataclass
from datetime import UTC, datetime

import duckdb

from newsdrop.errors import QualityCheckFailed, first_line, stopped_by_signal
from newsdrop.warehouse.commit import checks_table, label_commit, transaction
from newsdrop.warehouse.lake import LAKE, current_snapshot, insert, open_lake
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import Ledger
from newsdrop.warehouse.lock import RunMarker, Running, run_lock
from newsdrop.warehouse.maintenance import expire_before
from newsdrop.warehouse.quality import CheckResult
from newsdrop.warehouse.schema import RUNS, FileOutcome, RunCounts, RunKind, RunStatus, table_from_rows
from newsdrop.warehouse.storage import remove_tree
from newsdrop.warehouse.upgrade import UPGRADE, move_legacy_raw

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
    notes: tuple[str, ...] = ()  # what the lake's opening did first (an upgrade), for the run's report

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.con)


@contextlib.contextmanager
def open_run(layout: DataLayout, kind: RunKind, lock_wait_seconds: float, batch_size: int) -> Iterator[Run]:
    """Hold the warehouse's run lock and open the lake; a run that raises is recorded as failed.
    `batch_size`: files a commit, of an upgrade's move too."""
    layout.refuse_unfit()
    started_at = datetime.now(UTC)
    run_id = new_run_id(started_at)
    layout.state.mkdir(parents=True, exist_ok=True)
    with locked_lake(layout, lock_wait_seconds, batch_size) as (con, marker, notes):
        marker.write(Running(run_id, kind, started_at.isoformat()).text())
        run = Run(layout, con, run_id, kind, started_at, notes)
        recorded = True
        try:
            yield run
        except BaseException as error:
            try:
                record_failure(con, run_id, kind, started_at, error)
            except Exception:
                # The lake itself may be what failed (S3 unreachable): the marker stays, and
                # the next run records this one as interrupted, with what it committed.
                recorded = False
            raise
        finally:
            # The storage may be what failed: its error is not to hide the run's (the next
            # run's recovery empties the staging area).
            with contextlib.suppress(OSError):
                remove_tree(layout.staging_url_for(run_id))
            if recorded:
                marker.clear()


@contextlib.contextmanager
def locked_lake(layout: DataLayout, lock_wait_seconds: float, batch_size: int
                ) -> Iterator[tuple[duckdb.DuckDBPyConnection, RunMarker, tuple[str, ...]]]:
    """The run lock, then the lake, then recovery from whatever a dead run left, then the
    upgrade of a warehouse made before raw_drops (with a line saying what it did)."""
    with run_lock(layout, lock_wait_seconds) as marker, contextlib.closing(open_lake(layout)) as con:
        recover(layout, con, marker)
        upgraded = move_legacy_raw(layout, con, marker, batch_size)
        yield con, marker, (upgraded,) if upgraded else ()


@contextlib.contextmanager
def maintenance(layout: DataLayout, lock_wait_seconds: float, batch_size: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """The lake for upkeep (vacuum): the run lock, recovery first, and a marker, so that a
    vacuum killed half way is finished by the next run."""
    with locked_lake(layout, lock_wait_seconds, batch_size) as (con, marker, _upgraded):
        now = datetime.now(UTC)
        marker.write(Running(f"vacuum-{now:%Y%m%dT%H%M%S}", VACUUM, now.isoformat()).text())
        try:
            yield con
        finally:
            remove_tree(layout.staging_url)
            marker.clear()


def recover(layout: DataLayout, con: duckdb.DuckDBPyConnection, marker: RunMarker) -> None:
    """Clean up after a run that died: the marker it left names it."""
    text = marker.read()
    if not text:
        return
    run_id, kind, started = astuple(Running.parse(text))
    # The Parquet files an open transaction wrote before its COMMIT are in no
    # snapshot: delete them (we hold the lock, so no transaction is open now).
    con.execute(f"CALL ducklake_delete_orphaned_files('{LAKE}', cleanup_all => true)")
    remove_tree(layout.staging_url)
    recorded = con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if kind in (RunKind.REBUILD, VACUUM) and (kind == VACUUM or recorded is not None):
        # Died after its commit, before expiring the snapshots that still reference the
        # files it replaced: those files still sit in the table folders. Finish the job.
        expire_before(con, datetime.now(UTC))
    if run_id and kind not in (VACUUM, UPGRADE) and recorded is None:
        started_at = datetime.fromisoformat(started) if started else datetime.now(UTC)
        record_run(con, run_id, RunKind(kind or RunKind.INGEST), started_at, RunStatus.INTERRUPTED,
                   committed_counts(con, run_id),
                   error="the process stopped; its committed batches are kept, the rest is taken by a later run")
    marker.clear()


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
