"""Row builders key off warehouse.schema: a forgotten or unknown column fails with its name;
a batch's columns line up with its drops."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from newsdrop.transforms import read_drop
from newsdrop.transforms.decode import Rejected, RejectReason
from newsdrop.transforms.keys import drop_id, headline_id
from newsdrop.transforms.read import RULES_VERSION
from newsdrop.warehouse.rows import BatchRows, table_of
from newsdrop.warehouse.schema import PER_RUN_TABLES, TABLES, create_table_sql, table_from_rows

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def rejected_columns() -> dict[str, pa.Array]:
    schema = PER_RUN_TABLES["rejected_drops"]
    return {field.name: pa.array(["x"]) if pa.types.is_string(field.type) else pa.nulls(1, field.type)
            for field in schema}


def test_a_missing_column_fails_with_its_name() -> None:
    columns = rejected_columns()
    del columns["detail"]
    with pytest.raises(KeyError, match="detail"):
        table_of("rejected_drops", columns)


def test_an_unknown_column_fails_with_its_name() -> None:
    with pytest.raises(KeyError, match="colour"):
        table_of("rejected_drops", {**rejected_columns(), "colour": pa.array(["red"])})


def test_table_from_rows_names_a_missing_required_column() -> None:
    with pytest.raises(KeyError, match="run_id"):
        table_from_rows(TABLES["runs"], [{"kind": "ingest"}])


def test_a_batch_becomes_arrow_tables_of_exactly_the_schema() -> None:
    rows = BatchRows(run_id="r1", ingested_at=NOW)
    reading = read_drop(b"A paragraph here.\n\n\nFirst headline\nSecond headline\n")
    assert not isinstance(reading, Rejected)
    mtime_ns = 1_764_115_200_123_456_789
    rows.add("001_00000000000000aa.txt", "ab" * 32, 50, mtime_ns, reading)
    tables = rows.to_arrow()
    assert set(tables) == {"drops", "articles", "drop_headlines"}
    for table, data in tables.items():
        assert data.schema == PER_RUN_TABLES[table]
    assert tables["drop_headlines"].column("position").to_pylist() == [1, 2]
    received = tables["drops"].column("received_at")[0].as_py()
    assert received == datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)


def test_each_column_of_a_batch_lines_up_with_its_drop() -> None:
    """Three drops of different shapes, one rejected file between them: every headline and
    dropped line names its own drop, positions restart per drop, the shared values repeat."""
    rows = BatchRows(run_id="r1", ingested_at=NOW)
    texts = [b"One para.\n\n\nA\nB\nC\n", b"Only a body, no headlines.\n",
             b"Two words.\nSecond para here.\n\n\nD\nA\n"]
    readings = [read_drop(text) for text in texts]
    for index, reading in enumerate(readings):
        assert not isinstance(reading, Rejected)
        rows.add(f"00{index}_00000000000000aa.txt", f"{index:064d}", 10 + index, 0, reading)
        if index == 0:
            rows.add("bad.txt", "f" * 64, 0, 0, Rejected(RejectReason.EMPTY, "no bytes"))
    tables = rows.to_arrow()
    drops = tables["drops"].to_pylist()
    ids = [drop["drop_id"] for drop in drops]
    assert [drop["file_name"] for drop in drops] == [f"00{i}_00000000000000aa.txt" for i in range(3)]
    assert ids == [drop_id(drop["file_name"], drop["sha256"]) for drop in drops]
    headlines = tables["drop_headlines"].to_pylist()
    assert [(ids.index(h["drop_id"]), h["position"], h["text"]) for h in headlines] == [
        (0, 1, "A"), (0, 2, "B"), (0, 3, "C"), (2, 1, "D"), (2, 2, "A")]
    assert [h["headline_id"] for h in headlines] == [headline_id(h["text"]) for h in headlines]
    articles = tables["articles"].to_pylist()
    assert [a["drop_id"] for a in articles] == ids
    assert [a["word_count"] for a in articles] == [len(a["body"].split()) for a in articles]
    assert [a["char_count"] for a in articles] == [len(a["body"]) for a in articles]
    assert {drop["run_id"] for drop in drops} == {"r1"} and {drop["rules_version"] for drop in drops} == {RULES_VERSION}
    assert tables["rejected_drops"].column("file_name").to_pylist() == ["bad.txt"]


def test_every_table_maps_to_duckdb_types() -> None:
    for table, schema in TABLES.items():
        assert create_table_sql(table, schema).startswith(f"CREATE TABLE IF NOT EXISTS {table} (")
    with pytest.raises(TypeError, match="odd"):
        create_table_sql("t", pa.schema([pa.field("odd", pa.float16())]))
