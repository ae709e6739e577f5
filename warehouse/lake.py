"""The DuckLake that holds every table: opening it to write, or read-only for analysts.

The default catalog is a SQLite file in WAL mode (readers never block the writer,
and a second process can attach while one writes: a DuckDB-file catalog allows
neither); a shared one is a PostgreSQL database. Data files are Parquet under
DATA/lake (a folder or an s3:// prefix), one folder per table. The extensions are
loaded from their PyPI wheels: nothing is downloaded at run time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa

from newsdrop.errors import NewsdropError
from newsdrop.warehouse.catalog import POSTGRES, catalog_unreachable
from newsdrop.warehouse.layout import MAIN_SCHEMA, DataLayout
from newsdrop.warehouse.schema import (
    LEDGER_SCHEMA,
    LEDGER_TABLES,
    PARTITION_COLUMN,
    PARTITION_KEYS,
    RETIRED_COLUMNS,
    SIMILARITY_SCHEMA,
    SIMILARITY_TABLES,
    TABLES,
    column_sql,
    create_table_sql,
)
from newsdrop.warehouse.storage import check_bucket

LAKE = "lake"
EXTENSIONS = ("sqlite_scanner", "ducklake")
SCALE_EXTENSIONS = {"postgres": "postgres_scanner", "s3": "httpfs"}  # from newsdrop[scale]
SECRET = "newsdrop_s3"
MEMORY_LIMIT = "256MB"  # DuckDB would take 80% of RAM; spilling keeps a run's memory flat
BUSY_TIMEOUT_MS = 30_000


def extension_path(name: str) -> Path:
    """The signed extension binary inside the duckdb-extension-<name> wheel."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or spec.origin is None:
        if name in SCALE_EXTENSIONS.values():
            raise NewsdropError(f'a PostgreSQL catalog or s3:// data needs pip install "newsdrop[scale]" '
                                f"(the DuckDB extension {name} is not installed)")
        raise NewsdropError(f"the DuckDB extension {name} is not installed: pip install "
                            f"duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}")
    return Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"


def sql_string(value: str) -> str:
    """A SQL string literal. Only for LOAD and ATTACH, which take no parameters."""
    return "'" + value.replace("'", "''") + "'"


def extensions_for(layout: DataLayout) -> list[str]:
    """The extensions a lake needs: the embedded default needs none of newsdrop[scale]'s."""
    names = list(EXTENSIONS)
    if layout.catalog_spec.kind == POSTGRES:
        names.insert(0, SCALE_EXTENSIONS["postgres"])
    if layout.remote:
        names.insert(0, SCALE_EXTENSIONS["s3"])
    return names


def s3_secret_sql(in_shell: bool = False) -> str | None:
    """A DuckDB secret from the usual AWS variables (DuckDB reads no endpoint from them);
    None when they are not set, and DuckDB's own secrets apply. `in_shell`: the DuckDB CLI
    reads the keys with getenv() itself, so that they are never in its command line."""
    from newsdrop.warehouse.storage import s3_endpoint, s3_region

    key_id, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    endpoint = s3_endpoint()
    if not (key_id and secret) and not endpoint:
        return None
    options = [f"REGION {sql_string(s3_region())}"]
    def value(variable: str) -> str:
        return f"getenv({sql_string(variable)})" if in_shell else sql_string(os.environ[variable])

    if key_id and secret:
        options += [f"KEY_ID {value('AWS_ACCESS_KEY_ID')}", f"SECRET {value('AWS_SECRET_ACCESS_KEY')}"]
        if os.environ.get("AWS_SESSION_TOKEN"):
            options.append(f"SESSION_TOKEN {value('AWS_SESSION_TOKEN')}")
    if endpoint:
        split = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options += [f"ENDPOINT {sql_string(split.netloc)}", "URL_STYLE 'path'",
                    f"USE_SSL {'false' if split.scheme == 'http' else 'true'}"]
    return f"CREATE OR REPLACE SECRET {SECRET} (TYPE s3, {', '.join(options)})"


