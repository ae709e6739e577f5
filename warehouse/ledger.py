"""The ledger of file versions, runs and committed Parquet files (SQLite).

A run is committed by one SQLite transaction that records its file versions and
its Parquet files together. Before that the run left nothing that readers see;
after it, everything the run wrote is either in place or is moved into place by
the next run (warehouse.recovery).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsdrop.warehouse.faults import checkpoint

RUN_COUNTERS = ("files_seen", "files_new", "drops_loaded", "files_rejected", "files_unchanged", "files_skipped")


def to_us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


@dataclass(frozen=True, slots=True)
class FileVersion:
    file_name: str
    size_bytes: int
    mtime_ns: int
    sha256: str
    outcome: str  # loaded | rejected | unchanged
    part: int
    reason: str | None = None


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


class Ledger:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        """read_only: for status and other readers, which must never block a run."""
        if read_only:
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                       timeout=60)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below).
        self._db = sqlite3.connect(path, isolation_level=None, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript((Path(__file__).parent / "ledger.sql").read_text())
        self._migrate()

    def _migrate(self) -> None:
        """Bring a ledger written by an earlier version up to ledger.sql."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(file_versions)")}
        if "reason" not in columns:
            self._db.execute("ALTER TABLE file_versions ADD COLUMN reason TEXT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------

    def start_run(self, run_id: str, kind: str, started_at: datetime) -> None:
        self._db.execute(
            "INSERT INTO runs (run_id, kind, status, started_us) VALUES (?, ?, 'running', ?)",
            (run_id, kind, to_us(started_at)),
        )

    def finish_run(self, run_id: str, status: str, finished_at: datetime, counts: dict[str, int] | None = None,
                   error: str | None = None) -> None:
        """Counts that are not given keep what the commit recorded."""
        started_us = self._db.execute("SELECT started_us FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
        finished_us = to_us(finished_at)
        self._db.execute(
            "UPDATE runs SET status = ?, finished_us = ?, seconds = ?, error = ? WHERE run_id = ?",
            (status, finished_us, (finished_us - started_us) / 1e6, error, run_id),
        )
        if counts is not None:
            self._set_counts(run_id, counts)

    def fail_run(self, run_id: str, finished_at: datetime, error: str) -> None:
        """A run that fails after its commit stays committed: the next run finishes it."""
        status = self._db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
        self.finish_run(run_id, "failed" if status == "running" else status, finished_at, error=error)

    def _set_counts(self, run_id: str, counts: dict[str, int]) -> None:
        assignments = ", ".join(f"{name} = ?" for name in RUN_COUNTERS)
        self._db.execute(
            f"UPDATE runs SET {assignments} WHERE run_id = ?",
            (*(counts.get(name, 0) for name in RUN_COUNTERS), run_id),
        )

    def runs_with_status(self, *statuses: str) -> list[str]:
        marks = ",".join("?" for _ in statuses)
        rows = self._db.execute(
            f"SELECT run_id FROM runs WHERE status IN ({marks}) ORDER BY started_us", statuses
        ).fetchall()
        return [row[0] for row in rows]

    def set_status(self, run_id: str, status: str) -> None:
        self._db.execute("UPDATE runs SET status = ? WHERE run_id = ?", (status, run_id))

    def runs(self) -> list[dict[str, Any]]:
        cursor = self._db.execute("SELECT * FROM runs ORDER BY started_us")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # -- file versions ---------------------------------------------------------

    def known_listing(self) -> set[tuple[str, int, int]]:
        """(name, size, mtime_ns) of every version seen: a listing entry in here is not new."""
        return set(self._db.execute("SELECT file_name, size_bytes, mtime_ns FROM file_versions"))

    def shas_by_name(self, names: Iterable[str]) -> dict[str, set[str]]:
        """The content hashes already taken in under each of these names."""
        found: dict[str, set[str]] = {}
        names = list(names)
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            marks = ",".join("?" for _ in chunk)
            for name, sha in self._db.execute(
                f"SELECT file_name, sha256 FROM file_versions WHERE outcome != 'unchanged' AND file_name IN ({marks})",
                chunk,
            ):
                found.setdefault(name, set()).add(sha)
        return found

    def kept_versions(self) -> Iterator[KeptVersion]:
        for row in self._db.execute(
            "SELECT file_name, size_bytes, mtime_ns, sha256, run_id, part, ingested_us FROM file_versions"
            " WHERE outcome IN ('loaded', 'rejected') ORDER BY run_id, part, file_name"
        ):
            file_name, size_bytes, mtime_ns, sha256, run_id, part, ingested_us = row
            yield KeptVersion(file_name, size_bytes, mtime_ns, sha256, run_id, part, from_us(ingested_us))

    # -- commit ---------------------------------------------------------------

    def commit_run(self, run_id: str, ingested_at: datetime, versions: Iterable[FileVersion],
                   parquet_files: list[tuple[str, str]], counts: dict[str, int]) -> None:
        """The commit point of a run: its file versions and Parquet files, all or nothing."""
        ingested_us = to_us(ingested_at)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO file_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((v.file_name, v.size_bytes, v.mtime_ns, v.sha256, v.outcome, run_id, v.part, ingested_us, v.reason)
                 for v in versions),
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO parquet_files VALUES (?, ?, ?)",
                ((path, table, run_id) for table, path in parquet_files),
            )
            self._db.execute("UPDATE runs SET status = 'committed' WHERE run_id = ?", (run_id,))
            self._set_counts(run_id, counts)
            if parquet_files:
                self._mark_stale()
            checkpoint("ledger-commit")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def replace_parquet_files(self, parquet_files: Iterable[tuple[str, str, str]], run_id: str,
                              versions: Iterable[FileVersion]) -> None:
        """Rebuild's commit point: the new file list replaces the old one whole, and each
        kept version's outcome follows the current rules (a reject may now be a drop)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM parquet_files")
            self._db.executemany("INSERT INTO parquet_files VALUES (?, ?, ?)", parquet_files)
            self._db.executemany(
                "UPDATE file_versions SET outcome = ?, reason = ?"
                " WHERE file_name = ? AND size_bytes = ? AND mtime_ns = ?",
                ((v.outcome, v.reason, v.file_name, v.size_bytes, v.mtime_ns) for v in versions),
            )
            self._db.execute("UPDATE runs SET status = 'committed' WHERE run_id = ?", (run_id,))
            self._mark_stale()
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def rejects_of_last_finished_run(self) -> list[tuple[str, str]]:
        row = self._db.execute(
            "SELECT run_id FROM runs WHERE kind = 'ingest' AND status = 'succeeded' ORDER BY started_us DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return []
        return list(self._db.execute(
            "SELECT file_name, coalesce(reason, '') FROM file_versions WHERE run_id = ? AND outcome = 'rejected'"
            " ORDER BY file_name", (row[0],)))

    def outcome_totals(self) -> dict[str, int]:
        """Committed file versions by outcome: what drops and rejected_drops must hold."""
        return dict(self._db.execute("SELECT outcome, count(*) FROM file_versions GROUP BY outcome").fetchall())

    def record_checks(self, run_id: str, checked_at: datetime, results: Iterable[Any]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO quality_checks VALUES (?, ?, ?, ?, ?, ?)",
            ((run_id, r.check, r.severity, int(r.passed), r.detail, to_us(checked_at)) for r in results),
        )

    def quality_checks(self) -> list[dict[str, Any]]:
        cursor = self._db.execute("SELECT * FROM quality_checks ORDER BY checked_us, run_id, check_name")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # -- snapshot freshness ---------------------------------------------------

    def _mark_stale(self) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('snapshot_stale', '1')")

    def snapshot_stale(self) -> bool:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'snapshot_stale'").fetchone()
        return row is not None and row[0] == "1"

    def mark_snapshot_fresh(self) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('snapshot_stale', '0')")

    def parquet_files(self) -> list[tuple[str, str, str]]:
        """(table, path, run_id) of every committed file of the per-run tables."""
        return list(self._db.execute("SELECT table_name, path, run_id FROM parquet_files ORDER BY path"))
