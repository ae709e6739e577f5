"""Committing one batch: its rows, its ledger entries and its checks, as one lake snapshot.

Readers see a batch whole or not at all. A run commits batch by batch, so a
killed backfill resumes after its last committed batch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from newsdrop.errors import QualityCheckFailed
from newsdrop.warehouse.batch import BatchResult
from newsdrop.warehouse.faults import checkpoint
from newsdrop.warehouse.lake import LAKE
from newsdrop.warehouse.ledger import FILE_VERSIONS_TABLE, versions_table
from newsdrop.warehouse.quality import CheckResult, failed_errors, run_checks
from newsdrop.warehouse.schema import PER_RUN_TABLES, QUALITY_CHECKS, FileOutcome, table_from_rows


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.begin()
    try:
        yield
        con.commit()
    except BaseException:
        con.rollback()
        raise


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> Iterator[None]:
    """The batch's tables as new_<table>, an empty one for a table the batch has no rows for."""
    names = []
    try:
        for table, schema in PER_RUN_TABLES.items():
            con.register(f"new_{table}", tables.get(table, schema.empty_table()))
            names.append(f"new_{table}")
        yield
    finally:
        for name in names:
            con.unregister(name)


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


def insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    if data.num_rows:
        con.register("_rows", data)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
        finally:
            con.unregister("_rows")


def write_batch(con: duckdb.DuckDBPyConnection, result: BatchResult, run_id: str) -> list[CheckResult]:
    """Inside the caller's transaction: check the batch, then add its rows, ledger entries and checks
    (the checks under `run_id`, the run doing the work: a rebuild re-writes earlier runs' rows).

    Raises QualityCheckFailed (the caller rolls back) when an error check fails."""
    with registered(con, result.tables):
        checks = run_checks(con, result.count(FileOutcome.LOADED), result.count(FileOutcome.REJECTED))
        failed = failed_errors(checks)
        if failed:
            names = "; ".join(f"{check.check} ({check.detail})" for check in failed)
            raise QualityCheckFailed(f"quality check failed in batch {result.spec.part}, which was not committed: "
                                     f"{names}", checks=checks, part=result.spec.part)
        for table in PER_RUN_TABLES:
            if table in result.tables:
                con.execute(f"INSERT INTO {LAKE}.main.{table} BY NAME SELECT * FROM new_{table}")
    insert(con, FILE_VERSIONS_TABLE, versions_table(result.spec, result.versions))
    insert(con, f"{LAKE}.main.quality_checks", checks_table(run_id, result.spec.part, checks, datetime.now(UTC)))
    return checks


def commit_batch(con: duckdb.DuckDBPyConnection, result: BatchResult, run_id: str) -> list[CheckResult]:
    """One batch as one snapshot. Nothing is committed for a batch with nothing to record."""
    if not result.versions:
        return []
    os.sync()  # the raw bytes this batch kept are durable before the ledger says so
    with transaction(con):
        checks = write_batch(con, result, run_id)
        label_commit(con, run_id, f"batch {result.spec.part}")
        checkpoint("batch-commit")
    checkpoint("committed")
    return checks
