"""End to end through newsdrop.ingest: inbox -> Parquet -> DuckDB, on the contract's fixtures.

The warehouse that the read-only tests share is made by `newsdrop run` (through Prefect, on
the session's server), so every fixture is checked as the command and newsdrop.connect give
it; the other runs here are the same steps in this process (tests/helpers.py `ingest`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from conftest import DROPS, expected_readings
from helpers import TABLES, counts, fingerprint, ingest, make_inbox, query, rebuild, run, table_rows

from newsdrop.transforms.keys import headline_id
from newsdrop.transforms.read import RULES_VERSION
from newsdrop.warehouse import quality, schema
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.rows import canonical_encoding

CASES = expected_readings()
ACCEPTED = [case for case in CASES if case["status"] == "ok"]
REJECTED = [case for case in CASES if case["status"] == "rejected"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> tuple[Path, Path]:
    """One warehouse built from the 36 fixtures by `newsdrop run`, shared by the read-only tests below."""
    root = tmp_path_factory.mktemp("loaded")
    inbox, data = make_inbox(root / "inbox", DROPS), root / "data"
    result = run(inbox, data)
    assert "36 seen, 36 new, 34 loaded, 2 rejected, 0 unchanged" in result.output
    return inbox, data


def test_tables_have_the_expected_counts(loaded: tuple[Path, Path]) -> None:
    _, data = loaded
    headline_total = sum(len(case["headlines"]) for case in ACCEPTED)
    distinct = {headline_id(text) for case in ACCEPTED for text in case["headlines"]}
    assert counts(data) == {
        "drops": 34,
        "articles": 34,
        "headlines": len(distinct),
        "drop_headlines": headline_total,
        "dropped_lines": sum(case["dropped_lines"] for case in ACCEPTED),
        "rejected_drops": 2,
        "runs": 1,
        "quality_checks": len(quality.CHECKS),  # one batch
        "raw_drops": 36,  # every file's bytes, accepted or rejected
    }


@pytest.mark.parametrize("case", ACCEPTED, ids=[case["file"] for case in ACCEPTED])
def test_each_fixture_lands_as_the_contract_reads_it(loaded: tuple[Path, Path], case: dict) -> None:
    _, data = loaded
    (drop_id, encoding, title, body, paragraph_count, warnings), = query(
        data,
        "SELECT d.drop_id, d.encoding, a.title, a.body, a.paragraph_count, d.warnings"
        " FROM drops d JOIN articles a USING (drop_id) WHERE d.file_name = ?",
        [case["file"]],
    )
    assert (encoding, title, paragraph_count) == (canonical_encoding(case["encoding"]), case["title"],
                                                  len(case["paragraphs"]))
    assert body.split("\n") == case["paragraphs"]
    assert query(data, "SELECT string_split(body, chr(10)) FROM articles WHERE drop_id = ?", [drop_id])[0][0] == \
        case["paragraphs"]
    headlines = query(data, "SELECT position, text FROM drop_headlines WHERE drop_id = ? ORDER BY position", [drop_id])
    assert headlines == list(enumerate(case["headlines"], start=1))
    dropped = query(data, "SELECT count(*) FROM dropped_lines WHERE drop_id = ?", [drop_id])[0][0]
    assert dropped == case["dropped_lines"]
    assert ("no_headlines" in warnings) == (not case["headlines"])


def test_drop_columns(loaded: tuple[Path, Path]) -> None:
    _, data = loaded
    assert query(data, "SELECT DISTINCT rules_version FROM drops") == [(RULES_VERSION,)]
    rows = query(data, "SELECT file_name, sequence, name_id, size_bytes, sha256, received_at, run_id FROM drops")
    for file_name, sequence, name_id, size_bytes, sha256, received_at, run_id in rows:
        raw = (DROPS / file_name).read_bytes()
        assert sequence == int(file_name[:3])
        assert name_id == file_name[4:20]
        assert (size_bytes, sha256) == (len(raw), hashlib.sha256(raw).hexdigest())
        assert received_at is not None and run_id
    # One name per codec: the detector's windows-1252 and the WHATWG rule's cp1252 are one.
    assert query(data, "SELECT DISTINCT encoding FROM drops WHERE encoding LIKE '%1252%'") == [("cp1252",)]
    encodings = dict(query(data, "SELECT file_name, warnings FROM drops WHERE encoding <> 'utf-8'"))
    assert "non_utf8" in encodings["017_b1600e147dc1f4c0.txt"]
    assert "mojibake_repaired" in query(
        data, "SELECT warnings FROM drops WHERE file_name = '019_38dea78924539b91.txt'")[0][0]


def test_rejected_files_are_listed_and_their_bytes_kept(loaded: tuple[Path, Path]) -> None:
    _, data = loaded
    rows = query(data, "SELECT file_name, reason, sha256, content, r.size_bytes FROM rejected_drops "
                       "JOIN raw_drops r USING (sha256) ORDER BY file_name")
    assert [(name, reason) for name, reason, *_ in rows] == [(case["file"], case["reason"]) for case in REJECTED]
    for file_name, _reason, sha256, kept, size_bytes in rows:
        assert kept == (DROPS / file_name).read_bytes()
        assert (hashlib.sha256(kept).hexdigest(), len(kept)) == (sha256, size_bytes)


def test_every_accepted_drop_keeps_its_raw_bytes_once_in_the_lake(loaded: tuple[Path, Path]) -> None:
    _, data = loaded
    for file_name, content in query(data, "SELECT file_name, content FROM drops JOIN raw_drops USING (sha256)"):
        assert content == (DROPS / file_name).read_bytes()
    assert query(data, "SELECT count(*), count(DISTINCT sha256), count(*) FILTER (WHERE chunk <> 0) "
                       "FROM raw_drops") == [(36, 36, 0)]
    # No file a drop: one Parquet file of the batch, in the lake, and no DATA/raw.
    assert not (data / "raw").exists()
    assert [path.parent for path in (data / "lake").rglob("*.parquet") if "raw_drops" in str(path)] == [
        data / "lake" / "main" / "raw_drops"]


def test_headlines_aggregate_agrees_with_drop_headlines(loaded: tuple[Path, Path]) -> None:
    _, data = loaded
    mismatched = query(
        data,
        "SELECT h.headline_id FROM headlines h JOIN (SELECT headline_id, count(DISTINCT drop_id) n"
        " FROM drop_headlines GROUP BY ALL) c USING (headline_id) WHERE h.drop_count <> c.n",
    )
    assert mismatched == []
    # 010 lists one headline twice: two positions, one headline row, drop_count 1.
    repeated = "Man shot dead after attack at Paris Orly airport"
    assert query(data, "SELECT drop_count FROM headlines WHERE text = ?", [repeated]) == [(1,)]


def test_parquet_is_readable_by_every_reader_with_the_same_counts(loaded: tuple[Path, Path]) -> None:
    import duckdb
    import pandas as pd
    import polars as pl
    import pyarrow.dataset as ds

    _, data = loaded
    expected = counts(data)
    for table in schema.TABLES:
        folder = DataLayout(data).table_folder(table)
        assert ds.dataset(folder, format="parquet", partitioning="hive").count_rows() == expected[table]
        assert len(pd.read_parquet(folder)) == expected[table]
        assert pl.scan_parquet(f"{folder}/**/*.parquet", hive_partitioning=True).select(pl.len()).collect().item() \
            == expected[table]
        glob = f"{folder}/**/*.parquet"
        assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)").fetchall()[0][0] \
            == expected[table]


def test_inbox_is_never_written(tmp_path: Path) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    before = fingerprint(inbox)
    ingest(inbox, data)
    ingest(inbox, data)
    assert fingerprint(inbox) == before


def test_second_run_is_a_no_op(tmp_path: Path) -> None:
    """A rerun with nothing new rewrites nothing: every data file and raw file stays as it
    was, and the only change is the rerun's own row in `runs`."""
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    ingest(inbox, data)
    kept = ("raw", *(str(DataLayout(data).table_folder(table).relative_to(data)) for table in schema.PER_RUN_TABLES))
    before = {path: facts for path, facts in fingerprint(data).items() if path.startswith(kept)}
    tables = {table: table_rows(data, table) for table in TABLES if table != "runs"}
    result = ingest(inbox, data)
    assert "36 seen, 0 new, 0 loaded, 0 rejected, 36 unchanged" in result
    assert {path: facts for path, facts in fingerprint(data).items() if path.startswith(kept)} == before
    assert {table: table_rows(data, table) for table in TABLES if table != "runs"} == tables
    assert query(data, "SELECT files_unchanged, drops_loaded FROM runs ORDER BY finished_at") == [(0, 34), (36, 0)]


