"""The newsdrop command line.

    newsdrop run --inbox DIR --data DIR     take in the new drops of an inbox
    newsdrop rebuild --data DIR             re-read every kept drop with the current rules
    newsdrop status --data DIR              last run, backlog, totals, freshness
    newsdrop sql "SELECT ..."               a read-only query on the warehouse
    newsdrop shell --data DIR               the DuckDB shell on the warehouse, read-only
    newsdrop search --data DIR "WORDS"      ranked search over every article
    newsdrop vacuum --data DIR              expire old snapshots, delete unused files

Prefect is imported only inside the commands, after its settings are defaulted,
so that `--help` is instant and a normal run prints no server noise.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from newsdrop.settings import Settings, UnknownVariable, env_of, help_of, option_of

EXIT_FAILED = 1
EXIT_BUSY = 3

class _PlainHelp:
    """--help shows a type only for options that take a value (typer shows `<bool>` for every
    flag, as if it took one), and a required argument as usage lines name one: QUERY, not
    typer's {QUERY} (braces name a choice)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)  # type: ignore[misc]
        return [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece for piece in pieces]

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class _Command(_PlainHelp, typer.core.TyperCommand):
    pass


class _Group(_PlainHelp, typer.core.TyperGroup):
    pass


app = typer.Typer(
    cls=_Group,
    rich_markup_mode="markdown",
    help="Ingest news text drops into a DuckLake warehouse (Parquet + a SQLite catalog).\n\n"
    f"Settings also come from NEWSDROP_* environment variables ({', '.join(map(env_of, Settings.model_fields))}) "
    "and a newsdrop.toml file; an option wins over both. README.md, \"Settings\", lists them all.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _setting(name: str) -> Any:
    """A setting's option: its name and help come from its one declaration (newsdrop.settings)."""
    return typer.Option(option_of(name), help=help_of(name), show_default=False)


InboxOption = Annotated[str | None, _setting("inbox")]
DataOption = Annotated[str | None, _setting("data")]
CatalogOption = Annotated[str | None, _setting("catalog")]
DaskOption = Annotated[str | None, _setting("dask")]
SettleOption = Annotated[float | None, _setting("settle_seconds")]
MaxBytesOption = Annotated[str | None, _setting("max_bytes")]
BatchSizeOption = Annotated[int | None, _setting("batch_size")]
WorkersOption = Annotated[int | None, _setting("workers")]
WaitOption = Annotated[float | None, _setting("lock_wait_seconds")]
TimeoutOption = Annotated[float | None, _setting("run_timeout_seconds")]
AtOption = Annotated[
    str | None, typer.Option("--at", help="Query the warehouse as it was after this run (a run_id of the runs table).")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", help="Show Prefect's log lines.")]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show the full traceback when a run fails.")]
PrefectOption = Annotated[bool, typer.Option(
    "--prefect", help="Record the run in Prefect (its task runs, logs and artifacts): on the server at "
                      "PREFECT_API_URL, else on a local server started for the command (its history in "
                      "DATA/_state/prefect). The default when PREFECT_API_URL is set.")]


def recorded_in_prefect(prefect: bool) -> bool:
    """Whether a `run` or `rebuild` is a Prefect flow run: when asked (--prefect) or when a server is
    named (PREFECT_API_URL, or the settings of a Prefect loaded already). Otherwise the run engine
    runs alone: starting a Prefect server for one run cost more than a small run itself (measured
    here: a 2,000-drop run 17.6 s with a server of its own, 7.0 s without)."""
    from newsdrop.flows.server import named_server

    return prefect or named_server() is not None


def _quiet_prefect(verbose: bool, debug: bool) -> None:
    """Defaults for Prefect, set before it is imported; the user's own settings win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The client's telemetry (and its first-run notice on a terminal) honours only this.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    # A run's log lines go to the Prefect API (the run's Logs tab in the UI) whatever the
    # terminal shows; the terminal gets Prefect's lines only with --verbose or --debug.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    if not (verbose or debug):
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    if not (verbose or debug):
        # Prefect's background services log through plain loggers named after their
        # class, outside PREFECT_LOGGING_LEVEL: "Still processing items" at exit is noise.
        for service in ("EventsWorker", "APILogWorker"):
            logging.getLogger(service).setLevel(logging.ERROR)


def _fail(error: BaseException, debug: bool) -> None:
    from newsdrop.errors import RunInProgress, first_line

    _interrupted(debug)
    if debug:
        raise error
    message = first_line(error)
    typer.echo(f"newsdrop: {message}", err=True)
    raise typer.Exit(EXIT_BUSY if isinstance(error, RunInProgress) else EXIT_FAILED)


def _settings(debug: bool, **options: Any) -> Any:
    """Validated settings, or one line that names the bad one and exit 1: before Prefect starts."""
    from newsdrop.errors import NewsdropError
    from newsdrop.settings import load_settings

    try:
        return load_settings(**options)
    except NewsdropError as error:
        _fail(error, debug)


def _preflight(settings: Any, debug: bool, inbox_needed: bool) -> None:
    """What needs no Prefect is checked before it starts: the inbox, the data folder, the lock."""
    from newsdrop.api import check_ready
    from newsdrop.errors import NewsdropError

    try:
        check_ready(settings, inbox_needed)
    except (NewsdropError, OSError) as error:
        _fail(error, debug)


def _interrupted(debug: bool) -> None:
    """Exit 130/143 with one line, when a signal is what ended the run (whatever error
    Prefect turned it into on the way out)."""
    from newsdrop.flows.signals import EXIT_CODE, received

    if received and not debug:
        signum = received[0]
        typer.echo(f"newsdrop: interrupted ({signum.name}); {_what_stays[0]}", err=True)
        raise typer.Exit(EXIT_CODE[signum])


# What a stopped command leaves, for its one line (set by the command that is running): a
# run keeps its committed batches; a rebuild commits all or nothing.
RUN_STAYS = "the batches it committed are kept, the next run takes up the rest"
REBUILD_STAYS = "a rebuild commits all or nothing: the warehouse is as it was before it"
_what_stays = [RUN_STAYS]


def _import_flows() -> None:
    """Prefect and the flows, imported while the local server starts."""
    import newsdrop.flows.ingest  # noqa: F401


@contextlib.contextmanager
def _running(settings: Any, debug: bool, prefect: bool, what_stays: str = RUN_STAYS) -> Iterator[None]:
    """Around a run or a rebuild: Ctrl-C or SIGTERM stops it in one line. For a run that Prefect
    records, one rule for where: the server at PREFECT_API_URL when set, else a local server for
    this command only, its database in DATA/_state/prefect (PREFECT_HOME wins), in its own session
    (so Ctrl-C reaches this process first), stopped before the command returns."""
    from newsdrop.errors import NewsdropError
    from newsdrop.flows.signals import received, stopping_on_signals

    _what_stays[0] = what_stays
    try:
        with stopping_on_signals():
            if not prefect:
                yield
                return
            from newsdrop.flows.server import prefect_api
            from newsdrop.settings import data_layout

            with prefect_api(data_layout(settings).prefect_home, meanwhile=_import_flows, scheduling=False):
                yield
    except NewsdropError as error:  # the local server did not start
        _fail(error, debug)
    except KeyboardInterrupt:
        if not received:
            received.append(signal.SIGINT)
        _interrupted(debug)
        raise


def _print_summary(summary: Any, prefect: bool) -> None:
    """The run's summary, and the command's own wall time: the run's seconds leave out starting
    up (Prefect and its local server, when the run is recorded there: on a busy machine far
    longer than the run)."""
    for line in summary.lines():
        typer.echo(line)
    wall = time.monotonic() - _command_started[0]
    whose = ", mostly Prefect's" if prefect else ""
    typer.echo(f"  wall time: {wall:.1f} s for the command (the run itself {summary.seconds:.1f} s; the rest is "
               f"start-up and shutdown{whose})")


def _summary_of(flow_run: Any, debug: bool) -> Any:
    """The run's summary, or exit: 3 when another run holds the data folder, 1 when it failed."""
    try:
        return flow_run()
    except Exception as error:
        _fail(error, debug)
        raise  # unreachable: _fail exits


@app.command(cls=_Command)
def run(
    inbox: InboxOption = None,
    data: DataOption = None,
    catalog: CatalogOption = None,
    dask: DaskOption = None,
    settle_seconds: SettleOption = None,
    max_bytes: MaxBytesOption = None,
    batch_size: BatchSizeOption = None,
    workers: WorkersOption = None,
    wait: WaitOption = None,
    timeout: TimeoutOption = None,
    sample: Annotated[bool, typer.Option("--sample", help="Take in the bundled sample drops (a demo).")] = False,
    prefect: PrefectOption = False,
    verbose: VerboseOption = False,
    debug: DebugOption = False,
) -> None:
    """Take in every new drop of the inbox into the warehouse, batch by batch.

    Only files not taken in before are read (by name, size, mtime and sha256), so
    a rerun with nothing new changes nothing. Bad files are rejected with a
    reason and kept; they never stop the run. Exit code 0 when the run
    succeeded (even with rejects), 1 when it failed, 3 when another run holds
    the data folder.

    Examples:

        newsdrop run --inbox /srv/drops --data /srv/newsdrop

        newsdrop run --sample          # the bundled sample drops into ./data

        newsdrop run --inbox s3://news/inbox/ --data s3://news/lake/ \\
            --catalog "postgres:dbname=news host=db user=newsdrop" --dask tcp://scheduler:8786
    """
    if sample:
        from newsdrop.settings import SAMPLE_INBOX

        if inbox is not None:
            _fail(ValueError("give either --inbox or --sample, not both"), debug)
        inbox = str(SAMPLE_INBOX)
    settings = _settings(debug, inbox=inbox, data=data, settle_seconds=settle_seconds, max_bytes=max_bytes,
                         batch_size=batch_size, workers=workers, lock_wait_seconds=wait, run_timeout_seconds=timeout,
                         catalog=catalog, dask=dask)
    _quiet_prefect(verbose, debug)  # before anything imports Prefect
    _preflight(settings, debug, inbox_needed=True)
    prefect = recorded_in_prefect(prefect)
    options: dict[str, Any] = {
        "settle_seconds": settle_seconds, "max_bytes": settings.max_bytes if max_bytes else None,
        "batch_size": batch_size, "workers": workers, "lock_wait_seconds": wait, "run_timeout_seconds": timeout,
        "catalog": catalog, "dask": dask}
    with _running(settings, debug, prefect):
        if prefect:
            from newsdrop.flows.ingest import ingest

            summary = _summary_of(lambda: ingest(inbox=inbox, data=data, **options), debug)
        else:
            from newsdrop.api import ingest as ingest_alone
            from newsdrop.flows.progress import TerminalHooks

            summary = _summary_of(lambda: ingest_alone(inbox, data, **options, hooks=TerminalHooks()), debug)
    _print_summary(summary, prefect)
    _print_next_steps(summary.data, settings.catalog)


@app.command(cls=_Command)
def rebuild(
    data: DataOption = None,
    catalog: CatalogOption = None,
    dask: DaskOption = None,
    workers: WorkersOption = None,
    wait: WaitOption = None,
    timeout: TimeoutOption = None,
    prefect: PrefectOption = False,
    verbose: VerboseOption = False,
    debug: DebugOption = False,
) -> None:
    """Re-read every drop's kept bytes with the current reading rules and rebuild all tables.

    Use it after a change to the reading rules. The inbox is not needed: the
    raw bytes of every drop, accepted or rejected, are kept in the lake's raw_drops table.

    Example:

        newsdrop rebuild --data /srv/newsdrop
    """
    settings = _settings(debug, data=data, workers=workers, lock_wait_seconds=wait, run_timeout_seconds=timeout,
                         catalog=catalog, dask=dask)
    _quiet_prefect(verbose, debug)  # before anything imports Prefect
    _preflight(settings, debug, inbox_needed=False)
    prefect = recorded_in_prefect(prefect)
    options: dict[str, Any] = {"workers": workers, "lock_wait_seconds": wait, "run_timeout_seconds": timeout,
                               "catalog": catalog, "dask": dask}
    with _running(settings, debug, prefect, REBUILD_STAYS):
        if prefect:
            from newsdrop.flows.ingest import rebuild as rebuild_flow

            summary = _summary_of(lambda: rebuild_flow(data=data, **options), debug)
        else:
            from newsdrop.api import rebuild as rebuild_alone
            from newsdrop.flows.progress import TerminalHooks

            summary = _summary_of(lambda: rebuild_alone(data, **options, hooks=TerminalHooks()), debug)
    _print_summary(summary, prefect)


@app.command(cls=_Command)
def serve(
    inbox: InboxOption = None,
    data: DataOption = None,
    catalog: CatalogOption = None,
    dask: DaskOption = None,
    every: Annotated[float | None, typer.Option(help="Run every SECONDS.")] = None,
    cron: Annotated[str | None, typer.Option(help='Run on a cron schedule, e.g. "*/5 * * * *" (UTC).')] = None,
    timeout: TimeoutOption = None,
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="Serve the Prefect UI of the local server.")] = True,
    verbose: VerboseOption = False,
    debug: DebugOption = False,
) -> None:
    """Run the ingest flow on a schedule until stopped (Ctrl-C or SIGTERM); one line per run.

    Uses the Prefect server at PREFECT_API_URL when it is set. Otherwise it
    starts a local one (127.0.0.1, data under DATA/_state/prefect or
    PREFECT_HOME, its UI at the address printed) and stops it on exit. Runs never
    overlap: the run lock on DATA lets one run in at a time, from this serve or any
    other newsdrop process; a scheduled run that finds it held waits up to one period,
    then is skipped with one line. Runs missed while serve was down collapse into one.

    Examples:

        newsdrop serve --inbox /srv/drops --data /srv/newsdrop --every 300

        newsdrop serve --inbox /srv/drops --data /srv/newsdrop --cron "0 * * * *"
    """
    if (every is None) == (cron is None):
        typer.echo("newsdrop: give exactly one of --every SECONDS or --cron EXPR", err=True)
        raise typer.Exit(2)
    if every is not None and not every > 0:
        _fail(ValueError(f"--every {every:g} is not allowed: give a period in seconds above 0"), debug)
    if cron is not None:
        from cronsim import CronSim, CronSimError

        try:
            CronSim(cron, datetime.now())
        except CronSimError as error:
            _fail(ValueError(f"--cron {cron!r} is not a cron expression ({error}); e.g. \"*/5 * * * *\""), debug)
    settings = _settings(debug, inbox=inbox, data=data, run_timeout_seconds=timeout, catalog=catalog, dask=dask)
    _quiet_prefect(verbose, debug)  # before anything imports Prefect
    _preflight(settings, debug, inbox_needed=True)
    if every is not None:
        # The runner looks for due runs every 10 s by default: too slow for a short period.
        os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", str(max(1, min(10, int(every)))))
    local = not os.environ.get("PREFECT_API_URL")
    from newsdrop.flows.serve import ServeEnded, serve_until_stopped
    from newsdrop.flows.server import prefect_api
    from newsdrop.flows.signals import EXIT_CODE, received, stopping_on_signals
    from newsdrop.settings import data_layout

    try:
        # A signal while the server starts stops serve too (one line, as below).
        with stopping_on_signals(), prefect_api(data_layout(settings).prefect_home, ui=ui) as api_url:
            typer.echo(f"newsdrop: serving {settings.inbox} -> {settings.data} "
                       f"({f'every {every:g} s' if every else f'cron {cron}'}) on {api_url}", nl=True)
            if ui and local:
                typer.echo(f"newsdrop: watch the runs at {api_url.removesuffix('/api')}")
            sys.stdout.flush()
            ended = serve_until_stopped(settings, every=every, cron=cron)
    except KeyboardInterrupt:
        ended = ServeEnded(received[0] if received else signal.SIGINT, 0)
    except Exception as error:
        _fail(error, debug)
    if ended.signal is None:
        _fail(RuntimeError(f"serve's scheduler stopped by itself (exit {ended.scheduler_exit}); "
                           "run again with --verbose to see why"), debug)
        return
    typer.echo(f"newsdrop: serve stopped ({ended.signal.name})")
    raise typer.Exit(EXIT_CODE[ended.signal])


