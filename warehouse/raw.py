"""Raw bytes: every drop's bytes, accepted or rejected, as rows of the lake's raw_drops table.

A batch's reader writes the bytes of the batch's new files as one Parquet file in the
staging folder (RawFile: one file and, in S3, one upload a batch, not one per drop); the
batch's commit adds it to raw_drops together with the batch's rows and ledger entries
(store_raw), so the bytes and their readings never disagree, and bytes the lake holds
already are not stored again. A file too large to read whole is copied aside in chunks
while it is hashed, then written in chunks of CHUNK_BYTES: never held whole.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime
from typing import BinaryIO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from newsdrop.warehouse.lake import LAKE
from newsdrop.warehouse.layout import MAIN_SCHEMA, DataLayout
from newsdrop.warehouse.schema import RAW_DROPS
from newsdrop.warehouse.storage import (
    COMPRESSION,
    is_s3,
    join,
    make_durable,
    move,
    open_input,
    open_output,
    remove,
    s3_filesystem,
    s3_key,
)

RAW_DROPS_TABLE = f"{LAKE}.{MAIN_SCHEMA}.raw_drops"
CHUNK_BYTES = 1 << 20
ROW_GROUP_BYTES = 4 << 20  # bytes of content held before they are written out as a row group


def spool(source_path: str, temp: str) -> str:
    """Copy a file too large to read whole to `temp`, in chunks, hashing it on the way;
    returns its sha256. The copy, not the source, is stored: the source may change meanwhile."""
    digest = hashlib.sha256()
    with open_input(source_path) as source, open_output(temp) as sink:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
            sink.write(chunk)
    return digest.hexdigest()


class RawFile:
    """The raw_drops rows of one batch, written to one Parquet file at `path` a row group at
    a time (at most ROW_GROUP_BYTES of content held); each sha256 once."""

    def __init__(self, path: str, run_id: str, part: int, ingested_at: datetime) -> None:
        self.path = path
        self.run_id, self.part, self.ingested_at = run_id, part, ingested_at
        self.shas: dict[str, None] = {}  # in the order stored
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._held: list[tuple[object, ...]] = []  # rows, their values in RAW_DROPS's order
        self._held_bytes = 0

    def add(self, sha256: str, content: bytes) -> None:
        if sha256 not in self.shas:
            self.shas[sha256] = None
            self._row(sha256, 0, len(content), content)

    def add_streamed(self, sha256: str, size_bytes: int, source: BinaryIO) -> None:
        """A file too large to read whole, in chunks of CHUNK_BYTES."""
        if sha256 in self.shas:
            return
        self.shas[sha256] = None
        chunk = 0
        while content := source.read(CHUNK_BYTES):
            self._row(sha256, chunk, size_bytes, content)
            chunk += 1

    def _row(self, sha256: str, chunk: int, size_bytes: int, content: bytes) -> None:
        self._held.append((sha256, chunk, size_bytes, content, self.run_id, self.part, self.ingested_at))
        self.rows += 1
        self._held_bytes += len(content)
        if self._held_bytes >= ROW_GROUP_BYTES:
            self._write_held()

    def _write_held(self) -> None:
        if not self._held:
            return
        rows = pa.Table.from_arrays([pa.array(values, field.type) for values, field in
                                     zip(zip(*self._held, strict=True), RAW_DROPS, strict=True)], schema=RAW_DROPS)
        if self._writer is None:
            if is_s3(self.path):
                self._writer = pq.ParquetWriter(s3_key(self.path), RAW_DROPS, filesystem=s3_filesystem(),
                                                compression=COMPRESSION)
            else:
                self._writer = pq.ParquetWriter(self.path, RAW_DROPS, compression=COMPRESSION)
        self._writer.write_table(rows)
        self._held = []
        self._held_bytes = 0

    def close(self) -> bool:
        """Write what is held and close the file, durable on disk; False when there was nothing
        to store (no file)."""
        self._write_held()
        if self._writer is None:
            return False
        self._writer.close()
        make_durable(self.path)
        return True

    def discard(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            with contextlib.suppress(OSError):
                remove(self.path)


def store_raw(con: duckdb.DuckDBPyConnection, layout: DataLayout, staged: str, shas: list[str], file_name: str,
              moved: list[str]) -> None:
    """Inside the batch's transaction: the batch's staged raw file added to raw_drops, without
    the bytes the lake holds already (under another name, or from a run that died after storing
    them). Usually none are: the file is moved in whole and registered, not written again."""
    wanted = pa.table({"sha256": pa.array(shas, pa.string())})
    con.register("_raw_shas", wanted)
    try:
        held = [sha for (sha,) in con.execute(
            f"SELECT DISTINCT sha256 FROM {RAW_DROPS_TABLE} SEMI JOIN _raw_shas USING (sha256)").fetchall()]
    finally:
        con.unregister("_raw_shas")
    if not held:
        target = join(layout.table_url("raw_drops"), file_name)
        move(staged, target)
        moved.append(target)
        con.execute(f"CALL ducklake_add_data_files('{LAKE}', 'raw_drops', ?)", [target])
        return
    con.execute(f"INSERT INTO {RAW_DROPS_TABLE} BY NAME SELECT * FROM read_parquet(?)"
                " WHERE sha256 NOT IN (SELECT unnest(?))", [staged, held])
