"""Rebuild: re-read every kept raw drop with the current rules, as one lake snapshot.

Each earlier batch is read again under its own run_id, part and ingest time, so
drop_id and ingested_at stay what they were. The tables are replaced in one
transaction; then the older snapshots are expired and their files deleted, so
that each table's folder holds exactly the new rows (time travel to before the
rebuild is gone: the summary says so).

A data folder of the layout before DuckLake (a SQLite ledger) is converted the
same way, from its ledger and its kept raw bytes; its old files are removed only
after the rebuild has committed.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import duckdb

from newsdrop.warehouse.batch import BatchSpec, Candidate
from newsdrop.warehouse.commit import insert
from newsdrop.warehouse.inbox import Listed
from newsdrop.warehouse.lake import LAKE
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import FILE_VERSIONS_TABLE, KeptVersion, Ledger
from newsdrop.warehouse.schema import FILE_VERSIONS, PER_RUN_TABLES, RUNS, FileOutcome, RunStatus, table_from_rows

Batch = tuple[BatchSpec, list[Candidate]]


def plan_rebuild(layout: DataLayout, kept: Iterable[KeptVersion], rebuild_run_id: str) -> list[Batch]:
    groups: dict[tuple[str, int], list[Candidate]] = defaultdict(list)
    ingested: dict[tuple[str, int], datetime] = {}
    for version in kept:
        key = (version.run_id, version.part)
        ingested[key] = version.ingested_at
        listed = Listed(version.file_name, version.size_bytes, version.mtime_ns)
        groups[key].append(Candidate(listed, source=layout.raw_location(version.sha256)))
    return [(BatchSpec(run_id, ingested[(run_id, part)], part, rebuild_run_id), candidates)
            for (run_id, part), candidates in sorted(groups.items())]


def clear_for_rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Inside the rebuild's transaction: the per-run tables and the read versions go; the
    ledger's unchanged entries and the runs history stay."""
    for table in PER_RUN_TABLES:
        con.execute(f"DELETE FROM {LAKE}.main.{table}")
    con.execute(f"DELETE FROM {FILE_VERSIONS_TABLE} WHERE outcome <> ?", [str(FileOutcome.UNCHANGED)])


# -- the layout before DuckLake --------------------------------------------------

def _legacy_rows(layout: DataLayout, sql: str) -> Iterator[sqlite3.Row]:
    db = sqlite3.connect(f"{layout.legacy_ledger.resolve().as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        yield from db.execute(sql)
    finally:
        db.close()


def _from_us(us: int | None) -> datetime | None:
    return None if us is None else datetime.fromtimestamp(us / 1_000_000, tz=UTC)


def legacy_kept_versions(layout: DataLayout) -> list[KeptVersion]:
    return [KeptVersion(row["file_name"], row["size_bytes"], row["mtime_ns"], row["sha256"], row["run_id"],
                        row["part"], _from_us(row["ingested_us"]) or datetime.now(UTC))
            for row in _legacy_rows(layout, "SELECT * FROM file_versions WHERE outcome <> 'unchanged'"
                                            " ORDER BY run_id, part, file_name")]


def import_legacy_history(con: duckdb.DuckDBPyConnection, layout: DataLayout) -> None:
    """Inside the rebuild's transaction: the old ledger's unchanged entries and its runs."""
    unchanged = [
        {"file_name": row["file_name"], "size_bytes": row["size_bytes"], "mtime_ns": row["mtime_ns"],
         "sha256": row["sha256"], "outcome": row["outcome"], "run_id": row["run_id"], "part": row["part"],
         "ingested_at": _from_us(row["ingested_us"]), "reason": row["reason"]}
        for row in _legacy_rows(layout, "SELECT * FROM file_versions WHERE outcome = 'unchanged'")
    ]
    insert(con, FILE_VERSIONS_TABLE, table_from_rows(FILE_VERSIONS, unchanged))
    runs = []
    for row in _legacy_rows(layout, "SELECT * FROM runs ORDER BY started_us"):
        started = _from_us(row["started_us"]) or datetime.now(UTC)
        finished = _from_us(row["finished_us"]) or started
        status = row["status"] if row["status"] in set(RunStatus) else RunStatus.INTERRUPTED
        runs.append({**{name: row[name] or 0 for name in ("files_seen", "files_new", "drops_loaded",
                                                           "files_rejected", "files_unchanged", "files_skipped")},
                     "run_id": row["run_id"], "kind": row["kind"], "status": status, "started_at": started,
                     "finished_at": finished, "seconds": (finished - started).total_seconds(),
                     "error": row["error"], "snapshot_id": 0})
    insert(con, f"{LAKE}.main.runs", table_from_rows(RUNS, runs))


def remove_legacy_files(layout: DataLayout) -> None:
    for path in layout.legacy_files:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def kept_versions(layout: DataLayout, ledger: Ledger, legacy: bool) -> list[KeptVersion]:
    return legacy_kept_versions(layout) if legacy else list(ledger.kept_versions())

