"""Rebuild: re-read every kept raw drop with the current reading rules.

Each earlier run's batches are re-created under the same file names, so a
Parquet reader sees each file replaced whole (never a duplicate), and run_id,
ingested_at and drop_id stay what they were.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from newsdrop.warehouse.batch import BatchResult, BatchSpec, Candidate
from newsdrop.warehouse.inbox import Listed
from newsdrop.warehouse.ingest import move_committed_files
from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.ledger import Ledger
from newsdrop.warehouse.publish import reset_working_db
from newsdrop.warehouse.schema import PER_RUN_TABLES


def plan_rebuild(layout: DataLayout, ledger: Ledger, rebuild_run_id: str) -> list[tuple[BatchSpec, list[Candidate]]]:
    groups: dict[tuple[str, int], list[Candidate]] = defaultdict(list)
    ingested = {}
    for version in ledger.kept_versions():
        key = (version.run_id, version.part)
        ingested[key] = version.ingested_at
        listed = Listed(version.file_name, version.size_bytes, version.mtime_ns)
        groups[key].append(Candidate(listed, source=layout.raw_path(version.sha256)))
    return [
        (BatchSpec(run_id=run_id, ingested_at=ingested[(run_id, part)], part=part, staging_run_id=rebuild_run_id),
         candidates)
        for (run_id, part), candidates in sorted(groups.items())
    ]


def commit_rebuild(layout: DataLayout, ledger: Ledger, rebuild_run_id: str,
                   specs: list[BatchSpec], results: list[BatchResult]) -> None:
    files: list[tuple[str, str, str]] = []
    for spec, result in zip(specs, results, strict=True):
        files.extend((path, table, spec.run_id) for table, path in result.staged)
    os.sync()
    versions = [version for result in results for version in result.versions]
    ledger.replace_parquet_files(files, rebuild_run_id, versions)
    move_committed_files(layout, ledger, rebuild_run_id)
    prune_uncommitted(layout, ledger)
    reset_working_db(layout)


def prune_uncommitted(layout: DataLayout, ledger: Ledger) -> int:
    """Delete per-run table files the ledger no longer lists (left by an earlier rebuild)."""
    committed = {path for _table, path, _run in ledger.parquet_files()}
    removed = 0
    for table in PER_RUN_TABLES:
        folder: Path = layout.parquet / table
        if not folder.exists():
            continue
        for path in folder.rglob("*.parquet"):
            if str(path.relative_to(layout.parquet)) not in committed:
                path.unlink()
                removed += 1
    return removed
