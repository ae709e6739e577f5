"""The wheel: one package, `newsdrop`, that works installed on its own.

A wheel is built from the source tree and installed, without its dependencies, into a fresh
venv; the dependencies come from this test's venv through a .pth file (nothing is downloaded
for them). The repository's own editable install must not leak into that venv: newsdrop is
imported from the wheel, which the tests check.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]

# Top-level names the source tree has that must never be packages of their own once installed.
ROOMS = ("flows", "transforms", "warehouse")

# Left out of the copy the wheel is built from: version control, environments, build output,
# caches, data.
SKIP_ANYWHERE = {"__pycache__", ".hypothesis", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
SKIP_AT_ROOT = {".git", ".venv", "build", "dist", "data"}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    source: Path  # the copy of the source tree the wheel was built from
    venv: Path
    purelib: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def newsdrop(self) -> Path:
        return self.venv / "bin" / "newsdrop"


def _skip(folder: str, names: list[str]) -> set[str]:
    skipped = {name for name in names if name in SKIP_ANYWHERE or name.endswith(".egg-info")}
    if Path(folder).resolve() == ROOT:
        skipped |= SKIP_AT_ROOT & set(names)
    return skipped


def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("NEWSDROP_", "PREFECT_", "PYTHON")) and key != "VIRTUAL_ENV"}
    env.update(extra)
    return env


def run(command: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], cwd=cwd, env=env if env is not None else clean_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


def build_wheel(source: Path, out: Path) -> Path:
    """`pip wheel` without build isolation when this venv has the build backend, else with it
    (pip then fetches setuptools and wheel from its configured index)."""
    base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out]
    done = run([*base, "--no-build-isolation", source])
    if done.returncode != 0:
        done = run([*base, source])
    assert done.returncode == 0, f"pip wheel failed:\n{done.stdout}\n{done.stderr}"
    wheels = list(out.glob("newsdrop-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the work tree (uncommitted files included), so that setuptools'
    # build/ and *.egg-info land in the copy, not in the repository.
    source = base / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=_skip)
    wheel = build_wheel(source, base / "dist")

    venv = base / "venv"
    done = run([sys.executable, "-m", "venv", "--without-pip", venv])
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    done = run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index",
                wheel])
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"

    done = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    assert done.returncode == 0, done.stderr
    purelib = Path(done.stdout.strip())
    # The dependencies, from this venv. A path listed in a .pth file is only appended to
    # sys.path: the .pth files inside it (the editable install's finder among them) are not run.
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (purelib / "deps.pth").write_text("".join(f"{path}\n" for path in ours), encoding="utf-8")
    yield Installed(wheel=wheel, source=source, venv=venv, purelib=purelib)


def expected_loaded() -> int:
    with open(FIXTURES / "expected.jsonl", encoding="utf-8") as handle:
        return sum(json.loads(line)["status"] == "ok" for line in handle)


def test_newsdrop_is_imported_from_the_wheel(installed: Installed, tmp_path: Path) -> None:
    script = ("import importlib.metadata as m, newsdrop, duckdb, prefect\n"
              "print(newsdrop.__file__)\nprint(newsdrop.__version__)\nprint(m.distribution('newsdrop').locate_file(''))")
    done = run([installed.python, "-c", script], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    module, version, dist_info = done.stdout.splitlines()
    assert Path(module).is_relative_to(installed.purelib), module
    assert Path(dist_info).is_relative_to(installed.purelib), dist_info
    assert version == VERSION


def test_the_wheel_holds_only_newsdrop(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"newsdrop", f"newsdrop-{VERSION}.dist-info"}
    for room in ROOMS:
        assert f"newsdrop/{room}/__init__.py" in names


def test_the_wheel_ships_the_sample_inbox_and_the_sql(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    samples = {f"newsdrop/flows/sample_inbox/{path.name}" for path in
               (installed.source / "flows" / "sample_inbox").glob("*.txt")}
    assert samples, "the sample inbox is empty"
    assert {name for name in names if name.startswith("newsdrop/flows/sample_inbox/")} == samples
    sql = {f"newsdrop/warehouse/{path.name}" for path in (installed.source / "warehouse").glob("*.sql")}
    assert {name for name in names if name.startswith("newsdrop/warehouse/") and name.endswith(".sql")} == sql


def test_version_and_help(installed: Installed, tmp_path: Path) -> None:
    done = run([installed.newsdrop, "--version"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"newsdrop {VERSION}"

    done = run([installed.python, "-m", "newsdrop", "--help"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for command in ("run", "rebuild", "status", "sql", "serve"):
        assert command in done.stdout, command


@pytest.mark.slow  # a `newsdrop run` from the wheel with its own Prefect server; the import itself: above
def test_run_ignores_same_named_folders_in_the_working_directory(installed: Installed, tmp_path: Path) -> None:
    """A folder `flows/` (or `warehouse/`, `transforms/`) where newsdrop is run is someone
    else's code: the installed newsdrop must never import it."""
    work = tmp_path / "work"
    marker = tmp_path / "imported-from-the-working-directory"
    for room, module in (("flows", "ingest"), ("warehouse", "ingest"), ("transforms", "read")):
        package = work / room
        package.mkdir(parents=True)
        shadow = (f"open({str(marker)!r}, 'a').write({room!r} + '\\n')\n"
                  f"raise ImportError('the working directory\\'s {room} was imported')\n")
        (package / "__init__.py").write_text(shadow, encoding="utf-8")
        (package / f"{module}.py").write_text(shadow, encoding="utf-8")

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for drop in sorted((FIXTURES / "drops").iterdir()):
        shutil.copy(drop, inbox / drop.name)
    env = clean_env(NEWSDROP_SETTLE_SECONDS="0", PREFECT_SERVER_ANALYTICS_ENABLED="false",
                    PREFECT_LOGGING_LEVEL="CRITICAL", PREFECT_HOME=str(tmp_path / "prefect"))

    done = run([installed.newsdrop, "run", "--inbox", inbox, "--data", tmp_path / "data"], cwd=work, env=env)
    assert done.returncode == 0, f"newsdrop run failed:\n{done.stdout}\n{done.stderr}"
    assert f"{expected_loaded()} loaded" in done.stdout, done.stdout
    assert not marker.exists(), marker.read_text()

    # With the working directory first on sys.path (python -c), the package still wins.
    done = run([installed.python, "-c", "import newsdrop.flows.ingest as m; print(m.__file__)"], cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(installed.purelib), done.stdout
    assert not marker.exists(), marker.read_text()

    # And the data that run wrote reads back through the installed API.
    done = run([installed.python, "-c", f"import newsdrop; print(len(newsdrop.query({str(tmp_path / 'data')!r}, "
                "'SELECT * FROM articles')))"], cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(expected_loaded())
