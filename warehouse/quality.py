"""Data-quality checks over the warehouse, with a run's new rows in place.

The checks run inside a DuckDB transaction that loads the run's staged files
and is then rolled back: a run whose rows break an error check is never
committed, so its data stays out, like any failed commit.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

ERROR = "error"
WARNING = "warning"

# (name, severity, SQL giving the number of violations)
CHECKS: tuple[tuple[str, str, str], ...] = (
    ("drops.drop_id is unique", ERROR, "SELECT count(*) - count(DISTINCT drop_id) FROM drops"),
    ("articles.article_id is unique", ERROR, "SELECT count(*) - count(DISTINCT article_id) FROM articles"),
    ("headlines.headline_id is unique", ERROR, "SELECT count(*) - count(DISTINCT headline_id) FROM headlines"),
    ("drop_headlines (drop_id, position) is unique", ERROR,
     "SELECT count(*) - count(DISTINCT (drop_id, position)) FROM drop_headlines"),
    ("dropped_lines (drop_id, line_no) is unique", ERROR,
     "SELECT count(*) - count(DISTINCT (drop_id, line_no)) FROM dropped_lines"),
    ("every drop_headlines.headline_id is in headlines", ERROR,
     "SELECT count(*) FROM drop_headlines dh ANTI JOIN headlines h USING (headline_id)"),
    ("every article has its drop", ERROR, "SELECT count(*) FROM articles a ANTI JOIN drops d USING (drop_id)"),
    ("headline positions run 1..n with no gap", ERROR,
     "SELECT count(*) FROM (SELECT drop_id FROM drop_headlines GROUP BY drop_id"
     " HAVING min(position) <> 1 OR max(position) <> count(*))"),
    ("drops.headline_count agrees with drop_headlines", ERROR,
     "SELECT count(*) FROM drops d LEFT JOIN (SELECT drop_id, count(*) AS n FROM drop_headlines GROUP BY ALL) c"
     " USING (drop_id) WHERE d.headline_count <> coalesce(c.n, 0)"),
    ("one article per drop", ERROR, "SELECT abs((SELECT count(*) FROM drops) - (SELECT count(*) FROM articles))"),
    ("drops agree with the ledger", ERROR, "SELECT abs((SELECT count(*) FROM drops) - $loaded)"),
    ("rejected_drops agree with the ledger", ERROR, "SELECT abs((SELECT count(*) FROM rejected_drops) - $rejected)"),
    ("headlines.drop_count agrees with drop_headlines", ERROR,
     "SELECT count(*) FROM headlines h JOIN (SELECT headline_id, count(DISTINCT drop_id) AS n FROM drop_headlines"
     " GROUP BY ALL) c USING (headline_id) WHERE h.drop_count <> c.n"),
    ("no empty bodies", WARNING, "SELECT count(*) FROM articles WHERE body = ''"),
)


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: str
    severity: str
    passed: bool
    detail: str


def run_checks(con: duckdb.DuckDBPyConnection, loaded: int, rejected: int) -> list[CheckResult]:
    """Run every check on what the connection sees; `loaded`/`rejected` are the ledger's totals."""
    results = []
    for name, severity, sql in CHECKS:
        params = {key: value for key, value in (("loaded", loaded), ("rejected", rejected)) if f"${key}" in sql}
        violations = con.execute(sql, params).fetchall()[0][0]
        results.append(CheckResult(name, severity, violations == 0, f"{violations} violation(s)" if violations else ""))
    return results


def failed_errors(results: list[CheckResult]) -> list[CheckResult]:
    return [result for result in results if not result.passed and result.severity == ERROR]
