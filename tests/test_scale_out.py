"""Beyond one machine: a PostgreSQL catalog, S3 for inbox and lake, reading on Dask.

Real servers (tests/servers.py): a PostgreSQL 15 cluster, moto's S3 server and a Dask
LocalCluster with 2 worker processes, started by `.ci/run` (or by the `servers`
fixture). Each test has its own database and its own S3 prefix.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import api_run
import pytest
from conftest import DROPS
from helpers import make_inbox

import newsdrop
from benchmarks.generate import generate
from newsdrop.errors import NewsdropError
from newsdrop.warehouse import storage
from newsdrop.warehouse.catalog import parse_catalog
from newsdrop.warehouse.lock import catalog_lock_holder

SERVERS = Path(__file__).parent / "servers.py"
ANALYST = Path(__file__).parent / "analyst.py"
BUCKET = "news"
# Columns that name the run that took a row in, and received_at: an S3 object's time is
# its upload time, not the local file's mtime (and the headlines' first and last seen times come
# from it). Everything else must be equal.
VARYING = ("run_id", "ingested_at", "rejected_at", "received_at", "first_seen_at", "last_seen_at")
DATA_TABLES = ("drops", "articles", "headlines", "drop_headlines", "dropped_lines", "rejected_drops")


def s3_client(env: dict[str, str]) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")


@dataclass
class Remote:
    """One warehouse in PostgreSQL + S3, and the inbox beside it."""

    inbox: str
    data: str
    catalog: str
    env: dict[str, str]

    def upload(self, folder: Path) -> None:
        client = s3_client(self.env)
        prefix = self.inbox.removeprefix(f"s3://{BUCKET}/")

        def put(path: Path) -> None:
            client.put_object(Bucket=BUCKET, Key=f"{prefix}/{path.name}", Body=path.read_bytes())

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, sorted(folder.glob("*.txt"))))

    def process(self, *extra: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                command: str = "run", cli: bool = False) -> subprocess.Popen[str]:
        """The command, in its own process group. A run or rebuild is the warehouse's steps in a
        plain Python process (tests/api_run.py) unless `cli`: `newsdrop run` through Prefect."""
        if command in ("run", "rebuild") and not cli:
            where = [self.inbox, self.data] if command == "run" else [self.data]
            argv = api_run.command("ingest" if command == "run" else "rebuild", *where, "--catalog", self.catalog,
                                   *extra)
        else:
            where = ["--inbox", self.inbox] if command == "run" else []
            argv = [sys.executable, "-m", "newsdrop", command, *where, "--data", self.data, "--catalog", self.catalog,
                    *extra]
        return subprocess.Popen(argv, env=env or self.env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)

    def run(self, *extra: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            command: str = "run", cli: bool = False) -> subprocess.CompletedProcess[str]:
        process = self.process(*extra, env=env, cwd=cwd, command=command, cli=cli)
        stdout, stderr = process.communicate(timeout=300)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with newsdrop.connect(self.data, catalog=self.catalog) as con:
            return con.execute(sql).fetchall()

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every data table's rows, on one connection."""
        with newsdrop.connect(self.data, catalog=self.catalog) as con:
            return {table: sorted_rows(con, table) for table in DATA_TABLES}


def sorted_rows(con: Any, table: str) -> list[tuple[Any, ...]]:
    columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall() if row[0] not in VARYING]
    quoted = ", ".join(f'"{column}"' for column in columns)
    return sorted(con.execute(f"SELECT {quoted} FROM {table}").fetchall(), key=repr)


