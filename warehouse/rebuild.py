"""Rebuild: re-read every kept raw drop with the current rules, as one lake snapshot.

Each earlier batch is read again under its own run_id, part and ingest time, so
drop_id and ingested_at stay what they were. The tables are replaced in one
transaction; then the older snapshots are expired and their files deleted, so
that each table's folder holds exactly the new rows (time travel to before the
rebuild is gone: the summary says so).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import duckdb

from newsdrop.transforms.decode import RejectReason
from newsdrop.warehouse.batch import BatchSpec, Candidate
from newsdrop.warehouse.inbox import Listed
from newsdrop.warehouse.lake import LAKE
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import FILE_VERSIONS_TABLE, KeptVersion
from newsdrop.warehouse.schema import PER_RUN_TABLES, FileOutcome

Batch = tuple[BatchSpec, list[Candidate]]


def plan_rebuild(layout: DataLayout, kept: Iterable[KeptVersion], rebuild_run_id: str) -> list[Batch]:
    groups: dict[tuple[str, int], list[Candidate]] = defaultdict(list)
    ingested: dict[tuple[str, int], datetime] = {}
    for version in kept:
        key = (version.run_id, version.part)
        ingested[key] = version.ingested_at
        # A name that was not UTF-8 is known only as recorded (escaped): the ledger's reason says so.
        listed = Listed(version.file_name, version.size_bytes, version.mtime_ns,
                        name_not_utf8=version.reason == RejectReason.NAME_NOT_UTF8)
        groups[key].append(Candidate(listed, source=layout.raw_location(version.sha256)))
    return [(BatchSpec(run_id, ingested[(run_id, part)], part, rebuild_run_id), candidates)
            for (run_id, part), candidates in sorted(groups.items())]


def clear_for_rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Inside the rebuild's transaction: the per-run tables and the read versions go; the
    ledger's unchanged entries and the runs history stay."""
    for table in PER_RUN_TABLES:
        con.execute(f"DELETE FROM {LAKE}.main.{table}")
    con.execute(f"DELETE FROM {FILE_VERSIONS_TABLE} WHERE outcome <> ?", [str(FileOutcome.UNCHANGED)])
