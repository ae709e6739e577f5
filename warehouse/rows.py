"""A batch's readings as table rows, built as columns.

Per drop the reader appends only the plain values that differ from drop to drop; the
rest is made once a batch, as Arrow arrays (to_arrow): what the whole batch shares
(run_id, ingested_at, rules_version), what follows from another column (an article's ids
are its drop's; a headline's drop_id; received_at from the file's mtime; a body's length in
characters) and the headline ids, hashed once per distinct text of the batch. (Word counts
stay per drop: Python's str.count is several times faster than Arrow's count_substring.)

The columns come from newsdrop.warehouse.schema: a builder that forgets a column, or
names one the schema lacks, fails with that column's name.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Mapping
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from newsdrop.transforms.decode import Rejected
from newsdrop.transforms.keys import clean_body_key, drop_id, headline_id
from newsdrop.transforms.lines import count_words
from newsdrop.transforms.names import parse_drop_name
from newsdrop.transforms.read import RULES_VERSION, Reading
from newsdrop.transforms.similarity import fingerprints
from newsdrop.warehouse.schema import PER_RUN_TABLES, TIMESTAMP

STRING, INT32, INT64 = pa.string(), pa.int32(), pa.int64()


@functools.cache
def canonical_encoding(name: str) -> str:
    """One name per codec in the `encoding` column: Python's (cp1252, not also windows-1252,
    as the detector and the WHATWG rule would have it in turn)."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name


def table_of(table: str, columns: Mapping[str, pa.Array]) -> pa.Table:
    """The columns as a table of exactly the schema of the per-run table `table`; a missing or
    unknown column fails with its name."""
    schema = PER_RUN_TABLES[table]
    if columns.keys() != set(schema.names):
        missing, extra = set(schema.names) - columns.keys(), columns.keys() - set(schema.names)
        raise KeyError(f"{table}: missing column(s) {sorted(missing)}, "
                       f"unknown column(s) {sorted(extra)}")
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)


def received_at(mtime_ns: list[int]) -> pa.Array:
    """Each file's modification time as received_at: rounded to the microsecond as Python's
    datetime.fromtimestamp rounds the time in seconds as a float, as it always has been, so
    that a rebuild gives every earlier row again to the microsecond."""
    return pa.array([datetime.fromtimestamp(ns / 1e9, tz=UTC) for ns in mtime_ns], TIMESTAMP)


def repeated(value: object, kind: pa.DataType, count: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, kind), count)


