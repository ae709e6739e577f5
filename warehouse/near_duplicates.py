"""Near-duplicate clusters of article bodies, kept current in each batch's own lake snapshot.

Exact copies (one body_key) are one body; bodies are compared by MinHash (transforms/similarity.py).
The reader process stages each batch's distinct bodies with their sketches and bands; the
commit, in the batch's transaction:
1. keeps the bodies the lake has not seen, numbered on from the last (body_signatures);
2. finds the earlier bodies that share an LSH band with one of them (body_bands, and the
   batch's own new bodies), and keeps the pairs whose estimated similarity is at least
   THRESHOLD: the links;
3. gives each new body the cluster of what it links to (body_clusters). A body that links two
   clusters merges them: the later cluster's rows take the earlier one's id and their
   similarity to its first body. That update is the one change to rows already written, in a
   table of one row a distinct body (the per-run tables never get delete files).

Few statements, each over the lake's tables once: each statement on the lake costs catalog
lookups and a plan of its own (3-5 ms here). A batch's cost grows with its own bodies, with
what they match, and with the lake: body_bands is scanned whole for the band join (at 100k
drops, 2.27M rows, 50 ms of execution; benchmarks/README.md, issue 34). A rebuild empties the
three tables and fills them again batch by batch.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsdrop.transforms.similarity import THRESHOLD, from_binary, similarity
from newsdrop.warehouse.batch import BatchResult
from newsdrop.warehouse.lake import LAKE, insert, registered
from newsdrop.warehouse.schema import SIMILARITY_SCHEMA, SIMILARITY_TABLES, TIMESTAMP

SIGNATURES, BANDS_TABLE, CLUSTERS = (f"{LAKE}.{SIMILARITY_SCHEMA}.{table}" for table in SIMILARITY_TABLES)

# The earlier bodies a batch's new bodies share a band with, each once: its sketch, its cluster,
# and the new bodies it is a candidate for; and the first bodies of those clusters (their
# sketches, to measure the new bodies against). One statement.
MATCHED_SQL = f"""
WITH pairs AS (
    SELECT o.body_number AS other, list(DISTINCT n.body_number) AS bodies
    FROM _new_bands AS n JOIN {BANDS_TABLE} AS o USING (band)
    GROUP BY o.body_number
), matched AS (
    SELECT c.body_number, c.cluster_id, p.bodies FROM {CLUSTERS} AS c JOIN pairs AS p ON p.other = c.body_number
), wanted AS (
    SELECT body_number FROM matched UNION SELECT cluster_id FROM matched
)
SELECT s.body_number, s.sketch, m.cluster_id, m.bodies
FROM {SIGNATURES} AS s SEMI JOIN wanted USING (body_number)
LEFT JOIN matched AS m USING (body_number)
"""


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


def record_bodies(con: duckdb.DuckDBPyConnection, result: BatchResult) -> None:
    """Inside the batch's transaction: its new bodies, their bands and their clusters (merging
    the clusters they link)."""
    if result.bodies is None:
        return
    new = con.execute(
        f"SELECT b.body_key, b.drop_id, b.sketch, b.bands, (SELECT coalesce(max(body_number) + 1, 0) "
        f"FROM {SIGNATURES}) AS first FROM read_parquet(?, file_row_number = true) AS b "
        f"ANTI JOIN {SIGNATURES} AS s USING (body_key) ORDER BY b.file_row_number", [result.bodies.path]
    ).to_arrow_table()
    if not new.num_rows:
        return
    first = int(new["first"][0].as_py())
    numbers = np.arange(first, first + new.num_rows, dtype=np.int64)
    sketch = from_binary(new["sketch"])
    band_counts = pc.list_value_length(new["bands"]).to_numpy(zero_copy_only=False)
    band_rows = pa.table({"band": pc.list_flatten(new["bands"]), "body_number": np.repeat(numbers, band_counts)})
    clusters = Clusters()
    sketch_of: dict[int, np.ndarray] = dict(zip(numbers.tolist(), sketch, strict=True))
    earlier = _link_earlier(con, band_rows, sketch, first, clusters, sketch_of)
    _link_within(band_rows, sketch, first, clusters)
    ids = np.array([clusters.find(int(number)) for number in numbers], dtype=np.int64)
    _merge(con, {old: clusters.find(old) for old in earlier if clusters.find(old) != old}, sketch_of)
    spec = result.spec
    insert(con, SIGNATURES, pa.table({
        "body_number": numbers, "body_key": new["body_key"], "drop_id": new["drop_id"], "sketch": new["sketch"],
        "run_id": pa.repeat(pa.scalar(spec.run_id), new.num_rows),
        "ingested_at": pa.repeat(pa.scalar(spec.ingested_at, TIMESTAMP), new.num_rows)}))
    insert(con, BANDS_TABLE, band_rows)
    insert(con, CLUSTERS, pa.table({
        "body_number": numbers, "cluster_id": ids,
        "similarity": similarity(sketch, np.stack([sketch_of[int(cluster)] for cluster in ids]))}))


def _link_earlier(con: duckdb.DuckDBPyConnection, band_rows: pa.Table, sketch: np.ndarray, first: int,
                  clusters: Clusters, sketch_of: dict[int, np.ndarray]) -> set[int]:
    """Join each new body to the clusters of the earlier bodies it is a near-duplicate of; add
    the sketches of those clusters' first bodies to `sketch_of`. Returns the clusters joined."""
    with registered(con, "_new_bands", band_rows):
        matched = con.execute(MATCHED_SQL).to_arrow_table()
    if not matched.num_rows:
        return set()
    stored = from_binary(matched["sketch"])
    numbers = matched["body_number"].to_numpy()
    sketch_of.update(zip(numbers.tolist(), stored, strict=True))
    candidates = matched.filter(pc.is_valid(matched["cluster_id"]))
    others = candidates["body_number"].to_numpy()
    counts = pc.list_value_length(candidates["bodies"]).to_numpy(zero_copy_only=False)
    bodies = pc.list_flatten(candidates["bodies"]).to_numpy()
    paired = np.repeat(others, counts)  # the earlier body of each (new body, earlier body) pair
    # matched is in no order: find each candidate's row by sorting once.
    order = np.argsort(numbers)
    other_rows = order[np.searchsorted(numbers[order], paired)]
    near = similarity(sketch[bodies - first], stored[other_rows]) >= THRESHOLD
    cluster_of = dict(zip(others.tolist(), candidates["cluster_id"].to_pylist(), strict=True))
    joined = set()
    for body, other in zip(bodies[near].tolist(), paired[near].tolist(), strict=True):
        clusters.join(body, cluster_of[other])
        joined.add(cluster_of[other])
    return joined


