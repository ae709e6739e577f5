"""A run's life: the data folder's lock, recovery first, a marker naming the run while it
runs (so that the next run can recover if it dies), and its `runs` row if it fails.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from newsdrop.warehouse.lake import open_lake
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import Ledger
from newsdrop.warehouse.lock import RunMarker, Running, run_lock
from newsdrop.warehouse.recovery import VACUUM, recover
from newsdrop.warehouse.run_rows import record_failure
from newsdrop.warehouse.schema import RunKind
from newsdrop.warehouse.storage import remove_tree


def new_run_id(now: datetime) -> str:
    """Sortable by start time, unique across machines."""
    return f"{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Run:
    layout: DataLayout
    con: duckdb.DuckDBPyConnection
    run_id: str
    kind: RunKind
    started_at: datetime

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.con)


@contextlib.contextmanager
def open_run(layout: DataLayout, kind: RunKind, lock_wait_seconds: float) -> Iterator[Run]:
    """Hold the warehouse's run lock and open the lake; a run that raises is recorded as failed."""
    layout.refuse_legacy()
    started_at = datetime.now(UTC)
    run_id = new_run_id(started_at)
    layout.state.mkdir(parents=True, exist_ok=True)
    with locked_lake(layout, lock_wait_seconds) as (con, marker):
        marker.write(Running(run_id, kind, started_at.isoformat()).text())
        run = Run(layout, con, run_id, kind, started_at)
        recorded = True
        try:
            yield run
        except BaseException as error:
            try:
                record_failure(con, run_id, kind, started_at, error)
            except Exception:
                # The lake itself may be what failed (S3 unreachable): the marker stays, and
                # the next run records this one as interrupted, with what it committed.
                recorded = False
            raise
        finally:
            # The storage may be what failed: its error is not to hide the run's (the next
            # run's recovery empties the staging area).
            with contextlib.suppress(OSError):
                remove_tree(layout.staging_url_for(run_id))
            if recorded:
                marker.clear()


@contextlib.contextmanager
def locked_lake(layout: DataLayout, lock_wait_seconds: float
                ) -> Iterator[tuple[duckdb.DuckDBPyConnection, RunMarker]]:
    """The run lock, then the lake, then recovery from whatever a dead run left."""
    with run_lock(layout, lock_wait_seconds) as marker, contextlib.closing(open_lake(layout)) as con:
        recover(layout, con, marker)
        yield con, marker


@contextlib.contextmanager
def maintenance(layout: DataLayout, lock_wait_seconds: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """The lake for upkeep (vacuum): the run lock, recovery first, and a marker, so that a
    vacuum killed half way is finished by the next run."""
    with locked_lake(layout, lock_wait_seconds) as (con, marker):
        now = datetime.now(UTC)
        marker.write(Running(f"vacuum-{now:%Y%m%dT%H%M%S}", VACUUM, now.isoformat()).text())
        try:
            yield con
        finally:
            remove_tree(layout.staging_url)
            marker.clear()


