"""The upgrade of a warehouse made before raw_drops: its DATA/raw/ moved into the lake.

newsdrop before raw_drops kept each drop's bytes as a file of their own, DATA/raw/<aa>/<sha256>.
The first run (or vacuum) that takes the lock of such a warehouse moves them into raw_drops,
`batch_size` files a commit, then deletes DATA/raw/. It is idempotent: bytes raw_drops holds are
not moved again, so after a kill the next run goes on with the rest; the marker it writes lets
that run's recovery delete the files of the batch it was committing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from newsdrop.transforms.decode import RejectReason
from newsdrop.warehouse.commit import label_commit, lake_transaction
from newsdrop.warehouse.faults import checkpoint
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import FILE_VERSIONS_TABLE
from newsdrop.warehouse.lock import RunMarker, Running
from newsdrop.warehouse.raw import CHUNK_BYTES, RAW_DROPS_TABLE, RawFile, store_raw
from newsdrop.warehouse.schema import FileOutcome
from newsdrop.warehouse.storage import is_s3, join, open_input, read_bytes, remove_tree, s3_filesystem, s3_key

UPGRADE = "upgrade"  # the running marker's kind while the upgrade moves bytes


@dataclass(frozen=True, slots=True)
class ToMove:
    """Bytes the ledger took in that raw_drops lacks, with the batch that first took them in."""

    sha256: str
    size_bytes: int
    run_id: str
    part: int
    ingested_at: datetime


def legacy_raw_exists(layout: DataLayout) -> bool:
    url = layout.legacy_raw_url
    if not is_s3(url):
        return os.path.isdir(url)
    from pyarrow import fs

    found = s3_filesystem().get_file_info(fs.FileSelector(s3_key(url), recursive=True, allow_not_found=True))
    return any(info.type == fs.FileType.File for info in found)


def _to_move(con: duckdb.DuckDBPyConnection, missing: set[str], count: int) -> list[ToMove]:
    """The next `count`, in the order they were taken in, so that each commit's file holds a
    few batches' bytes (rebuild finds a batch's bytes by its run_id and part)."""
    con.register("_missing", pa.table({"sha256": pa.array(sorted(missing), pa.string())}))
    try:
        rows = con.execute(
            "SELECT sha256, arg_min(size_bytes, (run_id, part)), arg_min(run_id, (run_id, part)),"
            " arg_min(part, (run_id, part)), arg_min(ingested_at, (run_id, part))"
            f" FROM {FILE_VERSIONS_TABLE}"
            " WHERE outcome <> ? AND coalesce(reason, '') <> ?"
            f" AND sha256 NOT IN (SELECT sha256 FROM {RAW_DROPS_TABLE}) AND sha256 NOT IN (SELECT sha256 FROM _missing)"
            " GROUP BY sha256 ORDER BY min((run_id, part)), sha256 LIMIT ?",
            [str(FileOutcome.UNCHANGED), str(RejectReason.UNREADABLE), count]).fetchall()
    finally:
        con.unregister("_missing")
    return [ToMove(*row) for row in rows]


def move_legacy_raw(layout: DataLayout, con: duckdb.DuckDBPyConnection, marker: RunMarker,
                    batch_size: int) -> str | None:
    """Under the run lock, after recovery: DATA/raw/ moved into raw_drops and deleted; a line
    saying what was moved, or None when there was no DATA/raw/."""
    if not legacy_raw_exists(layout):
        return None
    now = datetime.now(UTC)
    run_id = f"upgrade-{now:%Y%m%dT%H%M%S}"
    marker.write(Running(run_id, UPGRADE, now.isoformat()).text())
    staging = layout.staging_url_for(run_id)
    if not is_s3(staging):
        os.makedirs(staging, exist_ok=True)
    moved, commits, missing = 0, 0, set[str]()
    while batch := _to_move(con, missing, batch_size):
        raw = RawFile(join(staging, f"raw_drops-{commits:05d}.parquet"), batch[0].run_id, batch[0].part,
                      batch[0].ingested_at)
        for item in batch:
            # Each row keeps the batch that first took it in (what rebuild looks it up by).
            raw.run_id, raw.part, raw.ingested_at = item.run_id, item.part, item.ingested_at
            location = join(layout.legacy_raw_url, item.sha256[:2], item.sha256)
            try:
                if item.size_bytes > CHUNK_BYTES:
                    with open_input(location) as source:
                        raw.add_streamed(item.sha256, item.size_bytes, source)
                else:
                    raw.add(item.sha256, read_bytes(location))
            except FileNotFoundError:
                missing.add(item.sha256)  # lost before the upgrade: a rebuild will name the drop
                continue
            moved += 1
        if raw.close():
            with lake_transaction(con) as files:
                store_raw(con, layout, raw.path, list(raw.shas), f"upgrade-{commits:05d}-{run_id}.parquet", files)
                label_commit(con, run_id, f"moved {len(raw.shas)} file(s) of DATA/raw into raw_drops")
                checkpoint("upgrade-commit")
            checkpoint("upgrade-committed")
            commits += 1
    remove_tree(staging)
    _remove_legacy(layout)
    marker.clear()
    lost = f"; {len(missing)} file(s) the ledger names were not there" if missing else ""
    return (f"upgrade: moved {moved} file(s) of {layout.legacy_raw_url} into the lake's raw_drops table in "
            f"{commits} commit(s), and deleted the folder{lost}")


def _remove_legacy(layout: DataLayout) -> None:
    url = layout.legacy_raw_url
    if is_s3(url):
        with contextlib.suppress(FileNotFoundError):
            s3_filesystem().delete_dir(s3_key(url))  # its objects, and the marker of the emptied prefix
    else:
        shutil.rmtree(url, ignore_errors=True)
