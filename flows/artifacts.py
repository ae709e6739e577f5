"""The Prefect artifacts of a run, under stable keys so that runs line up in the UI."""

from __future__ import annotations

from dataclasses import asdict

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from newsdrop.summary import RunSummary


def publish_artifacts(summary: RunSummary) -> None:
    """Stable keys, so that the runs line up in the Prefect UI's artifact history."""
    create_table_artifact(
        key=f"newsdrop-{summary.kind}-counts",
        table=[
            *({"what": name.replace("_", " "), "count": count} for name, count in asdict(summary.counts()).items()),
            *({"what": f"rows {table}", "count": count} for table, count in summary.rows.items()),
            {"what": "seconds", "count": round(summary.seconds, 2)},
        ],
        description=f"newsdrop {summary.kind} run {summary.run_id} on {summary.data}",
    )
    if summary.checks:
        create_table_artifact(
            key=f"newsdrop-{summary.kind}-quality",
            table=[{"check": c.check, "severity": c.severity, "passed": c.passed, "detail": c.detail}
                   for c in summary.checks],
            description=f"Data-quality checks of run {summary.run_id}",
        )
    rejects = "\n".join(f"| `{name}` | {reason} |" for name, reason in summary.rejects) or "| | none |"
    create_markdown_artifact(
        key=f"newsdrop-{summary.kind}-rejects",
        markdown=f"# Rejected files, run {summary.run_id}\n\n| file | reason |\n|---|---|\n{rejects}\n",
        description="Files rejected by this run; their bytes are kept in the raw_drops table.",
    )
