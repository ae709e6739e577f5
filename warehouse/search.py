"""Ranked search over every article: a tantivy index beside the lake, derived from it.

The index (DATA/_search; for data in S3, a folder of this machine's cache) holds every article's
title and body, tokenized with English stemming and ranked by BM25, and stores what a search
shows: the drop's id, title, body (for the snippet), received_at and near-duplicate cluster. A
search whose index has taken in the lake's last snapshot (read from a SQLite catalog directly)
reads nothing else; reading the hits from the lake instead cost 270 ms at 100k (DuckLake cannot
prune random drop ids), the index 1.6 ms.

The index records the lake snapshot it has taken in (its number and time: a lake made anew at
the same path has other times) and this module's INDEX_VERSION. Bringing it up to date reads the
articles changed since then from the lake's change feed (DuckLake's `table_changes`), and the
bodies whose cluster was merged into another (the feed of similarity.body_clusters), or every
article when the index is missing, belongs to another lake or version, or the snapshots it would
need were expired (vacuum, rebuild); each change is a delete of the drop's document and, for an
insert, its document added again, so taking in the same change twice changes nothing and an
index that committed but died before recording its snapshot is mended by the next catch-up.
Runs bring it up to date after each batch's commit (newsdrop.engine.SearchFeed, holding one
writer for the run: IndexWriting), searches before they search. One process writes at a time
(tantivy's writer lock); one that finds the lock taken leaves the work to its holder (a search
reads the index as it is). The lake never needs the index: deleting DATA/_search loses nothing.

Why tantivy (issue 35): DuckDB's fts extension cannot index a DuckLake table nor load in the
read-only connection, and has no incremental update; SQLite FTS5 stored the text at 88 MB for
20k articles. Measured here (benchmarks/README.md): a search 8.6 ms (median) at 100k; the index
47 MB at 20k and 225 MB at 100k, the bodies stored in it; indexing about 210-240 µs of CPU an
article, English stemming and positions most of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import tantivy

from newsdrop.errors import NewsdropError, first_line
from newsdrop.warehouse.lake import LAKE, connect_read_only, current_snapshot
from newsdrop.warehouse.layout import DataLayout

INDEX_VERSION = 3  # the fields below and their tokenizers: a change makes every index be built anew
STATE_FILE = "indexed.json"
TITLE_BOOST = 2.0  # a word of the title counts as much as two of the body
SNIPPET_CHARACTERS = 200
WRITER_HEAP_BYTES = 64_000_000
ARTICLES_CHUNK = 2_000  # articles read from the lake at a time when the index is built whole
RESULT_COLUMNS = ["drop_id", "score", "title", "snippet", "cluster_id", "received_at"]

# An article as the index keeps it: its drop's date, and its body's number and near-duplicate
# cluster (NULL for drops taken in before near-duplicates were kept).
_DOCUMENT_COLUMNS = "a.drop_id, a.title, a.body, d.received_at, s.body_number, c.cluster_id"
_WITH_CLUSTER = f"""
LEFT JOIN {LAKE}.similarity.body_signatures AS s USING (body_key)
LEFT JOIN {LAKE}.similarity.body_clusters AS c USING (body_number)"""
ARTICLES_SQL = f"SELECT {_DOCUMENT_COLUMNS} FROM articles AS a JOIN drops AS d USING (drop_id) {_WITH_CLUSTER}"
# The changes to articles between two snapshots, in order; a drop's deletion before its insertion
# within one snapshot (a rebuild deletes and inserts every article in one).
CHANGES_SQL = f"""
SELECT {_DOCUMENT_COLUMNS}, a.change_type IN ('insert', 'update_postimage') AS inserted
FROM ducklake_table_changes('{LAKE}', 'main', 'articles', $start, $end) AS a
LEFT JOIN drops AS d USING (drop_id) {_WITH_CLUSTER}
ORDER BY a.snapshot_id, inserted, a.rowid
"""
# Bodies whose cluster changed (a later body merged their cluster into an earlier one).
MERGES_SQL = f"""
SELECT body_number, cluster_id FROM {LAKE}.similarity.body_clusters WHERE body_number IN (
    SELECT body_number FROM ducklake_table_changes('{LAKE}', 'similarity', 'body_clusters', $start, $end)
    WHERE change_type = 'update_postimage')
