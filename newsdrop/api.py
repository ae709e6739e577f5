"""newsdrop as a library: the same runs as the CLI, and the warehouse for analysts.

    import newsdrop
    summary = newsdrop.ingest("inbox/", "data/")
    df = newsdrop.query("data/", "SELECT * FROM daily_ingest")

Every door to a run comes through here: the CLI and the Prefect flows call ingest and
rebuild (with the flows' hooks), which run newsdrop's run engine (newsdrop.engine).
Nothing here imports Prefect.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsdrop.engine import PLAIN, RunHooks, run_ingest, run_rebuild
from newsdrop.errors import NewsdropError, RunFailed, first_line
from newsdrop.readers import refuse_unguarded_script
from newsdrop.settings import Settings, data_layout, load_settings, require_inbox
from newsdrop.summary import RunSummary

if TYPE_CHECKING:
    import duckdb
    import pandas

    from newsdrop.warehouse.maintenance import Vacuumed

PathLike = str | Path


def _run(run: Any, settings: Settings, hooks: RunHooks | None) -> RunSummary:
    refuse_unguarded_script()
    try:
        return run(settings, hooks or PLAIN)  # type: ignore[no-any-return]
    except NewsdropError:
        raise
    except Exception as error:
        reason = first_line(error)
        raise RunFailed(reason) from error


def ingest(inbox: PathLike | None = None, data: PathLike | None = None, *, settle_seconds: float | None = None,
           max_bytes: int | None = None, batch_size: int | None = None, workers: int | None = None,
           lock_wait_seconds: float | None = None, run_timeout_seconds: float | None = None,
           catalog: str | None = None, dask: str | None = None, hooks: RunHooks | None = None) -> RunSummary:
    """Take in every new drop of `inbox` into the warehouse at `data`; return what the run did.

    `inbox` and `data` are folders or s3:// URLs; `catalog` is "sqlite" (the default) or
    "postgres:LIBPQ-PARAMETERS"; `dask` a Dask scheduler's address to read batches on.
    Settings not given come from NEWSDROP_* variables, newsdrop.toml, then the defaults,
    as for `newsdrop run`. Raises RunInProgress when another run holds `data`, and
    RunFailed (with the reason) when the run fails or exceeds `run_timeout_seconds` (checked
    between batches, and a query still running then is interrupted); what it had not committed
    stays invisible. `hooks`: how an orchestrator watches the run (newsdrop.engine.RunHooks;
    the Prefect flows give theirs).
    """
    settings = load_settings(inbox=inbox, data=data, settle_seconds=settle_seconds, max_bytes=max_bytes,
                             batch_size=batch_size, workers=workers, lock_wait_seconds=lock_wait_seconds,
                             run_timeout_seconds=run_timeout_seconds, catalog=catalog, dask=dask)
    return _run(run_ingest, settings, hooks)


def rebuild(data: PathLike | None = None, *, workers: int | None = None, lock_wait_seconds: float | None = None,
            run_timeout_seconds: float | None = None, catalog: str | None = None,
            dask: str | None = None, hooks: RunHooks | None = None) -> RunSummary:
    """Re-read every kept drop of `data` with the current reading rules; no inbox needed.
    It raises as `ingest` does; a rebuild commits all or nothing."""
    settings = load_settings(data=data, workers=workers, lock_wait_seconds=lock_wait_seconds,
                             run_timeout_seconds=run_timeout_seconds, catalog=catalog, dask=dask)
    return _run(run_rebuild, settings, hooks)


def vacuum(data: PathLike | None = None, *, keep_days: float = 7, merge: bool = False,
           catalog: str | None = None) -> Vacuumed:
    """Expire lake history older than `keep_days`, delete unreferenced files, and (with
    `merge`) merge small files, which expires all earlier history."""
    from datetime import UTC, datetime, timedelta

    from newsdrop.warehouse.maintenance import vacuum as vacuum_lake
    from newsdrop.warehouse.runs import maintenance

    if not 0 <= keep_days <= 36_500:
        raise NewsdropError(f"keep_days = {keep_days!r} is not allowed: days of history to keep, from 0 to 36500")
    settings = load_settings(data=data, catalog=catalog)
    layout = data_layout(settings)
    if not layout.exists():
        raise NewsdropError(f"no warehouse at {layout.url}")
    with maintenance(layout, settings.lock_wait_seconds, settings.batch_size) as con:
        return vacuum_lake(con, layout, datetime.now(UTC) - timedelta(days=keep_days), merge)


def status(data: PathLike | None = None, inbox: PathLike | None = None, *,
           catalog: str | None = None) -> dict[str, Any]:
    """The facts of `newsdrop status --json`: last run, run in progress, backlog (of `inbox`, else
    the inbox setting, when there is one), totals, freshness, the reading rules' version."""
    from newsdrop.warehouse.status import warehouse_status

    settings = load_settings(data=data, inbox=inbox, catalog=catalog)
    report: dict[str, Any] = warehouse_status(data_layout(settings), settings.inbox, settings.max_bytes)
    return report


def status_lines(report: dict[str, Any]) -> list[str]:
    """A status report (as `status` returns it) as the lines `newsdrop status` prints."""
    from newsdrop.warehouse.status import status_lines as lines_of

    return lines_of(report)


