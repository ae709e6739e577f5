"""A run's life: the data folder's lock, recovery first, a marker naming the run while it
runs (so that the next run can recover if it dies), and its `runs` row if it fails.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from newsdrop.errors import NewsdropError
from newsdrop.warehouse.lake import open_lake
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import Ledger
from newsdrop.warehouse.lock import run_lock
from newsdrop.warehouse.recovery import VACUUM, recover
from newsdrop.warehouse.run_rows import record_failure
from newsdrop.warehouse.schema import RunKind


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


def refuse_legacy(layout: DataLayout) -> None:
    """An ingest into a folder of the layout before DuckLake would start an empty lake beside it."""
    if layout.is_legacy():
        raise NewsdropError(f"{layout.root} holds a warehouse of an older newsdrop: run `newsdrop rebuild --data "
                            f"{layout.root}` once to move it onto DuckLake (no inbox needed)")


@contextlib.contextmanager
def open_run(data: Path, kind: RunKind, lock_wait_seconds: float) -> Iterator[Run]:
    """Hold the data folder's run lock and open the lake; a run that raises is recorded as failed."""
    layout = DataLayout(data)
    if kind is RunKind.INGEST:
        refuse_legacy(layout)
    started_at = datetime.now(UTC)
    run_id = new_run_id(started_at)
    layout.state.mkdir(parents=True, exist_ok=True)
    with run_lock(layout.lock, lock_wait_seconds), contextlib.closing(open_lake(layout)) as con:
        recover(layout, con)
        layout.running_marker.write_text(f"{run_id} {kind} {started_at.isoformat()}\n")
        run = Run(layout, con, run_id, kind, started_at)
        try:
            yield run
        except BaseException as error:
            with contextlib.suppress(Exception):  # the lake itself may be what failed
                record_failure(con, run_id, kind, started_at, error)
            raise
        finally:
            shutil.rmtree(layout.staging_for(run_id), ignore_errors=True)
            layout.running_marker.unlink(missing_ok=True)


@contextlib.contextmanager
def maintenance(layout: DataLayout, lock_wait_seconds: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """The lake for upkeep (vacuum): the run lock, recovery first, and a marker, so that a
    vacuum killed half way is finished by the next run."""
    with run_lock(layout.lock, lock_wait_seconds), contextlib.closing(open_lake(layout)) as con:
        recover(layout, con)
        layout.running_marker.write_text(f"vacuum-{datetime.now(UTC):%Y%m%dT%H%M%S} {VACUUM}\n")
        try:
            yield con
        finally:
            shutil.rmtree(layout.staging, ignore_errors=True)
            layout.running_marker.unlink(missing_ok=True)


