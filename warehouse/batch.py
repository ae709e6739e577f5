"""Reading one batch of files into staged Parquet files, one per table.

Runs in a reader process (or on a Dask worker): it takes file names, writes the
batch's rows to Parquet in the staging area (DATA/_state/staging, or DATA/_staging
in S3: never in a table folder, so nobody reads a file half written), and returns
their paths and the ledger entries; the writer checks the batch and moves the files
into the lake at its commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq

from newsdrop.transforms.decode import Rejected, RejectReason
from newsdrop.transforms.read import read_drop
from newsdrop.warehouse.inbox import Listed
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.raw import RawFile, spool
from newsdrop.warehouse.rows import BatchRows
from newsdrop.warehouse.schema import FileOutcome, SkipReason
from newsdrop.warehouse.storage import (
    COMPRESSION,
    S3_REQUESTS,
    is_s3,
    join,
    make_durable,
    open_input,
    read_bytes,
    remove,
    s3_filesystem,
    s3_key,
)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
BODIES_STAGED = "distinct_bodies"  # the staging folder of BatchResult.bodies


NO_SHAS: frozenset[str] = frozenset()
NAME_NOT_UTF8 = Rejected(RejectReason.NAME_NOT_UTF8,
                         "the file name is not UTF-8 (file_name shows its bytes escaped): rename the file to load it")


@dataclass(frozen=True, slots=True)
class Kept:
    """A version as rebuild reads it again: its hash, its bytes from raw_drops (None when it has
    none to read: unreadable when it was taken in, or over max_bytes), the ledger's reason."""

    sha256: str
    content: bytes | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    listed: Listed
    known_shas: frozenset[str] = NO_SHAS
    kept: Kept | None = None  # rebuild: the version's kept bytes (None: read it from the inbox)


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """Whose rows a batch writes: an ingest batch its own run's; a rebuild batch an earlier run's part."""

    run_id: str
    ingested_at: datetime
    part: int
    staging_run_id: str  # the run doing the work: its staging folder holds the files

# A batch to read: whose rows it writes, and its files (a list when handed to a reader).
Batch = tuple[BatchSpec, Sequence[Candidate]]


@dataclass(frozen=True, slots=True)
class FileVersion:
    """One ledger entry: a (name, size, mtime) taken in, and what became of it."""

    file_name: str
    size_bytes: int
    mtime_ns: int
    sha256: str
    outcome: FileOutcome
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class StagedFile:
    path: str
    rows: int


@dataclass
class BatchResult:
    spec: BatchSpec
    files: dict[str, StagedFile] = field(default_factory=dict)  # table -> its staged Parquet file
    raw: StagedFile | None = None  # the raw_drops rows of the batch's new bytes (none in a rebuild)
    raw_shas: list[str] = field(default_factory=list)  # whose bytes `raw` holds
    bodies: StagedFile | None = None  # the batch's distinct bodies, sketches and bands (rows.distinct_bodies)
    versions: list[FileVersion] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why): not read, not recorded

    def count(self, outcome: FileOutcome) -> int:
        return sum(1 for version in self.versions if version.outcome == outcome)

    @property
    def rejects(self) -> list[tuple[str, str]]:
        return [(v.file_name, v.reason or "") for v in self.versions if v.outcome == FileOutcome.REJECTED]

    @property
    def rows(self) -> dict[str, int]:
        return {table: staged.rows for table, staged in self.files.items()}


@dataclass(frozen=True, slots=True)
class Fetched:
    """A file's bytes and hash, or why there are none."""

    sha256: str
    raw: bytes = b""
    rejected: Rejected | None = None
    spooled: str | None = None  # a too-large file's copy, to be stored in chunks


