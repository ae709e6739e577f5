"""Peer 1: the pure DuckDB SQL pipeline a user would write instead of newsdrop.

read the files, split each at its last gap of two or more blank lines, COPY the
tables to Parquet, and load them into a DuckDB file. No ledger, no safety: every
run reprocesses the whole inbox, and non-UTF-8 files are skipped.

    python benchmarks/peers/duckdb_sql.py INBOX DATA
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb

PIPELINE = """
CREATE TABLE raw AS
SELECT parse_filename(filename) AS file_name,
       replace(replace(TRY(decode(content)), chr(13) || chr(10), chr(10)), chr(13), chr(10)) AS text
FROM read_blob($glob);

-- body, then a gap of 2+ blank lines, then the headline list at the end
CREATE MACRO gap_split(t, part) AS
    regexp_extract(t, '^([\\s\\S]*?)\\n[ \\t]*\\n[ \\t]*\\n\\s*((?:[^\\n]*\\S[^\\n]*\\n?)+)\\s*$', part);

CREATE TABLE parts AS
SELECT file_name, gap_split(text, 1) AS body_text, gap_split(text, 2) AS list_text, text
FROM raw WHERE text IS NOT NULL;

CREATE TABLE articles AS
SELECT file_name,
       list_filter(string_split(CASE WHEN body_text = '' THEN text ELSE body_text END, chr(10)),
                   lambda l: trim(l) <> '') AS paragraphs
FROM parts;

CREATE TABLE drop_headlines AS
SELECT file_name, trim(h.line) AS text, h.position
FROM parts, unnest(string_split(list_text, chr(10))) WITH ORDINALITY AS h(line, position)
WHERE trim(h.line) <> '';

CREATE TABLE headlines AS
SELECT lower(text) AS headline_key, min(text) AS text, count(DISTINCT file_name) AS drop_count
FROM drop_headlines GROUP BY 1;
"""


def run(inbox: Path, data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    parquet = data / "parquet"
    shutil.rmtree(parquet, ignore_errors=True)
    parquet.mkdir()
    database = data / "peer.duckdb"
    database.unlink(missing_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    for statement in PIPELINE.split(";"):
        if statement.strip():
            con.execute(statement, {"glob": str(inbox / "*.txt")} if "$glob" in statement else {})
    for table in ("articles", "drop_headlines", "headlines"):
        con.execute(f"COPY {table} TO '{parquet / table}.parquet' (FORMAT parquet, COMPRESSION zstd)")
    con.execute(f"ATTACH '{database}' AS out")
    for table in ("articles", "drop_headlines", "headlines"):
        con.execute(f"CREATE TABLE out.{table} AS SELECT * FROM read_parquet('{parquet / table}.parquet')")
    con.close()


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]))
