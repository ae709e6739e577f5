"""Row builders key off warehouse.schema: a forgotten or unknown column fails with its name."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from newsdrop.transforms import read_drop
from newsdrop.transforms.decode import Rejected
from newsdrop.warehouse.rows import BatchRows, Columns, FileFacts
from newsdrop.warehouse.schema import PER_RUN_TABLES, TABLES, create_table_sql, table_from_rows

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def test_a_missing_column_fails_with_its_name() -> None:
    columns = Columns("rejected_drops")
    row = dict.fromkeys(PER_RUN_TABLES["rejected_drops"].names, "x")
    del row["detail"]
    with pytest.raises(KeyError, match="detail"):
        columns.append(**row)


def test_an_unknown_column_fails_with_its_name() -> None:
    columns = Columns("rejected_drops")
    row = dict.fromkeys(PER_RUN_TABLES["rejected_drops"].names, "x")
    with pytest.raises(KeyError, match="colour"):
        columns.append(**row, colour="red")


def test_table_from_rows_names_a_missing_required_column() -> None:
    with pytest.raises(KeyError, match="run_id"):
        table_from_rows(TABLES["runs"], [{"kind": "ingest"}])


def test_a_batch_becomes_arrow_tables_of_exactly_the_schema() -> None:
    rows = BatchRows(run_id="r1", ingested_at=NOW)
    reading = read_drop(b"A paragraph here.\n\n\nFirst headline\nSecond headline\n")
    assert not isinstance(reading, Rejected)
    rows.add(FileFacts("001_00000000000000aa.txt", "ab" * 32, 50, NOW), reading)
    tables = rows.to_arrow()
    assert set(tables) == {"drops", "articles", "drop_headlines"}
    for table, data in tables.items():
        assert data.schema == PER_RUN_TABLES[table]
    assert tables["drop_headlines"].column("position").to_pylist() == [1, 2]


def test_every_table_maps_to_duckdb_types() -> None:
    for table, schema in TABLES.items():
        assert create_table_sql(table, schema).startswith(f"CREATE TABLE IF NOT EXISTS {table} (")
    with pytest.raises(TypeError, match="odd"):
        create_table_sql("t", pa.schema([pa.field("odd", pa.float16())]))