def _duckdb(layout: DataLayout) -> duckdb.DuckDBPyConnection:
    # UTC: the partition keys year/month/day of a timestamp are taken in the session's time
    # zone, and the folders newsdrop moves files into are named by the UTC day.
    names = extensions_for(layout)
    paths = [extension_path(name) for name in names]  # a missing extension says so before connecting
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                                 "memory_limit": MEMORY_LIMIT, "threads": 2})
    con.execute("SET TimeZone = 'UTC'")
    for path in paths:
        con.execute(f"LOAD {sql_string(str(path))}")
    secret = s3_secret_sql() if layout.remote else None
    if secret:
        con.execute(secret)
    return con


def catalog_target(layout: DataLayout) -> str:
    spec = layout.catalog_spec
    if spec.kind == POSTGRES:
        return f"ducklake:postgres:{spec.params}"
    return f"ducklake:sqlite:{layout.catalog.resolve()}"


def attach_sql(layout: DataLayout, read_only: bool, snapshot: int | None = None) -> str:
    # OVERRIDE_DATA_PATH: the catalog stores the absolute data path it was created with;
    # the lake is wherever DATA is now (a moved, copied or restored folder).
    options = [f"DATA_PATH {sql_string(layout.lake_url)}", "OVERRIDE_DATA_PATH TRUE"]
    if layout.catalog_spec.kind != POSTGRES:
        options.append(f"META_BUSY_TIMEOUT {BUSY_TIMEOUT_MS}")
        if not read_only:
            options.append("META_JOURNAL_MODE 'WAL'")
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    return f"ATTACH {sql_string(catalog_target(layout))} AS {LAKE} ({', '.join(options)})"


def attach(con: duckdb.DuckDBPyConnection, layout: DataLayout, read_only: bool, snapshot: int | None = None) -> None:
    """ATTACH, with a catalog that cannot be reached said in one line (never a password:
    the catalog string holds none)."""
    try:
        con.execute(attach_sql(layout, read_only, snapshot))
    except duckdb.Error as error:
        if layout.catalog_spec.kind != POSTGRES:
            raise
        if read_only and "creating a new DuckLake is explicitly disabled" in str(error):
            raise no_warehouse_yet(layout) from None
        raise catalog_unreachable(layout.catalog_spec, error) from None


def no_warehouse_yet(layout: DataLayout) -> NewsdropError:
    return NewsdropError(f"no warehouse in the catalog ({layout.catalog_spec.params}) yet: run `newsdrop run "
                         f"--inbox INBOX --data {layout.url} --catalog ...` first")


def open_lake(layout: DataLayout) -> duckdb.DuckDBPyConnection:
    """The writer's connection (the caller holds the run lock); creates the lake on first use."""
    layout.ensure()
    if layout.remote:
        check_bucket(layout.url)
    con = _duckdb(layout)
    try:
        attach(con, layout, read_only=False)
        con.execute(f"USE {LAKE}")
        # By its tables, not by the catalog file: ATTACH creates the file, and a first run
        # killed before create_lake committed leaves one without tables.
        if not has_tables(con):
            create_lake(con)
        else:
            bring_up_to_date(con)
    except BaseException:
        con.close()
        raise
    return con


