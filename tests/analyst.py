"""An analyst in another process, for the concurrency tests.

    python tests/analyst.py hold DATA connect|attach [CATALOG]
                                                       open a session, BEGIN, read; on each line of
                                                       stdin read again; on "commit" COMMIT and read
    python tests/analyst.py watch DATA SECONDS          reconnect (newsdrop.connect) in a loop, checking
                                                       every snapshot
    python tests/analyst.py parquet DATA SECONDS        read the tables' Parquet folders in a loop

`hold` prints one JSON line per read; the others print "ready", read until their standard
input closes (or SECONDS pass), then print one JSON line of what they saw.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import duckdb

# Each holds within one snapshot: a batch's rows, ledger entries and checks commit together.
INVARIANTS = {
    "articles match drops": "SELECT (SELECT count(*) FROM drops) = (SELECT count(*) FROM articles)",
    "headline counts match": "SELECT count(*) = 0 FROM drops AS d LEFT JOIN "
    "(SELECT drop_id, count(*) AS n FROM drop_headlines GROUP BY drop_id) AS h USING (drop_id)"
    " WHERE d.headline_count <> coalesce(h.n, 0)",
    "no orphan headline rows": "SELECT count(*) = 0 FROM drop_headlines ANTI JOIN drops USING (drop_id)",
    "no duplicate drops": "SELECT count(*) = count(DISTINCT drop_id) FROM drops",
    "no duplicate headline rows": "SELECT count(*) = count(DISTINCT (drop_id, position)) FROM drop_headlines",
    "tables match the ledger": "SELECT (SELECT count(*) FROM drops) + (SELECT count(*) FROM rejected_drops)"
    " = (SELECT count(*) FROM lake.ledger.file_versions WHERE outcome <> 'unchanged')",
}


def check(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [name for name, sql in INVARIANTS.items() if not con.execute(sql).fetchall()[0][0]]


def count(con: duckdb.DuckDBPyConnection, table: str = "drops") -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def attach(data: Path) -> duckdb.DuckDBPyConnection:
    """A plain DuckDB session, as docs/warehouse.md tells any client to attach the lake
    (the extensions come from their wheels: the tests run offline)."""
    from newsdrop.warehouse.lake import extension_path, sql_string

    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    for name in ("sqlite_scanner", "ducklake"):
        con.execute(f"LOAD {sql_string(str(extension_path(name)))}")
    catalog = sql_string(f"ducklake:sqlite:{data / 'catalog.sqlite'}")
    con.execute(f"ATTACH {catalog} AS lake (READ_ONLY)")
    con.execute("USE lake")
    return con


def hold(data: str, mode: str, catalog: str | None = None) -> None:
    """An open transaction that outlives runs: it keeps its snapshot until it ends."""
    import newsdrop

    con = newsdrop.connect(data, catalog=catalog) if mode == "connect" else attach(Path(data))

    def report(stage: str) -> None:
        print(json.dumps({"stage": stage, "drops": count(con), "broken": check(con)}), flush=True)

    con.execute("BEGIN")
    report("open")
    for line in sys.stdin:
        if line.strip() == "commit":
            con.execute("COMMIT")
            report("after commit")
            con.execute("BEGIN")
            report("new transaction")
            con.execute("COMMIT")
            break
        report("still open")
    con.close()


def until_stdin_closes(seconds: float) -> threading.Event:
    """Set when standard input closes (the test is done with the runs), or after `seconds`."""
    closed = threading.Event()

    def wait() -> None:
        sys.stdin.read()
        closed.set()

    threading.Thread(target=wait, daemon=True).start()
    timer = threading.Timer(seconds, closed.set)
    timer.daemon = True  # the process ends when its work does, not when the timer runs out
    timer.start()
    return closed


def watch(data: Path, seconds: float) -> dict[str, object]:
    import newsdrop

    reads, counts, broken, errors = 0, set(), [], []
    done = until_stdin_closes(seconds)
    print("ready", flush=True)
    while not done.is_set():
        try:
            with newsdrop.connect(data) as con:
                con.execute("BEGIN")  # every check of one read sees the same snapshot
                counts.add((count(con), count(con, "rejected_drops")))
                broken += check(con)
                con.execute("COMMIT")
                reads += 1
        except Exception as error:  # any error is what this test looks for
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")
    return {"reads": reads, "counts": sorted(counts), "broken": broken, "errors": errors}


def parquet(data: Path, seconds: float) -> dict[str, object]:
    """A reader of the Parquet folders that knows nothing of the lake (pyarrow, DuckDB)."""
    import pyarrow.dataset as ds

    from newsdrop.warehouse.layout import DataLayout

    layout = DataLayout(data)
    reads, counts, duplicates, errors = 0, set(), 0, []
    done = until_stdin_closes(seconds)
    print("ready", flush=True)
    while not done.is_set():
        try:
            table = ds.dataset(layout.table_folder("drops"), format="parquet", partitioning="hive").to_table(
                columns=["drop_id"])
            ids = table.column("drop_id").to_pylist()
            duplicates += len(ids) - len(set(ids))
            glob = str(layout.table_folder("drop_headlines") / "**" / "*.parquet")
            rows = duckdb.sql("SELECT count(*), count(DISTINCT (drop_id, position)) "
                              f"FROM read_parquet('{glob}', hive_partitioning = true)").fetchall()[0]
            duplicates += rows[0] - rows[1]
            counts.add(len(ids))
            reads += 1
        except Exception as error:  # any error is what this test looks for
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")
    return {"reads": reads, "counts": sorted(counts), "duplicates": duplicates, "errors": errors}


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "hold":
        hold(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        data = Path(sys.argv[2])
        result = watch(data, float(sys.argv[3])) if command == "watch" else parquet(data, float(sys.argv[3]))
        print(json.dumps(result), flush=True)