def _link_within(band_rows: pa.Table, sketch: np.ndarray, first: int, clusters: Clusters) -> None:
    """Join the batch's new bodies that share a band and are near-duplicates of each other."""
    band = band_rows["band"].to_numpy()
    owner = band_rows["body_number"].to_numpy()
    order = np.lexsort((owner, band))
    band, owner = band[order], owner[order]
    if not (band[1:] == band[:-1]).any():
        return
    _bands, run_starts, run_lengths = np.unique(band, return_index=True, return_counts=True)
    pairs: set[tuple[int, int]] = set()
    # Each run of one band: every member with every earlier one (runs are short: few new bodies share a band).
    for start, length in zip(run_starts[run_lengths > 1].tolist(), run_lengths[run_lengths > 1].tolist(), strict=True):
        members = owner[start:start + length].tolist()
        pairs.update((b, a) for at, a in enumerate(members) for b in members[at + 1:] if a != b)
    left = np.array([body for body, _other in pairs], dtype=np.int64)
    right = np.array([other for _body, other in pairs], dtype=np.int64)
    near = similarity(sketch[left - first], sketch[right - first]) >= THRESHOLD
    for body, other in zip(left[near].tolist(), right[near].tolist(), strict=True):
        clusters.join(body, other)


def _merge(con: duckdb.DuckDBPyConnection, merged: dict[int, int], sketch_of: dict[int, np.ndarray]) -> None:
    """Clusters that a new body linked to an earlier one: their rows take that one's id and their
    similarity to its first body."""
    if not merged:
        return
    with registered(con, "_merged", pa.table({"cluster_id": pa.array(list(merged), pa.int64())})):
        members = con.execute(
            f"SELECT c.body_number, c.cluster_id, s.sketch FROM {CLUSTERS} AS c JOIN {SIGNATURES} AS s "
            "USING (body_number) SEMI JOIN _merged USING (cluster_id)").to_arrow_table()
    into = np.array([merged[cluster] for cluster in members["cluster_id"].to_pylist()], dtype=np.int64)
    moved = pa.table({
        "body_number": members["body_number"], "cluster_id": into,
        "similarity": similarity(from_binary(members["sketch"]), np.stack([sketch_of[int(c)] for c in into]))})
    with registered(con, "_moved", moved):
        con.execute(f"UPDATE {CLUSTERS} SET cluster_id = m.cluster_id, similarity = m.similarity FROM _moved AS m "
                    f"WHERE {CLUSTERS}.body_number = m.body_number")


def clear(con: duckdb.DuckDBPyConnection) -> None:
    """Inside a rebuild's transaction: every body, band and cluster goes (the batches add them again)."""
    for table in (SIGNATURES, BANDS_TABLE, CLUSTERS):
        con.execute(f"DELETE FROM {table}")