def test_new_changed_late_and_renamed_files_are_picked_up(tmp_path: Path) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    ingest(inbox, data)
    first = counts(data)

    (inbox / "900_00000000000000aa.txt").write_text("A new body line.\n\n\nNew headline one\nNew headline two\n")
    changed = inbox / "002_6661d7f6df6acccf.txt"
    changed.write_bytes(changed.read_bytes() + b"\n\nAdded headline\nAnother added headline\n")
    late = inbox / "901_00000000000000bb.txt"
    late.write_text("A late copy arrived.\n\n\nLate headline\nOther late headline\n")
    os.utime(late, (978_307_200, 978_307_200))  # mtime in 2001, older than every run
    renamed = inbox / "copy of 001.txt"
    renamed.write_bytes((inbox / "001_c780d2942f53d682.txt").read_bytes())

    result = ingest(inbox, data)
    assert "39 seen, 4 new, 4 loaded, 0 rejected, 35 unchanged" in result
    after = counts(data)
    assert after["drops"] == first["drops"] + 4
    # The changed file is a new version: both versions stay, each with its own drop_id.
    assert query(data, "SELECT count(*) FROM drops WHERE file_name = '002_6661d7f6df6acccf.txt'") == [(2,)]
    assert query(data, "SELECT sequence, name_id FROM drops WHERE file_name = 'copy of 001.txt'") == [(None, None)]
    # The same bytes under a new name are recorded, and body_key shows the copy.
    copies = query(data, "SELECT copies, file_names FROM duplicate_articles")
    assert (2, ["001_c780d2942f53d682.txt", "copy of 001.txt"]) in [(n, sorted(f)) for n, f in copies]
    assert query(data, "SELECT year(received_at) FROM drops WHERE file_name = '901_00000000000000bb.txt'") == [(2001,)]


