"""The reading rules' version: kept with each drop, counted by status, brought up to date by rebuild.

tests/fixtures/warehouse-before-rules-version is a warehouse made by newsdrop as it was before
the revision of DROP_FORMAT.md §4 (commit d3e92cb: the old reading rules, no rules_version
column), from drops 001, 024 (rejected), 026, 027 and 032, three of which the new rules read
differently. Each test works on its own copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import DROPS, FIXTURES, expected_readings
from helpers import make_inbox, newsdrop, query, table_rows

from newsdrop import api
from newsdrop.transforms.read import RULES_VERSION

BEFORE = FIXTURES / "warehouse-before-rules-version"
OLD_DROPS = ("001_c780d2942f53d682.txt", "026_5022173b8a13a1fa.txt", "027_55b7de999829ec00.txt",
             "032_00517bcd6dbb14eb.txt")
EXPECTED = {case["file"]: case for case in expected_readings()}


@pytest.fixture
def before(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(BEFORE, data)
    return data


def readings(data: Path) -> dict[str, tuple]:
    rows = query(data, "SELECT file_name, title, string_split(body, chr(10)), "
                       "(SELECT list(text ORDER BY position) FROM drop_headlines h WHERE h.drop_id = d.drop_id) "
                       "FROM drops d JOIN articles USING (drop_id)")
    return {name: (title, paragraphs, headlines or []) for name, title, paragraphs, headlines in rows}


def expected(name: str) -> tuple:
    case = EXPECTED[name]
    return case["title"], case["paragraphs"], case["headlines"]


def test_the_fixture_was_read_under_the_old_rules(before: Path) -> None:
    old = readings(before)
    assert sorted(old) == sorted(OLD_DROPS)
    assert old["001_c780d2942f53d682.txt"] == expected("001_c780d2942f53d682.txt")  # no rule of it changed
    changed = [name for name in OLD_DROPS if old[name] != expected(name)]
    assert changed == ["026_5022173b8a13a1fa.txt", "027_55b7de999829ec00.txt", "032_00517bcd6dbb14eb.txt"]


def test_status_counts_the_drops_read_under_older_rules(before: Path) -> None:
    assert api.status(before)["reading_rules"] == {"version": RULES_VERSION, "drops_under_older_rules": 4}
    human = newsdrop("status", "--data", str(before))
    assert human.exit_code == 0, human.output
    assert (f"reading rules: version {RULES_VERSION}; 4 drop(s) read under older rules: "
            f"`newsdrop rebuild --data {before}` reads them again") in human.output
    as_json = json.loads(newsdrop("status", "--data", str(before), "--json").output)
    assert as_json["reading_rules"]["drops_under_older_rules"] == 4


def test_the_first_run_works_on_it_unchanged_and_rebuild_reads_it_again(before: Path, tmp_path: Path) -> None:
    # raw_path went with DATA/raw/ (the upgrade moves the bytes into raw_drops; test_upgrade).
    old_tables = {table: table_rows(before, table, exclude=("raw_path",))
                  for table in ("drops", "articles", "drop_headlines", "dropped_lines", "rejected_drops")}
    inbox = make_inbox(tmp_path / "inbox", DROPS)
    for path in inbox.iterdir():
        if not path.name.startswith("028_"):
            path.unlink()

    summary = api.ingest(inbox, before, settle_seconds=0)  # no migration step: the run adds the column
    assert (summary.drops_loaded, summary.files_rejected) == (1, 0)
    versions = dict(query(before, "SELECT file_name, rules_version FROM drops"))
    assert versions == {**dict.fromkeys(OLD_DROPS), "028_fd5ce71582cf7f05.txt": RULES_VERSION}
    # Nothing of what was there changed: its rows are the same, with NULL in the new column.
    kept = {table: [row for row in table_rows(before, table, exclude=("rules_version",))
                    if table != "drops" or row[1] in OLD_DROPS] for table in old_tables}
    for table, rows in old_tables.items():
        assert [row for row in kept[table] if row in rows] == rows, table
    assert api.status(before)["reading_rules"]["drops_under_older_rules"] == 4

    rebuilt = api.rebuild(before, workers=1)
    assert rebuilt.drops_loaded == 5
    assert api.status(before)["reading_rules"]["drops_under_older_rules"] == 0
    assert query(before, "SELECT DISTINCT rules_version FROM drops") == [(RULES_VERSION,)]
    now = readings(before)
    for name in (*OLD_DROPS, "028_fd5ce71582cf7f05.txt"):
        assert now[name] == expected(name), name
    assert "every drop read under them" in newsdrop("status", "--data", str(before)).output
