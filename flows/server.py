"""A Prefect API for `newsdrop serve`.

Prefect cannot schedule on its ephemeral API, so when no PREFECT_API_URL is
set, serve starts `prefect server start` itself: bound to 127.0.0.1 on a free
port, its database under PREFECT_HOME (default DATA/_state/prefect), stopped
when serve exits, and killed by the kernel if serve dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from newsdrop.errors import NewsdropError
from newsdrop.readers import set_parent_death_signal

STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise NewsdropError(f"the local Prefect server exited at start (see {log}): {tail.strip()[-300:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.5)
    raise NewsdropError(f"the local Prefect server did not answer within {STARTUP_SECONDS} s (see {log})")


@contextlib.contextmanager
def prefect_api(default_home: Path, ui: bool = False) -> Iterator[str]:
    """The API URL to use: PREFECT_API_URL when set, else a local server for the duration
    (with its web UI at the URL without /api when `ui`)."""
    existing = os.environ.get("PREFECT_API_URL")
    if not existing and "prefect" in sys.modules:
        # Prefect already loaded (a test harness, a notebook): its settings may name a server.
        # Not imported otherwise: settings read now would miss the URL set below.
        from prefect.settings import PREFECT_API_URL

        existing = PREFECT_API_URL.value()
    if existing:
        yield existing
        return
    home = Path(os.environ.get("PREFECT_HOME", default_home))
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = home / "server.log"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "true" if ui else "false",
           # The scheduler makes runs ahead every 60 s, at least 3: a short period would
           # run out of runs between its loops.
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
           "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "20"}
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # Its own session: a SIGTERM to serve's process group (systemd, timeout, Ctrl-C)
            # must reach serve first, which stops its runs and only then this server.
            start_new_session=True,
            preexec_fn=set_parent_death_signal,  # one prctl (libc is loaded already: no new dlopen)
        )
    previous_home = os.environ.get("PREFECT_HOME")
    try:
        _wait_until_healthy(url, process, log)
        os.environ["PREFECT_API_URL"] = url
        os.environ["PREFECT_HOME"] = str(home)
        yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        if previous_home is None:
            os.environ.pop("PREFECT_HOME", None)
        else:
            os.environ["PREFECT_HOME"] = previous_home
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