"""
# The lake's last snapshot, read from a SQLite catalog without DuckDB (DuckLake's catalog
# schema: ducklake_snapshot); its time as DuckDB prints it.
CATALOG_SNAPSHOT_SQL = "SELECT snapshot_id, snapshot_time FROM ducklake_snapshot ORDER BY snapshot_id DESC LIMIT 1"


def _schema() -> tantivy.Schema:
    """What a search ranks on (title, body, received_at) and everything it shows, stored, so that
    a search reads nothing but the index."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("drop_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("body", stored=True, tokenizer_name="en_stem")
    builder.add_date_field("received_at", stored=False, indexed=True, fast=True)  # whole seconds
    builder.add_integer_field("received_us", stored=True)  # the time as it is, in µs since 1970
    builder.add_integer_field("body_number", stored=True, indexed=True)
    # Columns (fast fields) for collapsing hits into clusters in the order of their drop_id
    # without reading each hit's stored document (a common query's hits run to hundreds).
    builder.add_integer_field("cluster_id", stored=True, fast=True)
    builder.add_unsigned_field("drop_key", fast=True)  # drop_id's 16 hex digits as a number
    return builder.build()


@dataclass(frozen=True)
class IndexState:
    """What the index has taken in: the lake up to a snapshot, known by its number and time."""

    snapshot_id: int
    snapshot_time: str
    version: int = INDEX_VERSION


@dataclass(frozen=True)
class Caught:
    """What bringing the index up to date did."""

    whole: bool
    """Every article was read (a new index, another lake or version, or history expired)."""
    changes: int
    """Documents deleted or added."""
    snapshot_id: int


def index_folder(layout: DataLayout) -> Path:
    return layout.search_index


