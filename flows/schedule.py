"""Scheduled ingest runs: a Prefect deployment served from this process.

A schedule whose runs are shorter than its period runs every period, with no
cancellation. Two things cancelled runs before: Prefect's runner fetched runs ten
seconds ahead and started them early, and the deployment's concurrency limit
(CANCEL_NEW) then cancelled whichever found the slot taken. Each run is its own
process, whose start and stop take a few seconds, so even quick runs of a short
period meet. Now the runner fetches runs only when due (one second ahead), there
is no deployment limit to cancel anything, and a run that finds the previous one
still finishing waits for the data folder's run lock, up to one period, instead
of giving up. Runs still never overlap: the lock lets one in at a time.
Runs missed while serve was down collapse into the first run after it starts:
that run takes in everything new anyway.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast
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
from newsdrop.settings import Settings

DEPLOYMENT = "newsdrop-scheduled"
PREFETCH_SECONDS = 1


async def drop_missed_runs(deployment_id: UUID) -> int:
    """Delete the deployment's runs that were due while nobody served it."""
    async with get_client() as client:
        missed = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                expected_start_time=FlowRunFilterExpectedStartTime(before_=datetime.now(UTC)),  # type: ignore[arg-type]
            ),
        )
        for run in missed:
            await client.delete_flow_run(run.id)
    return len(missed)


def serve_ingest(settings: Settings, every: float | None, cron: str | None) -> None:
    runner = Runner(name=DEPLOYMENT, pause_on_shutdown=False, limit=None, prefetch_seconds=PREFETCH_SECONDS)
    deployment_id = runner.add_flow(
        ingest,
        name=DEPLOYMENT,
        interval=every,
        cron=cron,
        parameters={"inbox": str(settings.inbox), "data": str(settings.data),
                    "run_timeout_seconds": settings.run_timeout_seconds, "announce": True,
                    "lock_wait_seconds": max(settings.lock_wait_seconds, every or 60)},
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    asyncio.run(drop_missed_runs(cast(UUID, deployment_id)))  # add_flow returns the id when called sync
    # Prefect's runner takes SIGTERM itself: it stops polling and returns.
    asyncio.run(runner.start())
