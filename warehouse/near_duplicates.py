"""Near-duplicate clusters of article bodies, kept current in each batch's own lake snapshot.

Exact copies (one body_key) are one body; bodies are compared by MinHash (transforms/similarity.py).
The reader process stages each batch's distinct bodies with their signatures; the commit, in the
batch's transaction:
1. keeps the bodies the lake has not seen, numbered on from the last (body_signatures);
2. finds the earlier bodies that share an LSH band with one of them (body_bands, plus the
   batch's own new bodies), and keeps the pairs whose estimated similarity is at least
   THRESHOLD: the links;
3. gives each new body the cluster of what it links to (body_clusters). A body that links two
   clusters merges them: the later cluster's rows take the earlier one's id and their
   similarity to its first body. That update is the one change to rows already written, in a
   table of one row a distinct body (the per-run tables never get delete files).

What a batch costs grows with its own bodies and the clusters it touches; the lake's tables
are scanned only for the band hashes and the bodies it matched (measured in benchmarks/README.md).
A rebuild empties the three tables and fills them again batch by batch, in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import numpy as np
import pyarrow as pa

from newsdrop.transforms.similarity import BANDS, THRESHOLD, bands, from_binary, has_words, similarity
from newsdrop.warehouse.batch import BatchResult
from newsdrop.warehouse.lake import LAKE, insert
from newsdrop.warehouse.schema import SIMILARITY_SCHEMA, SIMILARITY_TABLES, TIMESTAMP

SIGNATURES, BANDS_TABLE, CLUSTERS = (f"{LAKE}.{SIMILARITY_SCHEMA}.{table}" for table in SIMILARITY_TABLES)


class Clusters:
    """Union-find over cluster ids and new body numbers; a set's root is its smallest number,
    the first body of the merged cluster."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, node: int) -> int:
        root = node
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while node != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def join(self, left: int, right: int) -> None:
        a, b = self.find(left), self.find(right)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _registered(con: duckdb.DuckDBPyConnection, name: str, numbers: Iterable[int]) -> None:
    con.register(name, pa.table({"body_number": pa.array(sorted(set(numbers)), pa.int64())}))


def _signatures_of(con: duckdb.DuckDBPyConnection, numbers: set[int]) -> dict[int, np.ndarray]:
    """The stored signatures of these bodies (one scan of body_signatures)."""
    if not numbers:
        return {}
    _registered(con, "_wanted", numbers)
    try:
        found = con.execute(f"SELECT body_number, signature FROM {SIGNATURES} SEMI JOIN _wanted USING (body_number)"
                            ).to_arrow_table()
    finally:
        con.unregister("_wanted")
    rows = from_binary(found["signature"])
    return dict(zip(found["body_number"].to_pylist(), rows, strict=True))


def record_bodies(con: duckdb.DuckDBPyConnection, result: BatchResult) -> None:
    """Inside the batch's transaction: its new bodies, their bands and their clusters (merging
    the clusters they link)."""
    if result.bodies is None:
        return
    new = con.execute(
        f"SELECT b.body_key, b.drop_id, b.signature FROM read_parquet(?, file_row_number = true) AS b "
        f"ANTI JOIN {SIGNATURES} AS s USING (body_key) ORDER BY b.file_row_number", [result.bodies.path]
    ).to_arrow_table()
    if not new.num_rows:
        return
    row = con.execute(f"SELECT coalesce(max(body_number) + 1, 0) FROM {SIGNATURES}").fetchone()
    first = int(row[0]) if row else 0
    numbers = np.arange(first, first + new.num_rows, dtype=np.int64)
    rows = from_binary(new["signature"])
    worded = has_words(rows)
    band_rows = pa.table({"band": bands(rows[worded]).ravel(),
                          "body_number": np.repeat(numbers[worded], BANDS)})
    links = _links(con, band_rows, first, rows)
    cluster_of, kept = _clusters_of(con, {other for _body, other in links if other < first})
    clusters = Clusters()
    for body, other in links:
        clusters.join(body, cluster_of[other] if other < first else other)
    ids = np.array([clusters.find(int(number)) for number in numbers], dtype=np.int64)
    signature_of = dict(kept)
    signature_of.update(zip(numbers.tolist(), rows, strict=True))
    _merge(con, {old: clusters.find(old) for old in set(cluster_of.values()) if clusters.find(old) != old},
           signature_of)
    spec = result.spec
    insert(con, SIGNATURES, pa.table({
        "body_number": numbers, "body_key": new["body_key"], "drop_id": new["drop_id"],
        "signature": new["signature"], "run_id": pa.repeat(pa.scalar(spec.run_id), new.num_rows),
        "ingested_at": pa.repeat(pa.scalar(spec.ingested_at, TIMESTAMP), new.num_rows)}))
    insert(con, BANDS_TABLE, band_rows)
    insert(con, CLUSTERS, pa.table({
        "body_number": numbers, "cluster_id": ids,
        "similarity": similarity(rows, np.stack([signature_of[int(cluster)] for cluster in ids]))}))