def _read_state(folder: Path) -> IndexState | None:
    try:
        recorded = json.loads((folder / STATE_FILE).read_text())
        return IndexState(int(recorded["snapshot_id"]), str(recorded["snapshot_time"]), int(recorded["version"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(folder: Path, state: IndexState) -> None:
    """Whole or not at all: written beside, synced, then renamed over."""
    temporary = folder / (STATE_FILE + ".new")
    with open(temporary, "w") as out:
        json.dump(state.__dict__, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, folder / STATE_FILE)


def _open_index(folder: Path, state: IndexState | None) -> tantivy.Index:
    """The index at `folder`, made anew when it is missing or of another version."""
    if state is not None and state.version != INDEX_VERSION and folder.exists():
        shutil.rmtree(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return tantivy.Index(_schema(), path=str(folder))
    except (OSError, ValueError) as error:
        raise NewsdropError(f"cannot open the search index at {folder} ({error}): delete it, and the next "
                            "search builds it again from the lake") from error


def _writer(index: tantivy.Index, threads: int) -> tantivy.IndexWriter | None:
    """The index's writer, or None when another process holds it (it is catching up itself)."""
    try:
        return index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=threads)
    except ValueError as error:
        if "LockBusy" in str(error):
            return None
        raise


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _document(drop_id: str, title: str | None, body: str | None, received_at: datetime | None,
              body_number: int | None, cluster_id: int | None) -> tantivy.Document:
    document = tantivy.Document(drop_id=drop_id, body=body or "")
    document.add_unsigned("drop_key", int(drop_id, 16))
    if title is not None:
        document.add_text("title", title)
    if received_at is not None:
        document.add_date("received_at", received_at)
        document.add_integer("received_us", (received_at - _EPOCH) // timedelta(microseconds=1))
    if body_number is not None:
        document.add_integer("body_number", body_number)
    if cluster_id is not None:
        document.add_integer("cluster_id", cluster_id)
    return document


def _stored(document: tantivy.Document, field: str) -> Any:
    """A stored field's one value, or None."""
    values = document.get_all(field)
    return values[0] if values else None


def _received_at(document: tantivy.Document) -> datetime | None:
    """The stored received_at, to the µs (the date field keeps whole seconds)."""
    received_us = _stored(document, "received_us")
    return None if received_us is None else _EPOCH + timedelta(microseconds=received_us)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> Iterator[tuple[Any, ...]]:
    """A query's rows, ARTICLES_CHUNK at a time: a whole lake's bodies need not fit in memory."""
    reader = con.execute(sql, params or {}).to_arrow_reader(ARTICLES_CHUNK)
    for batch in reader:
        yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)


class IndexWriting:
    """The index brought up to date by one process, as often as it likes (a run: after each
    batch), with one tantivy writer held from the first catch-up to `close`: each catch-up's
    documents are committed (visible to searches) before its snapshot is recorded, and the
    segments they make are merged in tantivy's background threads, waited for only at `close`.
    While it holds the writer, other processes leave the index to it."""

    def __init__(self, layout: DataLayout, threads: int = 1) -> None:
        self.folder = index_folder(layout)
        self.threads = threads
        self.writer: tantivy.IndexWriter | None = None

    def catch_up(self, con: duckdb.DuckDBPyConnection, *, whole: bool = False) -> Caught | None:
        """Bring the index up to the lake's current snapshot (as `con` sees it); `whole` reads
        every article again. None when another process holds the index's writer."""
        snapshot_id = current_snapshot(con)
        if not whole and _taken_in(con, _read_state(self.folder)) == snapshot_id:
            return Caught(False, 0, snapshot_id)  # the usual case of a search: no writer needed
        if self.writer is None:
            self.writer = _writer(_open_index(self.folder, _read_state(self.folder)), self.threads)
            if self.writer is None:
                return None
        writer = self.writer
        try:
            # Read again under the writer's lock: another process may have moved it on.
            taken_in = None if whole else _taken_in(con, _read_state(self.folder))
            if taken_in is not None and taken_in >= snapshot_id:
                changed: int | None = 0
            else:
                changed = None if taken_in is None else self._take_changes(con, taken_in + 1, snapshot_id)
            if changed is None:
                writer.delete_all_documents()
                changed = 0
                for row in _rows(con, ARTICLES_SQL):
                    writer.add_document(_document(*row))
                    changed += 1
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        _write_state(self.folder, IndexState(snapshot_id, _snapshot_time(con, snapshot_id) or ""))
        return Caught(taken_in is None, changed, snapshot_id)

    def _take_changes(self, con: duckdb.DuckDBPyConnection, start: int, end: int) -> int | None:
        """Apply the changes to articles, and to clusters, from snapshot `start` to `end`; None
        when the lake no longer keeps them (then the index is built whole)."""
        assert self.writer is not None
        try:
            rows = list(_rows(con, CHANGES_SQL, {"start": start, "end": end}))
            merges = con.execute(MERGES_SQL, {"start": start, "end": end}).fetchall()
        except duckdb.Error:
            return None
        for *document, inserted in rows:
            self.writer.delete_documents_by_term("drop_id", document[0])
            if inserted:
                self.writer.add_document(_document(*document))
        return len(rows) + self._move_to_merged_clusters(merges, {row[0] for row in rows})

    def _move_to_merged_clusters(self, merges: list[tuple[int, int]], changed: set[str]) -> int:
        """The documents of bodies whose cluster was merged into another, added again with that
        cluster (from their stored fields: tantivy changes a document by replacing it); those of
        articles changed in the same catch-up came with their cluster already."""
        assert self.writer is not None
        if not merges:
            return 0
        index = tantivy.Index.open(str(self.folder))
        index.reload()
        searcher, schema, moved = index.searcher(), index.schema, 0
        for body_number, cluster_id in merges:
            for address in _all_hits(searcher, tantivy.Query.term_query(schema, "body_number", body_number)):
                stored = searcher.doc(address)
                drop_id = _stored(stored, "drop_id")
                if drop_id in changed or _stored(stored, "cluster_id") == cluster_id:
                    continue
                self.writer.delete_documents_by_term("drop_id", drop_id)
                self.writer.add_document(_document(drop_id, _stored(stored, "title"), _stored(stored, "body"),
                                                   _received_at(stored), body_number, cluster_id))
                moved += 1
        return moved

    def close(self) -> None:
        """Wait for the merges, and let the writer (and its lock) go."""
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.wait_merging_threads()


def _all_hits(searcher: tantivy.Searcher, query: tantivy.Query) -> list[tantivy.DocAddress]:
    """Every document a query matches: asked for a few (a body's drops are few), then for more
    while the answer is full (a search's cost grows with the number asked for, not found)."""
    wanted = 16
    while True:
        hits = searcher.search(query, wanted, count=False).hits
        if len(hits) < wanted:
            return [address for _score, address in hits]
        wanted *= 16


def catch_up(layout: DataLayout, con: duckdb.DuckDBPyConnection, *, whole: bool = False,
             threads: int = 1) -> Caught | None:
    """`IndexWriting.catch_up` once (a search's, a reindex's, vacuum's)."""
    writing = IndexWriting(layout, threads)
    try:
        return writing.catch_up(con, whole=whole)
    finally:
        writing.close()


def _snapshot_time(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> str | None:
    """When the lake made a snapshot it still keeps, else None."""
    row = con.execute(f"SELECT snapshot_time::VARCHAR FROM {LAKE}.snapshots() WHERE snapshot_id = ?",
                      [snapshot_id]).fetchone()
    return str(row[0]) if row else None


def _taken_in(con: duckdb.DuckDBPyConnection, state: IndexState | None) -> int | None:
    """The snapshot of this lake the index has taken in everything up to, or None when it must be
    built whole: no index, another version, a snapshot no longer kept (expiry takes the oldest
    first, so the changes after it may be gone too), or one of another lake (made anew at the
    same path: its snapshot of that number was made at another time)."""
    if state is None or state.version != INDEX_VERSION:
        return None
    return state.snapshot_id if _snapshot_time(con, state.snapshot_id) == state.snapshot_time else None


def keep_current(writing: IndexWriting, con: duckdb.DuckDBPyConnection) -> str | None:
    """A catch-up for a run or vacuum: None, or what went wrong as a note for its report. Neither
    ever fails for the index: it is derived, and the next search or run catches it up."""
    try:
        writing.catch_up(con)
    except Exception as error:
        return f"search index not brought up to date ({first_line(error)}): the next search or run catches it up"
    return None


def _day_start(value: date | datetime | str, name: str, *, after: bool) -> datetime:
    """A --since or --until bound as a moment: a date is its whole UTC day (until: up to its end)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value.strip() else date.fromisoformat(value)
        except ValueError:
            raise NewsdropError(f"{name} {value!r} is not a date: give YYYY-MM-DD (or an ISO 8601 time)") from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.combine(value, time(0), tzinfo=UTC)
    return moment + timedelta(days=1) if after else moment


def search(layout: DataLayout, query: str, *, limit: int = 10, since: date | datetime | str | None = None,
           until: date | datetime | str | None = None) -> pd.DataFrame:
    """The best `limit` near-duplicate clusters for `query` (the best-scoring drop of each):
    BM25 over titles (counted TITLE_BOOST times) and bodies, words stemmed (English), as
    tantivy's query language reads it (words, "phrases", AND, OR, -word, title:word); a query it
    cannot parse is read leniently. Read from the index alone, once it is current: the lake is
    opened only to catch it up."""
    if not query.strip():
        raise NewsdropError("give words to search for, e.g. newsdrop search \"oil prices\"")
    if not 1 <= limit <= 10_000:
        raise NewsdropError(f"limit = {limit!r} is not allowed: from 1 to 10000 results")
    lower = _day_start(since, "--since", after=False) if since is not None else None
    upper = _day_start(until, "--until", after=True) if until is not None else None
    if not _current_by_catalog(layout):
        with connect_read_only(layout) as con:
            catch_up(layout, con)
    index = _open_index(index_folder(layout), _read_state(index_folder(layout)))
    parsed, _errors = index.parse_query_lenient(query, ["title", "body"], field_boosts={"title": TITLE_BOOST})
    ranked: tantivy.Query = parsed
    if lower is not None or upper is not None:
        received = tantivy.Query.range_query(index.schema, "received_at", tantivy.FieldType.Date, lower, upper,
                                             include_upper=upper is None)
        ranked = tantivy.Query.boolean_query([(tantivy.Occur.Must, parsed), (tantivy.Occur.Must, received)])
    searcher = index.searcher()
    snippets = tantivy.SnippetGenerator.create(searcher, parsed, index.schema, "body")
    snippets.set_max_num_chars(SNIPPET_CHARACTERS)
    wanted = max(limit * 5, 50)
    while True:
        found = searcher.search(ranked, wanted, count=False)
        rows = _best_of_clusters(searcher, found.hits, limit)
        if len(rows) >= limit or len(found.hits) < wanted:
            break
        wanted *= 4  # clusters filled the hits: look further down the ranking
    for row in rows:
        row["snippet"] = _snippet(snippets, row.pop("document"))
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    frame["cluster_id"] = frame["cluster_id"].astype("Int64")
    frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True)
    return frame


def _current_by_catalog(layout: DataLayout) -> bool:
    """Whether the index has taken in the lake's last snapshot, asked of a SQLite catalog
    directly (a read of one row: opening the lake in DuckDB costs hundreds of ms). False when it
    cannot tell (no index, no catalog file, a PostgreSQL catalog): then the lake is asked."""
    state = _read_state(index_folder(layout))
    if state is None or state.version != INDEX_VERSION or layout.catalog_spec.shared or not layout.catalog.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{layout.catalog.as_uri()}?mode=ro", uri=True)) as catalog:
            row = catalog.execute(CATALOG_SNAPSHOT_SQL).fetchone()
    except sqlite3.Error:
        return False
    return row is not None and (int(row[0]), str(row[1])) == (state.snapshot_id, state.snapshot_time)


def _best_of_clusters(searcher: tantivy.Searcher, hits: list[tuple[float, tantivy.DocAddress]],
                      limit: int) -> list[dict[str, Any]]:
    """The hits, one a cluster, at most `limit`, with what the index stored of them; equal scores
    in the order of their drop_id, so that the same search gives the same page."""
    addresses = [address for _score, address in hits]
    clusters = searcher.fast_field_values("cluster_id", addresses)
    keys = searcher.fast_field_values("drop_key", addresses)
    ranked = sorted(zip((score for score, _address in hits), keys, clusters, addresses, strict=True),
                    key=lambda hit: (-hit[0], hit[1]))
    rows: list[dict[str, Any]] = []
    seen: set[object] = set()
    for score, key, cluster_id, address in ranked:
        if (cluster_id if cluster_id is not None else ("drop", key)) in seen:
            continue
        seen.add(cluster_id if cluster_id is not None else ("drop", key))
        document = searcher.doc(address)
        rows.append({"drop_id": _stored(document, "drop_id"), "score": round(float(score), 4),
                     "title": _stored(document, "title"), "document": document, "cluster_id": cluster_id,
                     "received_at": _received_at(document)})
        if len(rows) == limit:
            break
    return rows


def _snippet(snippets: tantivy.SnippetGenerator, document: tantivy.Document) -> str:
    """The body's passage with the most of the query's words, else its first words."""
    fragment = str(snippets.snippet_from_doc(document).fragment()).strip()
    if fragment:
        return " ".join(fragment.split())
    body = _stored(document, "body") or ""
    opening = " ".join(body[:SNIPPET_CHARACTERS * 2].split())
    return opening if len(opening) <= SNIPPET_CHARACTERS else opening[:SNIPPET_CHARACTERS].rsplit(" ", 1)[0] + " …"
