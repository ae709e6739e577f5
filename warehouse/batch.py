"""Reading one batch of inbox files into staged Parquet.

Runs in a worker process: it takes file names and returns a small summary, so
the text itself never crosses a process boundary.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from newsdrop.transforms.decode import Rejected
from newsdrop.transforms.read import read_drop
from newsdrop.transforms.records import BatchRecords, FileFacts
from newsdrop.warehouse.atomic import temp_beside
from newsdrop.warehouse.inbox import Listed
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import FileVersion
from newsdrop.warehouse.parquet_io import to_arrow, write_parquet

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Candidate:
    listed: Listed
    known_shas: frozenset[str] = frozenset()
    source: Path | None = None  # where the bytes are when not in the inbox (rebuild: the raw store)


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """Whose rows a batch writes and where it stages them.

    An ingest batch stages its own run's rows; a rebuild batch re-creates an
    earlier run's part under the rebuild's staging folder."""

    run_id: str
    ingested_at: datetime
    part: int
    staging_run_id: str


@dataclass
class BatchResult:
    part: int
    versions: list[FileVersion] = field(default_factory=list)
    staged: list[tuple[str, str]] = field(default_factory=list)  # (table, path relative to parquet/)
    loaded: int = 0
    rejected: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    rows: dict[str, int] = field(default_factory=dict)


def _keep_raw(layout: DataLayout, sha256: str, data: bytes) -> None:
    target = layout.raw_path(sha256)
    if target.exists():
        return
    with temp_beside(target) as temp:
        temp.write_bytes(data)
        os.replace(temp, target)  # made durable by the run's single sync before commit


def _keep_large(layout: DataLayout, path: Path) -> str:
    """Hash and keep a file too large to read whole, in chunks."""
    digest = hashlib.sha256()
    with temp_beside(layout.raw / "incoming" / path.name) as temp, open(path, "rb") as source:
        with open(temp, "wb") as sink:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                sink.write(chunk)
        sha256 = digest.hexdigest()
        target = layout.raw_path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.replace(temp, target)
    return sha256


def read_batch(spec: BatchSpec, candidates: list[Candidate], inbox: Path, data: Path, max_bytes: int) -> BatchResult:
    layout = DataLayout(data)
    inbox_real = inbox.resolve()
    part = spec.part
    records = BatchRecords(run_id=spec.run_id, ingested_at=spec.ingested_at)
    result = BatchResult(part=part)

    for candidate in candidates:
        listed = candidate.listed
        path = candidate.source or inbox / listed.name
        if candidate.source is None and path.is_symlink() and Path(os.path.realpath(path)).parent != inbox_real:
            # Checked again at read time: the link may have been swapped since the listing.
            result.skipped.append((listed.name, "symlink_outside_inbox"))
            continue
        received_at = datetime.fromtimestamp(listed.mtime_ns / 1e9, tz=UTC)
        outcome: Rejected | None = None
        try:
            if listed.size_bytes > max_bytes:
                sha256 = _keep_large(layout, path)
                outcome = Rejected("too_large", f"{listed.size_bytes} bytes, over the limit of {max_bytes}")
                raw = b""
            else:
                with open(path, "rb") as handle:
                    raw = handle.read()
                sha256 = hashlib.sha256(raw).hexdigest()
        except FileNotFoundError:
            if candidate.source is None:
                result.skipped.append((listed.name, "vanished"))
                continue
            # Rebuild of a version whose bytes were never kept (unreadable when taken in).
            sha256 = hashlib.sha256(b"").hexdigest()
            outcome = Rejected("unreadable", "no bytes were kept: the file was unreadable when it was taken in")
            raw = b""
        except PermissionError as exc:
            sha256 = hashlib.sha256(b"").hexdigest()
            outcome = Rejected("unreadable", f"permission denied: {exc.strerror}")
            raw = b""
        except IsADirectoryError:
            result.skipped.append((listed.name, "not_a_file"))
            continue

        if sha256 in candidate.known_shas:
            # Same bytes under the same name (touched or copied back): not a new version.
            result.versions.append(FileVersion(listed.name, listed.size_bytes, listed.mtime_ns, sha256,
                                               "unchanged", part))
            result.unchanged += 1
            continue

        if outcome is None:
            _keep_raw(layout, sha256, raw)
            reading = read_drop(raw)
        else:
            reading = outcome
        kept = not (isinstance(reading, Rejected) and reading.reason == "unreadable")
        raw_path = str(layout.raw_path(sha256).relative_to(layout.root)) if kept else ""
        facts = FileFacts(listed.name, sha256, listed.size_bytes, received_at, raw_path)
        records.add(facts, reading)
        reason = reading.reason if isinstance(reading, Rejected) else None
        result.versions.append(FileVersion(listed.name, listed.size_bytes, listed.mtime_ns, sha256,
                                           "rejected" if reason else "loaded", part, reason))
        if reason is None:
            result.loaded += 1
        else:
            result.rejected += 1
            result.rejects.append((listed.name, reason))

    stage_records(layout, records, spec, result)
    return result


def stage_records(layout: DataLayout, records: BatchRecords, spec: BatchSpec, result: BatchResult) -> None:
    """Write the batch's tables to the staging folder, mirroring their final paths."""
    ingest_date = spec.ingested_at.date().isoformat()
    staging = layout.staging_for(spec.staging_run_id)
    for table, columns in records.tables().items():
        result.rows[table] = len(next(iter(columns.values()))) if columns else 0
        if not result.rows[table]:
            continue
        relative = layout.part_path(table, ingest_date, spec.run_id, spec.part)
        write_parquet(staging / relative, to_arrow(table, columns))
        result.staged.append((table, str(relative)))


def remove_staging(layout: DataLayout, run_id: str) -> None:
    shutil.rmtree(layout.staging_for(run_id), ignore_errors=True)
