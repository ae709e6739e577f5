"""Progress of the read step: a rich bar on an interactive terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextlib.contextmanager
def read_progress(files: int, batches: int) -> Iterator[Callable[[int], None]]:
    """Yields advance(files_done). Silent for a single batch: nothing to watch."""
    if batches < 2:
        yield lambda _files: None
        return
    if sys.stderr.isatty():
        with Progress(TextColumn("reading drops"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      transient=True) as bar:
            task = bar.add_task("read", total=files)
            yield lambda done: bar.update(task, advance=done)
        return
    state = {"files": 0, "batches": 0}

    def log_line(done: int) -> None:
        state["files"] += done
        state["batches"] += 1
        # Not print(): the flow's log_prints would route it into Prefect's (quiet) logger.
        sys.stderr.write(f"newsdrop: read batch {state['batches']}/{batches} ({state['files']}/{files} files)\n")
        sys.stderr.flush()

    yield log_line
