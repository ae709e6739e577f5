"""Listing the inbox: which files are drops, settled, and not yet taken in.

The inbox is a local folder or an s3:// prefix, read-only to newsdrop: nothing here
or anywhere else writes to it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from newsdrop.errors import NewsdropError
from newsdrop.transforms.names import is_drop_name, name_is_utf8, recorded_name
from newsdrop.warehouse.schema import SkipReason
from newsdrop.warehouse.storage import check_bucket, is_s3, list_objects


@dataclass(frozen=True, slots=True)
class Listed:
    name: str  # as recorded and shown: transforms.names.recorded_name
    size_bytes: int
    mtime_ns: int
    # A name that is not UTF-8 is recorded escaped, and the file rejected (but kept): this is the
    # name to open it by (None: `name` is), and rebuild sets the flag from the ledger's reason.
    os_name: str | None = None
    name_not_utf8: bool = False

    @property
    def path_name(self) -> str:
        return self.os_name or self.name


class ListedFiles:
    """Listed files as columns, sorted by name. A Listed object per file cost the run's process
    about 250 MB at 1M files (320 MB with the candidates made of them); as Arrow columns a file
    costs its name and two integers. Listed objects are made as they are needed: a batch at a
    time, when iterated."""

    CHUNK = 8_192  # files gathered as Python values before they become Arrow arrays

    def __init__(self, table: pa.Table | None = None, os_names: dict[str, str] | None = None) -> None:
        self._table = table if table is not None else LISTED.empty_table()
        # The rare name that is not UTF-8: its recorded (escaped) name -> the name to open it by.
        self.os_names = os_names or {}

    @classmethod
    def of(cls, items: Iterable[Listed]) -> ListedFiles:
        gathering = _Gathering()
        for item in items:
            gathering.add(item)
        return gathering.done()

    def __len__(self) -> int:
        return int(self._table.num_rows)

    def __iter__(self) -> Iterator[Listed]:
        for start in range(0, len(self), self.CHUNK):
            yield from self._listed(self._table.slice(start, self.CHUNK))

    def _listed(self, part: pa.Table) -> Iterator[Listed]:
        os_names = self.os_names
        for name, size, mtime in zip(*(part.column(column).to_pylist() for column in LISTED.names), strict=True):
            os_name = os_names.get(name) if os_names else None
            yield Listed(name, size, mtime, os_name=os_name, name_not_utf8=os_name is not None)

    def table(self) -> pa.Table:
        """file_name, size_bytes, mtime_ns."""
        return self._table

    @property
    def names(self) -> pa.ChunkedArray:
        return self._table.column("file_name")

    def take(self, positions: list[int]) -> ListedFiles:
        return ListedFiles(self._table.take(pa.array(positions, pa.int64())), self.os_names)

    def slice(self, start: int, length: int) -> ListedFiles:
        return ListedFiles(self._table.slice(start, length), self.os_names)


LISTED = pa.schema([pa.field("file_name", pa.string()), pa.field("size_bytes", pa.int64()),
                    pa.field("mtime_ns", pa.int64())])


class _Gathering:
    """Listed files gathered a chunk of Python values at a time into Arrow columns."""

    def __init__(self) -> None:
        self.parts: list[pa.RecordBatch] = []
        self.names: list[str] = []
        self.sizes: list[int] = []
        self.mtimes: list[int] = []
        self.os_names: dict[str, str] = {}

    def add(self, item: Listed) -> None:
        if item.os_name is not None:
            self.os_names[item.name] = item.os_name
        self.add_values(item.name, item.size_bytes, item.mtime_ns)

    def add_values(self, name: str, size_bytes: int, mtime_ns: int) -> None:
        self.names.append(name)
        self.sizes.append(size_bytes)
        self.mtimes.append(mtime_ns)
        if len(self.names) >= ListedFiles.CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self.names:
            self.parts.append(pa.record_batch([pa.array(self.names, pa.string()), pa.array(self.sizes, pa.int64()),
                                               pa.array(self.mtimes, pa.int64())], schema=LISTED))
            self.names, self.sizes, self.mtimes = [], [], []

    def done(self) -> ListedFiles:
        self._flush()
        table = pa.Table.from_batches(self.parts, schema=LISTED)
        self.parts.clear()
        listed = table.take(pc.sort_indices(table, sort_keys=[("file_name", "ascending")]))
        del table
        # Arrow's allocator keeps what it frees (the unsorted copy): about 125 MB at 1M files, measured
        pa.default_memory_pool().release_unused()
        return ListedFiles(listed, self.os_names)


@dataclass
class Listing:
    drops: ListedFiles = field(default_factory=ListedFiles)
    settling: list[str] = field(default_factory=list)  # still being written: left for the next run
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, reason): not followed


def listed_entry(os_name: str, size_bytes: int, mtime_ns: int) -> Listed:
    if name_is_utf8(os_name):
        return Listed(os_name, size_bytes, mtime_ns)
    return Listed(recorded_name(os_name), size_bytes, mtime_ns, os_name=os_name, name_not_utf8=True)


def check_inbox(inbox: str) -> None:
    """A local inbox must be a folder; an s3:// one's bucket must exist (its prefix may be empty)."""
    if is_s3(inbox):
        check_bucket(inbox)
    elif not os.path.isdir(inbox):
        raise NewsdropError(f"no inbox folder at {inbox}: give the folder the drops arrive in")