def fetch(candidate: Candidate, path: str, max_bytes: int, spool_folder: str) -> Fetched | SkipReason:
    """The bytes of one candidate (a too-large one copied to `spool_folder` as it is hashed);
    a skip reason when it can't be had now."""
    listed = candidate.listed
    if candidate.kept is not None:
        return fetch_kept(listed, candidate.kept, max_bytes)
    try:
        if listed.size_bytes > max_bytes:
            spooled = join(spool_folder, f"{os.getpid()}-{secrets.token_hex(8)}.tmp")
            if not is_s3(spooled):
                os.makedirs(spool_folder, exist_ok=True)
            detail = f"{listed.size_bytes} bytes, over the limit of {max_bytes}"
            return Fetched(spool(path, spooled), rejected=Rejected(RejectReason.TOO_LARGE, detail), spooled=spooled)
        raw = read_bytes(path)
        return Fetched(hashlib.sha256(raw).hexdigest(), raw)
    except FileNotFoundError:
        return SkipReason.VANISHED
    except PermissionError as exc:
        return Fetched(EMPTY_SHA256, rejected=Rejected(RejectReason.UNREADABLE, f"permission denied: {exc.strerror}"))
    except IsADirectoryError:
        return SkipReason.NOT_A_FILE


def fetch_kept(listed: Listed, kept: Kept, max_bytes: int) -> Fetched:
    """A version's bytes as raw_drops keeps them, read again by rebuild."""
    if listed.size_bytes > max_bytes:
        detail = f"{listed.size_bytes} bytes, over the limit of {max_bytes}"
        return Fetched(kept.sha256, rejected=Rejected(RejectReason.TOO_LARGE, detail))
    if kept.content is None:
        detail = "no bytes were kept: the file was unreadable when it was taken in"
        return Fetched(EMPTY_SHA256, rejected=Rejected(RejectReason.UNREADABLE, detail))
    return Fetched(hashlib.sha256(kept.content).hexdigest(), kept.content)


def _fetched_locally(candidates: list[Candidate], inbox: str | None, max_bytes: int,
                     spool_folder: str) -> Iterator[tuple[Candidate, Fetched | SkipReason]]:
    inbox_real = os.path.realpath(inbox) if inbox else None
    for candidate in candidates:
        # Strings, not pathlib: this loop runs once per drop.
        path = os.path.join(inbox or ".", candidate.listed.path_name)
        if (candidate.kept is None and os.path.islink(path)
                and os.path.dirname(os.path.realpath(path)) != inbox_real):
            # Checked again at read time: the link may have been swapped since the listing.
            yield candidate, SkipReason.SYMLINK_OUTSIDE_INBOX
            continue
        yield candidate, fetch(candidate, path, max_bytes, spool_folder)


def _fetched_ahead(candidates: list[Candidate], inbox: str | None, max_bytes: int, spool_folder: str,
                   io: ThreadPoolExecutor) -> Iterator[tuple[Candidate, Fetched | SkipReason]]:
    """Objects fetched S3_REQUESTS at a time, in order; at most two windows held."""
    def one(candidate: Candidate) -> Fetched | SkipReason:
        return fetch(candidate, join(inbox or "", candidate.listed.name), max_bytes, spool_folder)

    window: list[Future[Fetched | SkipReason]] = []
    for start in range(0, len(candidates), S3_REQUESTS):
        ahead = [io.submit(one, candidate) for candidate in candidates[start:start + S3_REQUESTS]]
        for candidate, future in zip(candidates[start - S3_REQUESTS:start], window, strict=True):
            yield candidate, future.result()
        window = ahead
    tail = candidates[len(candidates) - len(window):] if window else []
    for candidate, future in zip(tail, window, strict=True):
        yield candidate, future.result()


def read_batch(spec: BatchSpec, candidates: list[Candidate], inbox: str | None, layout: DataLayout,
               max_bytes: int, file_done: Callable[[], None] = lambda: None) -> BatchResult:
    """Read the batch's files (from the inbox, or as raw_drops keeps them when rebuilding: inbox
    None); `file_done()` after each (the run's progress)."""
    remote = layout.remote or (inbox is not None and is_s3(inbox))
    pool = ThreadPoolExecutor(S3_REQUESTS, thread_name_prefix="newsdrop-s3") if remote else None
    with pool or contextlib.nullcontext():
        return _read(spec, candidates, inbox, layout, max_bytes, pool, file_done)


