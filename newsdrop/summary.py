"""What a run did, as one typed record: returned by the API, printed by the CLI, and
turned into Prefect artifacts by newsdrop.flows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any

from newsdrop.warehouse.batch import BatchResult
from newsdrop.warehouse.discover import Plan
from newsdrop.warehouse.quality import CheckResult
from newsdrop.warehouse.schema import PER_RUN_TABLES, FileOutcome, RunCounts

ROW_TABLES = tuple(PER_RUN_TABLES)


def shown_name(name: str) -> str:
    """A file name in quotes, as a line of output shows it: as it is recorded (a name that is not
    UTF-8 already shows its bytes as \\xNN), escaped further only when it holds a character that
    would break the line or the terminal (a line break, a control character)."""
    return f"'{name}'" if name.isprintable() else repr(name)


_BLOB_ESCAPED = frozenset(b"\"'\\")


def iso_value(value: Any) -> Any:
    """A time as ISO 8601 (what `status --json` and `sql` print), bytes (a BLOB, raw_drops.content)
    as DuckDB casts them to text: printable ASCII but for quotes and backslash as it is, any other
    byte as \\xNN; any other value as it is."""
    if isinstance(value, bytes):
        return "".join(chr(byte) if 32 <= byte < 127 and byte not in _BLOB_ESCAPED else f"\\x{byte:02X}"
                       for byte in value)
    return value.isoformat() if isinstance(value, datetime | date | time) else value


@dataclass
class Outcome:
    """What the committed batches of a run add up to."""

    loaded: int = 0
    rejected: int = 0
    unchanged: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROW_TABLES, 0))
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    skips: list[tuple[str, str]] = field(default_factory=list)  # (name, why): not read, not recorded
    checks: list[CheckResult] = field(default_factory=list)

    def add(self, result: BatchResult, checks: list[CheckResult]) -> None:
        self.loaded += result.count(FileOutcome.LOADED)
        self.rejected += result.count(FileOutcome.REJECTED)
        self.unchanged += result.count(FileOutcome.UNCHANGED)
        self.skips.extend(result.skipped)
        self.rejects.extend(result.rejects)
        for table, count in result.rows.items():
            self.rows[table] += count
        self.checks.extend(checks)

    def counts(self, plan: Plan | None) -> RunCounts:
        """The run's counters. Without a plan (rebuild), every kept version is seen and new."""
        kept = self.loaded + self.rejected
        return RunCounts(
            files_seen=plan.seen if plan else kept,
            files_new=(plan.new - self.unchanged) if plan else kept,
            drops_loaded=self.loaded,
            files_rejected=self.rejected,
            files_unchanged=(plan.unchanged + self.unchanged) if plan else 0,
            files_skipped=len(self.skips) + (len(plan.refused) if plan else 0),
        )


@dataclass(frozen=True, kw_only=True)
class RunSummary(RunCounts):
    """A run: its counters (RunCounts: the names of the `runs` table's columns) and what else it
    reports (rows per table, rejects, skips, quality checks)."""

    run_id: str
    kind: str
    data: str
    inbox: str | None
    settling: int
    rows: dict[str, int]
    seconds: float
    snapshot_id: int
    rejects: list[tuple[str, str]] = field(default_factory=list)
    skips: list[tuple[str, str]] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, kind: str, run_id: str, data: str, inbox: str | None, plan: Plan | None, outcome: Outcome,
           seconds: float, snapshot_id: int, notes: list[str] | None = None) -> RunSummary:
        return cls(
            **asdict(outcome.counts(plan)), run_id=run_id, kind=kind, data=data, inbox=inbox,
            settling=len(plan.settling) if plan else 0, rows=dict(outcome.rows), seconds=seconds,
            snapshot_id=snapshot_id, rejects=outcome.rejects, skips=outcome.skips + (plan.refused if plan else []),
            checks=outcome.checks, notes=notes or [],
        )

    def one_line(self) -> str:
        return (f"{self.kind} run {self.run_id}: {self.drops_loaded} loaded, {self.files_rejected} rejected, "
                f"{self.files_unchanged} unchanged, {self.seconds:.1f} s")

    def lines(self) -> list[str]:
        source = f" of {self.inbox}" if self.inbox else ""
        out = [
            f"{self.kind} run {self.run_id}{source}: {self.seconds:.1f} s, lake snapshot {self.snapshot_id}",
            f"  files: {self.files_seen} seen, {self.files_new} new, {self.drops_loaded} loaded, "
            f"{self.files_rejected} rejected, {self.files_unchanged} unchanged"
            + (f", {self.files_skipped} skipped" if self.files_skipped else "")
            + (f", {self.settling} still being written (next run)" if self.settling else ""),
            "  rows: " + ", ".join(f"{table} +{count}" for table, count in self.rows.items()),
        ]
        out.extend(f"  rejected {shown_name(name)}: {reason}" for name, reason in self.rejects[:20])
        if len(self.rejects) > 20:
            out.append(f"  ... and {len(self.rejects) - 20} more (see the rejected_drops table)")
        out.extend(f"  skipped {shown_name(name)}: {why}" for name, why in self.skips[:20])
        if self.checks:
            failed = [check for check in self.checks if not check.passed]
            out.append(f"  quality: {len(self.checks) - len(failed)}/{len(self.checks)} checks passed")
            out.extend(f"  {check.severity}: {check.check} ({check.detail})" for check in failed)
        out.extend(f"  {note}" for note in self.notes)
        return out
