"""Arrow tables in and out of Parquet, always through warehouse.schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from newsdrop.warehouse.atomic import replace_with
from newsdrop.warehouse.schema import ALL_TABLES

COMPRESSION = "zstd"


def to_arrow(table: str, columns: dict[str, list[Any]]) -> pa.Table:
    schema = ALL_TABLES[table]
    if not columns:
        return schema.empty_table()
    unknown = set(columns) - set(schema.names)
    if unknown:
        raise ValueError(f"{table}: columns not in warehouse.schema: {sorted(unknown)}")
    return pa.Table.from_pydict({name: columns[name] for name in schema.names}, schema=schema)


def write_parquet(path: Path, data: pa.Table) -> None:
    """Written beside its target and renamed: a reader never sees a partial file."""
    replace_with(path, lambda temp: pq.write_table(data, temp, compression=COMPRESSION))

