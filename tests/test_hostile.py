"""Hostile inputs and file-system surprises: each is rejected or skipped with a
reason, never a crash, and nothing outside the inbox is read."""

from __future__ import annotations

import builtins
import codecs
import gzip
import hashlib
import os
import random
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import DROPS
from fuzz_reader import fuzz
from helpers import counts, ingest, make_inbox, query, rebuild

from newsdrop.transforms.names import name_is_utf8, recorded_name
from newsdrop.warehouse.batch import BatchSpec, Candidate, read_batch
from newsdrop.warehouse.inbox import Listed, list_inbox
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.schema import FileOutcome

SAMPLE = (DROPS / "001_c780d2942f53d682.txt").read_bytes()


def test_fuzzed_inputs_are_read_or_rejected() -> None:
    seen = fuzz(3000, seed=42)
    assert seen["read"] > 0 and seen["rejected"] > 0


def candidate(folder: Path, name: str) -> Candidate:
    stat = (folder / name).stat() if (folder / name).exists() else None
    return Candidate(Listed(name, stat.st_size if stat else 10, stat.st_mtime_ns if stat else 0))


def batch(inbox: Path, data: Path, names: list[str], max_bytes: int = 1 << 24) -> Any:
    spec = BatchSpec("run", datetime.now(UTC), 0, "run")
    return read_batch(spec, [candidate(inbox, name) for name in names], str(inbox), DataLayout(data), max_bytes)


def test_a_file_that_vanishes_before_reading_is_skipped(tmp_path: Path) -> None:
    result = batch(tmp_path, tmp_path / "data", ["gone.txt"])
    assert result.skipped == [("gone.txt", "vanished")]
    assert result.versions == []


def test_permission_denied_rejects_that_file_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked.txt").write_bytes(SAMPLE)
    (tmp_path / "fine.txt").write_bytes(SAMPLE)
    real_open = builtins.open

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    result = batch(tmp_path, tmp_path / "data", ["locked.txt", "fine.txt"])
    assert result.rejects == [("locked.txt", "unreadable")]
    assert result.count(FileOutcome.LOADED) == 1


