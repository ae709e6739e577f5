"""Lake upkeep: expire old snapshots, delete the files nothing references, merge small files.

The table folders must hold exactly the current rows for readers that read them
directly (pandas, polars, pyarrow), so whatever leaves a replaced file behind is
followed at once by expiring the snapshots that still reference it.
"""

from __future__ import annotations

import os
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow.parquet as pq

from newsdrop.warehouse.commit import lake_transaction
from newsdrop.warehouse.lake import LAKE
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.schema import (
    PARTITION_COLUMN,
    PARTITION_KEYS,
    PER_RUN_TABLES,
    SIMILARITY_SCHEMA,
    SIMILARITY_TABLES,
)
from newsdrop.warehouse.search import IndexWriting, keep_current
from newsdrop.warehouse.storage import COMPRESSION, is_s3, join, move, parent, s3_filesystem, s3_key

MERGE_LIMIT_BYTES = 256 * 1024 * 1024


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


def merge_partition(con: duckdb.DuckDBPyConnection, table: str, folder: str, staging: str) -> None:
    """One partition's files rewritten as one, swapped in one transaction: its rows out whole
    (no delete files), the merged file in. Our own, not ducklake_merge_adjacent_files: that
    one's files carry an internal row-id column, and a folder of files with two schemas breaks
    readers of the folder (polars refuses it)."""
    schema = PER_RUN_TABLES[table]
    column = PARTITION_COLUMN[table]
    keys = dict(part.split("=", 1) for part in folder.split("/")[-len(PARTITION_KEYS):])
    year, month, day_of_month = (int(keys[key]) for key in PARTITION_KEYS)
    day = datetime(year, month, day_of_month, tzinfo=UTC)
    # Through the lake, not the files: files of an older newsdrop may lack a column added since
    # (NULL in the lake) or hold one dropped since (raw_path), which the merged file must not.
    rows = con.execute(f"SELECT * FROM {LAKE}.main.{table} WHERE {column} >= ? AND {column} < ?",
                       [day, day + timedelta(days=1)]).to_arrow_table().select(schema.names).cast(schema)
    staged = join(staging, f"{table}-{secrets.token_hex(4)}.parquet")
    if is_s3(staged):
        pq.write_table(rows, s3_key(staged), compression=COMPRESSION, filesystem=s3_filesystem())
    else:
        os.makedirs(staging, exist_ok=True)
        pq.write_table(rows, staged, compression=COMPRESSION)
    target = join(folder, f"merged-{secrets.token_hex(8)}.parquet")
    with lake_transaction(con) as moved:
        con.execute(f"DELETE FROM {LAKE}.main.{table} WHERE {column} >= ? AND {column} < ?",
                    [day, day + timedelta(days=1)])
        move(staged, target)
        moved.append(target)
        con.execute(f"CALL ducklake_add_data_files('{LAKE}', ?, ?, hive_partitioning => true)", [table, target])


def merge_small_files(con: duckdb.DuckDBPyConnection, staging: str) -> int:
    """Merge the files of each partition of a per-run table that has more than one, up to
    MERGE_LIMIT_BYTES a partition (a bigger one is left as it is: its files are not small)."""
    merged = 0
    for table in PER_RUN_TABLES:
        by_folder: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for path, size in con.execute(f"SELECT data_file, data_file_size_bytes FROM ducklake_list_files('{LAKE}', ?)",
                                      [table]).fetchall():
            by_folder[parent(path)].append((path, size))
        for folder, files in by_folder.items():
            if len(files) > 1 and sum(size for _path, size in files) <= MERGE_LIMIT_BYTES:
                merge_partition(con, table, folder, staging)
                merged += 1
    return merged


def compact_near_duplicates(con: duckdb.DuckDBPyConnection) -> int:
    """The near-duplicate tables (read through the lake, never as folders) compacted by DuckLake
    itself: a file with deleted rows (a merge of clusters updates body_clusters) rewritten
    without them, then each table's small files (one a batch) merged. Returns the tables merged."""
    merged = 0
    for table in SIMILARITY_TABLES:
        con.execute(f"CALL ducklake_rewrite_data_files('{LAKE}', ?, schema => ?, delete_threshold => 0.0)",
                    [table, SIMILARITY_SCHEMA]).fetchall()
        merged += bool(con.execute(f"CALL ducklake_merge_adjacent_files('{LAKE}', ?, schema => ?)",
                                   [table, SIMILARITY_SCHEMA]).fetchall())
    return merged


def vacuum(con: duckdb.DuckDBPyConnection, layout: DataLayout, keep_since: datetime, merge: bool) -> Vacuumed:
    """Expire history before `keep_since`; with `merge`, also merge small files, which
    needs all earlier history expired (the merged files replace files older snapshots use)."""
    merged = 0
    if merge:
        merged = merge_small_files(con, layout.staging_url_for("vacuum")) + compact_near_duplicates(con)
        latest = con.execute(f"SELECT max(snapshot_time) FROM {LAKE}.snapshots()").fetchone()
        keep_since = latest[0] if latest and latest[0] is not None else keep_since
    # The search index takes in the changes it has not yet while the lake still keeps them, so
    # that the expiry leaves it current rather than to be built whole (a failure only means that).
    writing = IndexWriting(layout)
    try:
        keep_current(writing, con)
    finally:
        writing.close()
    expired, deleted = expire_before(con, keep_since)
    deleted += _count(con, f"CALL ducklake_delete_orphaned_files('{LAKE}', older_than => ?)", [keep_since])
    return Vacuumed(expired, deleted, merged)