def test_touched_file_with_same_bytes_is_unchanged(tmp_path: Path) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    ingest(inbox, data)
    os.utime(inbox / "001_c780d2942f53d682.txt")
    result = ingest(inbox, data)
    assert "0 new, 0 loaded, 0 rejected, 36 unchanged" in result
    assert counts(data)["drops"] == 34


def test_rebuild_reproduces_the_same_tables(tmp_path: Path) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    ingest(inbox, data)
    (inbox / "900_00000000000000aa.txt").write_text("Second run body.\n\n\nHeadline A\nHeadline B\n")
    ingest(inbox, data)
    derived = ("runs", "quality_checks")  # the rebuild adds its own run and checks
    before = {table: table_rows(data, table) for table in TABLES if table not in derived}
    for path in inbox.iterdir():
        path.unlink()  # rebuild needs only DATA
    result = rebuild(data)
    assert "time travel before this rebuild is gone" in result
    assert {table: table_rows(data, table) for table in TABLES if table not in derived} == before
    # Each folder holds exactly the rebuilt rows: the replaced files are gone.
    import pyarrow.dataset as ds

    for table in schema.TABLES:
        folder = DataLayout(data).table_folder(table)
        assert ds.dataset(folder, format="parquet", partitioning="hive").count_rows() == \
            query(data, f"SELECT count(*) FROM {table}")[0][0]
    assert query(data, "SELECT kind, status FROM runs ORDER BY started_at") == [
        ("ingest", "succeeded"), ("ingest", "succeeded"), ("rebuild", "succeeded")]