def test_too_large_is_rejected_without_reading_it_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:
        for _ in range(40):
            handle.write(os.urandom(1 << 20))
    data = tmp_path / "data"
    tracemalloc.start()
    result = batch(tmp_path, data, ["big.txt"], max_bytes=1 << 20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.rejects == [("big.txt", "too_large")]
    assert peak < 8 << 20, f"peak {peak / 1e6:.1f} MB while keeping a 40 MB file"
    sha = result.versions[0].sha256
    assert sha == hashlib.sha256(big.read_bytes()).hexdigest()
    # Staged for raw_drops in 40 chunks of 1 MiB, the file whole again when they are joined.
    assert result.raw_shas == [sha]
    chunks = pq.read_table(result.raw.path).sort_by("chunk")
    assert chunks["chunk"].to_pylist() == list(range(40))
    assert set(chunks["size_bytes"].to_pylist()) == {40 << 20}
    assert b"".join(chunks["content"].to_pylist()) == big.read_bytes()
    assert pq.ParquetFile(result.raw.path).metadata.num_row_groups >= 10  # written as it was read


def test_listing_skips_in_progress_names_and_files_still_being_written(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt.part", "c.tmp", ".hidden.txt", "d.txt~", "e.md"):
        (tmp_path / name).write_bytes(SAMPLE)
    (tmp_path / "folder.txt").mkdir()
    old = time.time() - 60
    os.utime(tmp_path / "a.txt", (old, old))
    (tmp_path / "fresh_and_done.txt").write_bytes(SAMPLE)
    (tmp_path / "growing.txt").write_bytes(SAMPLE[:100])
    waited = []

    def writer_keeps_writing(seconds: float) -> None:
        waited.append(seconds)
        with open(tmp_path / "growing.txt", "ab") as handle:
            handle.write(SAMPLE[100:])

    listing = list_inbox(str(tmp_path), settle_seconds=5, sleep=writer_keeps_writing)
    assert waited == [5]  # one wait for all recent files
    assert [item.name for item in listing.drops] == ["a.txt", "fresh_and_done.txt"]
    assert listing.settling == ["growing.txt"]


def test_listing_does_not_wait_when_every_file_has_settled(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(SAMPLE)
    old = time.time() - 60
    os.utime(tmp_path / "a.txt", (old, old))
    listing = list_inbox(str(tmp_path), settle_seconds=5, sleep=lambda _: pytest.fail("waited for nothing"))
    assert [item.name for item in listing.drops] == ["a.txt"]


def test_symlinks_out_of_the_inbox_are_not_followed_and_dangling_ones_are_said(tmp_path: Path) -> None:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret body.\n\n\nSecret headline\nOther secret\n")
    (inbox / "real.txt").write_bytes(SAMPLE)
    (inbox / "escape.txt").symlink_to(outside / "secret.txt")
    (inbox / "alias.txt").symlink_to(inbox / "real.txt")
    (inbox / "dangling.txt").symlink_to(inbox / "gone.txt")
    (inbox / "dangling-outside.txt").symlink_to(outside / "gone.txt")
    listing = list_inbox(str(inbox), settle_seconds=0)
    assert sorted(listing.refused) == [("dangling-outside.txt", "dangling_symlink"),
                                       ("dangling.txt", "dangling_symlink"), ("escape.txt", "symlink_outside_inbox")]
    assert [item.name for item in listing.drops] == ["alias.txt", "real.txt"]


def test_a_symlink_swapped_after_listing_is_still_not_followed(tmp_path: Path) -> None:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SAMPLE)
    (inbox / "swap.txt").write_bytes(SAMPLE)
    listed = candidate(inbox, "swap.txt")
    (inbox / "swap.txt").unlink()
    (inbox / "swap.txt").symlink_to(outside / "secret.txt")
    spec = BatchSpec("run", datetime.now(UTC), 0, "run")
    result = read_batch(spec, [listed], str(inbox), DataLayout(tmp_path / "data"), 1 << 24)
    assert result.skipped == [("swap.txt", "symlink_outside_inbox")]
    assert result.count(FileOutcome.LOADED) == 0


def test_hostile_file_names_work_end_to_end(tmp_path: Path) -> None:
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    inbox.mkdir()
    names = ["with space.txt", "quote'\"s.txt", "semi;colon; DROP TABLE drops;.txt", "ünïcødé 新闻.txt",
             "-leading-dash.txt", "--help.txt", "new\nline.txt", "$(touch pwned).txt", "back\\slash.txt"]
    for name in names:
        (inbox / name).write_bytes(SAMPLE)
    result = ingest(inbox, data)
    assert f"{len(names)} loaded" in result
    assert sorted(row[0] for row in query(data, "SELECT file_name FROM drops")) == sorted(names)
    assert not Path("pwned").exists() and not (inbox / "pwned").exists()


def fuzzed_byte_names(count: int, seed: int) -> set[bytes]:
    """File names as the file system holds them: any bytes but "/" and NUL, up to 255 of them,
    half of them not UTF-8. No backslash: an escaped name could then equal another's."""
    rng = random.Random(seed)
    allowed = [byte for byte in range(1, 256) if byte not in b"/\\"]
    names = {b"bad\xff.txt", b"\xed\xa0\x80 lone surrogate.txt", b"\xc0\xaf overlong.txt",
             b"latin1 caf\xe9.txt", b"caf\xc3\xa9 utf8.txt", b"\xff" * 251 + b".txt"}
    while len(names) < count:
        if rng.random() < 0.5:
            stem = bytes(rng.choice(allowed) for _ in range(rng.randint(1, 251)))
        else:  # text in any script, as UTF-8
            text = "".join(chr(rng.choice([rng.randint(0x20, 0x7E), rng.randint(0xA0, 0xD7FF),
                                          rng.randint(0xE000, 0x10FFFF)])) for _ in range(rng.randint(1, 60)))
            stem = text.replace("/", "").replace("\\", "").encode("utf-8")[:251]
        if not stem.startswith(b"."):
            names.add(stem + rng.choice([b".txt", b".TXT"]))
    return names


def test_fuzzed_byte_file_names_reject_only_the_names_that_are_not_utf8(tmp_path: Path) -> None:
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    inbox.mkdir()
    names = fuzzed_byte_names(200, seed=7)
    for name in names:
        with open(os.fsencode(inbox) + b"/" + name, "wb") as handle:
            handle.write(SAMPLE)
    (inbox / "plain.txt").write_bytes(SAMPLE)
    os_names = [os.fsdecode(name) for name in names]
    utf8 = [*sorted(name for name in os_names if name_is_utf8(name)), "plain.txt"]
    escaped = sorted(recorded_name(name) for name in os_names if not name_is_utf8(name))
    assert len(escaped) > 50 and len(utf8) > 50

    result = ingest(inbox, data)
    assert f"{len(names) + 1} seen, {len(names) + 1} new, {len(utf8)} loaded, {len(escaped)} rejected" in result
    assert sorted(row[0] for row in query(data, "SELECT file_name FROM drops")) == sorted(utf8)
    assert query(data, "SELECT file_name, reason, content IS NOT NULL FROM rejected_drops "
                       "LEFT JOIN raw_drops USING (sha256) ORDER BY file_name") == [
        (name, "name_not_utf8", True) for name in escaped]
    assert "0 new" in ingest(inbox, data)  # recorded, so not taken again
    rebuild(data)
    assert query(data, "SELECT count(*) FROM rejected_drops WHERE reason = 'name_not_utf8'") == [(len(escaped),)]
    assert query(data, "SELECT count(*) FROM drops") == [(len(utf8),)]


def test_a_name_shows_as_recorded_and_a_line_break_in_one_escaped(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with open(os.fsencode(inbox) + b"/bad\xff.txt", "wb") as handle:
        handle.write(SAMPLE)
    (inbox / "new\nline.txt").write_bytes(b"")
    lines = ingest(inbox, tmp_path / "data").splitlines()
    assert "  rejected 'bad\\xff.txt': name_not_utf8" in lines  # its escapes not escaped again
    assert "  rejected 'new\\nline.txt': empty" in lines  # one line, whatever the name


def test_mass_bad_input_rejects_exactly_the_bad_half(tmp_path: Path) -> None:
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    inbox.mkdir()
    hostile = {
        "binary": [gzip.compress(SAMPLE), b"\x89PNG\r\n\x1a\n" + os.urandom(200), b"text\x00with nul"],
        "empty": [b"", b"   \n\t\n"],
        "undecodable": [codecs.BOM_UTF16_LE + b"\x00\xd8\x41"],
        "too_large": [SAMPLE * 30],
    }
    expected: dict[str, int] = {}
    index = 0
    for reason, payloads in hostile.items():
        for _ in range(1000 // 4):
            (inbox / f"bad_{index:05d}.txt").write_bytes(payloads[index % len(payloads)])
            expected[reason] = expected.get(reason, 0) + 1
            index += 1
    for good in range(1000):
        (inbox / f"good_{good:05d}.txt").write_bytes(SAMPLE.replace(b"Quarterly", f"Quarterly {good}".encode()))
    result = ingest(inbox, data, workers=2)
    assert "2000 seen, 2000 new, 1000 loaded, 1000 rejected" in result
    assert dict(query(data, "SELECT reason, count(*) FROM rejected_drops GROUP BY reason")) == expected
    assert query(data, "SELECT count(*) FROM rejected_drops WHERE file_name LIKE 'good%'") == [(0,)]
    assert counts(data)["drops"] == 1000


@pytest.fixture(autouse=True)
def small_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSDROP_MAX_BYTES", str(64 * 1024))


def test_a_file_still_being_written_waits_for_the_next_run(tmp_path: Path) -> None:
    import threading

    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    old = time.time() - 600
    for path in inbox.iterdir():
        os.utime(path, (old, old))
    growing = inbox / "still_writing.txt"
    growing.write_bytes(SAMPLE[:200])

    def writer() -> None:  # a scraper still appending while the run waits out the settle time
        time.sleep(1.0)
        with open(growing, "ab") as handle:
            handle.write(SAMPLE[200:])

    thread = threading.Thread(target=writer)
    thread.start()
    result = ingest(inbox, data, settle_seconds=4)
    thread.join()
    assert "1 still being written (next run)" in result
    assert query(data, "SELECT count(*) FROM drops WHERE file_name = 'still_writing.txt'") == [(0,)]
    # It has stopped changing: the next run takes it, whole.
    ingest(inbox, data, settle_seconds=1)
    assert query(data, "SELECT size_bytes FROM drops WHERE file_name = 'still_writing.txt'") == [(len(SAMPLE),)]
