"""Rebuild: re-read every drop's bytes kept in raw_drops with the current rules, as one lake snapshot.

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
import pyarrow as pa

from newsdrop.errors import RunFailed
from newsdrop.transforms.decode import RejectReason
from newsdrop.warehouse import near_duplicates
from newsdrop.warehouse.batch import Batch, BatchSpec, Candidate, Kept
from newsdrop.warehouse.inbox import Listed
from newsdrop.warehouse.lake import LAKE
from newsdrop.warehouse.ledger import FILE_VERSIONS_TABLE, KeptVersion
from newsdrop.warehouse.raw import RAW_DROPS_TABLE
from newsdrop.warehouse.schema import PER_RUN_TABLES, FileOutcome


def plan_rebuild(kept: Iterable[KeptVersion], rebuild_run_id: str) -> list[Batch]:
    """Every kept version, in the batches it was taken in; their bytes are added to each batch
    as it is handed to the readers (with_kept_bytes), so that only those in flight are held."""
    groups: dict[tuple[str, int], list[Candidate]] = defaultdict(list)
    ingested: dict[tuple[str, int], datetime] = {}
    for version in kept:
        key = (version.run_id, version.part)
        ingested[key] = version.ingested_at
        # A name that was not UTF-8 is known only as recorded (escaped): the ledger's reason says so.
        listed = Listed(version.file_name, version.size_bytes, version.mtime_ns,
                        name_not_utf8=version.reason == RejectReason.NAME_NOT_UTF8)
        groups[key].append(Candidate(listed, kept=Kept(version.sha256, None, version.reason)))
    return [(BatchSpec(run_id, ingested[(run_id, part)], part, rebuild_run_id), candidates)
            for (run_id, part), candidates in sorted(groups.items())]


def _needs_bytes(candidate: Candidate, max_bytes: int) -> bool:
    kept = candidate.kept
    return (kept is not None and kept.reason != RejectReason.UNREADABLE
            and candidate.listed.size_bytes <= max_bytes)


def with_kept_bytes(con: duckdb.DuckDBPyConnection, batch: Batch, max_bytes: int) -> Batch:
    """A rebuild batch with its versions' bytes from raw_drops. Most are in the file of the batch
    that took them in (its run_id and part, which the lake's file statistics find without reading
    the others); bytes first stored by another batch are looked up by hash."""
    spec, candidates = batch
    wanted = {c.kept.sha256 for c in candidates if c.kept is not None and _needs_bytes(c, max_bytes)}
    contents = _joined(con.execute(
        f"SELECT sha256, content FROM {RAW_DROPS_TABLE} WHERE run_id = ? AND part = ? AND size_bytes <= ?"
        " ORDER BY sha256, chunk", [spec.run_id, spec.part, max_bytes]).fetchall(), wanted)
    elsewhere = wanted - contents.keys()
    if elsewhere:
        con.register("_wanted", pa.table({"sha256": pa.array(sorted(elsewhere), pa.string())}))
        try:
            contents.update(_joined(con.execute(
                f"SELECT sha256, content FROM {RAW_DROPS_TABLE} SEMI JOIN _wanted USING (sha256)"
                " ORDER BY sha256, chunk").fetchall(), elsewhere))
        finally:
            con.unregister("_wanted")
    with_bytes = []
    for candidate in candidates:
        kept = candidate.kept
        if kept is None or not _needs_bytes(candidate, max_bytes):
            with_bytes.append(candidate)
            continue
        if kept.sha256 not in contents:
            raise RunFailed(f"the raw bytes of {candidate.listed.name} (sha256 {kept.sha256}) are missing from "
                            "raw_drops: restore DATA from a backup before rebuilding")
        with_bytes.append(Candidate(candidate.listed, kept=Kept(kept.sha256, contents[kept.sha256], kept.reason)))
    return spec, with_bytes


def _joined(rows: list[tuple[str, bytes]], wanted: set[str]) -> dict[str, bytes]:
    """Each wanted hash's content, its chunks joined in order."""
    chunks: dict[str, list[bytes]] = defaultdict(list)
    for sha256, content in rows:
        if sha256 in wanted:
            chunks[sha256].append(content)
    return {sha256: b"".join(parts) for sha256, parts in chunks.items()}


def clear_for_rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Inside the rebuild's transaction: the per-run tables, the near-duplicate clusters and the
    read versions go; the ledger's unchanged entries, the runs history and the raw bytes stay."""
    for table in PER_RUN_TABLES:
        con.execute(f"DELETE FROM {LAKE}.main.{table}")
    near_duplicates.clear(con)
    con.execute(f"DELETE FROM {FILE_VERSIONS_TABLE} WHERE outcome <> ?", [str(FileOutcome.UNCHANGED)])
