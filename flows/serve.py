"""`newsdrop serve`'s own process: it starts the scheduler (newsdrop.flows.schedule) in a
process and session of its own, and is the only process a stop signal reaches.

Why two processes: Ctrl-C in a terminal goes to the whole foreground process group, and
systemd, `timeout` or `kill -- -PGID` send SIGTERM to it too. With the scheduler in serve's
group, each run's process (Prefect starts one per run) got the signal as well, and one still
importing Prefect printed a KeyboardInterrupt traceback or crashed. In a session of its own,
the scheduler and its runs hear only what this process tells them: SIGTERM once, which stops
the scheduler taking runs and lets the run in flight finish (FinishingRunner). This process
imports no Prefect, so it answers a signal at once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from types import FrameType

from newsdrop.flows.signals import taken_signals
from newsdrop.readers import set_parent_death_signal
from newsdrop.settings import Settings


@dataclass(frozen=True)
class ServeEnded:
    """How serve ended: the signal that stopped it, or the scheduler's own exit code."""

    signal: signal.Signals | None
    scheduler_exit: int


def schedule_parameters(settings: Settings, every: float | None) -> dict[str, object]:
    """The scheduled runs' flow parameters: what the settings say, and a lock wait of at least
    one period (a run that finds the previous one finishing waits for it, not skips)."""
    return {"inbox": str(settings.inbox), "data": str(settings.data), "catalog": settings.catalog,
            "dask": settings.dask, "run_timeout_seconds": settings.run_timeout_seconds, "announce": True,
            "lock_wait_seconds": max(settings.lock_wait_seconds, every or 60)}


def serve_until_stopped(settings: Settings, every: float | None, cron: str | None) -> ServeEnded:
    """Run the scheduler until it ends or a stop signal comes; PREFECT_API_URL must be set."""
    order = json.dumps({"parameters": schedule_parameters(settings, every), "every": every, "cron": cron})
    received: list[signal.Signals] = []
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "newsdrop.flows.schedule", order], stdin=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=set_parent_death_signal,
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not received and scheduler.poll() is None:
            scheduler.send_signal(signal.SIGTERM)  # once: a second would cut the run in flight short
        received.append(signal.Signals(signum))

    previous = {signum: signal.signal(signum, stop) for signum in taken_signals()}
    try:
        while True:
            try:
                code = scheduler.wait(timeout=0.5)  # a short wait: the signal handler runs between
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if scheduler.poll() is None:  # an error here: the scheduler must not outlive serve
            scheduler.kill()
            scheduler.wait()
    return ServeEnded(received[0] if received else None, code)
