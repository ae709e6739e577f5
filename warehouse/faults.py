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
    "batch-read",  # the first batch read, nothing of it committed
    "batch-commit",  # inside a batch's lake transaction, its Parquet files written, before COMMIT
    "committed",  # a batch committed, the ones after it not
    "finished",  # the run's `runs` row committed, its running marker not yet removed
)
REBUILD_POINTS = (
    "rebuild-committed",  # a rebuild's tables replaced, the older snapshots not yet expired
)
UPGRADE_POINTS = (
    "upgrade-commit",  # inside a commit of DATA/raw's bytes into raw_drops, its file moved in, before COMMIT
    "upgrade-committed",  # a commit of the upgrade done, the ones after it not
)


def checkpoint(point: str) -> None:
    assert point in (*POINTS, *REBUILD_POINTS, *UPGRADE_POINTS), point  # the points are named once, above
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, action = spec.partition(":")
    if name != point:
        return
    if action == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device (injected at {point})")
    os.kill(os.getpid(), signal.SIGKILL)
