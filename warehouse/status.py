"""What `newsdrop status` reports, read without disturbing a run in progress.

It reads the lake through a read-only attach, which sees the last committed
snapshot and never blocks the writer.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsdrop.summary import iso_value, shown_name
from newsdrop.transforms.read import RULES_VERSION
from newsdrop.warehouse.inbox import check_inbox, list_inbox
from newsdrop.warehouse.lake import LAKE, connect_read_only
from newsdrop.warehouse.layout import PREFECT_DATABASE, DataLayout
from newsdrop.warehouse.ledger import Ledger
from newsdrop.warehouse.lock import Running, running_now
from newsdrop.warehouse.schema import RUNS, TABLES, RunKind

if TYPE_CHECKING:
    import duckdb

RUN_FIELDS = tuple(RUNS.names)  # the last run as its `runs` row


def warehouse_status(layout: DataLayout, inbox: str | None, max_bytes: int | None = None) -> dict[str, Any]:
    """max_bytes: the limit runs use, so that files waiting for a raised limit count in the backlog."""
    if inbox is not None:
        check_inbox(inbox)
    catalog = str(layout.catalog) if not layout.catalog_spec.shared else str(layout.catalog_spec)
    report: dict[str, Any] = {"data": layout.url, "inbox": inbox, "catalog": catalog,
                              "prefect": prefect_history(layout)}
    with contextlib.closing(connect_read_only(layout)) as con:
        columns = ", ".join(RUN_FIELDS)
        last = con.execute(f"SELECT {columns} FROM runs ORDER BY finished_at DESC, run_id DESC LIMIT 1").fetchone()
        last_ingest = con.execute("SELECT run_id FROM runs WHERE kind = ? ORDER BY finished_at DESC LIMIT 1",
                                  [str(RunKind.INGEST)]).fetchone()
        rejects = [] if last_ingest is None else con.execute(
            "SELECT file_name, reason FROM rejected_drops WHERE run_id = ? ORDER BY file_name",
            [last_ingest[0]]).fetchall()
        # A warehouse made before raw_drops has it from its next run on.
        present = {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ?",
                                                   [LAKE]).fetchall()}
        totals = {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                  for table in (*TABLES, "headlines") if table in present or table == "headlines"}
        newest = con.execute("SELECT max(received_at) FROM drops").fetchone()
        snapshot = con.execute(f"SELECT snapshot_id, snapshot_time FROM {LAKE}.snapshots() "
                               "ORDER BY snapshot_id DESC LIMIT 1").fetchone()
        backlog = _backlog(Ledger(con), inbox, max_bytes)
        older = drops_under_older_rules(con)
    newest_drop = newest[0] if newest and isinstance(newest[0], datetime) else None
    running = None
    marker = running_now(layout)
    if marker:
        running = asdict(Running.parse(marker))
    report.update(
        last_run=None if last is None else {name: iso_value(value)
                                            for name, value in zip(RUN_FIELDS, last, strict=True)},
        running=running,
        backlog=backlog,
        totals=totals,
        freshness=None if newest_drop is None else {
            "newest_drop_at": newest_drop.isoformat(),
            "age_seconds": round(time.time() - newest_drop.timestamp(), 1),
        },
        snapshot=None if snapshot is None else {"id": snapshot[0], "committed_at": iso_value(snapshot[1])},
        rejects_last_run=[{"file_name": name, "reason": reason} for name, reason in rejects],
        reading_rules={"version": RULES_VERSION, "drops_under_older_rules": older},
        parquet={table: layout.table_url(table) for table in TABLES},
    )
    return report


def drops_under_older_rules(con: duckdb.DuckDBPyConnection) -> int:
    """Drops read with reading rules older than these: NULL is a drop of a warehouse made before
    versions were kept (whose drops table may not have the column yet, until its next run)."""
    has_column = con.execute("SELECT count(*) FROM duckdb_columns() WHERE database_name = ? AND table_name = 'drops'"
                             " AND column_name = 'rules_version'", [LAKE]).fetchone()
    if not (has_column and has_column[0]):
        found = con.execute("SELECT count(*) FROM drops").fetchone()
    else:
        found = con.execute("SELECT count(*) FROM drops WHERE rules_version IS NULL OR rules_version < ?",
                            [RULES_VERSION]).fetchone()
    return int(found[0]) if found else 0


def prefect_history(layout: DataLayout) -> dict[str, Any]:
    """Where Prefect recorded this folder's runs: the server at PREFECT_API_URL, else the local
    database that `run`, `rebuild` and `serve` keep under DATA/_state/prefect (for data in S3,
    under this machine's cache) - named only when a run made it: runs from Python, or from
    another machine, record none here."""
    if os.environ.get("PREFECT_API_URL"):
        return {"api_url": os.environ["PREFECT_API_URL"]}
    home = os.environ.get("PREFECT_HOME", str(layout.prefect_home))
    if not (Path(home) / PREFECT_DATABASE).is_file():
        return {"home": None}
    # This Python's own Prefect: `prefect` is not on the PATH when the venv is not activated.
    browse = f"PREFECT_HOME={shlex.quote(home)} {shlex.quote(sys.executable)} -m prefect server start"
    return {"home": home, "browse": browse}


def _backlog(ledger: Ledger, inbox: str | None, max_bytes: int | None) -> dict[str, int] | None:
    if inbox is None:
        return None
    listing = list_inbox(inbox, settle_seconds=0)
    return {"files": len(ledger.unseen(listing.drops, max_bytes)), "in_inbox": len(listing.drops)}


def status_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"data: {report['data']}"]
    last = report.get("last_run")
    if last is None:
        lines.append("last run: none yet")
    else:
        took = f"{last['seconds']:.1f} s" if last["seconds"] is not None else "?"
        lines.append(f"last run: {last['status']} {last['kind']} {last['run_id']} at {last['started_at']}, took {took}"
                     f", {last['drops_loaded']} loaded, {last['files_rejected']} rejected")
        if last["error"]:
            lines.append(f"  error: {last['error']}")
    if report.get("running"):
        lines.append(f"running now: {report['running']['run_id']} since {report['running']['started_at']}")
    backlog = report.get("backlog")
    if backlog is not None:
        lines.append(f"backlog: {backlog['files']} of {backlog['in_inbox']} inbox files not yet taken in")
    if report.get("totals"):
        lines.append("totals: " + ", ".join(f"{table} {count}" for table, count in report["totals"].items()))
    freshness = report.get("freshness")
    if freshness:
        lines.append(f"freshness: newest drop {freshness['newest_drop_at']} ({freshness['age_seconds']:.0f} s ago)")
    if report.get("snapshot"):
        lines.append(f"lake snapshot: {report['snapshot']['id']} at {report['snapshot']['committed_at']}")
    rules = report.get("reading_rules")
    if rules:
        older = rules["drops_under_older_rules"]
        lines.append(f"reading rules: version {rules['version']}; " + (
            f"{older} drop(s) read under older rules: `newsdrop rebuild --data {report['data']}` reads them again"
            if older else "every drop read under them"))
    prefect = report.get("prefect") or {}
    if prefect.get("api_url"):
        lines.append(f"Prefect runs: on {prefect['api_url']}")
    elif prefect.get("home"):
        lines.append(f"Prefect runs: in {prefect['home']} (browse: {prefect['browse']})")
    elif prefect:
        lines.append("Prefect runs: none recorded on this machine (runs from Python record none; a run's own "
                     "Prefect server keeps them on the machine that ran it)")
    rejects = report.get("rejects_last_run") or []
    lines.append(f"rejects in the last ingest run: {len(rejects)}")
    lines.extend(f"  {shown_name(item['file_name'])}: {item['reason']}" for item in rejects[:20])
    return lines
