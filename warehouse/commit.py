"""Committing one batch: its rows, its ledger entries and its checks, as one lake snapshot.

Readers of the lake see a batch whole or not at all. A run commits batch by
batch, so a killed backfill resumes after its last committed batch.

The reader process wrote the batch's Parquet files to the staging folder. The
commit checks them there, renames each whole into its table's partition folder
and registers it with DuckLake (ducklake_add_data_files), in the transaction:
a reader of the folders never meets a file half written, and the writer does
not encode the rows a second time. A folder reader may see a batch's files from
their rename to the COMMIT (milliseconds for a batch; after a kill, until the
next run's recovery deletes them); a reader of the lake never does.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from newsdrop.errors import QualityCheckFailed
from newsdrop.warehouse.batch import BatchResult
from newsdrop.warehouse.faults import checkpoint
from newsdrop.warehouse.lake import LAKE, insert
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import FILE_VERSIONS_TABLE, versions_table
from newsdrop.warehouse.near_duplicates import record_bodies
from newsdrop.warehouse.quality import CheckResult, failed_errors, run_checks
from newsdrop.warehouse.raw import store_raw
from newsdrop.warehouse.schema import QUALITY_CHECKS, FileOutcome, table_from_rows
from newsdrop.warehouse.storage import join, move, remove


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.begin()
    try:
        yield
        con.commit()
    except BaseException:
        # A failed COMMIT may have ended the transaction already: keep its error, not ours.
        with contextlib.suppress(duckdb.Error):
            con.rollback()
        raise


def move_into_lake(con: duckdb.DuckDBPyConnection, layout: DataLayout, result: BatchResult,
                   moved: list[str]) -> None:
    """Inside the transaction: each staged file moved into its partition and registered.
    `moved` collects the moved files, for the caller to delete if the commit fails."""
    spec = result.spec
    for table, staged in result.files.items():
        target = join(layout.partition_url(table, spec.ingested_at),
                      f"{spec.run_id}-{spec.part:05d}-{secrets.token_hex(4)}.parquet")
        move(staged.path, target)
        moved.append(target)
        con.execute(f"CALL ducklake_add_data_files('{LAKE}', ?, ?, hive_partitioning => true)", [table, target])


def label_commit(con: duckdb.DuckDBPyConnection, run_id: str, what: str) -> None:
    """Name the snapshot after its run, so time travel can find a run's snapshots."""
    con.execute(f"CALL {LAKE}.set_commit_message('newsdrop', ?, extra_info => ?)",
                [f"{run_id}: {what}", json.dumps({"run_id": run_id})])


def checks_table(run_id: str, part: int, checks: list[CheckResult], checked_at: datetime) -> pa.Table:
    return table_from_rows(QUALITY_CHECKS, [
        {"check": c.check, "severity": str(c.severity), "passed": c.passed, "detail": c.detail,
         "run_id": run_id, "part": part, "checked_at": checked_at}
        for c in checks
    ])


def write_batch(con: duckdb.DuckDBPyConnection, layout: DataLayout, result: BatchResult, run_id: str,
                moved: list[str]) -> list[CheckResult]:
    """Inside the caller's transaction: check the batch, then add its rows, its near-duplicate
    clusters, ledger entries and checks (the checks under `run_id`, the run doing the work: a
    rebuild re-writes earlier runs' rows).

    Raises QualityCheckFailed (the caller rolls back) when an error check fails."""
    staged = {table: staged.path for table, staged in result.files.items()}
    checks = run_checks(con, staged, result.count(FileOutcome.LOADED), result.count(FileOutcome.REJECTED))
    failed = failed_errors(checks)
    if failed:
        names = "; ".join(f"{check.check} ({check.detail})" for check in failed)
        raise QualityCheckFailed(f"quality check failed in batch {result.spec.part}, which was not committed: "
                                 f"{names}", checks=checks, part=result.spec.part)
    move_into_lake(con, layout, result, moved)
    if result.raw is not None:
        spec = result.spec
        store_raw(con, layout, result.raw.path, result.raw_shas,
                  f"{spec.run_id}-{spec.part:05d}-{secrets.token_hex(4)}.parquet", moved)
    record_bodies(con, result)
    insert(con, FILE_VERSIONS_TABLE, versions_table(result.spec, result.versions))
    insert(con, f"{LAKE}.main.quality_checks", checks_table(run_id, result.spec.part, checks, datetime.now(UTC)))
    return checks


@contextmanager
def lake_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[list[str]]:
    """A transaction that also owns the files moved into the lake in it: if it does not
    commit, they are deleted (a killed process leaves them to the next run's recovery)."""
    moved: list[str] = []
    try:
        with transaction(con):
            yield moved
    except BaseException:
        for path in moved:
            with contextlib.suppress(OSError):  # the store itself may be what failed
                remove(path)
        raise


def commit_batch(con: duckdb.DuckDBPyConnection, layout: DataLayout, result: BatchResult,
                 run_id: str) -> list[CheckResult]:
    """One batch as one snapshot. Nothing is committed for a batch with nothing to record."""
    if not result.versions:
        return []
    with lake_transaction(con) as moved:
        checks = write_batch(con, layout, result, run_id, moved)
        label_commit(con, run_id, f"batch {result.spec.part}")
        checkpoint("batch-commit")
    checkpoint("committed")
    return checks
