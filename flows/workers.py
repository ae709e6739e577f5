"""Child processes that end with the newsdrop process that started them, even when
it is killed with SIGKILL: an orphan would hold the run's files, pipes or port."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def set_parent_death_signal() -> None:
    """In a child (a pool initializer or a preexec_fn): SIGKILL me when my parent dies."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)
