"""The same inbox through each configuration of issue 12, one remote part at a time:

    embedded        the default: SQLite catalog, local folder, local reader processes
    pg              PostgreSQL catalog (and run lock), data in a local folder
    pg+s3           PostgreSQL catalog, inbox and lake in S3 (moto's server)
    pg+s3+dask      the same, batches read on a Dask LocalCluster (2 worker processes)

    python benchmarks/scale_out.py --count 10000 [--rounds 1] [--json results/scale_10000.json]

It starts the servers of tests/servers.py on 127.0.0.1 (or uses those named by
TEST_SERVERS_PG, AWS_ENDPOINT_URL and TEST_SERVERS_DASK), uploads the inbox to S3
first (not timed), and times `newsdrop run` cold, Prefect's start included. Peak RSS is
the largest single process of the run (the run and its reader processes) and, with
Dask, of the Dask workers. moto is a single Python process: its latency per request
(about 4 ms a GET, 6-8 ms a PUT here) is far above a real S3's, so the S3 rows say
what S3 costs at most, not what it costs.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]

import servers as real_servers  # noqa: E402

from benchmarks.generate import DEFAULT_CORPORA, generate  # noqa: E402

CONFIGS = ("embedded", "pg", "pg+s3", "pg+s3+dask")
REQUEST = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP')


def s3_requests(log: Path, start: int) -> dict[str, int]:
    """The S3 requests moto logged from byte `start` of its log on, by method and by what they
    touched: the inbox, the staging area, raw_drops, the other lake tables, a listing, a
    multipart upload's steps. A copy (S3's rename) is a PUT to the lake in the log."""
    counts: collections.Counter[str] = collections.Counter()
    with open(log, "rb") as handle:
        handle.seek(start)
        for line in handle.read().decode(errors="replace").splitlines():
            match = REQUEST.search(line)
            if not match:
                continue
            method, target = match.groups()
            path, _, query = target.partition("?")
            if "uploads" in query or "partNumber" in query or "uploadId" in query:
                area = "multipart"
            elif "list-type" in query or "prefix=" in query or path.endswith("/"):
                area = "list"
            elif "/bench-inbox-" in path:
                area = "inbox"
            elif "/_staging/" in path:
                area = "staging"
            elif "/lake/main/raw_drops/" in path:
                area = "raw_drops"
            elif "/raw/" in path:
                area = "raw (one object a drop)"
            elif "/lake/" in path:
                area = "lake tables"
            else:
                area = "other"
            counts[f"{method} {area}"] += 1
    return dict(sorted(counts.items()))


class Peak:
    """Samples the RSS of a process tree (and of other processes) every 50 ms."""

    def __init__(self, root: int, others: list[int]) -> None:
        self.root, self.others = root, others
        self.run_mb = self.others_mb = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while not self.done.is_set():
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(self.root)
                for member in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        self.run_mb = max(self.run_mb, member.memory_info().rss / 1e6)
            for pid in self.others:
                with contextlib.suppress(psutil.Error):
                    self.others_mb = max(self.others_mb, psutil.Process(pid).memory_info().rss / 1e6)
            time.sleep(0.05)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def upload(folder: Path, url: str, env: dict[str, str]) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda path: client.put_object(Bucket=bucket, Key=f"{prefix}/{path.name}",
                                                     Body=path.read_bytes()), sorted(folder.glob("*.txt"))))


def new_database(env: dict[str, str]) -> str:
    import psycopg

    name = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"dbname=postgres {env['TEST_SERVERS_PG']}", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return name


def dask_worker_pids(address: str) -> list[int]:
    from distributed import Client

    with Client(address, timeout=30) as client:
        return list(client.run(os.getpid).values())


def run_config(config: str, inbox: Path, s3_inbox: str, work: Path, env: dict[str, str]) -> dict[str, object]:
    command = [sys.executable, "-m", "newsdrop", "run", "--settle-seconds", "0"]
    others: list[int] = []
    if config == "embedded":
        command += ["--inbox", str(inbox), "--data", str(work / "embedded")]
    else:
        catalog = f"postgres:dbname={new_database(env)} {env['TEST_SERVERS_PG']}"
        command += ["--catalog", catalog]
        if config == "pg":
            command += ["--inbox", str(inbox), "--data", str(work / "pg")]
        else:
            command += ["--inbox", s3_inbox, "--data", f"s3://{real_servers.BUCKET}/bench-{secrets.token_hex(4)}"]
        if config.endswith("+dask"):
            command += ["--dask", env["TEST_SERVERS_DASK"]]
            others = dask_worker_pids(env["TEST_SERVERS_DASK"])
    servers_before = server_cpu_seconds(env)
    log = Path(env["BENCH_MOTO_LOG"]) if env.get("BENCH_MOTO_LOG") and "s3" in config else None
    log_start = log.stat().st_size if log else 0
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=HERE.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    peak = Peak(process.pid, others)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    peak.stop()
    servers_after = server_cpu_seconds(env)
    if process.returncode != 0:
        raise RuntimeError(f"{config} failed: {stderr[-800:]}")
    loaded = next(line for line in stdout.splitlines() if "files:" in line).strip()
    return {"config": config, "seconds": round(seconds, 2), "peak_run_mb": round(peak.run_mb),
            "peak_dask_worker_mb": round(peak.others_mb) if others else None, "files": loaded,
            "s3_requests": s3_requests(log, log_start) if log else None,
            **{f"{name}_cpu_seconds": round(servers_after[name] - servers_before[name], 1) for name in servers_after}}


def server_cpu_seconds(env: dict[str, str]) -> dict[str, float]:
    """CPU seconds used so far by the S3 server (moto) and by PostgreSQL's processes: how much
    of a run's time they account for."""
    def cpu(process: psutil.Process) -> float:
        """Its own CPU and that of its children that have ended (PostgreSQL's backends)."""
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            return float(times.user + times.system + times.children_user + times.children_system)
        return 0.0

    moto = psutil.Process(int(env["TEST_SERVERS_S3_PID"])) if env.get("TEST_SERVERS_S3_PID") else None
    postmaster = [p for p in psutil.process_iter(["name", "cmdline"])
                  if p.info["name"] == "postgres" and "-D" in (p.info["cmdline"] or [])]
    live_backends = [child for p in postmaster for child in p.children(recursive=True)]
    return {"s3_server": cpu(moto) if moto else 0.0,
            "postgres": sum(cpu(p) for p in postmaster) + sum(cpu(p) for p in live_backends)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--served", action="store_true",
                        help="one Prefect server for the runs and the Dask workers (PREFECT_API_URL), as a team "
                        "that scales out has; without it each run starts a temporary one, and each Dask worker too")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsdrop-scale-"))
    os.chmod(work, 0o755)
    started: dict[str, str] = {}
    prefect_server: subprocess.Popen[bytes] | None = None
    try:
        if not os.environ.get("TEST_SERVERS_PG"):
            folder = work / "servers"
            folder.mkdir()
            started = real_servers.start_postgres(folder)
            started.update(real_servers.start_s3(folder))
            started["BENCH_MOTO_LOG"] = str(folder / "moto.log")
            if args.served:
                prefect_server, api_url = start_prefect_server(work)
                started["PREFECT_API_URL"] = api_url
            started.update(real_servers.start_dask(folder, started))
            os.environ.update(started)  # PGPASSWORD and the S3 variables, for this process too
        env = {**os.environ, **started, "PYTHONPATH": str(HERE.parent)}
        inbox = work / "inbox"
        generate(args.count, inbox, seed=1, corpora=args.corpora if args.corpora.exists() else None)
        s3_inbox = f"s3://{real_servers.BUCKET}/bench-inbox-{secrets.token_hex(4)}"
        upload(inbox, s3_inbox, env)
        rows = []
        for config in args.configs.split(","):
            measured = [run_config(config, inbox, s3_inbox, work / f"round{index}", env)
                        for index in range(args.rounds)]
            row = {**measured[-1], "seconds": statistics.median(m["seconds"] for m in measured),  # type: ignore[misc]
                   "rounds": args.rounds}
            print(json.dumps(row), flush=True)
            rows.append(row)
        if args.json:
            args.json.write_text(json.dumps({"count": args.count, "rows": rows}, indent=2) + "\n")
    finally:
        if started:
            real_servers.stop_all(started)
        if prefect_server is not None:
            prefect_server.terminate()
            prefect_server.wait()
        shutil.rmtree(work, ignore_errors=True)


def start_prefect_server(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = real_servers.free_port()
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api_url = f"http://127.0.0.1:{port}/api"
    import urllib.request

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{api_url}/health", timeout=2):
            return server, api_url
        time.sleep(0.5)
    raise RuntimeError("the Prefect server did not start")


if __name__ == "__main__":
    main()
