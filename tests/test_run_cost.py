"""The per-run cost follows the new work, not the history.

A run commits only its own batches: new Parquet files, new raw files, a few catalog
rows. It rewrites nothing it wrote before (the design before DuckLake copied the
whole database on each run: O(history) bytes per run). Measured in bytes written
under DATA, not in seconds, so that the test holds on any machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import newsdrop
from benchmarks.generate import generate

HISTORY = 3000
NEW = 100
FACTOR = 3
"""Allowed ratio of the big warehouse's run to the empty warehouse's run, for the same
100 drops. Both write the same raw files, Parquet files and catalog rows; the big one
also rewrites its (larger) catalog file in our conservative count below. A run whose
writes grew with the history would write ~30x here (3000 drops of history vs 100 new),
and copying the database part alone (catalog and lake, ~5.4 MB) would be ~6.5x; so 3x
separates "follows the new work" (measured: 1.02x) from O(history) with a margin either way."""

Listing = dict[str, tuple[int, int, int]]


def listing(data: Path) -> Listing:
    """Every file under DATA with (size, mtime_ns, inode)."""
    found = {}
    for path in data.rglob("*"):
        if path.is_file():
            stat = path.stat()
            found[str(path.relative_to(data))] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    return found


def changed(before: Listing, after: Listing) -> dict[str, int]:
    return {name: size for name, (size, mtime, inode) in after.items() if before.get(name) != (size, mtime, inode)}


def bytes_written(before: Listing, after: Listing) -> int:
    """The bytes of every file that is new or changed.

    A file changed in place (catalog.sqlite, its -wal and -shm) counts its FULL size
    after the run, not the size delta: SQLite rewrites pages in place, so a delta of 0
    can hide real writes, while the full size is an upper bound on what the run could
    have written to it. That overcounts against the big warehouse, whose catalog is
    the larger one, so passing with it is the stronger result."""
    return sum(changed(before, after).values())


def areas(files: dict[str, int]) -> dict[str, int]:
    """Bytes by top folder (raw, lake, _state) or file (catalog.sqlite...), for the messages."""
    found: dict[str, int] = {}
    for name, size in files.items():
        found[name.split("/")[0]] = found.get(name.split("/")[0], 0) + size
    return found


def copy_drops(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        shutil.copy2(path, target / path.name)  # keeps the mtime: the same file versions in both inboxes


def test_the_per_run_cost_follows_the_new_work(tmp_path: Path) -> None:
    new = tmp_path / "new"
    generate(NEW, new, seed=21, corpora=None, start=HISTORY)

    big_inbox, big = tmp_path / "big-inbox", tmp_path / "big"
    generate(HISTORY, big_inbox, seed=21, corpora=None)
    newsdrop.ingest(big_inbox, big, settle_seconds=0, workers=1)
    # The database part of the history (the catalog and the lake, not the raw store):
    # what the design before DuckLake copied on each run.
    history_bytes = sum(size for name, (size, _mtime, _inode) in listing(big).items()
                        if not name.startswith(("raw/", "_state/")))
    copy_drops(new, big_inbox)
    before = listing(big)
    summary = newsdrop.ingest(big_inbox, big, settle_seconds=0, workers=1)
    assert (summary.files_new, summary.drops_loaded + summary.files_rejected) == (NEW, NEW), summary
    after = listing(big)
    big_run = bytes_written(before, after)
    # The search index's files are tantivy's to merge and delete (it is derived from the lake).
    assert not [name for name in before if name not in after and not name.startswith("_search/")], \
        "a run deleted files of earlier runs"

    empty_inbox, empty = tmp_path / "empty-inbox", tmp_path / "empty"
    copy_drops(new, empty_inbox)
    summary = newsdrop.ingest(empty_inbox, empty, settle_seconds=0, workers=1)
    assert (summary.files_new, summary.drops_loaded + summary.files_rejected) == (NEW, NEW), summary
    empty_listing = listing(empty)
    empty_run = bytes_written({}, empty_listing)

    assert newsdrop.query(big, "SELECT count(*) AS n FROM drops")["n"][0] + \
        newsdrop.query(big, "SELECT count(*) AS n FROM rejected_drops")["n"][0] == HISTORY + NEW
    print(f"\n{NEW} drops written: {big_run:,} bytes into a warehouse of {HISTORY} drops "
          f"({history_bytes:,} bytes), {empty_run:,} bytes into an empty one "
          f"(ratio {big_run / empty_run:.2f}); by area: {areas(changed(before, after))} vs "
          f"{areas(changed({}, empty_listing))}")
    # The measure tells the two designs apart: a run that copied the database (catalog and
    # lake) would write at least history_bytes, more than the bound allows.
    assert history_bytes > FACTOR * empty_run, (history_bytes, empty_run)
    assert big_run <= FACTOR * empty_run, (big_run, empty_run, areas(changed(before, after)))