class BatchRows:
    """The rows of one batch's new versions: loaded drops (with their article, headlines and
    dropped lines) and rejected files."""

    def __init__(self, run_id: str, ingested_at: datetime) -> None:
        self.run_id, self.ingested_at = run_id, ingested_at
        # One entry a loaded drop (its drops row and its articles row).
        self.drop_ids: list[str] = []
        self.file_names: list[str] = []
        self.sequences: list[int | None] = []
        self.name_ids: list[str | None] = []
        self.sha256s: list[str] = []
        self.sizes: list[int] = []
        self.mtimes_ns: list[int] = []
        self.encodings: list[str] = []
        self.warnings: list[tuple[str, ...]] = []
        self.headline_counts: list[int] = []
        self.dropped_line_counts: list[int] = []
        self.titles: list[str | None] = []
        self.bodies: list[str] = []
        self.paragraph_counts: list[int] = []
        self.word_counts: list[int] = []
        self.body_keys: list[str] = []
        # One entry a headline, in order, and one a dropped line; `of`: the index of its drop.
        self.headlines: list[str] = []
        self.headline_of: list[int] = []
        self.positions: list[int] = []
        self.dropped: list[tuple[int, int, str, str]] = []  # (of, line_no, text, reason)
        # One entry a rejected file.
        self.rejected: list[tuple[str, str, int, str, str, int]] = []  # (name, sha256, size, reason, detail, mtime_ns)

    def add(self, file_name: str, sha256: str, size_bytes: int, mtime_ns: int, outcome: Reading | Rejected) -> None:
        if isinstance(outcome, Rejected):
            self.rejected.append((file_name, sha256, size_bytes, str(outcome.reason), outcome.detail, mtime_ns))
            return
        index = len(self.drop_ids)
        name = parse_drop_name(file_name)
        self.drop_ids.append(drop_id(file_name, sha256))
        self.file_names.append(file_name)
        self.sequences.append(name.sequence)
        self.name_ids.append(name.name_id)
        self.sha256s.append(sha256)
        self.sizes.append(size_bytes)
        self.mtimes_ns.append(mtime_ns)
        self.encodings.append(canonical_encoding(outcome.encoding))
        self.warnings.append(outcome.warnings)
        count = len(outcome.headlines)
        self.headline_counts.append(count)
        self.dropped_line_counts.append(len(outcome.dropped_lines))
        self.titles.append(outcome.title)
        body = "\n".join(outcome.paragraphs)
        self.bodies.append(body)
        self.paragraph_counts.append(len(outcome.paragraphs))
        self.word_counts.append(count_words(body))
        self.body_keys.append(clean_body_key(outcome.paragraphs, body))
        self.headlines.extend(outcome.headlines)
        self.headline_of.extend([index] * count)
        self.positions.extend(range(1, count + 1))
        for line in outcome.dropped_lines:
            self.dropped.append((index, line.line_no, line.text, str(line.reason)))

    def to_arrow(self) -> dict[str, pa.Table]:
        """The tables that have rows."""
        tables: dict[str, pa.Table] = {}
        if self.drop_ids:
            tables.update(self._loaded())
        if self.rejected:
            names, shas, sizes, reasons, details, mtimes = zip(*self.rejected, strict=True)
            count = len(names)
            tables["rejected_drops"] = table_of("rejected_drops", {
                "file_name": pa.array(names, STRING), "sha256": pa.array(shas, STRING),
                "size_bytes": pa.array(sizes, INT64), "reason": pa.array(reasons, STRING),
                "detail": pa.array(details, STRING), "received_at": received_at(list(mtimes)),
                "rejected_at": repeated(self.ingested_at, TIMESTAMP, count),
                "run_id": repeated(self.run_id, STRING, count),
            })
        return tables

    def distinct_bodies(self) -> pa.Table | None:
        """One row a distinct article body of the batch (by body_key), in the order first met:
        its key, its first drop, its MinHash sketch and bands, for the near-duplicate clusters
        (warehouse.near_duplicates). Made here, in the reader process, where the bodies are."""
        if not self.drop_ids:
            return None
        first: dict[str, int] = {}
        for index, key in enumerate(self.body_keys):
            first.setdefault(key, index)
        at = list(first.values())
        sketches, bands = fingerprints(pa.array([self.bodies[index] for index in at], STRING))
        return pa.table({"body_key": pa.array(list(first), STRING),
                         "drop_id": pa.array([self.drop_ids[index] for index in at], STRING),
                         "sketch": sketches, "bands": bands})

    def _loaded(self) -> dict[str, pa.Table]:
        count = len(self.drop_ids)
        drop_ids = pa.array(self.drop_ids, STRING)
        run_id = repeated(self.run_id, STRING, count)
        ingested_at = repeated(self.ingested_at, TIMESTAMP, count)
        body = pa.array(self.bodies, STRING)
        char_count = pc.utf8_length(body)
        tables = {
            "drops": table_of("drops", {
                "drop_id": drop_ids, "file_name": pa.array(self.file_names, STRING),
                "sequence": pa.array(self.sequences, INT64), "name_id": pa.array(self.name_ids, STRING),
                "sha256": pa.array(self.sha256s, STRING), "size_bytes": pa.array(self.sizes, INT64),
                "encoding": pa.array(self.encodings, STRING),
                "warnings": pa.array(self.warnings, pa.list_(STRING)),
                "received_at": received_at(self.mtimes_ns), "ingested_at": ingested_at, "run_id": run_id,
                "headline_count": pa.array(self.headline_counts, INT32),
                "dropped_line_count": pa.array(self.dropped_line_counts, INT32),
                "rules_version": repeated(RULES_VERSION, INT32, count),
            }),
            "articles": table_of("articles", {
                "article_id": drop_ids, "drop_id": drop_ids, "title": pa.array(self.titles, STRING), "body": body,
                "paragraph_count": pa.array(self.paragraph_counts, INT32),
                "word_count": pa.array(self.word_counts, INT32), "char_count": char_count.cast(INT32),
                "body_key": pa.array(self.body_keys, STRING), "run_id": run_id, "ingested_at": ingested_at,
            }),
        }
        if self.headlines:
            tables["drop_headlines"] = self._headline_rows(drop_ids)
        if self.dropped:
            of, line_nos, texts, reasons = zip(*self.dropped, strict=True)
            lines = len(of)
            tables["dropped_lines"] = table_of("dropped_lines", {
                "drop_id": drop_ids.take(pa.array(of, INT64)), "line_no": pa.array(line_nos, INT32),
                "text": pa.array(texts, STRING), "reason": pa.array(reasons, STRING),
                "run_id": repeated(self.run_id, STRING, lines),
                "ingested_at": repeated(self.ingested_at, TIMESTAMP, lines),
            })
        return tables

    def _headline_rows(self, drop_ids: pa.Array) -> pa.Table:
        count = len(self.headlines)
        texts = pa.array(self.headlines, STRING)
        # Headlines recur across a batch's drops: each distinct text is keyed once.
        distinct = texts.dictionary_encode()
        ids = pa.array([headline_id(text) for text in distinct.dictionary.to_pylist()], STRING)
        return table_of("drop_headlines", {
            "drop_id": drop_ids.take(pa.array(self.headline_of, INT64)),
            "position": pa.array(self.positions, INT32), "headline_id": ids.take(distinct.indices), "text": texts,
            "run_id": repeated(self.run_id, STRING, count),
            "ingested_at": repeated(self.ingested_at, TIMESTAMP, count),
        })