def create_database(env: dict[str, str]) -> str:
    import psycopg

    name = f"t_{secrets.token_hex(4)}"
    with psycopg.connect(f"dbname=postgres {env['TEST_SERVERS_PG']}", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return name


@pytest.fixture
def remote(servers: dict[str, str], prefect_env: dict[str, str]) -> Remote:
    name = create_database(servers)
    env = {**prefect_env, **{key: servers[key] for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                                            "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "PGPASSWORD")}}
    return Remote(inbox=f"s3://{BUCKET}/{name}/inbox", data=f"s3://{BUCKET}/{name}/lake",
                  catalog=f"postgres:dbname={name} {servers['TEST_SERVERS_PG']}", env=env)


def embedded(inbox: Path, data: Path, env: dict[str, str], *extra: str) -> dict[str, list[tuple[Any, ...]]]:
    """The same inbox through the embedded default, as the reference."""
    result = subprocess.run(api_run.command("ingest", str(inbox), str(data), *extra), env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with newsdrop.connect(data) as con:
        return {table: sorted_rows(con, table) for table in DATA_TABLES}


def read_tasks_on_dask(address: str) -> int:
    """How many read-batch tasks the Dask scheduler has seen finish."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        counts = client.run_on_scheduler(lambda dask_scheduler: {
            name: dict(prefix.state_counts) for name, prefix in dask_scheduler.task_prefixes.items()})
    return sum(states.get("memory", 0) for name, states in counts.items() if "read_batch" in name)


def prefect_on_dask(address: str) -> set[bool]:
    """Whether each Dask worker has imported Prefect."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        return set(client.run(lambda: "prefect" in sys.modules).values())


# About 35 s. The default suite's scale-out tests take the same servers in smaller steps: a
# PostgreSQL catalog (test_local_data_with_a_postgres_catalog), S3 (test_a_too_large_drop_in_s3_...),
# reading on Dask (test_python_api_reads_on_dask_...).
@pytest.mark.slow
def test_postgres_s3_and_dask_give_the_embedded_tables_row_for_row(remote: Remote, servers: dict[str, str],
                                                                  tmp_path: Path) -> None:
    remote.upload(DROPS)
    reference = embedded(make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data", remote.env)
    tasks_before = read_tasks_on_dask(servers["TEST_SERVERS_DASK"])

    result = remote.run("--dask", servers["TEST_SERVERS_DASK"], env={**remote.env, "NEWSDROP_BATCH_SIZE": "5"},
                        cli=True)  # through Prefect's flow: the same Dask readers
    assert result.returncode == 0, result.stderr
    assert "36 new, 34 loaded, 2 rejected" in result.stdout
    assert remote.tables() == reference
    # Six batches of at most five files, each read on the cluster.
    assert read_tasks_on_dask(servers["TEST_SERVERS_DASK"]) - tasks_before >= 6
    # ...by workers that never load Prefect, so none can fall back to an ephemeral Prefect
    # server of its own (on a busy machine its start timed out, a 60-line traceback).
    assert prefect_on_dask(servers["TEST_SERVERS_DASK"]) == {False}
    # The raw bytes are in the lake, one object a batch (not one a drop), and none under raw/.
    prefix = remote.data.removeprefix(f"s3://{BUCKET}/")
    listed = s3_client(remote.env).list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/lake/main/raw_drops/")
    assert len(listed["Contents"]) == 8  # 36 files in batches of five
    assert remote.query("SELECT count(DISTINCT sha256) FROM raw_drops") == [(36,)]
    assert "Contents" not in s3_client(remote.env).list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/raw/")

    again = remote.run()
    assert again.returncode == 0, again.stderr
    assert "0 new" in again.stdout

    rebuilt = remote.run("--dask", servers["TEST_SERVERS_DASK"], command="rebuild")  # the API's Dask executor
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert remote.tables() == reference


@pytest.mark.slow
def test_two_machines_at_once_load_every_drop_once(remote: Remote, tmp_path: Path) -> None:
    """Two runs on one catalog and inbox, each with its own empty working folder and home
    (two machines): the catalog's lock lets one run at a time."""
    generate(400, tmp_path / "drops", seed=21, corpora=None)
    remote.upload(tmp_path / "drops")
    runs = []
    for machine in ("a", "b"):
        home = tmp_path / machine
        home.mkdir()
        env = {**remote.env, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "NEWSDROP_BATCH_SIZE": "50"}
        runs.append(remote.process("--wait", "120", env=env, cwd=home))
    outputs = [process.communicate(timeout=300) for process in runs]
    assert [process.returncode for process in runs] == [0, 0], outputs
    assert remote.query("SELECT count(*), count(DISTINCT file_name) FROM drops") == [(400, 400)]
    assert remote.query("SELECT count(*) FROM lake.ledger.file_versions WHERE outcome = 'loaded'") == [(400,)]
    assert sorted(loaded for (loaded,) in remote.query("SELECT drops_loaded FROM runs")) == [0, 400]
    assert catalog_lock_holder(parse_catalog(remote.catalog)) is None


def test_a_second_run_without_wait_is_told_in_one_line(remote: Remote) -> None:
    import psycopg

    from newsdrop.warehouse.lock import LOCK_KEY

    remote.upload(DROPS)
    spec = parse_catalog(remote.catalog)
    with psycopg.connect(spec.params, autocommit=True) as holder:  # another machine holds the lock
        holder.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        busy = remote.run(cli=True)
    assert busy.returncode == 3, busy.stderr
    assert busy.stderr.strip() == ("newsdrop: another newsdrop run is in progress on this catalog; "
                                   "try again later, or pass --wait SECONDS")
    assert remote.run().returncode == 0  # the holder's session ended: the lock went with it


@pytest.mark.slow  # random kills of the same steps are in the default run on the embedded lake (test_crash.py)
def test_sigkill_at_random_moments_then_a_rerun_equals_a_clean_run(remote: Remote, tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    rng = random.Random(17)
    # Small: moto is one Python process, and each batch's commit is several S3 and PostgreSQL round trips.
    env = {**remote.env, "NEWSDROP_BATCH_SIZE": "20"}
    killed = 0
    for attempt in range(3):
        generate(40, drops, seed=17, corpora=None, start=attempt * 40)
        remote.upload(drops)
        before = committed_entries(remote)
        process = remote.process(env=env)
        if attempt == 0:
            time.sleep(rng.uniform(0.3, 1.5))  # starting: the lock, recovery, the listing, the first batch
        else:  # between batches or inside one: after this run's first commit, at a random moment
            deadline = time.monotonic() + 120
            while committed_entries(remote) == before and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0, 0.5))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)
    assert killed >= 2
    assert catalog_lock_holder(parse_catalog(remote.catalog)) is None  # the session ended with the process
    finished = remote.run(env=env)
    assert finished.returncode == 0, finished.stderr
    reference = embedded(drops, tmp_path / "reference", env)
    assert remote.tables() == reference
    assert remote.query("SELECT count(*) - count(DISTINCT drop_id) FROM drops") == [(0,)]
    statuses = [status for (status,) in remote.query("SELECT status FROM runs ORDER BY finished_at")]
    assert set(statuses) <= {"succeeded", "interrupted"} and statuses[-1] == "succeeded", statuses
    # No file of a killed transaction is left in the lake: every Parquet object is in the catalog.
    assert_lake_files_registered(remote)


def assert_lake_files_registered(remote: Remote) -> None:
    prefix = remote.data.removeprefix(f"s3://{BUCKET}/") + "/lake/"
    paginator = s3_client(remote.env).get_paginator("list_objects_v2")
    stored = {f"s3://{BUCKET}/{item['Key']}" for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix)
              for item in page.get("Contents", [])}
    with newsdrop.connect(remote.data, catalog=remote.catalog) as con:
        listed = set()
        for table in DATA_TABLES:
            if table == "headlines":
                continue
            listed |= {path for (path,) in con.execute("SELECT data_file FROM ducklake_list_files('lake', ?)",
                                                       [table]).fetchall()}
    lake_tables = {path for path in stored if "/lake/main/" in path and any(
        f"/lake/main/{table}/" in path for table in DATA_TABLES)}
    assert lake_tables == listed


@pytest.mark.slow
def test_an_analyst_session_keeps_its_snapshot_and_never_blocks_a_run(remote: Remote, tmp_path: Path) -> None:
    remote.upload(DROPS)
    assert remote.run().returncode == 0
    reader = subprocess.Popen([sys.executable, str(ANALYST), "hold", remote.data, "connect", remote.catalog],
                              env=remote.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdin is not None and reader.stdout is not None
    try:
        assert json.loads(reader.stdout.readline()) == {"stage": "open", "drops": 34, "broken": []}
        generate(60, tmp_path / "more", seed=9, corpora=None)
        remote.upload(tmp_path / "more")
        result = remote.run(env={**remote.env, "NEWSDROP_BATCH_SIZE": "20"})
        assert result.returncode == 0, result.stderr
        assert remote.query("SELECT count(*) FROM drops") == [(94,)]
        reader.stdin.write("again\n")
        reader.stdin.flush()
        assert json.loads(reader.stdout.readline()) == {"stage": "still open", "drops": 34, "broken": []}
        reader.stdin.write("commit\n")
        reader.stdin.flush()
        assert json.loads(reader.stdout.readline()) == {"stage": "after commit", "drops": 94, "broken": []}
        assert reader.wait(timeout=60) == 0
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()


def committed_entries(remote: Remote) -> int:
    try:
        return int(remote.query("SELECT count(*) FROM lake.ledger.file_versions")[0][0])
    except newsdrop.NewsdropError:  # the first run has not made the lake yet
        return 0


@contextlib.contextmanager
def relay(port: int, target: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([sys.executable, str(SERVERS), "proxy", "--listen", str(port), "--to", str(target)],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
def test_the_s3_server_stopping_mid_run_fails_in_one_line_and_the_next_run_completes(
        remote: Remote, servers: dict[str, str], tmp_path: Path) -> None:
    """The run reaches S3 through a relay; the relay stops (the server is gone for the run)
    and comes back on the same port, with the objects intact."""
    import servers as real_servers

    generate(300, tmp_path / "drops", seed=31, corpora=None)
    remote.upload(tmp_path / "drops")
    port = real_servers.free_port()
    env = {**remote.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "NEWSDROP_BATCH_SIZE": "25"}
    with relay(port, int(servers["TEST_SERVERS_S3_PORT"])) as server:
        process = remote.process(env=env)
        deadline = time.monotonic() + 120
        while not committed_entries(remote):
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.2)  # the first batch committed: the run is in the middle
        os.killpg(server.pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 1, (stdout, stderr)
    failure = stderr.strip().splitlines()[-1]  # after the progress lines
    assert failure.startswith("newsdrop: ") and "Could not connect" in failure, stderr
    assert "Traceback" not in stderr
    committed = remote.query("SELECT count(*) FROM drops")[0][0]
    assert 0 < committed < 300
    # Whole batches only: every committed ledger entry has its rows.
    assert remote.query("SELECT (SELECT count(*) FROM drops) + (SELECT count(*) FROM rejected_drops) = "
                        "(SELECT count(*) FROM lake.ledger.file_versions WHERE outcome <> 'unchanged')") == [(True,)]
    with relay(port, int(servers["TEST_SERVERS_S3_PORT"])):
        again = remote.run(env=env)
    assert again.returncode == 0, again.stderr
    assert remote.query("SELECT count(*), count(DISTINCT file_name) FROM drops") == [(300, 300)]
    # The failed run could not write its runs row (the lake's files are in S3): the next
    # run found its marker and recorded it as interrupted, with what it had committed.
    runs = remote.query("SELECT status, drops_loaded FROM runs ORDER BY finished_at")
    assert runs == [("interrupted", committed), ("succeeded", 300 - committed)], runs
    assert_lake_files_registered(remote)


@pytest.mark.slow  # the same one-line errors without a server: test_the_catalog_string_may_not_hold_a_password
def test_a_wrong_password_or_an_unreachable_catalog_fails_in_one_line(remote: Remote, servers: dict[str, str],
                                                                       tmp_path: Path) -> None:
    import servers as real_servers

    remote.upload(DROPS)
    wrong = "not-the-password-4711"
    for command in ("run", "status", "sql"):
        extra = ("SELECT 1",) if command == "sql" else ()
        result = remote.run(*extra, env={**remote.env, "PGPASSWORD": wrong}, command=command, cli=True)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "password authentication failed" in result.stderr
        assert wrong not in result.stderr + result.stdout
        assert servers["PGPASSWORD"] not in result.stderr + result.stdout
    closed = real_servers.free_port()
    unreachable = Remote(remote.inbox, remote.data, f"postgres:dbname=news host=127.0.0.1 port={closed} user=x",
                         remote.env)
    result = unreachable.run(cli=True)
    assert result.returncode == 1
    assert result.stderr.startswith("newsdrop: cannot open the PostgreSQL catalog (dbname=news host=127.0.0.1")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    refused = remote.run(env={**remote.env}, command="status", cwd=tmp_path)
    assert refused.returncode == 1  # nothing ingested yet in this catalog
    assert "run `newsdrop run" in refused.stderr


@pytest.mark.parametrize("catalog", [
    "postgres:dbname=news host=127.0.0.1 password=hunter2-secret",
    "postgres:dbname=news host=127.0.0.1 PASSWORD = hunter2-secret",
    "postgres:postgresql://postgres:hunter2-secret@127.0.0.1/news",
    "postgres:postgresql://postgres@127.0.0.1/news?password=hunter2-secret",
    "postgres:postgresql://postgres@127.0.0.1/news?sslmode=disable&password=hunter2-secret",
])
def test_the_catalog_string_may_not_hold_a_password(catalog: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "newsdrop", "status", "--data", str(tmp_path), "--catalog",
                             catalog], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "must not hold the password" in result.stderr and "hunter2" not in result.stderr + result.stdout


def test_a_missing_bucket_is_said_in_one_line(remote: Remote, tmp_path: Path) -> None:
    for inbox, data in (("s3://no-such-bucket/inbox", remote.data), (remote.inbox, "s3://no-such-bucket/lake")):
        result = Remote(inbox, data, remote.catalog, remote.env).run(cli=True)
        assert result.returncode == 1, result.stdout
        assert result.stderr.strip() == ("newsdrop: no bucket 'no-such-bucket' at "
                                         f"{remote.env['AWS_ENDPOINT_URL']}: give an existing bucket in "
                                         f"{inbox if 'no-such' in inbox else data}")


def test_an_s3_object_without_boto3_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("boto3", "botocore", "botocore.config", "botocore.exceptions"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it fails as if it were not installed
    storage.s3_client.cache_clear()
    try:
        with pytest.raises(NewsdropError, match=r'pip install "newsdrop\[scale\]"') as raised:
            storage.read_bytes("s3://news/inbox/001_00000000000000aa.txt")
    finally:
        storage.s3_client.cache_clear()
    assert "\n" not in str(raised.value)


def test_s3_data_needs_a_postgres_catalog(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "newsdrop", "run", "--inbox", str(tmp_path), "--data",
                             "s3://news/x"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "newsdrop: data at s3://news/x needs a PostgreSQL catalog: a SQLite catalog is a local file; "
        'give --catalog "postgres:dbname=NAME host=HOST user=USER"')


def test_python_api_reads_on_dask_and_connects_with_the_catalog(remote: Remote, servers: dict[str, str]) -> None:
    """newsdrop.ingest(..., catalog=, dask=) without Prefect: the batches go to the cluster."""
    remote.upload(DROPS)
    script = (
        "import newsdrop, sys\n"
        "if __name__ == '__main__':\n"
        "    s = newsdrop.ingest(sys.argv[1], sys.argv[2], catalog=sys.argv[3], dask=sys.argv[4], batch_size=7,\n"
        "                        settle_seconds=0)\n"
        "    print(s.drops_loaded)\n"
        "    print(newsdrop.query(sys.argv[2], 'SELECT count(*) AS n FROM articles', catalog=sys.argv[3]).n[0])\n")
    before = read_tasks_on_dask(servers["TEST_SERVERS_DASK"])
    result = subprocess.run([sys.executable, "-c", script, remote.inbox, remote.data, remote.catalog,
                             servers["TEST_SERVERS_DASK"]], env=remote.env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["34", "34"]
    assert read_tasks_on_dask(servers["TEST_SERVERS_DASK"]) - before >= 4


def test_local_data_with_a_postgres_catalog(remote: Remote, tmp_path: Path) -> None:
    """The lake in a (shared) folder, the catalog and the lock in PostgreSQL."""
    inbox = make_inbox(tmp_path / "inbox", DROPS)
    data = tmp_path / "data"
    result = subprocess.run(api_run.command("ingest", str(inbox), str(data), "--catalog", remote.catalog),
                            env=remote.env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not (data / "catalog.sqlite").exists()
    with newsdrop.connect(data, catalog=remote.catalog) as con:
        assert con.execute("SELECT count(*) FROM drops").fetchall() == [(34,)]


@pytest.mark.slow
def test_the_shell_and_vacuum_work_on_postgres_and_s3(remote: Remote, tmp_path: Path) -> None:
    """The DuckDB shell attaches the lake read-only with the keys read from its environment
    (never in its command line); vacuum --merge rewrites S3 partitions in one snapshot."""
    from newsdrop.settings import data_layout, load_settings
    from newsdrop.warehouse.lake import shell_command

    remote.upload(DROPS)
    assert remote.run(env={**remote.env, "NEWSDROP_BATCH_SIZE": "9"}).returncode == 0
    before = remote.tables()
    saved = {name: os.environ.get(name) for name in remote.env if name.startswith(("AWS_", "PG"))}
    os.environ.update({name: remote.env[name] for name in saved})
    try:
        command = shell_command(data_layout(load_settings(data=remote.data, catalog=remote.catalog)))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert remote.env["AWS_SECRET_ACCESS_KEY"] not in " ".join(command)
    counted = subprocess.run([*command, "-csv", "-noheader", "-c", "SELECT count(*) FROM drops"], env=remote.env,
                             capture_output=True, text=True, timeout=60)
    assert (counted.returncode, counted.stdout) == (0, "34\n"), counted.stderr
    refused = subprocess.run([*command, "-c", "DELETE FROM drops"], env=remote.env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode != 0 and "read-only" in refused.stderr + refused.stdout

    vacuumed = remote.run("--merge", "--keep-days", "0", command="vacuum")
    assert vacuumed.returncode == 0, vacuumed.stderr
    assert "merge(s)" in vacuumed.stdout and " 0 merge(s)" not in vacuumed.stdout, vacuumed.stdout
    assert remote.tables() == before
    assert_lake_files_registered(remote)


def test_sql_refuses_the_postgres_functions(remote: Remote) -> None:
    remote.upload(DROPS)
    assert remote.run().returncode == 0
    result = remote.run("SELECT * FROM postgres_query('x', 'SELECT 1')", command="sql")
    assert result.returncode == 1
    assert result.stderr.strip() == "newsdrop: refused: postgres_query reaches databases outside the warehouse"


# Runs newsdrop's CLI with the packages of newsdrop[scale] made unimportable.
WITHOUT_SCALE = """
import sys
from importlib.abc import MetaPathFinder

SCALE = ("psycopg", "distributed", "dask", "duckdb_extension_httpfs",
         "duckdb_extension_postgres_scanner", "boto3", "botocore")

class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in SCALE:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from newsdrop.flows.cli import main
sys.argv = ["newsdrop", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_the_embedded_default_needs_nothing_of_the_scale_extra(tmp_path: Path, prefect_env: dict[str, str]) -> None:
    inbox = make_inbox(tmp_path / "inbox", DROPS)

    def newsdrop_without_scale(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", WITHOUT_SCALE, *args], env=prefect_env, capture_output=True,
                              text=True, timeout=300)

    ran = newsdrop_without_scale("run", "--inbox", str(inbox), "--data", str(tmp_path / "data"), "--workers", "2")
    assert ran.returncode == 0, ran.stderr
    assert "34 loaded, 2 rejected" in ran.stdout
    asked = newsdrop_without_scale("sql", "--data", str(tmp_path / "data"), "--format", "csv",
                                   "SELECT count(*) AS n FROM drops")
    assert asked.stdout.split() == ["n", "34"], asked.stderr
    for option in (["--catalog", "postgres:dbname=news host=127.0.0.1"], ["--dask", "tcp://127.0.0.1:1"]):
        wanted = newsdrop_without_scale("run", "--inbox", str(inbox), "--data", str(tmp_path / "other"), *option)
        assert wanted.returncode == 1, wanted.stderr
        assert len(wanted.stderr.strip().splitlines()) == 1, wanted.stderr
        assert 'pip install "newsdrop[scale]"' in wanted.stderr


@pytest.mark.slow  # it waits out the 10 s a scheduler has to answer
def test_an_unreachable_dask_scheduler_fails_in_one_line(tmp_path: Path, prefect_env: dict[str, str],
                                                         servers: dict[str, str]) -> None:
    import servers as real_servers

    inbox = make_inbox(tmp_path / "inbox", DROPS)
    address = f"tcp://127.0.0.1:{real_servers.free_port()}"
    result = subprocess.run([sys.executable, "-m", "newsdrop", "run", "--inbox", str(inbox), "--data",
                             str(tmp_path / "data"), "--dask", address], env=prefect_env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith(f"newsdrop: cannot reach the Dask scheduler at {address}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "data").exists()  # nothing started

    # Something that answers, but is not a Dask scheduler (a web server): no hang, no traceback.
    port = real_servers.free_port()
    web = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        real_servers._wait_for_port(port, 30, "http.server")
        result = subprocess.run([sys.executable, "-m", "newsdrop", "run", "--inbox", str(inbox), "--data",
                                 str(tmp_path / "data"), "--dask", f"tcp://127.0.0.1:{port}"], env=prefect_env,
                                capture_output=True, text=True, timeout=120)
    finally:
        web.kill()
        web.wait()
    assert result.returncode == 1
    assert result.stderr.startswith(f"newsdrop: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_too_large_drop_in_s3_is_kept_whole_and_rejected(remote: Remote, tmp_path: Path) -> None:
    import hashlib

    folder = make_inbox(tmp_path / "inbox", DROPS)
    big = folder / "900_00000000000000bb.txt"
    big.write_bytes(b"A paragraph of a long article.\n" * 100_000)  # 3.1 MB, streamed in chunks
    remote.upload(folder)
    result = remote.run(env={**remote.env, "NEWSDROP_MAX_BYTES": "1MiB"})
    assert result.returncode == 0, result.stderr
    assert remote.query(f"SELECT reason FROM rejected_drops WHERE file_name = '{big.name}'") == [("too_large",)]
    sha = hashlib.sha256(big.read_bytes()).hexdigest()
    chunks = remote.query(f"SELECT chunk, content FROM raw_drops WHERE sha256 = '{sha}' ORDER BY chunk")
    assert [chunk for chunk, _content in chunks] == [0, 1, 2]  # 1 MiB chunks
    assert b"".join(content for _chunk, content in chunks) == big.read_bytes()
    # No temporary object is left (pyarrow may leave an empty marker for the emptied prefix).
    leftovers = s3_client(remote.env).list_objects_v2(
        Bucket=BUCKET, Prefix=f"{remote.data.removeprefix(f's3://{BUCKET}/')}/_staging/")
    assert [item["Key"] for item in leftovers.get("Contents", []) if item["Size"]] == []


def test_an_s3_warehouse_that_keeps_raw_objects_is_upgraded(remote: Remote, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PostgreSQL + S3 warehouse as newsdrop before raw_drops left it: each file's bytes an
    object under DATA/raw/ (made here from a warehouse of today's: its raw_drops emptied, its
    bytes written back as such objects). The next run moves them into raw_drops."""
    from newsdrop.warehouse.lake import open_lake
    from newsdrop.warehouse.layout import DataLayout

    remote.upload(DROPS)
    assert remote.run(env={**remote.env, "NEWSDROP_BATCH_SIZE": "10"}).returncode == 0
    kept = dict(remote.query("SELECT sha256, content FROM raw_drops"))
    assert len(kept) == 36
    client, prefix = s3_client(remote.env), remote.data.removeprefix(f"s3://{BUCKET}/")
    for sha256, content in kept.items():
        client.put_object(Bucket=BUCKET, Key=f"{prefix}/raw/{sha256[:2]}/{sha256}", Body=content)
    for variable in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "PGPASSWORD"):
        monkeypatch.setenv(variable, remote.env[variable])
    con = open_lake(DataLayout(remote.data, parse_catalog(remote.catalog)))
    try:
        con.execute("DELETE FROM raw_drops")
    finally:
        con.close()

    result = remote.run(env={**remote.env, "NEWSDROP_BATCH_SIZE": "10"})
    assert result.returncode == 0, result.stderr
    assert f"upgrade: moved 36 file(s) of {remote.data}/raw into the lake's raw_drops table in 4 commit(s)" \
        in result.stdout
    assert dict(remote.query("SELECT sha256, content FROM raw_drops")) == kept
    assert "Contents" not in client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/raw/")
    rebuilt = remote.run(command="rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert remote.query("SELECT count(*) FROM drops") == [(34,)]


def test_odd_s3_keys_load_under_their_own_names(remote: Remote) -> None:
    prefix = remote.inbox.removeprefix(f"s3://{BUCKET}/")
    long_name = "長" * 330 + ".txt"  # 994 bytes: with the prefix, near S3's 1,024-byte limit
    names = ["with space.txt", "100%.txt", "encoded%20not%2Fdecoded.txt", "plus+and&amp;=q?x#frag.txt",
             "ünïcødé 新闻 خبر Ελλάδα 🗞.txt", "  leading and trailing  .txt", long_name]
    assert len(f"{prefix}/{long_name}".encode()) <= 1024
    client = s3_client(remote.env)
    sample = (DROPS / "001_c780d2942f53d682.txt").read_bytes()
    for name in names:
        client.put_object(Bucket=BUCKET, Key=f"{prefix}/{name}", Body=sample)
    result = remote.run()
    assert result.returncode == 0, result.stderr
    assert sorted(row[0] for row in remote.query("SELECT file_name FROM drops")) == sorted(names)
    assert remote.query("SELECT count(*) FROM rejected_drops") == [(0,)]
    again = remote.run()
    assert again.returncode == 0 and f"{len(names)} seen, 0 new" in again.stdout, again.stdout + again.stderr
