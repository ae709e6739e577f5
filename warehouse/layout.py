"""Where everything lives under DATA (documented in docs/warehouse.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

MAIN_SCHEMA = "main"


def raw_relative(sha256: str) -> str:
    """Where a drop's bytes are kept, relative to DATA (the tables' raw_path column)."""
    return f"raw/{sha256[:2]}/{sha256}"


@dataclass(frozen=True)
class DataLayout:
    root: Path

    def __post_init__(self) -> None:
        # Absolute, always: the catalog records the paths of the files newsdrop adds, and a
        # relative one would name another file from another working directory.
        object.__setattr__(self, "root", Path(self.root).resolve())

    @property
    def catalog(self) -> Path:
        """The DuckLake catalog: a SQLite file, so readers run beside the writer."""
        return self.root / "catalog.sqlite"

    @property
    def lake(self) -> Path:
        """The DuckLake data path: one Parquet folder per table."""
        return self.root / "lake"

    def table_folder(self, table: str, schema: str = MAIN_SCHEMA) -> Path:
        """A table's Parquet dataset (hive partitions), as DuckLake lays it out."""
        return self.lake / schema / table

    def partition_folder(self, table: str, moment: datetime) -> Path:
        """The partition a batch's rows of a per-run table go to: the UTC day of its ingest
        time, as DuckLake's year/month/day keys name it."""
        day = moment.astimezone(UTC)
        return self.table_folder(table) / f"year={day.year}" / f"month={day.month}" / f"day={day.day}"

    @property
    def staging(self) -> Path:
        """Where reader processes write a batch's Parquet files before its commit moves them
        into the table folders (the same file system, so the move is one rename)."""
        return self.state / "staging"

    def staging_for(self, run_id: str) -> Path:
        return self.staging / run_id

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def raw_path(self, sha256: str) -> Path:
        """Raw bytes are stored by content, so a re-sent file costs no space."""
        return self.root / raw_relative(sha256)

    @property
    def state(self) -> Path:
        """newsdrop's own files: the run lock, the running marker, Prefect's database."""
        return self.root / "_state"

    @property
    def lock(self) -> Path:
        return self.state / "run.lock"

    @property
    def running_marker(self) -> Path:
        """Names the run in progress; found by the next run if that one died."""
        return self.state / "running"

    @property
    def prefect_home(self) -> Path:
        """Prefect's database for `serve`'s local server."""
        return self.state / "prefect"

    # -- the layout before DuckLake (newsdrop 0.1), which `rebuild` converts -------

    @property
    def legacy_ledger(self) -> Path:
        return self.state / "ledger.sqlite3"

    @property
    def legacy_files(self) -> tuple[Path, ...]:
        state = self.state
        return (self.root / "news.duckdb", self.root / "parquet", state / "ledger.sqlite3",
                state / "ledger.sqlite3-wal", state / "ledger.sqlite3-shm", state / "warehouse.duckdb",
                state / "warehouse.duckdb.wal")

    def is_legacy(self) -> bool:
        """Written by newsdrop 0.1 and not yet converted (a conversion removes the old ledger last)."""
        return self.legacy_ledger.exists()

    def exists(self) -> bool:
        return self.catalog.exists()

    def ensure(self) -> None:
        for folder in (self.lake, self.raw, self.state):
            folder.mkdir(parents=True, exist_ok=True)
