"""A new data folder's Prefect database comes from a migrated template in the user's cache.

Each case runs in a fresh process with its own XDG_CACHE_HOME, as a user's command does:
the pytest process may already have Prefect loaded with a server of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

START_ONE_SERVER = """
import sys
from pathlib import Path
from newsdrop.flows import server
home = Path(sys.argv[1])
home.mkdir(parents=True, exist_ok=True)
seeded = server._seed_from_template(home) if sys.argv[2] == "seed" else None
with server.prefect_api(home, scheduling=False) as url:
    pass
print(seeded)
"""


def start_server(home: Path, cache: Path, seed_first: bool = False) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env["XDG_CACHE_HOME"] = str(cache)
    done = subprocess.run([sys.executable, "-c", START_ONE_SERVER, str(home), "seed" if seed_first else "-"],
                          capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def template_of(cache: Path) -> Path:
    (folder,) = (cache / "newsdrop").iterdir()
    return folder / "prefect.db"


@pytest.mark.slow  # two Prefect server starts of its own, about 25 s
def test_the_first_start_keeps_a_template_and_the_next_folder_starts_from_it(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    start_server(tmp_path / "first", cache)
    assert (tmp_path / "first" / "prefect.db").exists()
    template = template_of(cache)
    assert template.stat().st_size > 0
    # A second folder is seeded before its server starts (seeding then finds a database: False).
    assert start_server(tmp_path / "second", cache, seed_first=True) == "True"
    assert (tmp_path / "second" / "prefect.db").exists()


@pytest.mark.slow
def test_a_broken_template_is_made_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    start_server(tmp_path / "first", cache)
    template = template_of(cache)
    template.write_bytes(b"")  # an empty file left by a full disk, say
    assert start_server(tmp_path / "second", cache, seed_first=True) == "False"  # not seeded from it
    assert template.stat().st_size > 0  # and the second folder's first start made it again
    assert start_server(tmp_path / "third", cache, seed_first=True) == "True"
