"""The run lock of a PostgreSQL catalog: runs on different machines never overlap.

A session advisory lock on a connection held for the whole run: PostgreSQL releases
it when the session ends, so a crashed or killed holder never leaves it behind (TCP
keepalives end the session of a machine that vanished within about a minute). The
running marker is a row of `newsdrop_running` in the same database, written and read
only by the lock's holder, and by `status`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

from newsdrop.errors import NewsdropError, run_in_progress
from newsdrop.warehouse.catalog import CatalogSpec, catalog_unreachable

LOCK_KEY = 0x6E657773  # "news": one lock per database, which holds one lake
MARKER_TABLE = "newsdrop_running"
KEEPALIVES: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


def connect(spec: CatalogSpec) -> Any:
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
    with contextlib.closing(connect(spec)) as session:
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


def catalog_lock_is_held(spec: CatalogSpec) -> bool:
    with contextlib.closing(connect(spec)) as session:
        return bool(session.execute(_HELD, [LOCK_KEY]).fetchone()[0])


def catalog_lock_holder(spec: CatalogSpec) -> str | None:
    """Who holds the catalog's run lock ("" when not known), or None when it is free."""
    with contextlib.closing(connect(spec)) as session:
        if not session.execute(_HELD, [LOCK_KEY]).fetchone()[0]:
            return None
        return _holder(session) or ""


def catalog_running_now(spec: CatalogSpec) -> str | None:
    with contextlib.closing(connect(spec)) as session:
        if not session.execute(_HELD, [LOCK_KEY]).fetchone()[0]:
            return None
        if session.execute("SELECT to_regclass(%s)", [MARKER_TABLE]).fetchone()[0] is None:
            return None
        return MarkerRow(session).read()
