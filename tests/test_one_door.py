"""The CLI is an adapter over newsdrop.api (issue #28): what it reports is what the API reports."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from conftest import DROPS
from helpers import ingest, make_inbox, newsdrop

from newsdrop import api

CLI = Path(__file__).resolve().parents[1] / "flows" / "cli.py"


def test_the_cli_imports_nothing_from_the_warehouse() -> None:
    imported = set()
    for node in ast.walk(ast.parse(CLI.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert [name for name in imported if name.startswith("newsdrop.warehouse")] == []
    assert "newsdrop.api" in imported or "newsdrop" in imported


def test_status_from_the_cli_and_the_api_agree_with_the_inbox_setting(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, data = make_inbox(tmp_path / "inbox", DROPS), tmp_path / "data"
    ingest(inbox, data)
    (inbox / "900_00000000000000aa.txt").write_text("A new body line.\n\n\nHeadline one\nHeadline two\n")
    monkeypatch.setenv("NEWSDROP_INBOX", str(inbox))
    from_api = api.status(data)
    assert from_api["backlog"] == {"files": 1, "in_inbox": 37}  # NEWSDROP_INBOX, as the command reads it
    from_cli = json.loads(newsdrop("status", "--data", str(data), "--json").output)
    from_api.pop("freshness"), from_cli.pop("freshness")  # its age is measured when asked
    assert from_cli == json.loads(json.dumps(from_api, default=str))
