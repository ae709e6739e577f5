"""Loading committed Parquet into DuckDB and publishing the analysts' snapshot.

DuckDB lets a writer in only when no other process has the file open, so the
pipeline never writes the file analysts open. It loads a private working
database incrementally (one transaction per committed run), then copies it to
a new file and renames that over DATA/news.duckdb. Open sessions keep the old
snapshot; new ones see the new data; nobody waits on anybody.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from newsdrop.warehouse.atomic import copy_file
from newsdrop.warehouse.faults import checkpoint
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import Ledger, from_us
from newsdrop.warehouse.parquet_io import write_parquet
from newsdrop.warehouse.quality import CheckResult, run_checks
from newsdrop.warehouse.schema import ALL_TABLES, PER_RUN_TABLES, QUALITY_CHECKS, RUNS

Files = list[tuple[str, str]]  # (table, path)
WORKING_DB_MEMORY = "256MB"


def _sql(name: str) -> str:
    return (Path(__file__).parent / name).read_text()


@contextmanager
def working_db(layout: DataLayout) -> Iterator[duckdb.DuckDBPyConnection]:
    # DuckDB would take up to 80% of RAM for the load and checks; a bound makes it spill
    # to disk instead, so a run's memory stays flat as the history grows.
    con = duckdb.connect(str(layout.working_db), config={"memory_limit": WORKING_DB_MEMORY, "threads": 2})
    try:
        for table, schema in ALL_TABLES.items():
            con.register("_empty", schema.empty_table())
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM _empty")
            con.unregister("_empty")
        con.execute("CREATE TABLE IF NOT EXISTS _loaded_runs (run_id VARCHAR PRIMARY KEY)")
        yield con
    finally:
        con.close()


def _replace_run_rows(con: duckdb.DuckDBPyConnection, root: Path, run_id: str, files: Files) -> None:
    """Inside the caller's transaction: the run's rows become exactly those of its files."""
    by_table: dict[str, list[str]] = defaultdict(list)
    for table, path in files:
        by_table[table].append(str(root / path))
    for table in PER_RUN_TABLES:
        con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        if by_table.get(table):
            columns = ", ".join(PER_RUN_TABLES[table].names)
            con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM read_parquet(?)", [by_table[table]])


def _refresh_headlines(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM headlines")
    con.execute(_sql("headlines.sql"))


def sync_working_db(con: duckdb.DuckDBPyConnection, layout: DataLayout, ledger: Ledger) -> None:
    """Load every committed run the working database does not hold yet, one transaction each."""
    by_run: dict[str, Files] = defaultdict(list)
    for table, path, run_id in ledger.parquet_files():
        by_run[run_id].append((table, path))
    loaded = {row[0] for row in con.execute("SELECT run_id FROM _loaded_runs").fetchall()}
    for run_id in sorted(set(by_run) - loaded):
        con.begin()
        try:
            _replace_run_rows(con, layout.parquet, run_id, by_run[run_id])
            con.execute("INSERT OR IGNORE INTO _loaded_runs VALUES (?)", [run_id])
            con.commit()
        except BaseException:
            con.rollback()
            raise


def check_run(layout: DataLayout, ledger: Ledger, run_id: str, staged: Files, loaded: int,
              rejected: int) -> list[CheckResult]:
    """The quality checks with the run's staged rows in place, in a transaction that is
    rolled back: nothing of the run is kept by checking it."""
    totals = ledger.outcome_totals()
    with working_db(layout) as con:
        sync_working_db(con, layout, ledger)
        con.begin()
        try:
            _replace_run_rows(con, layout.staging_for(run_id), run_id, staged)
            _refresh_headlines(con)
            return run_checks(con, totals.get("loaded", 0) + loaded, totals.get("rejected", 0) + rejected)
        finally:
            con.rollback()


def _ledger_table(rows: list[dict[str, Any]], schema: pa.Schema, renames: dict[str, str]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        for name in schema.names:
            value = row[renames.get(name, name)]
            if schema.field(name).type == pa.timestamp("us", tz="UTC") and value is not None:
                value = from_us(value)
            elif schema.field(name).type == pa.bool_():
                value = bool(value)
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=schema)


def runs_table(ledger: Ledger) -> pa.Table:
    return _ledger_table(ledger.runs(), RUNS, {"started_at": "started_us", "finished_at": "finished_us"})


def quality_table(ledger: Ledger) -> pa.Table:
    return _ledger_table(ledger.quality_checks(), QUALITY_CHECKS, {"check": "check_name", "checked_at": "checked_us"})


def publish(layout: DataLayout, ledger: Ledger) -> None:
    """Bring the working database up to the ledger and publish a new snapshot."""
    with working_db(layout) as con:
        sync_working_db(con, layout, ledger)
        con.begin()
        _refresh_headlines(con)
        for table, data in (("runs", runs_table(ledger)), ("quality_checks", quality_table(ledger))):
            con.execute(f"DELETE FROM {table}")
            con.register("_rows", data)
            con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
            con.unregister("_rows")
        con.execute(_sql("views.sql"))
        con.commit()
        for table in ("headlines", "runs", "quality_checks"):
            data = con.table(table).to_arrow_table().cast(ALL_TABLES[table])
            write_parquet(layout.parquet / layout.derived_path(table), data)
        con.execute("CHECKPOINT")
    checkpoint("loaded")
    copy_file(layout.working_db, layout.published_db)
    checkpoint("published")
    ledger.mark_snapshot_fresh()


def reset_working_db(layout: DataLayout) -> None:
    """Forget what the working database holds; the next publish reloads it all from Parquet."""
    for path in (layout.working_db, layout.working_db.with_name(layout.working_db.name + ".wal")):
        path.unlink(missing_ok=True)