@app.command(cls=_Command)
def status(
    data: DataOption = None,
    inbox: InboxOption = None,
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, for scripts.")] = False,
) -> None:
    """Show the last run, the backlog, totals per table, the last run's rejects and freshness.

    Safe while a run is going: it reads the lake read-only (the last committed
    snapshot). --inbox adds the backlog: inbox files not yet taken in.

    Example:

        newsdrop status --data /srv/newsdrop --json | jq .last_run.status
    """
    from newsdrop import api

    try:
        report = api.status(data, inbox, catalog=catalog)  # a bad setting too: one line that names it
    except Exception as error:
        _fail(error, debug=False)
        return
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    for line in api.status_lines(report):
        typer.echo(line)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command(cls=_Command)
def sql(
    query: Annotated[str, typer.Argument(metavar="QUERY",
                                         help="The SQL to run, e.g. \"SELECT count(*) FROM articles\".")],
    data: DataOption = None,
    output: Annotated[OutputFormat, typer.Option(
        "--format", help="How to print the result: a table (text over 80 characters cut, and said so), or CSV or "
        "JSON with every value whole, for scripts. Times print in ISO 8601.")] = OutputFormat.table,
    at: AtOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Run read-only queries on the warehouse: SELECT, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN.

    Several statements separated by ";" print one result each (in JSON, one document: a
    list of each statement's rows). Nothing else is allowed: no writes, and no files outside
    the warehouse.

    Examples:

        newsdrop sql "SELECT text, drop_count FROM headlines ORDER BY drop_count DESC LIMIT 10"

        newsdrop sql --format csv "FROM daily_ingest" > daily.csv

        newsdrop sql --format json "SELECT reason, count(*) AS n FROM rejected_drops GROUP BY reason"

        newsdrop sql --data s3://news/lake/ --catalog "postgres:dbname=news host=db" "SELECT count(*) FROM articles"
    """
    import duckdb

    from newsdrop import api
    from newsdrop.errors import NewsdropError, first_line

    try:
        results = api.sql(data, query, at=at, catalog=catalog)
    except (duckdb.Error, NewsdropError) as error:
        typer.echo(f"newsdrop: {first_line(error)}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    if output is OutputFormat.json:
        # One document: a query's rows, or for several statements a list of their rows.
        documents = [[dict(zip(columns, row, strict=True)) for row in rows] for columns, rows in results]
        _echo_json(documents[0] if len(documents) == 1 else documents)
        return
    for index, (columns, rows) in enumerate(results):
        if index:
            typer.echo("")
        _print_rows(columns, rows, output)


@app.command(cls=_Command)
def search(
    query: Annotated[str | None, typer.Argument(
        metavar="QUERY", help="Words to look for, e.g. \"oil prices\"; \"a phrase\", -word, title:word and "
        "AND/OR work too.", show_default=False)] = None,
    data: DataOption = None,
    limit: Annotated[int, typer.Option(help="At most this many results (near-duplicate clusters).")] = 10,
    since: Annotated[str | None, typer.Option(
        help="Only drops received on or after this date (YYYY-MM-DD, UTC) or ISO 8601 time.",
        show_default=False)] = None,
    until: Annotated[str | None, typer.Option(
        help="Only drops received on or before this date (YYYY-MM-DD, UTC), or before this ISO 8601 time.",
        show_default=False)] = None,
    output: Annotated[OutputFormat, typer.Option(
        "--format", help="A table (text over 80 characters cut), or CSV or JSON with every value whole.")
    ] = OutputFormat.table,
    reindex: Annotated[bool, typer.Option(
        "--reindex", help="Build the search index whole from the lake first (QUERY may then be left out).")] = False,
    catalog: CatalogOption = None,
) -> None:
    """Search every article, best first: BM25 over titles and bodies with English stemming, one
    result per near-duplicate cluster (its best-scoring drop).

    The index lives beside the lake (DATA/_search) and is brought up to date from the lake
    before each search, or built when it is missing.

    Examples:

        newsdrop search --data /srv/newsdrop "oil prices"

        newsdrop search --data /srv/newsdrop --since 2026-11-01 --until 2026-11-30 --limit 20 "oil prices"

        newsdrop search --data /srv/newsdrop --format json "title:election -poll"

        newsdrop search --data /srv/newsdrop --reindex
    """
    import duckdb

    from newsdrop import api
    from newsdrop.errors import NewsdropError, first_line

    if query is None and not reindex:
        typer.echo('newsdrop: give words to search for, e.g. newsdrop search --data DATA "oil prices"', err=True)
        raise typer.Exit(EXIT_FAILED)
    try:
        if reindex:
            indexed = api.reindex(data, catalog=catalog)
            typer.echo(f"search index built: {indexed} article(s)", err=query is not None)
        if query is None:
            return
        found = api.search(data, query, limit=limit, since=since, until=until, catalog=catalog)
    except (duckdb.Error, NewsdropError) as error:
        typer.echo(f"newsdrop: {first_line(error)}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    columns = list(found.columns)
    rows = list(found.astype(object).where(found.notna(), None).itertuples(index=False, name=None))
    if output is OutputFormat.json:
        _echo_json([dict(zip(columns, row, strict=True)) for row in rows])
        return
    _print_rows(columns, rows, output)


def _echo_json(document: Any) -> None:
    """Rows as `--format json` prints them: every value whole, times in ISO 8601."""
    from newsdrop.summary import iso_value

    typer.echo(json.dumps(document, ensure_ascii=False, default=lambda value: str(iso_value(value))))


CELL_CHARACTERS = 80  # a table cell's longest text: a body would fill screens


def _print_rows(columns: list[str], rows: list[tuple[Any, ...]], output: OutputFormat) -> None:
    """Values print literally (no markup, no escapes) and times in ISO 8601, as `status --json`
    prints them. CSV and JSON print every value whole, each row on one line; the table cuts a
    text at CELL_CHARACTERS (and says so) and never wraps a row, in a terminal or a pipe."""
    from newsdrop.summary import iso_value

    rows = [tuple(iso_value(value) for value in row) for row in rows]
    if output is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    cut = False

    def cell(value: Any) -> Text:
        nonlocal cut
        # A line break would make a row of several lines: shown as ↵.
        text = "NULL" if value is None else str(value).replace("\r\n", "↵").replace("\n", "↵")
        if len(text) > CELL_CHARACTERS:
            cut, text = True, text[:CELL_CHARACTERS - 1] + "…"
        return Text(text)

    table = Table(*(Column(header=Text(name), no_wrap=True, overflow="ellipsis") for name in columns))
    for row in rows:
        table.add_row(*(cell(value) for value in row))
    # Piped, a row is as wide as it needs (a terminal's width is its own).
    width = None if sys.stdout.isatty() else 100_000
    Console(soft_wrap=False, markup=False, emoji=False, highlight=False, width=width).print(table)
    typer.echo(f"{len(rows)} row(s)" + (f"; text over {CELL_CHARACTERS} characters is cut (…): --format csv "
                                          "or json prints it whole" if cut else ""))


def _invocation() -> str:
    """How to call newsdrop again from here: `newsdrop` when that is what PATH finds,
    else the path or module the user ran."""
    import shlex
    import shutil

    program = Path(sys.argv[0])
    if program.name == "__main__.py":
        return f"{shlex.quote(sys.executable)} -m newsdrop"
    found = shutil.which("newsdrop")
    if found and Path(found).resolve() == program.resolve():
        return "newsdrop"
    return shlex.quote(sys.argv[0])


def _print_next_steps(data: str, catalog: str) -> None:
    import shlex

    from newsdrop.settings import Settings

    defaults = Settings.model_fields
    data_option = "" if Path(data) == Path(defaults["data"].default) else f" --data {shlex.quote(data)}"
    data_option += "" if catalog == defaults["catalog"].default else f" --catalog {shlex.quote(catalog)}"
    example = "SELECT title, paragraph_count, word_count FROM articles LIMIT 5"
    typer.echo(f"query it:  {_invocation()} sql{data_option} {shlex.quote(example)}")
    typer.echo(f"       or: {_invocation()} shell{data_option}   (the DuckDB shell, "
               'pip install "newsdrop[shell]"; docs/warehouse.md lists the tables)')
    typer.echo(f"search it: {_invocation()} search{data_option} {shlex.quote('your words')}   "
               "(ranked, one result per story)")


@app.command(cls=_Command)
def shell(
    data: DataOption = None,
    at: AtOption = None,
    catalog: CatalogOption = None,
    print_sql: Annotated[bool, typer.Option(
        "--print-sql", help="Print the statements that open the warehouse in any DuckDB client of this version "
        "on this machine (DBeaver, Python, R), instead of opening the shell.")] = False,
) -> None:
    """Open the DuckDB shell on the warehouse, read-only, tables and views by plain name.

    Needs the DuckDB command line: pip install "newsdrop\\[shell]".

    Examples:

        newsdrop shell --data /srv/newsdrop

        newsdrop shell --data /srv/newsdrop --at 20261126T120000Z-a1b2c3

        newsdrop shell --data /srv/newsdrop --print-sql
    """
    from newsdrop.api import client_setup, shell_command
    from newsdrop.errors import NewsdropError

    try:
        if print_sql:
            for statement in client_setup(data, at=at, catalog=catalog):
                typer.echo(f"{statement};")
            return
        command = shell_command(data, at=at, catalog=catalog)
    except NewsdropError as error:
        _fail(error, debug=False)
        return
    os.execv(command[0], command)


@app.command(cls=_Command)
def vacuum(
    data: DataOption = None,
    catalog: CatalogOption = None,
    keep_days: Annotated[float, typer.Option(help="Keep this many days of history for --at (time travel).")] = 7,
    merge: Annotated[bool, typer.Option(help="Also merge small files (expires all earlier history).")] = False,
) -> None:
    """Expire old lake snapshots, delete files no snapshot uses, and optionally merge small files.

    Example:

        newsdrop vacuum --data /srv/newsdrop --keep-days 30
    """
    from newsdrop.api import vacuum as vacuum_lake

    try:
        done = vacuum_lake(data, keep_days=keep_days, merge=merge, catalog=catalog)
    except Exception as error:
        _fail(error, debug=False)
        return
    typer.echo(f"vacuum: {done.snapshots_expired} snapshot(s) expired, {done.files_deleted} file(s) deleted, "
               f"{done.files_merged} merge(s)")


def _version(value: bool) -> None:
    if value:
        from newsdrop import __version__

        typer.echo(f"newsdrop {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Ingest news text drops into Parquet and DuckDB."""
    _command_started[0] = time.monotonic()
    warnings.showwarning = _show_warning


_python_show_warning = warnings.showwarning


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """newsdrop's own warnings are one line, as its errors are; others as Python shows them."""
    if issubclass(category, UnknownVariable):
        typer.echo(f"newsdrop: warning: {message}", err=True)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_command_started = [time.monotonic()]  # set again when a command starts (an app may run several)


def main() -> None:
    app(prog_name="newsdrop")


if __name__ == "__main__":
    main()
