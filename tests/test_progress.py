"""What a run shows while it works: listing, files read as they are read, batches committed."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import DROPS
from helpers import make_inbox

import newsdrop
from newsdrop.engine import Advance, RunHooks
from newsdrop.flows.progress import read_progress


def test_plain_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with read_progress(files=25, batches=3) as progress:
        for files in (10, 10, 5):
            progress.batch_read(files)
            progress.batch_committed()
    assert capsys.readouterr().err.splitlines() == [
        "newsdrop: reading 25 new files in 3 batches",
        "newsdrop: read batch 1/3 (10/25 files)",
        "newsdrop: committed batch 1/3",
        "newsdrop: read batch 2/3 (20/25 files)",
        "newsdrop: committed batch 2/3",
        "newsdrop: read batch 3/3 (25/25 files)",
        "newsdrop: committed batch 3/3",
    ]


def test_silent_for_one_batch(capsys: pytest.CaptureFixture[str]) -> None:
    with read_progress(files=5, batches=1) as progress:
        progress.batch_read(5)
        progress.batch_committed()
    assert capsys.readouterr().err == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_moves_by_files_before_the_first_batch_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    counted = [0]
    with read_progress(files=20, batches=2, files_read=lambda: counted[0]) as progress:
        counted[0] = 7  # the readers are inside the first batch
        deadline = time.monotonic() + 30
        while "7/20" not in terminal.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "7/20" in terminal.getvalue() and "0/2 batches committed" in terminal.getvalue()
        progress.batch_read(10)
        progress.batch_committed()
        assert progress.files_done() == 10
        counted[0] = 99  # a batch tried again counts its files twice: never more than all
        assert progress.files_done() == 20
    assert "newsdrop: read batch" not in terminal.getvalue()


class Watching(RunHooks):
    """What a progress display would be given: the readers' count at each batch read."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.total = 0

    @contextlib.contextmanager
    def progress(self, files: int, batches: int, files_read: Callable[[], int] | None) -> Iterator[Advance]:
        assert files_read is not None
        self.total = files
        yield lambda _files: self.seen.append(files_read())


@pytest.mark.parametrize("workers", [1, 2])
def test_the_readers_count_each_file_as_they_go(tmp_path: Path, workers: int) -> None:
    inbox = make_inbox(tmp_path / "inbox", DROPS)
    hooks = Watching()
    newsdrop.ingest(inbox, tmp_path / "data", settle_seconds=0, batch_size=10, workers=workers, hooks=hooks)
    files = len(list(inbox.glob("*.txt")))
    assert hooks.total == files and len(hooks.seen) == -(-files // 10)
    assert hooks.seen == sorted(hooks.seen) and hooks.seen[-1] == files
    if workers == 1:  # read one after the other in the run's own process: exactly the batches so far
        assert hooks.seen == [min(files, 10 * (n + 1)) for n in range(len(hooks.seen))]
