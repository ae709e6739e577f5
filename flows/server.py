"""A Prefect API for the commands that run flows: `newsdrop run`, `rebuild` and `serve`.

When no PREFECT_API_URL is set, the command starts `prefect server start` itself
(Prefect cannot schedule on its ephemeral API, and one kind of server keeps a data
folder's history in one place): bound to 127.0.0.1 on a free port, its database
under PREFECT_HOME (default DATA/_state/prefect), stopped when the command exits,
and killed by the kernel if the command dies.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

from newsdrop.errors import NewsdropError
from newsdrop.readers import set_parent_death_signal
from newsdrop.warehouse.layout import PREFECT_DATABASE as DATABASE

MEMO_STORE = "memo_store.toml"  # Prefect's note that its block types are registered


def template_folder() -> Path:
    """A fresh Prefect database, migrated, kept per Prefect version in the user's cache:
    migrating a new one costs some 5 s, which every new data folder would pay again."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "newsdrop" / f"prefect-{version('prefect')}"


def _copy_database(source: Path, target: Path) -> None:
    """SQLite's backup API: a whole database, WAL included, even while a server has it open.
    Written beside the target and renamed, so nobody opens half a copy."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(temp)) as dst:
        src.backup(dst)
    os.replace(temp, target)


def _is_migrated(database: Path) -> bool:
    """A Prefect database that its migrations have made (an empty or broken file is not)."""
    if not database.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as con:
            return bool(con.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,))
    except sqlite3.Error:
        return False


def _seed_from_template(home: Path) -> bool:
    """Give a new PREFECT_HOME the cached fresh database; False when there is none yet."""
    template = template_folder()
    if (home / DATABASE).exists() or not _is_migrated(template / DATABASE):
        return False  # the server makes one, and the first start keeps it as the template
    try:
        _copy_database(template / DATABASE, home / DATABASE)
        if (template / MEMO_STORE).exists():
            (home / MEMO_STORE).write_bytes((template / MEMO_STORE).read_bytes())
    except (OSError, sqlite3.Error):
        return False  # the server migrates a database of its own, as without a template
    return True


def _keep_template(home: Path) -> None:
    """After a fresh database's first start, before any run is in it: keep it as the template."""
    template = template_folder()
    with contextlib.suppress(OSError, sqlite3.Error):
        template.mkdir(parents=True, exist_ok=True)
        _copy_database(home / DATABASE, template / DATABASE)
        if (home / MEMO_STORE).exists():
            (template / MEMO_STORE).write_bytes((home / MEMO_STORE).read_bytes())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# How long a command waits for its local server to answer, and the knob that changes it:
# Prefect's own setting for the same wait (for its ephemeral server), so one variable gives a
# loaded machine longer whichever server starts.
STARTUP_VARIABLE = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
STARTUP_SECONDS = 120
# A server that exits at start is started again, on the same address (Prefect, imported
# meanwhile, has it): one that found the database busy (another command's server migrating
# the same PREFECT_HOME) starts the second time.
STARTS = 3


def startup_seconds() -> int:
    """The wait, checked before Prefect is imported: Prefect takes whole seconds only, and a
    value it refuses would fail its import with a traceback."""
    given = os.environ.get(STARTUP_VARIABLE)
    if not given:
        return STARTUP_SECONDS
    if not given.strip().isdigit() or int(given) == 0:
        raise NewsdropError(f"{STARTUP_VARIABLE}={given!r} is not allowed: give whole seconds above 0")
    return int(given)


class ServerExited(NewsdropError):
    """The local server exited before it answered."""