def check_ready(settings: Settings, inbox_needed: bool) -> None:
    """What a run needs that can be checked before it starts (and before Prefect does): the
    bucket, the inbox (apart from the data folder), a data folder that is new, empty or a
    warehouse of today's layout, the Dask scheduler, and, when the run would not wait for it,
    a free run lock (else RunInProgress)."""
    from newsdrop.warehouse.lock import refuse_if_busy

    layout = data_layout(settings)
    if layout.remote:
        from newsdrop.warehouse.storage import check_bucket

        check_bucket(layout.url)
    if inbox_needed:
        require_inbox(settings)
    layout.refuse_unfit()
    if settings.dask:
        from newsdrop.readers import dask_threads

        dask_threads(settings.dask)  # reachable, and the scale extra installed
    if settings.lock_wait_seconds == 0:
        refuse_if_busy(layout)


def connect(data: PathLike | None = None, *, at: str | None = None,
            catalog: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the warehouse, tables and views by plain name.

    It reads the lake and nothing else (no other files, no writes). Each query sees
    the last committed snapshot; `at=RUN_ID` pins the warehouse as it was after that run.
    `catalog`: the warehouse's catalog, as for ingest."""
    from newsdrop.warehouse.lake import connect_read_only, run_snapshot

    layout = data_layout(load_settings(data=data, catalog=catalog))
    return connect_read_only(layout, run_snapshot(layout, at) if at else None)


def sql(data: PathLike | None, statements: str, *, at: str | None = None,
        catalog: str | None = None) -> list[tuple[list[str], list[tuple[Any, ...]]]]:
    """Every query of `statements` (separated by ";"), each as (column names, rows): what
    `newsdrop sql` prints. Refuses anything but queries, as `query` does."""
    from newsdrop.warehouse.readonly import query_statements

    results = []
    parsed = query_statements(statements)
    with connect(data, at=at, catalog=catalog) as con:
        for statement in parsed:
            cursor = con.execute(statement)
            results.append(([column[0] for column in cursor.description or []], cursor.fetchall()))
    return results


def shell_command(data: PathLike | None = None, *, at: str | None = None, catalog: str | None = None) -> list[str]:
    """The argv of the DuckDB shell with the warehouse attached read-only (`newsdrop shell`)."""
    from newsdrop.warehouse.lake import run_snapshot
    from newsdrop.warehouse.lake import shell_command as command_for

    layout = data_layout(load_settings(data=data, catalog=catalog))
    return command_for(layout, run_snapshot(layout, at) if at else None)


def client_setup(data: PathLike | None = None, *, at: str | None = None, catalog: str | None = None) -> list[str]:
    """The statements that open the warehouse read-only in any DuckDB client of this version
    on this machine (`newsdrop shell --print-sql`): LOAD of the installed extensions by path,
    nothing downloaded; the S3 secret for data in S3; ATTACH and USE."""
    from newsdrop.warehouse.lake import client_setup as setup_for
    from newsdrop.warehouse.lake import connect_read_only, run_snapshot

    layout = data_layout(load_settings(data=data, catalog=catalog))
    if not layout.exists():
        connect_read_only(layout)  # raises the one-line error that says what to do
    return setup_for(layout, run_snapshot(layout, at) if at else None)


def search(data: PathLike | None, query: str, *, limit: int = 10, since: str | date | None = None,
           until: str | date | None = None, catalog: str | None = None) -> pandas.DataFrame:
    """Articles ranked for `query` (BM25 over titles and bodies, English stemming), one row per
    near-duplicate cluster (its best-scoring drop), best first: drop_id, score, title, snippet,
    cluster_id, received_at. `since` and `until` bound received_at (a date is its whole UTC day).
    Read from the search index beside the lake (DATA/_search), brought up to date first, or
    built when missing (docs/warehouse.md, "Search")."""
    from newsdrop.warehouse.search import search as search_index

    return search_index(data_layout(load_settings(data=data, catalog=catalog)), query, limit=limit, since=since,
                        until=until)


def reindex(data: PathLike | None = None, *, catalog: str | None = None) -> int:
    """Build the search index whole from the lake (`newsdrop search --reindex`); returns the number
    of articles indexed. Raises NewsdropError when another process is writing the index."""
    from newsdrop.warehouse.search import catch_up

    layout = data_layout(load_settings(data=data, catalog=catalog))
    with connect(data, catalog=catalog) as con:
        caught = catch_up(layout, con, whole=True, threads=0)
    if caught is None:
        raise NewsdropError(f"the search index at {layout.search_index} is being written by another process: "
                            "try again when it is done")
    return caught.changes


def query(data: PathLike | None, sql: str, params: list[Any] | dict[str, Any] | None = None, *,
          at: str | None = None, catalog: str | None = None) -> pandas.DataFrame:
    """Run one query on the warehouse and return a pandas DataFrame. Like `newsdrop sql`, it
    refuses anything but queries (SELECT, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)."""
    from newsdrop.warehouse.readonly import query_statements

    statements = query_statements(sql)
    if len(statements) != 1:
        raise NewsdropError(f"give one query, not {len(statements)}")
    with connect(data, at=at, catalog=catalog) as con:
        return con.execute(statements[0], params or []).df()