def list_inbox(inbox: str, settle_seconds: float, sleep: Callable[[float], None] = time.sleep) -> Listing:
    """The inbox's drops, sorted by name. In S3 an object appears whole when its upload
    ends, so nothing there needs to settle."""
    if is_s3(inbox):
        return Listing(ListedFiles.of(Listed(item.name, item.size_bytes, item.mtime_ns)
                                      for item in list_objects(inbox) if is_drop_name(item.name)))
    return list_folder(Path(inbox), settle_seconds, sleep)


def list_folder(inbox: Path, settle_seconds: float, sleep: Callable[[float], None] = time.sleep) -> Listing:
    """One pass of os.scandir with one stat per drop; no file is opened here.

    A drop modified less than settle_seconds ago may still be being written: the
    listing waits out the settle time once and stats those drops again. One whose
    size or mtime changed meanwhile is left for the next run; the others are taken
    now, so a file copied in just before a run is not held back for a whole period."""
    settle_ns = int(settle_seconds * 1e9)
    now_ns = time.time_ns()
    inbox_real = inbox.resolve()
    listing = Listing()
    drops = _Gathering()
    recent: list[Listed] = []
    with os.scandir(inbox) as entries:
        for entry in entries:
            if not is_drop_name(entry.name):
                continue
            if entry.is_symlink():
                target = Path(os.path.realpath(entry.path))
                if not target.exists():
                    listing.refused.append((recorded_name(entry.name), SkipReason.DANGLING_SYMLINK))
                    continue
                if target.parent != inbox_real:
                    listing.refused.append((recorded_name(entry.name), SkipReason.SYMLINK_OUTSIDE_INBOX))
                    continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue  # gone between listing and stat: nothing to do
            if not entry.is_file():
                continue
            settled = now_ns - stat.st_mtime_ns >= settle_ns
            if settled and name_is_utf8(entry.name):  # nearly every file: no Listed object made
                drops.add_values(entry.name, stat.st_size, stat.st_mtime_ns)
                continue
            listed = listed_entry(entry.name, stat.st_size, stat.st_mtime_ns)
            if settled:
                drops.add(listed)
            else:
                recent.append(listed)
    if recent:
        sleep(settle_seconds)
        for listed in recent:
            try:
                stat = (inbox / listed.path_name).stat()
            except FileNotFoundError:
                continue
            if (stat.st_size, stat.st_mtime_ns) == (listed.size_bytes, listed.mtime_ns):
                drops.add(listed)
            else:
                listing.settling.append(listed.name)
    listing.drops = drops.done()
    return listing
