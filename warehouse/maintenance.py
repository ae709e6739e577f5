"""Lake upkeep: expire old snapshots, delete the files nothing references, merge small files.

The table folders must hold exactly the current rows for readers that read them
directly (pandas, polars, pyarrow), so whatever leaves a replaced file behind is
followed at once by expiring the snapshots that still reference it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from newsdrop.warehouse.lake import LAKE


@dataclass(frozen=True)
class Vacuumed:
    snapshots_expired: int
    files_deleted: int
    files_merged: int


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    return len(con.execute(sql, params or []).fetchall())


def expire_before(con: duckdb.DuckDBPyConnection, moment: datetime) -> tuple[int, int]:
    """Expire every snapshot older than `moment` and delete the files only they referenced."""
    expired = _count(con, f"CALL ducklake_expire_snapshots('{LAKE}', older_than => ?)", [moment])
    deleted = _count(con, f"CALL ducklake_cleanup_old_files('{LAKE}', cleanup_all => true)")
    return expired, deleted


def vacuum(con: duckdb.DuckDBPyConnection, keep_since: datetime, merge: bool) -> Vacuumed:
    """Expire history before `keep_since`; with `merge`, also merge small files, which
    needs all earlier history expired (the merged files replace files older snapshots use)."""
    merged = 0
    if merge:
        merged = _count(con, f"CALL ducklake_merge_adjacent_files('{LAKE}')")
        latest = con.execute(f"SELECT max(snapshot_time) FROM {LAKE}.snapshots()").fetchone()
        keep_since = latest[0] if latest and latest[0] is not None else keep_since
    expired, deleted = expire_before(con, keep_since)
    deleted += _count(con, f"CALL ducklake_delete_orphaned_files('{LAKE}', older_than => ?)", [keep_since])
    return Vacuumed(expired, deleted, merged)