def _reason(log: Path) -> str:
    """Why a server stopped, from its log: the last error line of its traceback, else its last line."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"[\w.]+(Error|Exception): ", line)]
    return (errors or lines or ["no output"])[-1]


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerExited(f"the local Prefect server exited at start (exit {process.returncode}): "
                               f"{_reason(log)[:200]} (its log: {log})")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.5)
    raise NewsdropError(f"the local Prefect server did not answer within {seconds:g} s (its log: {log}); on a busy "
                        f"machine give it longer ({STARTUP_VARIABLE}=300), or set PREFECT_API_URL to a running server")


def _start_server(env: dict[str, str], log: Path, url: str) -> subprocess.Popen[bytes]:
    """`prefect server start` at `url` (127.0.0.1 and a free port)."""
    port = url.rsplit(":", 1)[1].removesuffix("/api")
    with open(log, "ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", port],
            # The UI asks its API where PREFECT_UI_API_URL says; unset, it asks 127.0.0.1:4200 and
            # shows nothing.
            env={**env, "PREFECT_UI_API_URL": url}, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own session: a SIGTERM to the command's process group (systemd, timeout, Ctrl-C)
            # must reach the command first, which stops its runs and only then this server.
            start_new_session=True,
            preexec_fn=set_parent_death_signal,  # one prctl (libc is loaded already: no new dlopen)
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _send_what_prefect_holds(timeout: float = 10) -> None:
    """Prefect sends a run's log lines and events from background workers: send what they hold
    while the local server still listens (else the lines are lost, with an error at exit)."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)


# Services a server for one `run` or `rebuild` has no use for: they schedule, reschedule,
# cancel or clean up runs over time. Each wakes on its own loop and costs CPU the readers
# need. Kept: recording task runs and events, which make the run's history.
SCHEDULING_SERVICES = ("cancellation_cleanup", "db_vacuum", "event_logger", "foreman", "late_runs", "scheduler",
                       "pause_expirations", "repossessor", "cleanup_reconciler", "triggers")


def named_server() -> str | None:
    """The Prefect API that the environment names: PREFECT_API_URL, or, when Prefect is loaded
    already (a test harness, a notebook), its settings' URL. Prefect is not imported for this:
    settings read before prefect_api sets the variable would miss the URL it sets."""
    named = os.environ.get("PREFECT_API_URL")
    if not named and "prefect" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        named = PREFECT_API_URL.value()
    return named or None


@contextlib.contextmanager
def prefect_api(default_home: Path, ui: bool = False, meanwhile: Callable[[], object] | None = None,
                scheduling: bool = True) -> Iterator[str]:
    """The API URL to use: PREFECT_API_URL when set, else a local server for the duration
    (with its web UI at the URL without /api when `ui`; without the services that schedule
    runs unless `scheduling`). `meanwhile` runs while the server starts (importing Prefect
    takes seconds too), with PREFECT_API_URL already set."""
    existing = named_server()
    if existing:
        if meanwhile is not None:
            meanwhile()
        yield existing
        return
    home = Path(os.environ.get("PREFECT_HOME", default_home))
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NewsdropError(f"cannot make the Prefect server's folder {home} (PREFECT_HOME): "
                            f"{error.strerror}") from None
    fresh = not (home / DATABASE).exists() and not _seed_from_template(home)
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "true" if ui else "false",
           # The scheduler makes runs ahead every 60 s, at least 3: a short period would
           # run out of runs between its loops.
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
           "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "20"}
    if not scheduling:
        env.update({f"PREFECT_SERVER_SERVICES_{name.upper()}_ENABLED": "false" for name in SCHEDULING_SERVICES})
    log = home / "server.log"
    url = f"http://127.0.0.1:{free_port()}/api"
    seconds = startup_seconds()
    previous_home = os.environ.get("PREFECT_HOME")
    process = _start_server(env, log, url)
    answered = False
    try:
        os.environ["PREFECT_API_URL"] = url
        os.environ["PREFECT_HOME"] = str(home)
        if meanwhile is not None:
            meanwhile()
        for start in range(1, STARTS + 1):
            try:
                _wait_until_healthy(url, process, log, seconds)
                break
            except ServerExited:
                if start == STARTS:
                    raise
                process = _start_server(env, log, url)
        answered = True
        if fresh:
            _keep_template(home)
        yield url
    finally:
        if answered:
            _send_what_prefect_holds()
        os.environ.pop("PREFECT_API_URL", None)
        if previous_home is None:
            os.environ.pop("PREFECT_HOME", None)
        else:
            os.environ["PREFECT_HOME"] = previous_home
        _stop(process)
