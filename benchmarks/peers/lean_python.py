"""Peer 2: a lean single-process Python reader, with no orchestration and no safety.

Decode (UTF-8, else cp1252), split at the last gap of two or more blank lines,
write Parquet with pyarrow and load DuckDB. The floor of what the reading costs.

    python benchmarks/peers/lean_python.py INBOX DATA
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

GAP = re.compile(r"\n[ \t]*\n[ \t]*\n")


def split_drop(raw: bytes) -> tuple[str, list[str]]:
    """(body, headlines) of one drop: decode, split at the last gap. The peer's whole reading."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    gaps = list(GAP.finditer(text))
    body, listing = (text[: gaps[-1].start()], text[gaps[-1].end() :]) if gaps else (text, "")
    return ("\n".join(line.strip() for line in body.split("\n") if line.strip()),
            [line.strip() for line in listing.split("\n") if line.strip()])


def run(inbox: Path, data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    names, bodies, head_names, head_pos, head_text = [], [], [], [], []
    with os.scandir(inbox) as entries:
        for entry in entries:
            if not entry.name.endswith(".txt"):
                continue
            with open(entry.path, "rb") as handle:
                body, headlines = split_drop(handle.read())
            names.append(entry.name)
            bodies.append(body)
            for position, headline in enumerate(headlines, start=1):
                head_names.append(entry.name)
                head_pos.append(position)
                head_text.append(headline)
    parquet = data / "parquet"
    parquet.mkdir(exist_ok=True)
    pq.write_table(pa.table({"file_name": names, "body": bodies}), parquet / "articles.parquet", compression="zstd")
    pq.write_table(pa.table({"file_name": head_names, "position": head_pos, "text": head_text}),
                   parquet / "drop_headlines.parquet", compression="zstd")
    database = data / "peer.duckdb"
    database.unlink(missing_ok=True)
    with duckdb.connect(str(database)) as con:
        for table in ("articles", "drop_headlines"):
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{parquet / table}.parquet')")
        con.execute("CREATE TABLE headlines AS SELECT lower(text) AS headline_key, min(text) AS text,"
                    " count(DISTINCT file_name) AS drop_count FROM drop_headlines GROUP BY 1")


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]))
