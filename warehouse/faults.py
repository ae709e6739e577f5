"""Fault injection at the step boundaries of a run, for the crash tests.

NEWSDROP_FAULT_AT=<point> kills the process with SIGKILL when the run reaches
that point; NEWSDROP_FAULT_AT=<point>:enospc raises "No space left on device"
there instead. Unset (always, outside tests), a checkpoint costs one lookup.
"""

from __future__ import annotations

import errno
import os
import signal

FAULT_ENV = "NEWSDROP_FAULT_AT"

POINTS = (
    "discovered",  # inbox listed, nothing read
    "batch-read",  # the first batch is staged, others may not be
    "staged",  # every batch staged, nothing committed
    "ledger-commit",  # inside the ledger transaction, before COMMIT
    "committed",  # ledger committed, no file moved into parquet/
    "moving",  # half of the committed files moved
    "loaded",  # working database loaded, snapshot not yet copied
    "published",  # snapshot replaced, run not yet marked finished
)


def checkpoint(point: str) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, action = spec.partition(":")
    if name != point:
        return
    if action == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device (injected at {point})")
    os.kill(os.getpid(), signal.SIGKILL)
