"""What a run shows while it works: on an interactive terminal, a spinner while the inbox is
listed and a bar of files read and batches committed; otherwise plain lines, one per batch
read and per batch committed. A run of one batch shows no lines: nothing to watch.

TerminalHooks shows it for a run that no Prefect server records (`newsdrop run` without
PREFECT_API_URL or --prefect); the Prefect flows show it too (flows.ingest.PrefectHooks)."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from newsdrop.engine import Advance, RunHooks

T = TypeVar("T")

POLL_SECONDS = 0.25  # how often the bar asks the readers how many files they have read


@contextlib.contextmanager
def listing() -> Iterator[None]:
    """While the inbox is listed (one stat per file: minutes at a million files)."""
    if not sys.stderr.isatty():
        yield
        return
    with Console(stderr=True).status("listing the inbox", spinner="dots"):
        yield


class ReadProgress:
    """The reading and committing of a run's batches, as they happen."""

    def __init__(self, files: int, batches: int, files_read: Callable[[], int] | None,
                 bar: tuple[Progress, TaskID] | None = None) -> None:
        self.files, self.batches = files, batches
        self.files_read = files_read  # the readers' count, file by file (None: by batch only)
        self.read_files = 0  # of the batches read whole
        self.read_batches = 0
        self.committed_batches = 0
        self.bar = bar  # on a terminal; else plain lines
        self._lock = threading.Lock()

    def batch_read(self, files: int) -> None:
        with self._lock:
            self.read_files += files
            self.read_batches += 1
        self._show(f"read batch {self.read_batches}/{self.batches} ({self.read_files}/{self.files} files)")

    def batch_committed(self) -> None:
        with self._lock:
            self.committed_batches += 1
        self._show(f"committed batch {self.committed_batches}/{self.batches}")

    def files_done(self) -> int:
        """Files read so far: by the readers' own count when there is one (retries may count a
        file twice: never more than all)."""
        counted = self.files_read() if self.files_read is not None else 0
        return min(self.files, max(self.read_files, counted))

    def _show(self, line: str) -> None:
        if self.batches < 2:
            return
        if self.bar is None:
            _say(line)
        else:
            self.refresh()

    def refresh(self) -> None:
        if self.bar is not None:
            progress, task = self.bar
            progress.update(task, completed=self.files_done(),
                            committed=f"{self.committed_batches}/{self.batches} batches committed")


def _say(line: str) -> None:
    # Not print(): the flow's log_prints would route it into Prefect's (quiet) logger.
    sys.stderr.write(f"newsdrop: {line}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def read_progress(files: int, batches: int, files_read: Callable[[], int] | None = None) -> Iterator[ReadProgress]:
    if batches < 2 or not sys.stderr.isatty():
        if batches >= 2:
            _say(f"reading {files} new files in {batches} batches")
        yield ReadProgress(files, batches, files_read)
        return
    columns = (TextColumn("reading drops"), BarColumn(), MofNCompleteColumn(), TextColumn("files,"),
               TextColumn("{task.fields[committed]}"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("read", total=files, committed=f"0/{batches} batches committed")
        progress = ReadProgress(files, batches, files_read, (bar, task))
        stop = threading.Event()

        def poll() -> None:  # the readers count files as they go: the bar moves between batches
            while not stop.wait(POLL_SECONDS):
                progress.refresh()

        poller = threading.Thread(target=poll, name="newsdrop-progress", daemon=True)
        poller.start()
        try:
            yield progress
        finally:
            stop.set()
            poller.join()


class TerminalHooks(RunHooks):
    """A run's progress on the terminal and nothing else: the run engine alone, no orchestrator."""

    _reading: ReadProgress | None = None  # while a run's batches are read and committed

    def step(self, name: str, part: int | None, call: Callable[[], T]) -> T:
        with listing() if name == "discover" else contextlib.nullcontext():
            done = call()
        if name == "commit-batch" and self._reading is not None:
            self._reading.batch_committed()
        return done

    @contextlib.contextmanager
    def progress(self, files: int, batches: int, files_read: Callable[[], int] | None) -> Iterator[Advance]:
        with read_progress(files, batches, files_read) as reading:
            self._reading = reading
            try:
                yield reading.batch_read
            finally:
                self._reading = None
