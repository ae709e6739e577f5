from __future__ import annotations

import io

import pytest

from newsdrop.flows.progress import read_progress


def test_plain_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with read_progress(files=25, batches=3) as advance:
        for files in (10, 10, 5):
            advance(files)
    assert capsys.readouterr().err.splitlines() == [
        "newsdrop: read batch 1/3 (10/25 files)",
        "newsdrop: read batch 2/3 (20/25 files)",
        "newsdrop: read batch 3/3 (25/25 files)",
    ]


def test_silent_for_one_batch(capsys: pytest.CaptureFixture[str]) -> None:
    with read_progress(files=5, batches=1) as advance:
        advance(5)
    assert capsys.readouterr().err == ""


def test_a_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with read_progress(files=20, batches=2) as advance:
        advance(10)
        advance(10)
    assert "newsdrop: read batch" not in terminal.getvalue()
