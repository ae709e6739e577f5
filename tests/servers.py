"""Real servers for the scale-out tests: a throwaway PostgreSQL 15 cluster, an S3 server
(moto's server mode) and a Dask LocalCluster with 2 worker processes, all on 127.0.0.1.

`.ci/run` starts them once for the whole suite and stops them at the end:

    eval "$(python -m tests.servers start --dir DIR)"   # prints the export lines
    python -m tests.servers stop --dir DIR

A local `pytest` without those variables starts them itself (tests/conftest.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PG_PASSWORD = "newsdrop-test-secret"
S3_KEY_ID = "testing"
S3_SECRET = "testing-secret"
BUCKET = "news"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _wait_for_port(port: int, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start on port {port}")


def start_postgres(folder: Path) -> dict[str, str]:
    """A cluster in folder/pg: password auth on 127.0.0.1 (so a wrong password fails), a
    database `news` owned by postgres."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("initdb/pg_ctl not found: install PostgreSQL 15")
    cluster = folder / "pg"
    cluster.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(cluster, "postgres", "postgres")
        os.chmod(folder, 0o755)
    port = free_port()
    subprocess.run(_as_postgres([initdb, "-D", str(cluster), "-U", "postgres", "--auth-local=trust",
                                 "--auth-host=scram-sha-256", "-E", "UTF8"]), check=True, capture_output=True)
    options = f"-p {port} -k {cluster} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_postgres([pg_ctl, "-D", str(cluster), "-o", options, "-l", str(cluster / "log"), "-w",
                                 "start"]), check=True, capture_output=True)
    psql = ["psql", "-h", str(cluster), "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c"]
    subprocess.run([*psql, f"ALTER USER postgres PASSWORD '{PG_PASSWORD}'"], check=True, capture_output=True)
    subprocess.run([*psql, "CREATE DATABASE news"], check=True, capture_output=True)
    return {"TEST_SERVERS_PG": f"host=127.0.0.1 port={port} user=postgres", "TEST_SERVERS_PG_DIR": str(cluster),
            "PGPASSWORD": PG_PASSWORD}


def stop_postgres(cluster: str) -> None:
    pg_ctl = shutil.which("pg_ctl") or "pg_ctl"
    subprocess.run(_as_postgres([pg_ctl, "-D", cluster, "-m", "immediate", "stop"]), capture_output=True)


def _spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env=env)
    return process.pid


def s3_env(port: int) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": S3_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


def start_s3(folder: Path, port: int | None = None) -> dict[str, str]:
    """moto's S3 server, with the bucket `news`. `port`: start it again where it was."""
    port = port or free_port()
    server = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which("moto_server")
    if not server:
        raise RuntimeError("moto_server not found: pip install 'moto[server]'")
    pid = _spawn([server, "-H", "127.0.0.1", "-p", str(port)], folder / "moto.log")
    _wait_for_port(port, 30, "moto_server")
    env = s3_env(port)
    import boto3

    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=S3_KEY_ID,
                          aws_secret_access_key=S3_SECRET, region_name="us-east-1")
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    if BUCKET not in existing:
        client.create_bucket(Bucket=BUCKET)
    return {**env, "TEST_SERVERS_S3_PID": str(pid), "TEST_SERVERS_S3_PORT": str(port)}


DASK_SCRIPT = """
import signal, sys, time
from distributed import LocalCluster

if __name__ == "__main__":  # the worker processes import this script again
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           scheduler_port=int(sys.argv[1]), dashboard_address=None)
    print(cluster.scheduler_address, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)
"""


def start_dask(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """A LocalCluster with 2 worker processes, started with the S3 variables so its
    workers can read the inbox."""
    port = free_port()
    script = folder / "dask_cluster.py"
    script.write_text(DASK_SCRIPT)
    pid = _spawn([sys.executable, str(script), str(port)], folder / "dask.log", env={**os.environ, **env})
    _wait_for_port(port, 60, "the Dask scheduler")
    address = f"tcp://127.0.0.1:{port}"
    from distributed import Client

    deadline = time.monotonic() + 60
    with Client(address, timeout=30) as client:
        while len(client.scheduler_info(n_workers=-1)["workers"]) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the Dask workers did not start")
            time.sleep(0.2)
    return {"TEST_SERVERS_DASK": address, "TEST_SERVERS_DASK_PID": str(pid)}


def kill_group(pid: str | None) -> None:
    if pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), signal.SIGTERM)


def start_all(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    env = start_postgres(folder)
    env.update(start_s3(folder))
    env.update(start_dask(folder, env))
    return env


def stop_all(env: dict[str, str]) -> None:
    kill_group(env.get("TEST_SERVERS_DASK_PID"))
    kill_group(env.get("TEST_SERVERS_S3_PID"))
    if env.get("TEST_SERVERS_PG_DIR"):
        stop_postgres(env["TEST_SERVERS_PG_DIR"])


def proxy(listen_port: int, target_port: int) -> None:
    """A TCP relay to the S3 server, so that a test can stop "the S3 server" (this relay)
    and start it again with its objects intact (moto keeps them in memory only)."""
    import threading

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(64)
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        upstream = socket.create_connection(("127.0.0.1", target_port))
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=(source, sink), daemon=True).start()


def read_saved(saved: Path) -> dict[str, str]:
    """The variables of a `start`'s export lines."""
    found = {}
    for line in saved.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        found[key] = shlex.split(value)[0] if value else ""
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "proxy"])
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--listen", type=int)
    parser.add_argument("--to", type=int)
    args = parser.parse_args()
    if args.action == "proxy":
        proxy(args.listen, args.to)
        return
    saved = args.dir / "servers.env"
    if args.action == "start":
        env = start_all(args.dir)
        exports = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())
        saved.write_text(exports)
        print(exports, end="")
    else:
        if saved.exists():
            stop_all(read_saved(saved))


if __name__ == "__main__":
    main()
