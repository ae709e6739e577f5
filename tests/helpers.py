"""Shared helpers for the end-to-end tests."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from newsdrop import connect
from newsdrop.flows.cli import app
from newsdrop.warehouse import schema

TABLES = (*schema.TABLES, "headlines")


def make_inbox(folder: Path, source: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.txt")):
        shutil.copy2(path, folder / path.name)
    return folder


def newsdrop(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result


def run(inbox: Path, data: Path, *extra: str) -> Any:
    result = newsdrop("run", "--inbox", str(inbox), "--data", str(data), "--settle-seconds", "0", *extra)
    assert result.exit_code == 0, result.output
    return result


def query(data: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """The warehouse as analysts see it: through newsdrop.connect (read-only)."""
    with connect(data) as con:
        return con.execute(sql, params or []).fetchall()


def counts(data: Path) -> dict[str, int]:
    return {table: query(data, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


def table_rows(data: Path, table: str, exclude: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    with connect(data) as con:
        columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall() if row[0] not in exclude]
        quoted = ', '.join(f'"{column}"' for column in columns)
        return sorted(con.execute(f"SELECT {quoted} FROM {table}").fetchall(), key=repr)


def fingerprint(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """Every file under a folder with its mtime and content hash."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_file() and not any(relative.startswith(prefix) for prefix in skip):
            found[relative] = (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return found
