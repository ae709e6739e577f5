"""Which signal is stopping a command, recorded before anything else happens.

Prefect owns SIGTERM while a flow runs (its handler raises TerminationSignal),
and a signal that lands inside its task engine can come out as an unrelated
error ("Task run is not set"). So the command records the signal first and
raises KeyboardInterrupt; whatever error reaches the command, the record decides
that it exits 130/143 with one line.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

EXIT_CODE = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}  # 128 + the signal's number
received: list[signal.Signals] = []  # the signals that are stopping this command
_armed: list[bool] = []  # set while a command stops on signals (not when a user calls a flow)


def taken_signals() -> list[signal.Signals]:
    """The signals a command stops on: SIGINT, SIGTERM, and SIGHUP (its terminal closed)
    unless it is ignored, as `nohup` leaves it for a command meant to outlive its terminal."""
    return [signum for signum in EXIT_CODE if signum != signal.SIGHUP or signal.getsignal(signum) is not signal.SIG_IGN]


def _stop(signum: int, _frame: Any) -> None:
    stopping = bool(received)
    received.append(signal.Signals(signum))
    if not stopping:
        # Once: a second signal would break the stop's own clean-up (the readers end their
        # batches in a second or two) with a traceback.
        raise KeyboardInterrupt


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """For a command: SIGINT and SIGTERM stop it, recorded in `received`."""
    previous = {signum: signal.signal(signum, _stop) for signum in taken_signals()}
    _armed.append(True)
    try:
        yield
    finally:
        _armed.pop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def recording_sigterm_in_flow() -> Iterator[None]:
    """Inside a flow started by a command: take SIGTERM back from Prefect, so it is
    recorded before it becomes an error. A flow a user calls keeps Prefect's handling."""
    if not _armed or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
