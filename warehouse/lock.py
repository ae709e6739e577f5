"""One run at a time per warehouse, and the marker that names the run in progress.

With the SQLite catalog both live in DATA/_state: an OS file lock (flock), which the
kernel releases when its process dies, even by SIGKILL, and a marker file. With a
PostgreSQL catalog, runs on many machines meet in the catalog: a session advisory lock
on a connection held for the whole run, which PostgreSQL releases when the session ends
(TCP keepalives end the session of a machine that vanished within about a minute), and
a marker row of `newsdrop_running` in the same database, written and read only by the
lock's holder, and by `status`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from newsdrop.errors import NewsdropError, run_in_progress
from newsdrop.warehouse.catalog import CatalogSpec, catalog_unreachable
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


def file_lock_holder(path: Path) -> str | None:
    """The pid of the run holding the lock now, or None when it is free (for status and the
    preflight; takes nothing a run would wait for)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _pid_in(fd)
    finally:
        os.close(fd)  # closing releases a shared lock we may have taken
    return None


@contextlib.contextmanager
def run_lock(layout: DataLayout, wait_seconds: float = 0.0) -> Iterator[RunMarker]:
    """Hold the warehouse's run lock; yields its running marker."""
    if layout.catalog_spec.shared:
        with catalog_lock(layout.catalog_spec, wait_seconds) as marker:
            yield marker
        return
    with file_lock(layout.lock, wait_seconds):
        yield FileMarker(layout.running_marker)


def running_now(layout: DataLayout) -> str | None:
    """The marker of the run in progress, if one holds the lock now (for status)."""
    if layout.catalog_spec.shared:
        return catalog_running_now(layout.catalog_spec)
    marker = FileMarker(layout.running_marker).read()
    return marker if marker is not None and file_lock_holder(layout.lock) is not None else None


def refuse_if_busy(layout: DataLayout) -> None:
    """RunInProgress, as a run that took the lock would raise it, when another run holds it now."""
    if layout.catalog_spec.shared:
        holder = catalog_lock_holder(layout.catalog_spec)
        if holder is not None:
            raise run_in_progress("catalog", holder)
        return
    pid = file_lock_holder(layout.lock)
    if pid is not None:
        raise run_in_progress("data folder", f"pid {pid}")


LOCK_KEY = 0x6E657773  # "news": one lock per database, which holds one lake
MARKER_TABLE = "newsdrop_running"
KEEPALIVES: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


def catalog_session(spec: CatalogSpec) -> Any:
    """A libpq session (psycopg), or one line that says why there is none."""
    try:
        import psycopg
    except ImportError:
        raise NewsdropError('a PostgreSQL catalog needs pip install "newsdrop[scale]" (psycopg)') from None
    try:
        return psycopg.connect(spec.params, autocommit=True, application_name="newsdrop", connect_timeout=10,
                               **KEEPALIVES)
    except psycopg.Error as error:
        raise catalog_unreachable(spec, error) from None


class MarkerRow:
    def __init__(self, session: Any) -> None:
        self.session = session

    def read(self) -> str | None:
        row = self.session.execute(f"SELECT marker FROM {MARKER_TABLE} WHERE lock_key = %s", [LOCK_KEY]).fetchone()
        return None if row is None or not row[0] else str(row[0])

    def write(self, text: str) -> None:
        self.session.execute(f"UPDATE {MARKER_TABLE} SET marker = %s WHERE lock_key = %s", [text, LOCK_KEY])

    def clear(self) -> None:
        self.write("")


def _holder(session: Any) -> str | None:
    with contextlib.suppress(Exception):
        row = session.execute(f"SELECT holder FROM {MARKER_TABLE} WHERE lock_key = %s", [LOCK_KEY]).fetchone()
        if row and row[0]:
            return str(row[0])
    return None


@contextlib.contextmanager
def catalog_lock(spec: CatalogSpec, wait_seconds: float = 0.0) -> Iterator[MarkerRow]:
    with contextlib.closing(catalog_session(spec)) as session:
        deadline = time.monotonic() + wait_seconds
        while not session.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]:
            if time.monotonic() >= deadline:
                raise run_in_progress("catalog", _holder(session))
            time.sleep(0.2)
        # Made under the lock: two first runs never race to create it.
        session.execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (lock_key bigint PRIMARY KEY, "
                        "holder text NOT NULL, marker text NOT NULL DEFAULT '')")
        holder = f"host {socket.gethostname()}, pid {os.getpid()}"
        session.execute(f"INSERT INTO {MARKER_TABLE} (lock_key, holder) VALUES (%s, %s) "
                        "ON CONFLICT (lock_key) DO UPDATE SET holder = excluded.holder", [LOCK_KEY, holder])
        yield MarkerRow(session)
    # Closing the session releases the lock.


_HELD = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = %s "
         "AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")


def catalog_lock_holder(spec: CatalogSpec) -> str | None:
    """Who holds the catalog's run lock ("" when not known), or None when it is free."""
    with contextlib.closing(catalog_session(spec)) as session:
        if not session.execute(_HELD, [LOCK_KEY]).fetchone()[0]:
            return None
        return _holder(session) or ""


def catalog_running_now(spec: CatalogSpec) -> str | None:
    with contextlib.closing(catalog_session(spec)) as session:
        if not session.execute(_HELD, [LOCK_KEY]).fetchone()[0]:
            return None
        if session.execute("SELECT to_regclass(%s)", [MARKER_TABLE]).fetchone()[0] is None:
            return None
        return MarkerRow(session).read()
