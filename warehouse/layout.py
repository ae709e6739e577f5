"""Where everything lives under DATA (documented in docs/warehouse.md).

DATA is a local folder or an s3:// URL. A local folder holds everything: the SQLite
catalog, the lake (with every drop's raw bytes, in raw_drops) and newsdrop's own state.
Under an s3:// URL live the lake and the staged files; the catalog is in PostgreSQL (which
also holds the run lock), and the only local files are Prefect's, in a cache folder.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsdrop.errors import NewsdropError
from newsdrop.warehouse.catalog import DEFAULT, CatalogSpec
from newsdrop.warehouse.schema import PARTITION_KEYS
from newsdrop.warehouse.storage import is_s3, join

MAIN_SCHEMA = "main"
PREFECT_DATABASE = "prefect.db"  # in PREFECT_HOME: the local Prefect server's runs
LEGACY_CONVERTER = "git commit 30fbad6"  # the last newsdrop that converts the layout before DuckLake


def _inside(location: str, folder: str) -> bool:
    """A path or URL below a folder's (both absolute, no trailing slash)."""
    return location.startswith(folder.rstrip("/") + "/")


def local_cache() -> Path:
    """newsdrop's per-user cache (XDG_CACHE_HOME honoured)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsdrop"


@dataclass(frozen=True, init=False)
class DataLayout:
    root: Path
    """The local folder: DATA itself, or for an s3:// DATA a cache folder for Prefect's files."""
    catalog_spec: CatalogSpec
    url: str
    """DATA as DuckDB and the readers name it: an absolute path, or the s3:// URL."""

    def __init__(self, location: str | Path, catalog_spec: CatalogSpec = DEFAULT) -> None:
        text = str(location)
        if is_s3(text):
            url = text.rstrip("/")
            if not catalog_spec.shared:
                raise NewsdropError(f"data at {url} needs a PostgreSQL catalog: a SQLite catalog is a local file; "
                                    'give --catalog "postgres:dbname=NAME host=HOST user=USER"')
            # Prefect's local files only: everything that matters is in S3 and PostgreSQL.
            root = local_cache() / "remote" / hashlib.sha256(url.encode()).hexdigest()[:16]
        else:
            # Absolute, always: the catalog records the paths of the files newsdrop adds, and a
            # relative one would name another file from another working directory.
            root = Path(text).resolve()
            url = str(root)
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "catalog_spec", catalog_spec)
        object.__setattr__(self, "url", url)

    @property
    def remote(self) -> bool:
        """DATA is an s3:// URL."""
        return is_s3(self.url)

    @property
    def lake_url(self) -> str:
        """The DuckLake DATA_PATH (with its trailing slash)."""
        return join(self.url, "lake") + "/"

    def table_url(self, table: str, schema: str = MAIN_SCHEMA) -> str:
        return join(self.url, "lake", schema, table)

    def partition_url(self, table: str, moment: datetime) -> str:
        """The partition a batch's rows of a per-run table go to: the UTC day of its ingest
        time, as DuckLake's year/month/day keys name it."""
        day = moment.astimezone(UTC)
        return join(self.table_url(table), *(f"{key}={getattr(day, key)}" for key in PARTITION_KEYS))

    @property
    def legacy_raw_url(self) -> str:
        """Where newsdrop before raw_drops kept each drop's bytes, a file each (raw/<aa>/<sha256>);
        the first run after the upgrade moves them into the lake (warehouse.upgrade)."""
        return join(self.url, "raw")

    @property
    def staging_url(self) -> str:
        """Where reader processes write a batch's Parquet files before its commit moves them
        into the table folders (locally, the same file system, so the move is one rename)."""
        return str(self.staging) if not self.remote else join(self.url, "_staging")

    def staging_url_for(self, run_id: str) -> str:
        return join(self.staging_url, run_id)

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

    @property
    def staging(self) -> Path:
        """Where reader processes write a batch's Parquet files before its commit moves them
        into the table folders (the same file system, so the move is one rename)."""
        return self.state / "staging"

    @property
    def search_index(self) -> Path:
        """The search index (warehouse.search): derived from the lake, on this machine (for data in
        S3, in the cache folder), built again from the lake when missing."""
        return self.root / "_search"

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
        """The database of the local Prefect server that `run`, `rebuild` and `serve` start
        when PREFECT_API_URL is not set."""
        return self.state / "prefect"

    def refuse_unfit(self) -> None:
        """DATA is absent, an empty folder, or a warehouse of this layout; anything else is
        refused before anything is written there: a file, another program's folder (a run would
        scatter the warehouse among its files), a warehouse of newsdrop before DuckLake."""
        if self.remote:
            return
        if self.root.exists() and not self.root.is_dir():
            raise NewsdropError(f"the data folder {self.root} is a file: give --data a folder "
                                "(a new or empty one, or a newsdrop warehouse)")
        self._refuse_legacy()
        try:
            entries = {entry.name for entry in os.scandir(self.root)}
        except FileNotFoundError:
            return
        # A run makes _state before it writes anything else, and the SQLite catalog with the
        # lake: either names a warehouse. A first run killed early may leave only empty folders.
        if entries & {self.state.name, self.catalog.name}:
            return
        # raw/: the bytes, before raw_drops; _search: the index of a warehouse deleted beside it.
        foreign = sorted(entries - {self.lake.name, "raw", self.search_index.name})
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise NewsdropError(f"the data folder {self.root} holds files that are not newsdrop's "
                                f"({foreign[0]!r}{more}): give --data a new or empty folder, or a newsdrop warehouse")

    def refuse_overlap(self, inbox: str) -> None:
        """The inbox and DATA are apart: newsdrop reads the one and writes the other, and a
        folder inside the other would be read as drops or written among them."""
        if is_s3(inbox) != self.remote:
            return
        inbox_url = inbox.rstrip("/") if self.remote else str(Path(inbox).resolve())
        if inbox_url == self.url:
            relation = "are the same folder"
        elif _inside(self.url, inbox_url):
            relation = "overlap (the data folder is inside the inbox)"
        elif _inside(inbox_url, self.url):
            relation = "overlap (the inbox is inside the data folder)"
        else:
            return
        raise NewsdropError(f"the inbox {inbox_url} and the data folder {self.url} {relation}: "
                            "give --inbox and --data folders apart (e.g. news/inbox and news/data)")

    def _refuse_legacy(self) -> None:
        """A folder of the layout before DuckLake (its SQLite ledger) is not read: a run there
        would start an empty lake beside it."""
        if (self.state / "ledger.sqlite3").exists():
            raise NewsdropError(f"{self.root} holds a warehouse of newsdrop before DuckLake, which this version "
                                f"does not read: convert it once with `newsdrop rebuild --data {self.root}` of "
                                f"newsdrop at {LEGACY_CONVERTER}, then use it here")

    def exists(self) -> bool:
        """Whether a lake was made here (a PostgreSQL catalog is asked when attached)."""
        return self.catalog_spec.shared or self.catalog.exists()

    def ensure(self) -> None:
        for folder in (self.state,) if self.remote else (self.lake, self.state):
            folder.mkdir(parents=True, exist_ok=True)
