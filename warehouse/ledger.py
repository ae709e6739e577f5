"""The ingest ledger, in the lake: which file versions were taken in, by which run.

Its rows commit in the same lake transaction as the table rows they account for
(warehouse.commit), so a drop is either loaded and recorded, or neither.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from newsdrop.transforms.decode import RejectReason
from newsdrop.warehouse.batch import BatchSpec, FileVersion
from newsdrop.warehouse.inbox import ListedFiles
from newsdrop.warehouse.lake import LAKE
from newsdrop.warehouse.rows import repeated
from newsdrop.warehouse.schema import FILE_VERSIONS, LEDGER_SCHEMA, TIMESTAMP, FileOutcome

FILE_VERSIONS_TABLE = f"{LAKE}.{LEDGER_SCHEMA}.file_versions"


@dataclass(frozen=True, slots=True)
class KeptVersion:
    """A file version whose bytes are kept, as rebuild needs it."""

    file_name: str
    size_bytes: int
    mtime_ns: int
    sha256: str
    run_id: str
    part: int
    ingested_at: datetime
    reason: str | None


def versions_table(spec: BatchSpec, versions: Sequence[FileVersion]) -> pa.Table:
    """A batch's ledger entries, built a column at a time (a dict a row cost the commit tens of ms)."""
    count = len(versions)
    return pa.Table.from_pydict({
        "file_name": [v.file_name for v in versions], "size_bytes": [v.size_bytes for v in versions],
        "mtime_ns": [v.mtime_ns for v in versions], "sha256": [v.sha256 for v in versions],
        "outcome": [str(v.outcome) for v in versions], "run_id": repeated(spec.run_id, pa.string(), count),
        "part": repeated(spec.part, pa.int32(), count), "ingested_at": repeated(spec.ingested_at, TIMESTAMP, count),
        "reason": [v.reason for v in versions],
    }, schema=FILE_VERSIONS)


class Ledger:
    """Reads of the ledger over a lake connection (the writer's or a reader's)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def unseen(self, listed: ListedFiles, max_bytes: int | None = None) -> list[int]:
        """Positions in `listed` of the versions (name, size, mtime_ns) the ledger has not seen.
        A version rejected as too large is unseen again once `max_bytes` admits it. An anti join
        in DuckDB: the run holds no Python set of every version ever seen."""
        table = listed.table()
        listing = table.append_column("position", pa.array(range(table.num_rows), pa.int64()))
        # Registered, not found by a replacement scan: an analyst's connection has those off.
        self.con.register("newsdrop_listing", listing)
        try:
            rows = self.con.execute(
                "SELECT position FROM newsdrop_listing ANTI JOIN ("
                f"  SELECT file_name, size_bytes, mtime_ns FROM {FILE_VERSIONS_TABLE}"
                "   WHERE NOT (coalesce(reason, '') = ? AND size_bytes <= ?)"
                ") AS seen USING (file_name, size_bytes, mtime_ns) ORDER BY position",
                [str(RejectReason.TOO_LARGE), max_bytes if max_bytes is not None else -1]).fetchall()
        finally:
            self.con.unregister("newsdrop_listing")
        return [position for (position,) in rows]

    def shas_by_name(self, names: pa.ChunkedArray) -> dict[str, set[str]]:
        """The content hashes already taken in under each of these names."""
        wanted = pa.table({"file_name": names})
        found: dict[str, set[str]] = {}
        rows = self.con.execute(
            f"SELECT v.file_name, v.sha256 FROM {FILE_VERSIONS_TABLE} AS v SEMI JOIN wanted USING (file_name)"
            " WHERE v.outcome <> ? AND coalesce(v.reason, '') <> ?",
            [str(FileOutcome.UNCHANGED), str(RejectReason.TOO_LARGE)]).fetchall()
        del wanted
        for name, sha in rows:
            found.setdefault(name, set()).add(sha)
        return found

    def kept_versions(self) -> Iterator[KeptVersion]:
        """Every version whose bytes were read, by run and batch: what rebuild re-reads."""
        # A version rejected as too large and taken again once the limit was raised is one
        # drop: the later, loaded entry stands for it.
        cursor = self.con.execute(
            "SELECT file_name, size_bytes, mtime_ns, sha256, run_id, part, ingested_at, reason"
            f" FROM {FILE_VERSIONS_TABLE} v"
            " WHERE outcome <> ? AND NOT (coalesce(reason, '') = ? AND EXISTS ("
            f"  SELECT 1 FROM {FILE_VERSIONS_TABLE} w WHERE w.file_name = v.file_name AND w.sha256 = v.sha256"
            "   AND w.outcome = ?))"
            " ORDER BY run_id, part, file_name",
            [str(FileOutcome.UNCHANGED), str(RejectReason.TOO_LARGE), str(FileOutcome.LOADED)])
        while rows := cursor.fetchmany(10_000):
            for row in rows:
                yield KeptVersion(*row)

    def counts_of_run(self, run_id: str) -> dict[str, int]:
        """What a run committed, by outcome."""
        rows = self.con.execute(f"SELECT outcome, count(*) FROM {FILE_VERSIONS_TABLE} WHERE run_id = ? GROUP BY ALL",
                                [run_id]).fetchall()
        return {outcome: count for outcome, count in rows}
