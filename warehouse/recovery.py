"""Recovery: what a run, rebuild or vacuum that died left behind is cleaned up or finished.

Whoever takes the data folder's lock next calls `recover` first. The running marker
names the one that died; its open transaction's files are in no snapshot and are
deleted; a rebuild or vacuum that died after its commit has its expiry finished; a
run that never recorded its end is recorded as interrupted, with what it committed.
"""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, datetime

import duckdb

from newsdrop.warehouse.lake import LAKE
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.lock import RunMarker, Running
from newsdrop.warehouse.maintenance import expire_before
from newsdrop.warehouse.run_rows import committed_counts, record_run
from newsdrop.warehouse.schema import RunKind, RunStatus
from newsdrop.warehouse.storage import remove_tree

VACUUM = "vacuum"  # the running marker's kind while `newsdrop vacuum` works


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
    if run_id and kind != VACUUM and recorded is None:
        started_at = datetime.fromisoformat(started) if started else datetime.now(UTC)
        record_run(con, run_id, RunKind(kind or RunKind.INGEST), started_at, RunStatus.INTERRUPTED,
                   committed_counts(con, run_id),
                   error="the process stopped; its committed batches are kept, the rest is taken by a later run")
    marker.clear()