def bring_up_to_date(con: duckdb.DuckDBPyConnection) -> None:
    """A lake made by an earlier newsdrop gets the tables and (nullable) columns added since,
    and loses the columns dropped since, in one snapshot, before the run writes: its older rows
    read NULL in a new column. No step to remember."""
    have = set(con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                           "WHERE database_name = ? AND schema_name = ?", [LAKE, MAIN_SCHEMA]).fetchall())
    tables = {table for table, _column in have}
    new_tables = [table for table in TABLES if table not in tables]
    new_columns = [(table, column) for table, schema in TABLES.items() if table in tables for column in schema
                   if (table, column.name) not in have]
    # Only the columns newsdrop retired: one it does not know may be a newer newsdrop's.
    dropped = sorted(RETIRED_COLUMNS & have)
    similar = {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
                                               "AND schema_name = ?", [LAKE, SIMILARITY_SCHEMA]).fetchall()}
    new_similarity = similar != set(SIMILARITY_TABLES)
    if not (new_tables or new_columns or dropped or new_similarity):
        return
    con.begin()
    if new_similarity:  # and the views that read them
        create_similarity_tables(con)
        create_views(con)
    for table in new_tables:
        con.execute(create_table_sql(f"{LAKE}.{MAIN_SCHEMA}.{table}", TABLES[table]))
    for table, column in new_columns:
        qualified = f"{LAKE}.{MAIN_SCHEMA}.{table}"
        con.execute(f"ALTER TABLE {qualified} ADD COLUMN {column_sql(qualified, column)}")
    for table, name in dropped:
        con.execute(f'ALTER TABLE {LAKE}.{MAIN_SCHEMA}.{table} DROP COLUMN "{name}"')
    con.commit()


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = 'runs'",
                        [LAKE]).fetchone()
    return bool(found and found[0])


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
            keys = ", ".join(f"{key}({day})" for key in PARTITION_KEYS)
            con.execute(f"ALTER TABLE {LAKE}.{MAIN_SCHEMA}.{table} SET PARTITIONED BY ({keys})")
    for table, schema in LEDGER_TABLES.items():
        con.execute(create_table_sql(f"{LAKE}.{LEDGER_SCHEMA}.{table}", schema))
    create_similarity_tables(con)
    create_views(con)
    con.commit()


def create_similarity_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {LAKE}.{SIMILARITY_SCHEMA}")
    for table, schema in SIMILARITY_TABLES.items():
        con.execute(create_table_sql(f"{LAKE}.{SIMILARITY_SCHEMA}.{table}", schema))


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data: pa.Table) -> Iterator[None]:
    """An Arrow table readable by `name` in the statements of the block, and no longer after it."""
    con.register(name, data)
    try:
        yield
    finally:
        con.unregister(name)


def insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    """An Arrow table's rows into a lake table, by column name."""
    if data.num_rows:
        with registered(con, "_rows", data):
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    con.execute((Path(__file__).parent / "views.sql").read_text())


def connect_read_only(layout: DataLayout, snapshot: int | None = None) -> duckdb.DuckDBPyConnection:
    """An analyst's connection: the lake attached read-only, tables and views by plain name.

    It can read the lake and nothing else: no file outside it, no writes anywhere."""
    if not layout.exists():
        layout.refuse_unfit()
        raise NewsdropError(f"no warehouse at {layout.root}: run `newsdrop run --inbox INBOX --data "
                            f"{layout.root}` first")
    if layout.remote:
        check_bucket(layout.url)
    con = _duckdb(layout)
    try:
        attach(con, layout, read_only=True, snapshot=snapshot)
        con.execute(f"USE {LAKE}")
        if not has_tables(con):
            raise no_warehouse_yet(layout)
        con.execute("SET allowed_directories = ?", [[layout.lake_url]])
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


def client_setup(layout: DataLayout, snapshot: int | None = None) -> list[str]:
    """The statements with which a DuckDB client of this version reads the lake: the extensions
    loaded from their wheels (nothing is downloaded), the S3 secret when DATA is in S3 (its keys
    read with getenv(), which the DuckDB CLI has), the lake attached read-only."""
    setup = [f"LOAD {sql_string(str(extension_path(name)))}" for name in extensions_for(layout)]
    secret = s3_secret_sql(in_shell=True) if layout.remote else None
    setup += [secret] if secret else []
    return [*setup, attach_sql(layout, read_only=True, snapshot=snapshot), f"USE {LAKE}"]


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
    setup += client_setup(layout, snapshot)
    setup += [f"SET allowed_directories = [{sql_string(layout.lake_url)}]",
              "SET enable_external_access = false", "SET lock_configuration = true"]
    # The setup's own results (CREATE SECRET answers "Success") are not the user's output.
    return [str(binary), "-cmd", ".output /dev/null", "-cmd", "; ".join(setup) + ";", "-cmd", ".output"]
