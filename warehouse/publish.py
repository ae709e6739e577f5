"""Loading committed Parquet into DuckDB and publishing the analysts' snapshot.

DuckDB lets a writer in only when no other process has the file open, so the
pipeline never writes the file analysts open. It loads a private working
database incrementally (one transaction per committed run), then copies it to
a new file and renames that over DATA/news.duckdb. Open sessions keep the old
snapshot; new ones see the new data; nobody waits on anybody.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.atomic import copy_file
from warehouse.faults import checkpoint
from warehouse.layout import DataLayout
from warehouse.ledger import Ledger, from_us
from warehouse.parquet_io import write_parquet
from warehouse.schema import ALL_TABLES, PER_RUN_TABLES, RUNS


def _sql(name: str) -> str:
    return (Path(__file__).parent / name).read_text()


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table, schema in ALL_TABLES.items():
        con.register("_empty", schema.empty_table())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM _empty")
        con.unregister("_empty")
    con.execute("CREATE TABLE IF NOT EXISTS _loaded_runs (run_id VARCHAR PRIMARY KEY)")


def _load_run(con: duckdb.DuckDBPyConnection, parquet_root: Path, run_id: str,
              files: list[tuple[str, str]]) -> None:
    """Replace one run's rows with its committed files, in one transaction."""
    by_table: dict[str, list[str]] = defaultdict(list)
    for table, path in files:
        by_table[table].append(str(parquet_root / path))
    con.begin()
    try:
        for table in PER_RUN_TABLES:
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            if by_table.get(table):
                columns = ", ".join(PER_RUN_TABLES[table].names)
                con.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} FROM read_parquet(?)", [by_table[table]]
                )
        con.execute("INSERT OR IGNORE INTO _loaded_runs VALUES (?)", [run_id])
        con.commit()
    except BaseException:
        con.rollback()
        raise


def runs_table(ledger: Ledger) -> pa.Table:
    rows = ledger.runs()
    columns: dict[str, list[object]] = {name: [] for name in RUNS.names}
    for row in rows:
        for name in RUNS.names:
            if name == "started_at":
                columns[name].append(from_us(row["started_us"]))
            elif name == "finished_at":
                columns[name].append(from_us(row["finished_us"]) if row["finished_us"] is not None else None)
            else:
                columns[name].append(row[name])
    return pa.Table.from_pydict(columns, schema=RUNS)


def publish(layout: DataLayout, ledger: Ledger) -> None:
    """Bring the working database up to the ledger and publish a new snapshot."""
    by_run: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for table, path, run_id in ledger.parquet_files():
        by_run[run_id].append((table, path))

    con = duckdb.connect(str(layout.working_db))
    try:
        _ensure_tables(con)
        loaded = {row[0] for row in con.execute("SELECT run_id FROM _loaded_runs").fetchall()}
        for run_id in sorted(set(by_run) - loaded):
            _load_run(con, layout.parquet, run_id, by_run[run_id])

        con.begin()
        con.execute("DELETE FROM headlines")
        con.execute(_sql("headlines.sql"))
        con.execute("DELETE FROM runs")
        con.register("_runs", runs_table(ledger))
        con.execute(f"INSERT INTO runs ({', '.join(RUNS.names)}) SELECT * FROM _runs")
        con.unregister("_runs")
        con.execute(_sql("views.sql"))
        con.commit()

        for table in ("headlines", "runs"):
            data = con.table(table).to_arrow_table().cast(ALL_TABLES[table])
            write_parquet(layout.parquet / layout.derived_path(table), data)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    checkpoint("loaded")
    copy_file(layout.working_db, layout.published_db)
    checkpoint("published")
    ledger.mark_snapshot_fresh()


def reset_working_db(layout: DataLayout) -> None:
    """Forget what the working database holds; the next publish reloads it all from Parquet."""
    for path in (layout.working_db, layout.working_db.with_name(layout.working_db.name + ".wal")):
        path.unlink(missing_ok=True)

