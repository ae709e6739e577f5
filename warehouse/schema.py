"""The one definition of every table newsdrop writes, and of the states it records.

The lake's tables are created from these Arrow schemas (`create_table_sql`), the
reader's rows are built against them (newsdrop.warehouse.rows), and a column is
typed only here (queries and views.sql name the columns they read). docs/warehouse.md
describes them for analysts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")


class RunKind(StrEnum):
    INGEST = "ingest"
    REBUILD = "rebuild"


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C or SIGTERM, or the process died (recorded by the next run)


class FileOutcome(StrEnum):
    LOADED = "loaded"
    REJECTED = "rejected"
    UNCHANGED = "unchanged"  # the same bytes under the same name again: not a new version


class SkipReason(StrEnum):
    """Why a listed file was not read at all (and is not recorded: a later run looks again)."""

    SYMLINK_OUTSIDE_INBOX = "symlink_outside_inbox"
    DANGLING_SYMLINK = "dangling_symlink"  # its target is missing: maybe it comes later
    VANISHED = "vanished"
    NOT_A_FILE = "not_a_file"


class Severity(StrEnum):
    ERROR = "error"  # keeps the batch out and fails the run
    WARNING = "warning"


def _schema(*fields: pa.Field) -> pa.Schema:
    return pa.schema(fields)


def _required(name: str, kind: pa.DataType) -> pa.Field:
    return pa.field(name, kind, nullable=False)


DROPS = _schema(
    _required("drop_id", pa.string()),
    _required("file_name", pa.string()),
    pa.field("sequence", pa.int64()),
    pa.field("name_id", pa.string()),
    _required("sha256", pa.string()),
    _required("size_bytes", pa.int64()),
    _required("encoding", pa.string()),
    _required("warnings", pa.list_(pa.string())),
    _required("received_at", TIMESTAMP),
    _required("ingested_at", TIMESTAMP),
    _required("run_id", pa.string()),
    _required("headline_count", pa.int32()),
    _required("dropped_line_count", pa.int32()),
    # Nullable, and last: a warehouse made before it gets the column added (lake.bring_up_to_date),
    # its drops NULL there, read under older rules.
    pa.field("rules_version", pa.int32()),
)

ARTICLES = _schema(
    _required("article_id", pa.string()),
    _required("drop_id", pa.string()),
    pa.field("title", pa.string()),
    _required("body", pa.string()),
    _required("paragraph_count", pa.int32()),
    _required("word_count", pa.int32()),
    _required("char_count", pa.int32()),
    _required("body_key", pa.string()),
    _required("run_id", pa.string()),
    _required("ingested_at", TIMESTAMP),
)

DROP_HEADLINES = _schema(
    _required("drop_id", pa.string()),
    _required("position", pa.int32()),
    _required("headline_id", pa.string()),
    _required("text", pa.string()),
    _required("run_id", pa.string()),
    _required("ingested_at", TIMESTAMP),
)

DROPPED_LINES = _schema(
    _required("drop_id", pa.string()),
    _required("line_no", pa.int32()),
    _required("text", pa.string()),
    _required("reason", pa.string()),
    _required("run_id", pa.string()),
    _required("ingested_at", TIMESTAMP),
)

REJECTED_DROPS = _schema(
    _required("file_name", pa.string()),
    _required("sha256", pa.string()),
    _required("size_bytes", pa.int64()),
    _required("reason", pa.string()),
    _required("detail", pa.string()),
    _required("received_at", TIMESTAMP),
    _required("rejected_at", TIMESTAMP),
    _required("run_id", pa.string()),
)

# The bytes of every file taken in, accepted or rejected, stored once per sha256: what rebuild
# reads. A file is one row (chunk 0); one over max_bytes, never read whole, is kept in chunks of
# warehouse.raw.CHUNK_BYTES (chunk 0, 1, ...). run_id, part: the batch that first stored them.
RAW_DROPS = _schema(
    _required("sha256", pa.string()),
    _required("chunk", pa.int32()),
    _required("size_bytes", pa.int64()),
    _required("content", pa.binary()),
    _required("run_id", pa.string()),
    _required("part", pa.int32()),
    _required("ingested_at", TIMESTAMP),
)


@dataclass(frozen=True)
class RunCounts:
    """A run's counters, each named once: the `runs` table's columns of these names, the run's
    summary (newsdrop.RunSummary is one), `status --json` and the Prefect artifacts."""

    files_seen: int = 0
    files_new: int = 0
    drops_loaded: int = 0
    files_rejected: int = 0
    files_unchanged: int = 0
    files_skipped: int = 0

    def counts(self) -> RunCounts:
        """Just the counters (of a summary, say)."""
        return RunCounts(**{name: getattr(self, name) for name in RUN_COUNTERS})


RUN_COUNTERS = tuple(counter.name for counter in fields(RunCounts))


# One row per run, written when the run ends (never updated, so its Parquet
# folder never holds a stale row). snapshot_id: the lake snapshot the run left.
RUNS = _schema(
    _required("run_id", pa.string()),
    _required("kind", pa.string()),
    _required("status", pa.string()),
    _required("started_at", TIMESTAMP),
    _required("finished_at", TIMESTAMP),
    _required("seconds", pa.float64()),
    *(_required(name, pa.int64()) for name in RUN_COUNTERS),
    pa.field("error", pa.string()),
    _required("snapshot_id", pa.int64()),
)

# The data-quality results of each committed batch (part) of each run.
QUALITY_CHECKS = _schema(
    _required("check", pa.string()),
    _required("severity", pa.string()),
    _required("passed", pa.bool_()),
    _required("detail", pa.string()),
    _required("run_id", pa.string()),
    _required("part", pa.int32()),
    _required("checked_at", TIMESTAMP),
)

# The ingest ledger: one row per (name, size, mtime) taken in. It commits in the
# same lake transaction as the rows it accounts for.
FILE_VERSIONS = _schema(
    _required("file_name", pa.string()),
    _required("size_bytes", pa.int64()),
    _required("mtime_ns", pa.int64()),
    _required("sha256", pa.string()),
    _required("outcome", pa.string()),
    _required("run_id", pa.string()),
    _required("part", pa.int32()),
    _required("ingested_at", TIMESTAMP),
    pa.field("reason", pa.string()),
)

# Tables each ingest batch appends to, partitioned by the day of the column named.
PER_RUN_TABLES: dict[str, pa.Schema] = {
    "drops": DROPS,
    "articles": ARTICLES,
    "drop_headlines": DROP_HEADLINES,
    "dropped_lines": DROPPED_LINES,
    "rejected_drops": REJECTED_DROPS,
}
# A partition is a UTC day of that column, as DuckLake names it in a path: year=2026/month=12/day=7.
PARTITION_KEYS = ("year", "month", "day")
PARTITION_COLUMN: dict[str, str] = {
    "drops": "ingested_at",
    "articles": "ingested_at",
    "drop_headlines": "ingested_at",
    "dropped_lines": "ingested_at",
    "rejected_drops": "rejected_at",
}

# Tables appended to at the end of each run.
RUN_TABLES: dict[str, pa.Schema] = {"runs": RUNS, "quality_checks": QUALITY_CHECKS}

# Columns of earlier newsdrops that the next run drops from the lake (older files keep them; the
# lake no longer reads them): raw_path named the file of DATA/raw/ holding a drop's bytes, which
# are in raw_drops since.
RETIRED_COLUMNS = frozenset({("drops", "raw_path"), ("rejected_drops", "raw_path")})

# Written in each batch's commit, and never replaced: not by rebuild, which reads it.
RAW_TABLES: dict[str, pa.Schema] = {"raw_drops": RAW_DROPS}

# The analysts' tables, in the lake's main schema (each a Parquet folder).
TABLES: dict[str, pa.Schema] = {**PER_RUN_TABLES, **RUN_TABLES, **RAW_TABLES}

# newsdrop's own bookkeeping, in the lake's `ledger` schema.
LEDGER_SCHEMA = "ledger"
LEDGER_TABLES: dict[str, pa.Schema] = {"file_versions": FILE_VERSIONS}

# Near-duplicates (warehouse/near_duplicates.py), in the lake's `similarity` schema, written in
# each batch's commit: one row a distinct article body (by body_key) ever loaded. body_number:
# the order bodies arrived in; drop_id: the first drop that had the body; sketch: what is kept
# of its MinHash signature, the low byte of each of its PERMUTATIONS values (transforms/similarity.py).
BODY_SIGNATURES = _schema(
    _required("body_number", pa.int64()),
    _required("body_key", pa.string()),
    _required("drop_id", pa.string()),
    _required("sketch", pa.binary()),
    _required("run_id", pa.string()),
    _required("ingested_at", TIMESTAMP),
)
# Each body's LSH bands (none for a body of no words): bodies that share one are compared.
BODY_BANDS = _schema(
    _required("band", pa.int64()),
    _required("body_number", pa.int64()),
)
# Each body's cluster: the body_number of its first body, and the estimated similarity to it.
# The one table a run updates: when a new body links two clusters, the later one's rows take
# the earlier one's id (DuckLake writes delete files for them; read it through the lake).
BODY_CLUSTERS = _schema(
    _required("body_number", pa.int64()),
    _required("cluster_id", pa.int64()),
    _required("similarity", pa.float64()),
)
SIMILARITY_SCHEMA = "similarity"
SIMILARITY_TABLES: dict[str, pa.Schema] = {
    "body_signatures": BODY_SIGNATURES,
    "body_bands": BODY_BANDS,
    "body_clusters": BODY_CLUSTERS,
}

# Derived on read (warehouse/views.sql), so a run never rewrites their history.
VIEWS = ("headlines", "headline_trends", "article_headlines", "daily_ingest", "duplicate_articles",
         "near_duplicates", "near_duplicate_clusters")


_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.binary(): "BLOB",
    TIMESTAMP: "TIMESTAMPTZ",
    pa.list_(pa.string()): "VARCHAR[]",
}


def column_sql(qualified_name: str, column: pa.Field) -> str:
    """One column's definition; a type newsdrop does not map fails with its column name."""
    if column.type not in _DUCKDB_TYPES:
        raise TypeError(f"{qualified_name}.{column.name}: no DuckDB type for {column.type}")
    not_null = "" if column.nullable else " NOT NULL"
    return f'"{column.name}" {_DUCKDB_TYPES[column.type]}{not_null}'


def no_rows_sql(schema: pa.Schema) -> str:
    """A SELECT of no rows in the schema's columns and types."""
    columns = ", ".join(f'NULL::{_DUCKDB_TYPES[column.type]} AS "{column.name}"' for column in schema)
    return f"SELECT {columns} WHERE false"


def create_table_sql(qualified_name: str, schema: pa.Schema) -> str:
    """CREATE TABLE for one schema."""
    columns = ", ".join(column_sql(qualified_name, column) for column in schema)
    return f"CREATE TABLE IF NOT EXISTS {qualified_name} ({columns})"


def table_from_rows(schema: pa.Schema, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows to an Arrow table of exactly this schema; a missing column fails with its name."""
    columns: dict[str, list[object]] = {name: [] for name in schema.names}
    for row in rows:
        for name in schema.names:
            if name not in row and not schema.field(name).nullable:
                raise KeyError(f"missing column {name!r}")
            columns[name].append(row.get(name))
    return pa.Table.from_pydict(columns, schema=schema)
