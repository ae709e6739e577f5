"""One run at a time per warehouse, and the marker that names the run in progress.

With the SQLite catalog both live in DATA/_state: an OS file lock (flock), which the
kernel releases when its process dies, even by SIGKILL, and a marker file. With a
PostgreSQL catalog, runs on many machines meet in the catalog (warehouse.catalog_lock):
a session advisory lock, which PostgreSQL releases when the session ends, and a
marker row.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from newsdrop.errors import run_in_progress
from newsdrop.warehouse.layout import DataLayout


@dataclass(frozen=True)
class Running:
    """What a running marker says: the run in progress (its kind: ingest, rebuild or vacuum)."""

    run_id: str
    kind: str
    started_at: str  # ISO 8601; "" when not known

    def text(self) -> str:
        return f"{self.run_id} {self.kind} {self.started_at}\n"

    @classmethod
    def parse(cls, text: str) -> Running:
        run_id, kind, started_at = [*text.split(), "", "", ""][:3]
        return cls(run_id, kind, started_at)


class RunMarker(Protocol):
    """Names the run in progress; found by the next run if that one died."""

    def read(self) -> str | None: ...

    def write(self, text: str) -> None: ...

    def clear(self) -> None: ...


class FileMarker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str | None:
        try:
            return self.path.read_text()
        except FileNotFoundError:
            return None

    def write(self, text: str) -> None:
        self.path.write_text(text)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def file_lock(path: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise run_in_progress("data folder", f"pid {_pid_in(fd)}") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _pid_in(fd: int) -> str:
    """The pid its holder wrote into a lock file."""
    return os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"


def file_lock_is_held(path: Path) -> bool:
    """Whether a run holds the lock now (for status; takes nothing a run would wait for)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a shared lock we may have taken
    return False


@contextlib.contextmanager
def run_lock(layout: DataLayout, wait_seconds: float = 0.0) -> Iterator[RunMarker]:
    """Hold the warehouse's run lock; yields its running marker."""
    if layout.catalog_spec.shared:
        from newsdrop.warehouse.catalog_lock import catalog_lock

        with catalog_lock(layout.catalog_spec, wait_seconds) as marker:
            yield marker
        return
    with file_lock(layout.lock, wait_seconds):
        yield FileMarker(layout.running_marker)


def running_now(layout: DataLayout) -> str | None:
    """The marker of the run in progress, if one holds the lock now (for status)."""
    if layout.catalog_spec.shared:
        from newsdrop.warehouse.catalog_lock import catalog_running_now

        return catalog_running_now(layout.catalog_spec)
    marker = FileMarker(layout.running_marker).read()
    return marker if marker is not None and file_lock_is_held(layout.lock) else None


def refuse_if_busy(layout: DataLayout) -> None:
    """RunInProgress, as a run that took the lock would raise it, when another run holds it now."""
    if layout.catalog_spec.shared:
        from newsdrop.warehouse.catalog_lock import catalog_lock_holder

        holder = catalog_lock_holder(layout.catalog_spec)
        if holder is not None:
            raise run_in_progress("catalog", holder)
        return
    if file_lock_is_held(layout.lock):
        fd = os.open(layout.lock, os.O_RDONLY)
        try:
            holder = f"pid {_pid_in(fd)}"
        finally:
            os.close(fd)
        raise run_in_progress("data folder", holder)
