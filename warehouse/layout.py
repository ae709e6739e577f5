"""Where everything lives under DATA (documented in docs/warehouse.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataLayout:
    root: Path

    @property
    def published_db(self) -> Path:
        """The analysts' snapshot: replaced whole, never written in place."""
        return self.root / "news.duckdb"

    @property
    def parquet(self) -> Path:
        return self.root / "parquet"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def state(self) -> Path:
        return self.root / "_state"

    @property
    def ledger(self) -> Path:
        return self.state / "ledger.sqlite3"

    @property
    def working_db(self) -> Path:
        return self.state / "warehouse.duckdb"

    @property
    def lock(self) -> Path:
        return self.state / "run.lock"

    @property
    def prefect_home(self) -> Path:
        """Prefect's database for `serve`'s local server."""
        return self.state / "prefect"

    @property
    def staging(self) -> Path:
        return self.state / "staging"

    def staging_for(self, run_id: str) -> Path:
        return self.staging / run_id

    def raw_path(self, sha256: str) -> Path:
        """Raw bytes are stored by content, so a re-sent file costs no space."""
        return self.raw / sha256[:2] / sha256

    def part_path(self, table: str, ingest_date: str, run_id: str, part: int) -> Path:
        """Relative path of one batch's file of a per-run table."""
        return Path(table) / f"ingest_date={ingest_date}" / f"{run_id}-{part:05d}.parquet"

    def derived_path(self, table: str) -> Path:
        return Path(table) / f"{table}.parquet"

    def ensure(self) -> None:
        for folder in (self.parquet, self.raw, self.state, self.staging):
            folder.mkdir(parents=True, exist_ok=True)
