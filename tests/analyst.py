"""An analyst in another process, for the concurrency tests.

    python tests/analyst.py hold DATA ro|rw SECONDS     keep a connection open and query it
    python tests/analyst.py watch DATA SECONDS          reconnect in a loop, checking every snapshot
    python tests/analyst.py parquet DATA SECONDS        read the Parquet globs in a loop

Prints one JSON line of what it saw.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

INVARIANTS = {
    "articles match drops": "SELECT (SELECT count(*) FROM drops) = (SELECT count(*) FROM articles)",
    "headline counts match": "SELECT (SELECT coalesce(sum(headline_count), 0) FROM drops)"
    " = (SELECT count(*) FROM drop_headlines)",
    "no duplicate drops": "SELECT count(*) = count(DISTINCT drop_id) FROM drops",
    "every headline row is used": "SELECT (SELECT count(*) FROM headlines)"
    " = (SELECT count(DISTINCT headline_id) FROM drop_headlines)",
}


def check(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [name for name, sql in INVARIANTS.items() if not con.execute(sql).fetchall()[0][0]]


def hold(data: Path, mode: str, seconds: float) -> dict[str, object]:
    con = duckdb.connect(str(data / "news.duckdb"), read_only=(mode == "ro"))
    counts = set()
    broken: list[str] = []
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        counts.add(con.execute("SELECT count(*) FROM drops").fetchall()[0][0])
        broken += check(con)
        time.sleep(0.05)
    con.close()
    return {"counts": sorted(counts), "broken": broken}


def watch(data: Path, seconds: float) -> dict[str, object]:
    reads, counts, broken, errors = 0, set(), [], []
    deadline = time.monotonic() + seconds
    print("ready", flush=True)
    while time.monotonic() < deadline:
        try:
            with duckdb.connect(str(data / "news.duckdb"), read_only=True) as con:
                counts.add(con.execute("SELECT count(*) FROM drops").fetchall()[0][0])
                broken += check(con)
                reads += 1
        except duckdb.Error as error:
            errors.append(str(error).splitlines()[0])
    return {"reads": reads, "counts": sorted(counts), "broken": broken, "errors": errors}


def parquet(data: Path, seconds: float) -> dict[str, object]:
    import pyarrow.dataset as ds

    reads, counts, duplicates, errors = 0, set(), 0, []
    deadline = time.monotonic() + seconds
    print("ready", flush=True)
    while time.monotonic() < deadline:
        try:
            table = ds.dataset(data / "parquet" / "drops", format="parquet", partitioning="hive").to_table(
                columns=["drop_id"])
            ids = table.column("drop_id").to_pylist()
            duplicates += len(ids) - len(set(ids))
            glob = str(data / "parquet" / "drop_headlines" / "**" / "*.parquet")
            rows = duckdb.sql(f"SELECT count(*), count(DISTINCT (drop_id, position)) FROM read_parquet('{glob}')"
                              ).fetchall()[0]
            duplicates += rows[0] - rows[1]
            counts.add(len(ids))
            reads += 1
        except Exception as error:  # any error is what this test looks for
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")
    return {"reads": reads, "counts": sorted(counts), "duplicates": duplicates, "errors": errors}


if __name__ == "__main__":
    command, data = sys.argv[1], Path(sys.argv[2])
    if command == "hold":
        result = hold(data, sys.argv[3], float(sys.argv[4]))
    elif command == "watch":
        result = watch(data, float(sys.argv[3]))
    else:
        result = parquet(data, float(sys.argv[3]))
    print(json.dumps(result), flush=True)
