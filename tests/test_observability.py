"""What a run leaves for operators: Prefect artifacts, a run timeout, and a status that
answers while a run holds the data folder."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DROPS
from helpers import make_inbox, newsdrop, run

from benchmarks.generate import generate
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.lock import run_lock


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
    assert rows["drops loaded"] == 24 and rows["files rejected"] == 2 and rows["rows drop_headlines"] > 0
    assert rows["seconds"] > 0
    run_id = counts[0].description.split()[3]
    rejects = [a for a in asyncio.run(artifacts_with_key("newsdrop-ingest-rejects")) if run_id in str(a.data)]
    assert len(rejects) == 1
    assert "024_e3b0c44298fc1c14.txt" in str(rejects[0].data) and "binary" in str(rejects[0].data)
    quality = [a for a in asyncio.run(artifacts_with_key("newsdrop-ingest-quality")) if run_id in a.description]
    assert len(quality) == 1 and "drops.drop_id is unique" in str(quality[0].data)


def test_a_run_over_its_timeout_fails(tmp_path: Path, prefect_env: dict[str, str]) -> None:
    inbox, data = tmp_path / "inbox", tmp_path / "data"
    generate(3000, inbox, seed=9, corpora=None)
    result = subprocess.run(
        [sys.executable, "-m", "newsdrop", "run", "--inbox", str(inbox), "--data", str(data)],
        env={**prefect_env, "NEWSDROP_RUN_TIMEOUT_SECONDS": "1"}, capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("newsdrop: the run exceeded its timeout"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (data / "news.duckdb").exists()


def test_status_answers_while_a_run_holds_the_data_folder(tmp_path: Path, prefect_api: None) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    run(inbox, data)
    layout = DataLayout(data)
    writer = sqlite3.connect(layout.ledger, isolation_level=None)
    with run_lock(layout.lock):
        writer.execute("BEGIN IMMEDIATE")  # a run in the middle of its commit
        writer.execute("INSERT INTO runs (run_id, kind, status, started_us) VALUES ('r-now', 'ingest', 'running', 1)")
        result = newsdrop("status", "--data", str(data), "--json")
        writer.execute("ROLLBACK")
    writer.close()
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["last_run"]["status"] == "succeeded"
    assert report["totals"]["drops"] == 24
