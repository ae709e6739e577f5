"""newsdrop as a library: the same runs as the CLI, and the warehouse for analysts.

    import newsdrop
    summary = newsdrop.ingest("inbox/", "data/")
    df = newsdrop.query("data/", "SELECT * FROM daily_ingest")

Nothing here imports Prefect: a run is the same composition of steps as the
Prefect flow (newsdrop.pipeline), called directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsdrop.errors import NewsdropError, RunFailed
from newsdrop.pipeline import run_ingest, run_rebuild
from newsdrop.settings import load_settings
from newsdrop.summary import RunSummary

if TYPE_CHECKING:
    import duckdb
    import pandas

PathLike = str | Path


def _run(run: Any, settings: Any) -> RunSummary:
    try:
        return run(settings)  # type: ignore[no-any-return]
    except NewsdropError:
        raise
    except Exception as error:
        reason = (str(error) or type(error).__name__).splitlines()[0]
        raise RunFailed(reason) from error


def ingest(inbox: PathLike | None = None, data: PathLike | None = None, *, settle_seconds: float | None = None,
           max_bytes: int | None = None, batch_size: int | None = None, workers: int | None = None,
           lock_wait_seconds: float | None = None, run_timeout_seconds: float | None = None) -> RunSummary:
    """Take in every new drop of `inbox` into the warehouse at `data`; return what the run did.

    Settings not given come from NEWSDROP_* variables, newsdrop.toml, then the defaults,
    as for `newsdrop run`. Raises RunInProgress when another run holds `data`, and
    RunFailed (with the reason) when the run fails; what it had not committed stays invisible.
    """
    settings = load_settings(inbox=inbox, data=data, settle_seconds=settle_seconds, max_bytes=max_bytes,
                             batch_size=batch_size, workers=workers, lock_wait_seconds=lock_wait_seconds,
                             run_timeout_seconds=run_timeout_seconds)
    return _run(run_ingest, settings)


def rebuild(data: PathLike | None = None, *, workers: int | None = None, lock_wait_seconds: float | None = None,
            run_timeout_seconds: float | None = None) -> RunSummary:
    """Re-read every kept drop of `data` with the current reading rules; no inbox needed."""
    settings = load_settings(data=data, workers=workers, lock_wait_seconds=lock_wait_seconds,
                             run_timeout_seconds=run_timeout_seconds)
    return _run(run_rebuild, settings)


def status(data: PathLike | None = None, inbox: PathLike | None = None) -> dict[str, Any]:
    """The facts of `newsdrop status --json`: last run, run in progress, backlog, totals, freshness."""
    from newsdrop.warehouse.status import warehouse_status

    settings = load_settings(data=data)
    report: dict[str, Any] = warehouse_status(settings.data, Path(inbox) if inbox is not None else None)
    return report


def connect(data: PathLike | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the warehouse, tables and views by plain name.

    It sees the warehouse as it was when it connected; connect again for newer runs."""
    import duckdb

    from newsdrop.warehouse.layout import DataLayout

    layout = DataLayout(load_settings(data=data).data)
    if not layout.published_db.exists():
        raise NewsdropError(f"no warehouse at {layout.root}: run `newsdrop run --data {layout.root}` first")
    return duckdb.connect(str(layout.published_db), read_only=True)


def query(data: PathLike | None, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pandas.DataFrame:
    """Run one read-only query on the warehouse and return a pandas DataFrame."""
    with connect(data) as con:
        return con.execute(sql, params or []).df()
