"""Shared helpers for the end-to-end tests."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from typer.testing import CliRunner

from newsdrop import api, connect
from newsdrop.flows.cli import app
from newsdrop.warehouse import schema
from newsdrop.warehouse.layout import DataLayout

if TYPE_CHECKING:
    import duckdb

TABLES = (*schema.TABLES, "headlines")


def make_inbox(folder: Path, source: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.txt")):
        shutil.copy2(path, folder / path.name)
    return folder


def newsdrop(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result


def run(inbox: Path, data: Path, *extra: str) -> Any:
    """`newsdrop run` in this process: the Prefect flow, on the session's Prefect server
    (tests that use it ask for the `prefect_api` fixture). A few seconds a run."""
    result = newsdrop("run", "--inbox", str(inbox), "--data", str(data), "--settle-seconds", "0", *extra)
    assert result.exit_code == 0, result.output
    return result


def ingest(inbox: Path, data: Path, **settings: Any) -> str:
    """A run through newsdrop.ingest in this process: the run engine `newsdrop run` calls
    (newsdrop.engine), without Prefect's task runs, in a fraction of a second. Returns the lines the
    command prints for it."""
    settings.setdefault("settle_seconds", 0)
    return "\n".join(api.ingest(inbox, data, **settings).lines())


def rebuild(data: Path, **settings: Any) -> str:
    """newsdrop.rebuild in this process, as `ingest` above; the lines `newsdrop rebuild` prints."""
    return "\n".join(api.rebuild(data, **settings).lines())


_OPEN: dict[tuple[Path, int], duckdb.DuckDBPyConnection] = {}  # the most recently used last
_KEEP_OPEN = 8  # a test works on one or two warehouses at a time; older ones are closed


@atexit.register
def _close_all() -> None:
    for con in _OPEN.values():
        con.close()
    _OPEN.clear()


def lake(data: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse as analysts see it: newsdrop.connect (read-only), opened once per warehouse.

    Opening one costs about 0.25 s and a query on an open one a few ms. Each query on it sees
    the last committed snapshot, as an analyst's open session does (runs, rebuilds and vacuums
    of other processes included); a warehouse made anew at the same path has a new catalog
    file, and so gets a new connection."""
    catalog = DataLayout(data).catalog
    if not catalog.exists():
        return connect(data)  # raises what a user would see: no warehouse there
    key = (Path(data).resolve(), catalog.stat().st_ino)
    con = _OPEN.pop(key) if key in _OPEN else connect(data)
    _OPEN[key] = con
    while len(_OPEN) > _KEEP_OPEN:
        _OPEN.pop(next(iter(_OPEN))).close()
    return con


def query(data: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return lake(data).execute(sql, params or []).fetchall()


def counts(data: Path) -> dict[str, int]:
    return {table: query(data, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


def table_rows(data: Path, table: str, exclude: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    columns = [row[0] for row in query(data, f"DESCRIBE {table}") if row[0] not in exclude]
    quoted = ', '.join(f'"{column}"' for column in columns)
    return sorted(query(data, f"SELECT {quoted} FROM {table}"), key=repr)


def fingerprint(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """Every file under a folder with its mtime and content hash."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_file() and not any(relative.startswith(prefix) for prefix in skip):
            found[relative] = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def left_behind(pgid: int, data: Path) -> list[str]:
    """Processes of the run's group, or any process working for this data folder."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            in_group = os.getpgid(process.pid) == pgid
            serving = str(data) in " ".join(f"{k}={v}" for k, v in process.environ().items() if k == "PREFECT_HOME")
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
        if in_group or serving:
            found.append(" ".join(process.info["cmdline"] or [])[:120])
    return found


PROGRESS_LINES = ("newsdrop: reading ", "newsdrop: read batch ", "newsdrop: committed batch ")


def without_progress(stderr: str) -> list[str]:
    """A run's stderr lines but its progress lines (newsdrop.flows.progress, off a terminal)."""
    return [line for line in stderr.splitlines() if not line.startswith(PROGRESS_LINES)]