def _links(con: duckdb.DuckDBPyConnection, band_rows: pa.Table, first: int,
           rows: np.ndarray) -> list[tuple[int, int]]:
    """(new body, earlier body) pairs that share a band and are near-duplicates: the earlier
    body from the lake or from this batch (a smaller number)."""
    con.register("_new_bands", band_rows)
    try:
        pairs = con.execute(
            f"SELECT DISTINCT n.body_number AS body, o.body_number AS other FROM _new_bands AS n "
            f"JOIN (SELECT band, body_number FROM {BANDS_TABLE} UNION ALL SELECT band, body_number FROM _new_bands) "
            "AS o USING (band) WHERE o.body_number < n.body_number ORDER BY body, other").fetchnumpy()
    finally:
        con.unregister("_new_bands")
    body, other = pairs["body"].astype(np.int64), pairs["other"].astype(np.int64)
    if not len(body):
        return []
    stored = _signatures_of(con, set(other[other < first].tolist()))
    other_rows = np.stack([rows[number - first] if number >= first else stored[int(number)] for number in other])
    near = similarity(rows[body - first], other_rows) >= THRESHOLD
    return list(zip(body[near].tolist(), other[near].tolist(), strict=True))


def _clusters_of(con: duckdb.DuckDBPyConnection,
                 earlier: set[int]) -> tuple[dict[int, int], dict[int, np.ndarray]]:
    """The clusters of the earlier bodies linked to, and the signatures of those clusters' first bodies."""
    if not earlier:
        return {}, {}
    _registered(con, "_linked", earlier)
    try:
        cluster_of = dict(con.execute(
            f"SELECT body_number, cluster_id FROM {CLUSTERS} SEMI JOIN _linked USING (body_number)").fetchall())
    finally:
        con.unregister("_linked")
    return cluster_of, _signatures_of(con, set(cluster_of.values()))


def _merge(con: duckdb.DuckDBPyConnection, merged: dict[int, int], signature_of: dict[int, np.ndarray]) -> None:
    """Clusters that a new body linked to an earlier one: their rows take that one's id and their
    similarity to its first body."""
    if not merged:
        return
    con.register("_merged", pa.table({"cluster_id": pa.array(list(merged), pa.int64())}))
    try:
        members = con.execute(
            f"SELECT c.body_number, c.cluster_id, s.signature FROM {CLUSTERS} AS c JOIN {SIGNATURES} AS s "
            "USING (body_number) SEMI JOIN _merged USING (cluster_id) ORDER BY c.body_number").to_arrow_table()
    finally:
        con.unregister("_merged")
    into = np.array([merged[cluster] for cluster in members["cluster_id"].to_pylist()], dtype=np.int64)
    moved = pa.table({
        "body_number": members["body_number"], "cluster_id": into,
        "similarity": similarity(from_binary(members["signature"]), np.stack([signature_of[int(c)] for c in into]))})
    con.register("_moved", moved)
    try:
        con.execute(f"UPDATE {CLUSTERS} SET cluster_id = m.cluster_id, similarity = m.similarity FROM _moved AS m "
                    f"WHERE {CLUSTERS}.body_number = m.body_number")
    finally:
        con.unregister("_moved")


def clear(con: duckdb.DuckDBPyConnection) -> None:
    """Inside a rebuild's transaction: every body, band and cluster goes (the batches add them again)."""
    for table in (SIGNATURES, BANDS_TABLE, CLUSTERS):
        con.execute(f"DELETE FROM {table}")
