"""What `newsdrop status` reports, read without disturbing a run in progress.

It reads the ledger (SQLite, read-only, which never blocks the writer) and the
committed Parquet files, never the analysts' DuckDB file, which an analyst's
read-write session may hold.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from newsdrop.warehouse.inbox import list_inbox
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import Ledger, from_us
from newsdrop.warehouse.schema import ALL_TABLES, DERIVED_TABLES


def _iso(us: int | None) -> str | None:
    return None if us is None else from_us(us).isoformat()


def _table_totals(layout: DataLayout, files: list[tuple[str, str, str]]) -> dict[str, int]:
    by_table: dict[str, list[str]] = {table: [] for table in ALL_TABLES}
    for table, path, _run in files:
        by_table[table].append(str(layout.parquet / path))
    for table in DERIVED_TABLES:
        derived = layout.parquet / layout.derived_path(table)
        if derived.exists():
            by_table[table].append(str(derived))
    con = duckdb.connect()
    try:
        return {
            table: con.execute("SELECT count(*) FROM read_parquet(?)", [paths]).fetchall()[0][0] if paths else 0
            for table, paths in by_table.items()
        }
    finally:
        con.close()


def _newest_drop(layout: DataLayout, files: list[tuple[str, str, str]]) -> datetime | None:
    paths = [str(layout.parquet / path) for table, path, _run in files if table == "drops"]
    if not paths:
        return None
    con = duckdb.connect()
    try:
        newest = con.execute("SELECT max(received_at) FROM read_parquet(?)", [paths]).fetchall()[0][0]
    finally:
        con.close()
    return newest if isinstance(newest, datetime) else None


def warehouse_status(data: Path, inbox: Path | None) -> dict[str, Any]:
    layout = DataLayout(data)
    report: dict[str, Any] = {"data": str(data), "inbox": str(inbox) if inbox else None}
    if not layout.ledger.exists():
        report.update(last_run=None, running=None, backlog=_backlog(inbox, set()), totals={}, freshness=None,
                      rejects_last_run=[])
        return report
    with Ledger(layout.ledger, read_only=True) as ledger:
        runs = ledger.runs()
        files = ledger.parquet_files()
        known = ledger.known_listing() if inbox else set()
        rejects = ledger.rejects_of_last_finished_run()
    finished = [run for run in runs if run["status"] not in ("running", "committed")]
    running = [run for run in runs if run["status"] in ("running", "committed")]
    last = finished[-1] if finished else None
    newest = _newest_drop(layout, files)
    report.update(
        last_run=None if last is None else {
            "run_id": last["run_id"], "kind": last["kind"], "status": last["status"],
            "started_at": _iso(last["started_us"]), "finished_at": _iso(last["finished_us"]),
            "seconds": last["seconds"], "drops_loaded": last["drops_loaded"],
            "files_rejected": last["files_rejected"], "error": last["error"],
        },
        running=None if not running else {"run_id": running[-1]["run_id"],
                                          "started_at": _iso(running[-1]["started_us"])},
        backlog=_backlog(inbox, known),
        totals=_table_totals(layout, files),
        freshness=None if newest is None else {
            "newest_drop_at": newest.isoformat(),
            "age_seconds": round(time.time() - newest.timestamp(), 1),
        },
        snapshot_published_at=(datetime.fromtimestamp(layout.published_db.stat().st_mtime, tz=UTC).isoformat()
                               if layout.published_db.exists() else None),
        rejects_last_run=[{"file_name": name, "reason": reason} for name, reason in rejects],
    )
    return report


def _backlog(inbox: Path | None, known: set[tuple[str, int, int]]) -> dict[str, int] | None:
    if inbox is None or not inbox.is_dir():
        return None
    listing = list_inbox(inbox, settle_seconds=0)
    waiting = sum(1 for item in listing.drops if (item.name, item.size_bytes, item.mtime_ns) not in known)
    return {"files": waiting, "in_inbox": len(listing.drops)}


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
    rejects = report.get("rejects_last_run") or []
    lines.append(f"rejects in the last run: {len(rejects)}")
    lines.extend(f"  {item['file_name']!r}: {item['reason']}" for item in rejects[:20])
    return lines
