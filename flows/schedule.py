"""Scheduled ingest runs: a Prefect deployment served from this process."""

from __future__ import annotations

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType  # type: ignore[attr-defined]

from newsdrop.flows.ingest import ingest
from newsdrop.settings import Settings

DEPLOYMENT = "newsdrop-scheduled"


def serve_ingest(settings: Settings, every: float | None, cron: str | None) -> None:
    # Prefect's runner takes SIGTERM itself: it cancels in-flight runs and returns.
    ingest.serve(
        name=DEPLOYMENT,
        interval=every,
        cron=cron,
        parameters={"inbox": str(settings.inbox), "data": str(settings.data),
                    "run_timeout_seconds": settings.run_timeout_seconds},
        global_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        pause_on_shutdown=False,
        print_starting_message=False,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
