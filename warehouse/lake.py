"""The DuckLake that holds every table: opening it to write, or read-only for analysts.

The catalog is a SQLite file in WAL mode (readers never block the writer, and a
second process can attach while one writes: a DuckDB-file catalog allows
neither). Data files are Parquet under DATA/lake, one folder per table. The
extensions are loaded from their PyPI wheels: nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb

from newsdrop.errors import NewsdropError
from newsdrop.warehouse.layout import MAIN_SCHEMA, DataLayout
from newsdrop.warehouse.schema import (
    LEDGER_SCHEMA,
    LEDGER_TABLES,
    PARTITION_COLUMN,
    TABLES,
    create_table_sql,
)

LAKE = "lake"
EXTENSIONS = ("sqlite_scanner", "ducklake")
MEMORY_LIMIT = "256MB"  # DuckDB would take 80% of RAM; spilling keeps a run's memory flat
BUSY_TIMEOUT_MS = 30_000


def extension_path(name: str) -> Path:
    """The signed extension binary inside the duckdb-extension-<name> wheel."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or spec.origin is None:
        raise NewsdropError(f"the DuckDB extension {name} is not installed: pip install "
                            f"duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}")
    return Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"


def sql_string(value: str) -> str:
    """A SQL string literal. Only for LOAD and ATTACH, which take no parameters."""
    return "'" + value.replace("'", "''") + "'"


def _duckdb() -> duckdb.DuckDBPyConnection:
    # UTC: the partition keys year/month/day of a timestamp are taken in the session's time
    # zone, and the folders newsdrop moves files into are named by the UTC day.
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                                 "memory_limit": MEMORY_LIMIT, "threads": 2})
    con.execute("SET TimeZone = 'UTC'")
    for name in EXTENSIONS:
        con.execute(f"LOAD {sql_string(str(extension_path(name)))}")
    return con


def attach_sql(layout: DataLayout, read_only: bool, snapshot: int | None = None) -> str:
    # OVERRIDE_DATA_PATH: the catalog stores the absolute data path it was created with;
    # the lake is wherever DATA is now (a moved, copied or restored folder).
    options = [f"DATA_PATH {sql_string(str(layout.lake.resolve()) + '/')}", "OVERRIDE_DATA_PATH TRUE",
               f"META_BUSY_TIMEOUT {BUSY_TIMEOUT_MS}"]
    if read_only:
        options.append("READ_ONLY")
    else:
        options.append("META_JOURNAL_MODE 'WAL'")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    catalog = sql_string(f"ducklake:sqlite:{layout.catalog.resolve()}")
    return f"ATTACH {catalog} AS {LAKE} ({', '.join(options)})"


def open_lake(layout: DataLayout) -> duckdb.DuckDBPyConnection:
    """The writer's connection (the caller holds the run lock); creates the lake on first use."""
    layout.ensure()
    con = _duckdb()
    try:
        con.execute(attach_sql(layout, read_only=False))
        con.execute(f"USE {LAKE}")
        # By its tables, not by the catalog file: ATTACH creates the file, and a first run
        # killed before create_lake committed leaves one without tables.
        found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = 'runs'",
                            [LAKE]).fetchone()
        if not found or not found[0]:
            create_lake(con)
    except BaseException:
        con.close()
        raise
    return con


def create_lake(con: duckdb.DuckDBPyConnection) -> None:
    """Tables from warehouse.schema, their partitions, and the views, in one snapshot."""
    # Every committed row goes to a Parquet file, none into the catalog, so each
    # table's folder is the whole table.
    con.execute(f"CALL {LAKE}.set_option('data_inlining_row_limit', 0)")
    con.begin()
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {LAKE}.{LEDGER_SCHEMA}")
    for table, schema in TABLES.items():
        con.execute(create_table_sql(f"{LAKE}.{MAIN_SCHEMA}.{table}", schema))
        if table in PARTITION_COLUMN:
            # Computed keys, so the files do not also hold a partition column: an identity
            # key is stored in the file too, and pandas then fails to merge the two types.
            day = PARTITION_COLUMN[table]
            con.execute(f"ALTER TABLE {LAKE}.{MAIN_SCHEMA}.{table} "
                        f"SET PARTITIONED BY (year({day}), month({day}), day({day}))")
    for table, schema in LEDGER_TABLES.items():
        con.execute(create_table_sql(f"{LAKE}.{LEDGER_SCHEMA}.{table}", schema))
    create_views(con)
    con.commit()


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    con.execute((Path(__file__).parent / "views.sql").read_text())


def connect_read_only(layout: DataLayout, snapshot: int | None = None) -> duckdb.DuckDBPyConnection:
    """An analyst's connection: the lake attached read-only, tables and views by plain name.

    It can read the lake and nothing else: no file outside it, no writes anywhere."""
    if not layout.exists():
        hint = ("it holds an older newsdrop warehouse: run `newsdrop rebuild --data "
                f"{layout.root}` once to move it onto DuckLake") if layout.is_legacy() else (
                f"run `newsdrop run --inbox INBOX --data {layout.root}` first")
        raise NewsdropError(f"no warehouse at {layout.root}: {hint}")
    con = _duckdb()
    try:
        con.execute(attach_sql(layout, read_only=True, snapshot=snapshot))
        con.execute(f"USE {LAKE}")
        con.execute("SET allowed_directories = ?", [[str(layout.lake.resolve()) + "/"]])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(f"SELECT max(snapshot_id) FROM {LAKE}.snapshots()").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def run_snapshot(layout: DataLayout, run_id: str) -> int:
    """The snapshot a run ended at, while the lake still keeps it (vacuum and rebuild expire history)."""
    con = connect_read_only(layout)
    try:
        row = con.execute("SELECT snapshot_id FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if row is None:
            raise NewsdropError(f"no run {run_id!r} in {layout.root}: `newsdrop sql --data {layout.root} "
                                "\"SELECT run_id, finished_at FROM runs\"` lists the runs")
        kept = con.execute(f"SELECT count(*) FROM {LAKE}.snapshots() WHERE snapshot_id = ?", [row[0]]).fetchone()
        if not kept or not kept[0]:
            raise NewsdropError(f"the lake no longer keeps the snapshot of run {run_id} (expired by vacuum or rebuild)")
        return int(row[0])
    finally:
        con.close()


def shell_command(layout: DataLayout, snapshot: int | None = None) -> list[str]:
    """The DuckDB CLI (the duckdb-cli wheel, same version) with the lake attached read-only."""
    if not layout.exists():
        connect_read_only(layout)  # raises the one-line error that says what to do
    spec = importlib.util.find_spec("duckdb_cli")
    if spec is None or spec.origin is None:
        raise NewsdropError(f'the DuckDB shell is not installed: pip install "newsdrop[shell]" '
                            f"(duckdb-cli=={duckdb.__version__})")
    binary = Path(spec.origin).parent / "duckdb"
    setup = ["SET autoinstall_known_extensions = false", "SET autoload_known_extensions = false"]
    setup += [f"LOAD {sql_string(str(extension_path(name)))}" for name in EXTENSIONS]
    setup += [attach_sql(layout, read_only=True, snapshot=snapshot), f"USE {LAKE}",
              f"SET allowed_directories = [{sql_string(str(layout.lake.resolve()) + '/')}]",
              "SET enable_external_access = false", "SET lock_configuration = true"]
    return [str(binary), "-cmd", "; ".join(setup) + ";"]
