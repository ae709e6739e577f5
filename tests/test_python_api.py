"""The Python API: every ```python block of docs/python-api.md runs, in order, and does what it says.

Only the public API (newsdrop.*) is used, never files under DATA, except the run lock, which is
taken through DataLayout so that the test follows the code wherever the lock lives.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import newsdrop
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.lock import file_lock

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "python-api.md"
FIXTURES = Path(__file__).parent / "fixtures"
DROPS = FIXTURES / "drops"

# A port nothing listens on: any attempt to reach a Prefect API would fail the run.
DEAD_PREFECT_API = "http://127.0.0.1:9/api"

# Every ```python block runs here; the scale-out example is fenced ```py, as it needs servers
# this test does not start (tests/test_scale_out.py makes its calls).
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[str]:
    return FENCE.findall(DOC.read_text(encoding="utf-8"))


def expected_counts() -> tuple[int, Counter[str]]:
    """Drops the fixtures should load, and rejects by reason (tests/fixtures/expected.jsonl)."""
    loaded, rejects = 0, Counter[str]()
    with open(FIXTURES / "expected.jsonl", encoding="utf-8") as handle:
        for line in handle:
            reading = json.loads(line)
            if reading["status"] == "ok":
                loaded += 1
            else:
                rejects[reading["reason"]] += 1
    return loaded, rejects


def copy_inbox(target: Path) -> Path:
    """The fixture drops with fresh modification times (shutil.copy keeps no mtime), so that they
    count as received now and fall in the doc's "this week"."""
    target.mkdir(parents=True)
    for drop in sorted(DROPS.iterdir()):
        shutil.copy(drop, target / drop.name)
    return target


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding `inbox/` (the fixture drops) and no `data/` yet, with settings
    only from the API's arguments and a Prefect API that is not there."""
    for key in list(os.environ):
        if key.startswith("NEWSDROP_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("NEWSDROP_SETTLE_SECONDS", "0")
    monkeypatch.setenv("PREFECT_API_URL", DEAD_PREFECT_API)
    monkeypatch.chdir(tmp_path)
    copy_inbox(tmp_path / "inbox")
    return tmp_path


def test_the_doc_has_examples_for_every_call() -> None:
    code = "\n".join(python_blocks())
    for call in ("ingest", "rebuild", "status", "connect", "query", "search", "reindex"):
        assert f"newsdrop.{call}(" in code, call
    for setting in ("settle_seconds", "max_bytes", "batch_size", "workers", "lock_wait_seconds",
                    "run_timeout_seconds"):
        assert f"{setting}=" in code, setting
    for error in ("RunInProgress", "RunFailed", "NewsdropError"):
        assert f"newsdrop.{error}" in code, error


def test_python_api_doc_runs(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = python_blocks()
    assert len(blocks) >= 10
    namespace: dict[str, Any] = {"__name__": "__main__", "inbox": "inbox/", "data": "data/"}
    for number, block in enumerate(blocks, start=1):
        try:
            exec(compile(block, f"{DOC.name}, python block {number}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"python block {number} of {DOC.name} failed:\n{block}") from error
    printed = capsys.readouterr().out

    loaded, rejects = expected_counts()
    files = sum(1 for _ in DROPS.iterdir())
    assert loaded + sum(rejects.values()) == files

    # The doc's paths are relative: everything landed in the working folder.
    assert (workdir / "data").is_dir()

    summary = namespace["summary"]
    assert isinstance(summary, newsdrop.RunSummary)
    assert (summary.kind, summary.files_seen, summary.files_new) == ("ingest", files, files)
    assert summary.drops_loaded == loaded
    assert summary.files_rejected == sum(rejects.values())
    assert Counter(reason for _, reason in summary.rejects) == rejects
    assert summary.snapshot_id > 0
    assert summary.rows["drops"] == summary.rows["articles"] == loaded
    assert summary.checks and all(check.passed for check in summary.checks)
    assert f"{loaded} drops loaded, {sum(rejects.values())} files rejected" in printed
    assert f"files: {files} seen, 0 new" in printed  # the script's main() ran, and found nothing new

    again = namespace["again"]
    assert (again.drops_loaded, again.files_rejected, again.files_unchanged) == (0, 0, files)
    tuned = namespace["tuned"]
    assert (tuned.drops_loaded, tuned.files_unchanged) == (0, files)

    rebuilt = namespace["rebuilt"]
    assert (rebuilt.kind, rebuilt.drops_loaded, rebuilt.files_rejected) == ("rebuild", loaded, sum(rejects.values()))

    info = namespace["info"]
    assert info["last_run"]["status"] == "succeeded"
    assert info["running"] is None
    assert info["backlog"]["files"] == 0
    assert info["totals"]["articles"] == loaded

    assert namespace["article_count"] == loaded
    drops = namespace["drops"]
    assert list(drops.columns) == ["file_name", "encoding", "warnings", "received_at"]
    assert len(drops) == loaded

    found = namespace["found"]
    assert list(found.columns) == ["drop_id", "score", "title", "snippet", "cluster_id", "received_at"]
    assert 1 <= len(found) <= 3 and "browser" in found["snippet"].iloc[0].lower()
    assert namespace["indexed"] == loaded

    rejected = namespace["rejects"]
    assert list(rejected.columns) == ["file_name", "reason", "detail"]
    assert len(rejected) == rejects["empty"]
    long_reads = namespace["long_reads"]
    assert list(long_reads.columns) == ["article_id", "title", "word_count"]
    assert (long_reads["word_count"] >= 300).all()

    top = namespace["top"]
    assert isinstance(top, pd.DataFrame)
    assert list(top.columns) == ["text", "drop_count", "drops_per_day", "first_seen_at", "last_seen_at"]
    assert 0 < len(top) <= 10  # the drops were received just now: all of them are this week's
    assert top["drop_count"].is_monotonic_decreasing
    assert top["drop_count"].iloc[0] == namespace["this_week"]["drop_count"].iloc[0]

    articles_per_day = namespace["articles_per_day"]
    assert isinstance(articles_per_day, pd.Series)
    assert articles_per_day.sum() == loaded
    per_day = namespace["per_day"]
    assert list(per_day.columns) == ["articles", "words"]
    assert per_day["articles"].sum() == loaded
    # The view and the pandas grouping agree, day by day.
    assert per_day["articles"].to_dict() == {day: n for day, n in articles_per_day.items() if n}


def test_a_held_run_lock_raises_run_in_progress(workdir: Path) -> None:
    inbox, data = "inbox", "data"
    newsdrop.ingest(inbox, data)
    lock = DataLayout(Path(data)).lock  # where the code takes its run lock

    with file_lock(lock):
        with pytest.raises(newsdrop.RunInProgress, match="in progress"):
            newsdrop.ingest(inbox, data)
        with pytest.raises(newsdrop.RunInProgress):
            newsdrop.rebuild(data)
        with pytest.raises(newsdrop.NewsdropError):  # RunInProgress is one
            newsdrop.ingest(inbox, data, lock_wait_seconds=0.3)
        # Readers never need the lock.
        assert newsdrop.query(data, "SELECT count(*) AS n FROM drops")["n"].iloc[0] == expected_counts()[0]
        assert newsdrop.status(data)["last_run"]["status"] == "succeeded"

    after = newsdrop.ingest(inbox, data)
    assert (after.drops_loaded, after.files_unchanged) == (0, sum(1 for _ in DROPS.iterdir()))


def test_connect_without_a_warehouse_is_a_newsdrop_error(workdir: Path) -> None:
    with pytest.raises(newsdrop.NewsdropError, match="newsdrop run"):
        newsdrop.connect("data")
    with pytest.raises(newsdrop.NewsdropError):
        newsdrop.query("data", "SELECT 1")


def test_the_api_neither_imports_nor_needs_prefect(tmp_path: Path) -> None:
    """`import newsdrop`, and a whole run through the API, leave Prefect unimported."""
    copy_inbox(tmp_path / "inbox")
    script = """
import sys
import newsdrop
assert not [m for m in sys.modules if m == "prefect" or m.startswith("prefect.")], "import newsdrop"
summary = newsdrop.ingest("inbox", "data")
newsdrop.query("data", "SELECT * FROM headline_trends")
newsdrop.status("data", inbox="inbox")
leaked = sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect."))
print(summary.drops_loaded, len(leaked))
"""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NEWSDROP_", "PREFECT_"))}
    env.update(NEWSDROP_SETTLE_SECONDS="0", PREFECT_API_URL=DEAD_PREFECT_API)
    env["PYTHONPATH"] = str(ROOT)  # the source tree, as pytest's own `pythonpath`
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(expected_counts()[0]), "0"]


def test_a_script_without_the_main_guard_is_told_so_in_one_line(tmp_path: Path) -> None:
    """Reader processes are spawned and import the script again: without the guard each
    would start a run of its own. Each stops at once with one line, and the run fails
    saying why."""
    script = tmp_path / "unguarded.py"
    script.write_text(f"import newsdrop\nnewsdrop.ingest({str(DROPS)!r}, {str(tmp_path / 'data')!r}, "
                      "settle_seconds=0, batch_size=5, workers=2)\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSDROP_")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    assert done.returncode == 1
    guard = 'a script that calls newsdrop must do so under `if __name__ == "__main__":`'
    # One line from a reader (the first to stop breaks the pool, which may end the other first).
    assert done.stderr.count(f"newsdrop: {guard}") in (1, 2), done.stderr
    assert done.stderr.rstrip().endswith(f"RunFailed: the reader processes could not start; {guard} "
                                         "(its reader processes import the script again)"), done.stderr
    assert "RunInProgress" not in done.stderr