def _read(spec: BatchSpec, candidates: list[Candidate], inbox: str | None, layout: DataLayout, max_bytes: int,
          io: ThreadPoolExecutor | None, file_done: Callable[[], None]) -> BatchResult:
    folder = layout.staging_url_for(spec.staging_run_id)
    spool_folder = join(folder, "large")
    rows = BatchRows(run_id=spec.run_id, ingested_at=spec.ingested_at)
    # The bytes of the batch's new versions; a rebuild stores none (they are in raw_drops).
    raw = RawFile(join(folder, "raw_drops", f"{spec.run_id}-{spec.part:05d}.parquet"), spec.run_id, spec.part,
                  spec.ingested_at) if inbox is not None else None
    if raw is not None and not layout.remote:
        os.makedirs(os.path.dirname(raw.path), exist_ok=True)
    result = BatchResult(spec)
    fetched_all = (_fetched_locally(candidates, inbox, max_bytes, spool_folder) if io is None
                   else _fetched_ahead(candidates, inbox, max_bytes, spool_folder, io))
    try:
        for candidate, fetched in fetched_all:
            file_done()  # one more taken up
            listed = candidate.listed
            if isinstance(fetched, SkipReason):
                result.skipped.append((listed.name, fetched))
                continue
            if fetched.sha256 in candidate.known_shas:
                # Same bytes under the same name (touched or copied back): not a new version.
                result.versions.append(FileVersion(listed.name, listed.size_bytes, listed.mtime_ns, fetched.sha256,
                                                   FileOutcome.UNCHANGED))
                _drop_spooled(fetched)
                continue
            if raw is not None:
                _keep(raw, listed.size_bytes, fetched)
            reading = fetched.rejected or (NAME_NOT_UTF8 if listed.name_not_utf8 else read_drop(fetched.raw))
            rows.add(listed.name, fetched.sha256, listed.size_bytes, listed.mtime_ns, reading)
            outcome, reason = ((FileOutcome.REJECTED, str(reading.reason)) if isinstance(reading, Rejected)
                               else (FileOutcome.LOADED, None))
            result.versions.append(FileVersion(listed.name, listed.size_bytes, listed.mtime_ns, fetched.sha256,
                                               outcome, reason))
        if raw is not None and raw.close():
            result.raw, result.raw_shas = StagedFile(raw.path, raw.rows), list(raw.shas)
    except BaseException:
        if raw is not None:
            raw.discard()
        raise
    result.files = stage(layout, spec, rows.to_arrow())
    bodies = rows.distinct_bodies()
    if bodies is not None:
        result.bodies = stage(layout, spec, {BODIES_STAGED: bodies})[BODIES_STAGED]
    return result


def _keep(raw: RawFile, size_bytes: int, fetched: Fetched) -> None:
    """A new version's bytes into the batch's raw file; an unreadable file has none."""
    if fetched.spooled is not None:
        with open_input(fetched.spooled) as source:
            raw.add_streamed(fetched.sha256, size_bytes, source)
        _drop_spooled(fetched)
    elif not (fetched.rejected is not None and fetched.rejected.reason == RejectReason.UNREADABLE):
        raw.add(fetched.sha256, fetched.raw)


def _drop_spooled(fetched: Fetched) -> None:
    if fetched.spooled is not None:
        remove(fetched.spooled)


def stage(layout: DataLayout, spec: BatchSpec, tables: dict[str, pa.Table]) -> dict[str, StagedFile]:
    """Each table of the batch as a Parquet file in the run's staging folder, durable before the
    commit records it (synced here, in the reader, not by the writer: an os.sync() at each commit
    cost the run's process 20-60 ms a batch and flushed everything else being written too)."""
    folder = layout.staging_url_for(spec.staging_run_id)
    staged = {}
    for table, data in tables.items():
        path = join(folder, table, f"{spec.run_id}-{spec.part:05d}.parquet")
        if layout.remote:
            pq.write_table(data, s3_key(path), compression=COMPRESSION, filesystem=s3_filesystem())
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pq.write_table(data, path, compression=COMPRESSION)
            make_durable(path)
        staged[table] = StagedFile(path, data.num_rows)
    return staged
