"""A batch's readings as table rows, column by column (what pyarrow builds fastest from).

The columns come from newsdrop.warehouse.schema: a row builder that forgets a
column, or names one the schema lacks, fails with that column's name.
"""

from __future__ import annotations

import codecs
import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from newsdrop.transforms.decode import Rejected
from newsdrop.transforms.keys import clean_body_key, drop_id, headline_id
from newsdrop.transforms.lines import count_words
from newsdrop.transforms.names import parse_drop_name
from newsdrop.transforms.read import RULES_VERSION, Reading
from newsdrop.warehouse.schema import PER_RUN_TABLES


@functools.cache
def canonical_encoding(name: str) -> str:
    """One name per codec in the `encoding` column: Python's (cp1252, not also windows-1252,
    as the detector and the WHATWG rule would have it in turn)."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the store knows of one file version before it is read."""

    file_name: str
    sha256: str
    size_bytes: int
    received_at: datetime


class Columns:
    """The columns of one table, filled a row at a time."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.schema = PER_RUN_TABLES[table]
        self.data: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        self.rows = 0

    def _check(self, names: Any) -> None:
        if names != self.data.keys():
            missing, extra = self.data.keys() - names, names - self.data.keys()
            raise KeyError(f"{self.table}: missing column(s) {sorted(missing)}, unknown column(s) {sorted(extra)}")

    def append(self, **row: Any) -> None:
        self._check(row.keys())
        for name, value in row.items():
            self.data[name].append(value)
        self.rows += 1

    def extend(self, count: int, **columns: list[Any]) -> None:
        """`count` rows at once, a list of values per column (a drop's headlines)."""
        self._check(columns.keys())
        for name, values in columns.items():
            if len(values) != count:
                raise ValueError(f"{self.table}.{name}: {len(values)} values for {count} rows")
            self.data[name].extend(values)
        self.rows += count

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pydict(self.data, schema=self.schema)


@dataclass
class BatchRows:
    run_id: str
    ingested_at: datetime
    tables: dict[str, Columns] = field(default_factory=lambda: {table: Columns(table) for table in PER_RUN_TABLES})

    def add(self, facts: FileFacts, outcome: Reading | Rejected) -> None:
        if isinstance(outcome, Rejected):
            self.add_rejected(facts, outcome)
        else:
            self.add_reading(facts, outcome)

    def add_rejected(self, facts: FileFacts, rejected: Rejected) -> None:
        self.tables["rejected_drops"].append(
            file_name=facts.file_name, sha256=facts.sha256, size_bytes=facts.size_bytes,
            reason=str(rejected.reason), detail=rejected.detail, received_at=facts.received_at,
            rejected_at=self.ingested_at, run_id=self.run_id,
        )

    def add_reading(self, facts: FileFacts, reading: Reading) -> None:
        the_drop_id = drop_id(facts.file_name, facts.sha256)
        name = parse_drop_name(facts.file_name)
        run_id, ingested_at = self.run_id, self.ingested_at
        self.tables["drops"].append(
            drop_id=the_drop_id, file_name=facts.file_name, sequence=name.sequence, name_id=name.name_id,
            sha256=facts.sha256, size_bytes=facts.size_bytes, encoding=canonical_encoding(reading.encoding),
            warnings=list(reading.warnings), received_at=facts.received_at, ingested_at=ingested_at,
            run_id=run_id, headline_count=len(reading.headlines), dropped_line_count=len(reading.dropped_lines),
            rules_version=RULES_VERSION,
        )
        body = "\n".join(reading.paragraphs)
        self.tables["articles"].append(
            article_id=the_drop_id, drop_id=the_drop_id, title=reading.title, body=body,
            paragraph_count=len(reading.paragraphs), word_count=count_words(body), char_count=len(body),
            body_key=clean_body_key(reading.paragraphs), run_id=run_id, ingested_at=ingested_at,
        )
        count = len(reading.headlines)
        self.tables["drop_headlines"].extend(
            count, drop_id=[the_drop_id] * count, position=list(range(1, count + 1)),
            headline_id=[headline_id(text) for text in reading.headlines], text=list(reading.headlines),
            run_id=[run_id] * count, ingested_at=[ingested_at] * count,
        )
        dropped = self.tables["dropped_lines"]
        for line in reading.dropped_lines:
            dropped.append(drop_id=the_drop_id, line_no=line.line_no, text=line.text, reason=str(line.reason),
                           run_id=run_id, ingested_at=ingested_at)

    def to_arrow(self) -> dict[str, pa.Table]:
        """The tables that have rows."""
        return {table: columns.to_arrow() for table, columns in self.tables.items() if columns.rows}
