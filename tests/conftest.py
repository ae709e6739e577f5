from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
DROPS = FIXTURES / "drops"

# Prefect defaults for the test session, before anything imports Prefect.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def expected_readings() -> list[dict]:
    with open(FIXTURES / "expected.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def environment_without_settings() -> dict[str, str]:
    """This process's environment less any PREFECT_* or NEWSDROP_* setting of the caller's."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "NEWSDROP_"))}


@pytest.fixture(scope="session")
def plain_env() -> dict[str, str]:
    """Environment for a newsdrop run in a plain Python process (tests/api_run.py): no Prefect."""
    return {**environment_without_settings(), "NEWSDROP_SETTLE_SECONDS": "0"}


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One Prefect test server for the whole session (it costs about 7 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def prefect_env(prefect_api: None) -> dict[str, str]:
    """Environment for a newsdrop subprocess that uses the session's Prefect server
    (a second or so per run, instead of starting an ephemeral API each time)."""
    from prefect.settings import PREFECT_API_URL

    env = environment_without_settings()
    env.update(
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="CRITICAL",
        NEWSDROP_SETTLE_SECONDS="0",
    )
    return env


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, str]]:
    """PostgreSQL, the S3 server and a Dask cluster (tests/servers.py): those `.ci/run`
    started, or started here for a local run and stopped at the end."""
    import shutil
    import tempfile

    import servers as real_servers

    wanted = ("TEST_SERVERS_PG", "TEST_SERVERS_S3_PORT", "TEST_SERVERS_DASK")
    if all(os.environ.get(name) for name in wanted):
        yield {key: value for key, value in os.environ.items()}
        return
    # Not under pytest's tmp folder: that one is private to root, and the cluster runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="newsdrop-servers-"))
    try:
        started = real_servers.start_all(folder)
    except (RuntimeError, OSError, ImportError, subprocess.CalledProcessError) as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the scale-out servers could not start here: {error}")
    os.environ.update(started)  # the S3 variables and PGPASSWORD, for this process and its children
    try:
        yield dict(os.environ)
    finally:
        real_servers.stop_all(started)
        shutil.rmtree(folder, ignore_errors=True)
