"""Scheduled ingest runs: a Prefect deployment served from this process, serve's scheduler
(started by newsdrop.flows.serve in a session of its own).

A schedule whose runs are shorter than its period runs every period, with no
cancellation. Two things cancelled runs before: Prefect's runner fetched runs ten
seconds ahead and started them early, and the deployment's concurrency limit
(CANCEL_NEW) then cancelled whichever found the slot taken. Each run is its own
process, whose start and stop take a few seconds, so even quick runs of a short
period meet. Now the runner fetches runs only when due (one second ahead), there
is no deployment limit to cancel anything, and a run that finds the data folder's
run lock held (by a run of another process) waits for it, up to one period, instead
of giving up. The runner itself starts one run at a time: a run that comes due while
the previous one is still finishing starts when it is done, late but not cancelled,
and a stopping serve waits for one run at most, not for a queue of runs that were
waiting for the lock. Runs never overlap: the lock lets one in at a time.
Runs missed while serve was down collapse into the first run after it starts:
that run takes in everything new anyway.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import warnings
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.deployments.runner import EntrypointType  # type: ignore[attr-defined]
from prefect.runner import Runner

from newsdrop.flows.ingest import ingest
from newsdrop.settings import UnknownVariable

DEPLOYMENT = "newsdrop-scheduled"
PREFETCH_SECONDS = 1
FINISH_SECONDS = 60  # how long a stopping serve waits for the run in flight
QUIET_CHECKS = 3  # reads finding no scheduled run before a stopping serve is sure none is left


async def drop_scheduled_runs(deployment_id: UUID, due_before: datetime | None = None) -> int:
    """Delete the deployment's runs still waiting to start (only those due before `due_before`
    when given): at start, the runs missed while nobody served it; at stop, the runs scheduled
    ahead, which nobody would start (the UI would show them "Late" forever)."""
    async with get_client() as client:
        waiting = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                expected_start_time=FlowRunFilterExpectedStartTime(before_=due_before),  # type: ignore[arg-type]
            ),
        )
        for run in waiting:
            await client.delete_flow_run(run.id)
    return len(waiting)


async def drop_runs_scheduled_ahead(deployment_id: UUID) -> None:
    """At stop: the runs scheduled ahead, until the server has made none for QUIET_CHECKS reads a
    second apart. The server's scheduler may be inserting the next runs of the deployment as it
    is paused (an iteration that had picked it before the pause still inserts them: 100 runs
    were left "Late" once, on a loaded machine)."""
    quiet = 0
    for _ in range(QUIET_CHECKS * 4):
        quiet = 0 if await drop_scheduled_runs(deployment_id) else quiet + 1
        if quiet == QUIET_CHECKS:
            return
        await asyncio.sleep(1)


class FinishingRunner(Runner):
    """A runner that, on SIGTERM, takes no new run and lets the run in flight finish (up to
    FINISH_SECONDS) before it stops. Prefect's own cancels it, which leaves a crashed run and
    an un-awaited coroutine warning at exit."""

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        if not self.started or self.stopping or self._loop is None:
            sys.exit(0)
        self.stopping = True
        self._scheduled_run_poller.stopping = True
        self.execute_in_background(self._stop_when_idle)

    async def _stop_when_idle(self) -> None:
        deadline = time.monotonic() + FINISH_SECONDS
        while self._process_manager.flow_run_count() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await self.astop()


def serve_ingest(parameters: dict[str, object], every: float | None, cron: str | None) -> None:
    """The scheduler: a deployment of the ingest flow, served until SIGTERM."""
    # Paused when serve stops (no server makes more runs for it); un-paused when it starts again.
    runner = FinishingRunner(name=DEPLOYMENT, pause_on_shutdown=True, limit=1, prefetch_seconds=PREFETCH_SECONDS)
    deployment_id = runner.add_flow(
        ingest,
        name=DEPLOYMENT,
        interval=every,
        cron=cron,
        paused=False,
        parameters=parameters,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    deployment_id = cast(UUID, deployment_id)  # add_flow returns the id when called sync
    asyncio.run(drop_scheduled_runs(deployment_id, due_before=datetime.now(UTC)))
    try:
        # The runner takes SIGTERM itself (FinishingRunner.handle_sigterm) and returns.
        asyncio.run(runner.start())
    finally:
        asyncio.run(drop_runs_scheduled_ahead(deployment_id))


def main() -> None:
    """`python -m newsdrop.flows.schedule ORDER`, started by serve (newsdrop.flows.serve) in a
    session of its own; ORDER is the JSON of the parameters and the schedule."""
    # Until the runner takes SIGTERM over: a stop while Prefect loads ends this quietly.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only serve's SIGTERM stops the scheduler
    warnings.simplefilter("ignore", UnknownVariable)  # serve has said it, once
    order = json.loads(sys.argv[1])
    serve_ingest(order["parameters"], every=order["every"], cron=order["cron"])


if __name__ == "__main__":
    main()
