"""What one inbox object costs moto's S3 server: pyarrow's input stream (a HEAD, then a GET)
against boto3's get_object (one GET), which `storage.read_bytes` uses.

    python -m benchmarks.s3_get [--count 2000] [--rounds 2]

Starts moto's server (tests/servers.py), puts `count` objects of 4.5 KB, fetches them all
8 at a time each way, and prints the wall time and the CPU seconds moto's process spent.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from tests import servers

BODY = b"x" * 4500


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = servers.start_s3(Path(folder))
        try:
            measure(env, args.count, args.rounds)
        finally:
            servers.kill_group(env["TEST_SERVERS_S3_PID"])


def measure(env: dict[str, str], count: int, rounds: int) -> None:
    import boto3
    from pyarrow import fs

    moto = psutil.Process(int(env["TEST_SERVERS_S3_PID"]))
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_REGION"])
    keys = [f"inbox/{i:06d}.txt" for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=servers.BUCKET, Key=key, Body=BODY), keys))
    pyarrow_s3 = fs.S3FileSystem(region=env["AWS_REGION"], access_key=env["AWS_ACCESS_KEY_ID"],
                                 secret_key=env["AWS_SECRET_ACCESS_KEY"], scheme="http",
                                 endpoint_override=env["AWS_ENDPOINT_URL"].removeprefix("http://"))

    def pyarrow_stream(key: str) -> bytes:
        with pyarrow_s3.open_input_stream(f"{servers.BUCKET}/{key}") as stream:
            return bytes(stream.read())

    def boto3_get(key: str) -> bytes:
        return bytes(client.get_object(Bucket=servers.BUCKET, Key=key)["Body"].read())

    def timed(name: str, fetch: Callable[[str], bytes]) -> None:
        cpu = moto.cpu_times()
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            fetched = list(pool.map(fetch, keys))
        seconds = time.perf_counter() - started
        spent = sum(moto.cpu_times()[:2]) - sum(cpu[:2])
        assert all(body == BODY for body in fetched)
        print(f"{name:15} {count} objects: {seconds:6.2f} s, moto CPU {spent:6.2f} s "
              f"({spent / count * 1000:.1f} ms an object)", flush=True)

    for _ in range(rounds):
        timed("pyarrow stream", pyarrow_stream)
        timed("boto3 GET", boto3_get)


if __name__ == "__main__":
    main()
