"""What a run did, as one typed record: returned by the API, printed by the CLI, and
turned into Prefect artifacts by newsdrop.flows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from newsdrop.settings import Settings
from newsdrop.warehouse.ingest import Outcome, Plan
from newsdrop.warehouse.quality import CheckResult
from newsdrop.warehouse.schema import PER_RUN_TABLES

ROW_TABLES = tuple(PER_RUN_TABLES)


@dataclass
class RunSummary:
    run_id: str
    kind: str
    data: str
    seen: int
    new: int
    loaded: int
    rejected: int
    unchanged: int
    skipped: int
    settling: int
    rows: dict[str, int]
    seconds: float
    published: bool
    rejects: list[tuple[str, str]] = field(default_factory=list)
    skips: list[tuple[str, str]] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)

    @classmethod
    def of_ingest(cls, settings: Settings, plan: Plan, outcome: Outcome, published: bool,
                  started_at: datetime, checks: list[CheckResult]) -> RunSummary:
        counts = outcome.counts(plan)
        return cls(
            run_id=plan.run_id, kind="ingest", data=str(settings.data),
            seen=counts["files_seen"], new=counts["files_new"], loaded=counts["drops_loaded"],
            rejected=counts["files_rejected"], unchanged=counts["files_unchanged"],
            skipped=counts["files_skipped"], settling=len(plan.settling),
            rows={table: outcome.rows.get(table, 0) for table in ROW_TABLES},
            seconds=(datetime.now(UTC) - started_at).total_seconds(), published=published,
            rejects=outcome.rejects, skips=outcome.skips, checks=checks,
        )

    @classmethod
    def of_rebuild(cls, settings: Settings, run_id: str, outcome: Outcome, started_at: datetime) -> RunSummary:
        kept = outcome.loaded + outcome.rejected
        return cls(
            run_id=run_id, kind="rebuild", data=str(settings.data), seen=kept, new=kept,
            loaded=outcome.loaded, rejected=outcome.rejected, unchanged=0, skipped=outcome.skipped, settling=0,
            rows={table: outcome.rows.get(table, 0) for table in ROW_TABLES},
            seconds=(datetime.now(UTC) - started_at).total_seconds(), published=True, rejects=outcome.rejects,
        )

    def lines(self) -> list[str]:
        out = [
            f"{self.kind} run {self.run_id}: {self.seconds:.1f} s",
            f"  files: {self.seen} seen, {self.new} new, {self.loaded} loaded, {self.rejected} rejected, "
            f"{self.unchanged} unchanged"
            + (f", {self.skipped} skipped" if self.skipped else "")
            + (f", {self.settling} still being written (next run)" if self.settling else ""),
            "  rows: " + ", ".join(f"{table} +{count}" for table, count in self.rows.items()),
        ]
        out.extend(f"  rejected {name!r}: {reason}" for name, reason in self.rejects[:20])
        if len(self.rejects) > 20:
            out.append(f"  ... and {len(self.rejects) - 20} more (see the rejected_drops table)")
        out.extend(f"  skipped {name!r}: {why}" for name, why in self.skips[:20])
        if self.checks:
            failed = [check for check in self.checks if not check.passed]
            out.append(f"  quality: {len(self.checks) - len(failed)}/{len(self.checks)} checks passed")
            out.extend(f"  {check.severity}: {check.check} ({check.detail})" for check in failed)
        return out
