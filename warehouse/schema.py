"""The one definition of every table newsdrop writes.

Parquet files are written with these schemas, and the DuckDB tables are created
from them (warehouse.duckdb_load), so a column is named and typed only here.
"""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")

DROPS = pa.schema(
    [
        pa.field("drop_id", pa.string(), nullable=False),
        pa.field("file_name", pa.string(), nullable=False),
        pa.field("sequence", pa.int64()),
        pa.field("name_id", pa.string()),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("encoding", pa.string(), nullable=False),
        pa.field("warnings", pa.list_(pa.string()), nullable=False),
        pa.field("received_at", TIMESTAMP, nullable=False),
        pa.field("ingested_at", TIMESTAMP, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("headline_count", pa.int32(), nullable=False),
        pa.field("dropped_line_count", pa.int32(), nullable=False),
        pa.field("raw_path", pa.string(), nullable=False),
    ]
)

ARTICLES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("drop_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("body", pa.string(), nullable=False),
        pa.field("paragraph_count", pa.int32(), nullable=False),
        pa.field("word_count", pa.int32(), nullable=False),
        pa.field("char_count", pa.int32(), nullable=False),
        pa.field("body_key", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

DROP_HEADLINES = pa.schema(
    [
        pa.field("drop_id", pa.string(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("headline_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

DROPPED_LINES = pa.schema(
    [
        pa.field("drop_id", pa.string(), nullable=False),
        pa.field("line_no", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

REJECTED_DROPS = pa.schema(
    [
        pa.field("file_name", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("received_at", TIMESTAMP, nullable=False),
        pa.field("rejected_at", TIMESTAMP, nullable=False),
        pa.field("raw_path", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

# Derived from drop_headlines and drops at every publish.
HEADLINES = pa.schema(
    [
        pa.field("headline_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("first_seen_at", TIMESTAMP, nullable=False),
        pa.field("last_seen_at", TIMESTAMP, nullable=False),
        pa.field("drop_count", pa.int64(), nullable=False),
    ]
)

# Written from the ledger at every publish, so failed runs show too.
RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("started_at", TIMESTAMP, nullable=False),
        pa.field("finished_at", TIMESTAMP),
        pa.field("seconds", pa.float64()),
        pa.field("files_seen", pa.int64(), nullable=False),
        pa.field("files_new", pa.int64(), nullable=False),
        pa.field("drops_loaded", pa.int64(), nullable=False),
        pa.field("files_rejected", pa.int64(), nullable=False),
        pa.field("files_unchanged", pa.int64(), nullable=False),
        pa.field("files_skipped", pa.int64(), nullable=False),
        pa.field("error", pa.string()),
    ]
)

# Written from the ledger at every publish: each run's data-quality results.
QUALITY_CHECKS = pa.schema(
    [
        pa.field("check", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("passed", pa.bool_(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("checked_at", TIMESTAMP, nullable=False),
    ]
)

# Tables written by each ingest batch, one Parquet file per batch ("part").
PER_RUN_TABLES: dict[str, pa.Schema] = {
    "drops": DROPS,
    "articles": ARTICLES,
    "drop_headlines": DROP_HEADLINES,
    "dropped_lines": DROPPED_LINES,
    "rejected_drops": REJECTED_DROPS,
}

# Tables rebuilt whole at each publish, one Parquet file each.
DERIVED_TABLES: dict[str, pa.Schema] = {
    "headlines": HEADLINES,
    "runs": RUNS,
    "quality_checks": QUALITY_CHECKS,
}

ALL_TABLES: dict[str, pa.Schema] = {**PER_RUN_TABLES, **DERIVED_TABLES}
