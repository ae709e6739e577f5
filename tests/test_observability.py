"""What a run leaves for operators: Prefect artifacts, a run timeout, and a status that
answers while a run holds the data folder."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DROPS
from helpers import make_inbox, newsdrop, query, run, without_progress

from benchmarks.generate import generate
from newsdrop.warehouse.lake import open_lake
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.lock import file_lock


async def artifacts_with_key(key: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


@pytest.mark.usefixtures("prefect_api")
def test_every_run_leaves_artifacts_under_stable_keys(tmp_path: Path) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    run(inbox, data)
    # Every run of the session writes under the same key: this run's names its data folder.
    counts = [a for a in asyncio.run(artifacts_with_key("newsdrop-ingest-counts")) if str(data) in a.description]
    assert len(counts) == 1
    table = counts[0].data if isinstance(counts[0].data, list) else json.loads(counts[0].data)
    rows = {row["what"]: row["count"] for row in table}
    assert rows["drops loaded"] == 34 and rows["files rejected"] == 2 and rows["rows drop_headlines"] > 0
    assert rows["seconds"] > 0
    run_id = counts[0].description.split()[3]
    rejects = [a for a in asyncio.run(artifacts_with_key("newsdrop-ingest-rejects")) if run_id in str(a.data)]
    assert len(rejects) == 1
    assert "024_e3b0c44298fc1c14.txt" in str(rejects[0].data) and "binary" in str(rejects[0].data)
    quality = [a for a in asyncio.run(artifacts_with_key("newsdrop-ingest-quality")) if run_id in a.description]
    assert len(quality) == 1 and "drops.drop_id is unique" in str(quality[0].data)
    # A rebuild leaves the same artifacts under its own keys (README, "Scheduling").
    assert newsdrop("rebuild", "--data", str(data)).exit_code == 0
    rebuilt = [a for a in asyncio.run(artifacts_with_key("newsdrop-rebuild-counts")) if str(data) in a.description]
    assert len(rebuilt) == 1
    assert asyncio.run(artifacts_with_key("newsdrop-rebuild-rejects"))
    assert asyncio.run(artifacts_with_key("newsdrop-rebuild-quality"))


def test_a_run_over_its_timeout_fails_and_keeps_its_committed_batches(
    tmp_path: Path, prefect_env: dict[str, str]
) -> None:
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    generate(3000, inbox, seed=9, corpora=None)
    result = subprocess.run(
        [sys.executable, "-m", "newsdrop", "run", "--inbox", str(inbox), "--data", str(data), "--workers", "1"],
        env={**prefect_env, "NEWSDROP_RUN_TIMEOUT_SECONDS": "1", "NEWSDROP_BATCH_SIZE": "100"},
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = without_progress(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("newsdrop: the run exceeded its timeout"), result.stderr
    # What was committed before the timeout stays, whole: each drop with its ledger entry.
    statuses = [row[0] for row in query(data, "SELECT status FROM runs")]
    assert "succeeded" not in statuses and statuses in ([], ["failed"]), statuses
    drops = query(data, "SELECT count(*) FROM drops")[0][0]
    assert drops < 3000
    assert query(data, "SELECT count(*) FROM ledger.file_versions WHERE outcome = 'loaded'") == [(drops,)]
    assert query(data, "SELECT count(*) FROM articles") == [(drops,)]
    assert query(data, "SELECT count(DISTINCT part) FROM ledger.file_versions")[0][0] == -(-drops // 100)


def test_status_answers_while_a_run_holds_the_data_folder(tmp_path: Path, prefect_api: None) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    run(inbox, data)
    layout = DataLayout(data)
    with file_lock(layout.lock), contextlib.closing(open_lake(layout)) as writer:
        layout.running_marker.write_text("r-now ingest 2026-01-01T00:00:00+00:00\n")
        writer.begin()  # a run in the middle of a batch: rows written, not committed
        writer.execute("INSERT INTO drops SELECT * FROM drops")
        writer.execute("INSERT INTO runs SELECT * REPLACE ('r-now' AS run_id, 'failed' AS status) FROM runs")
        result = newsdrop("status", "--data", str(data), "--json")
        writer.rollback()
        layout.running_marker.unlink()
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["last_run"]["status"] == "succeeded"
    assert report["totals"]["drops"] == 34 and report["totals"]["runs"] == 1
    assert report["running"] == {"run_id": "r-now", "kind": "ingest", "started_at": "2026-01-01T00:00:00+00:00"}
