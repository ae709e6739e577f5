"""What a batch's commit costs the run's process and the lake's catalog (issue 33, step 2).

Generates one inbox (BBC text) and takes it in through the Python API (no Prefect; one worker,
so that no reader process competes with the commit for the two cores), twice, each time into
an empty warehouse:
- timed: each commit-batch step's wall and CPU time in the run's process (its CPU time
  counts DuckDB's threads too);
- counted: DuckDB's query log during each commit (logging on costs time, so this is the
  second pass): the statements newsdrop sends, and the statements DuckLake sends to its
  catalog (those naming its metadata tables), and how many of those write.
Medians over the batches after the first (the first creates the partition folders). --profile
prints where the timed commits spent their time, by cumulative time.

    python -m benchmarks.commit_cost [--count 20000] [--batch-size 2500] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.generate import DEFAULT_CORPORA, generate

T = TypeVar("T")
CATALOG_MARK = "__ducklake_metadata_"
WRITES = ("INSERT", "UPDATE", "DELETE")


def main() -> None:
    import newsdrop
    from newsdrop.engine import RunHooks

    class Timed(RunHooks):
        def __init__(self, profile: cProfile.Profile | None) -> None:
            self.wall: list[float] = []
            self.cpu: list[float] = []
            self.profile = profile

        def step(self, name: str, part: int | None, call: Callable[[], T]) -> T:
            if name != "commit-batch" or not part:
                return call()
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                if self.profile is None:
                    return call()
                return self.profile.runcall(call)
            finally:
                self.wall.append(time.perf_counter() - wall)
                self.cpu.append(time.process_time() - cpu)

    class Counted(RunHooks):
        def __init__(self) -> None:
            self.ours: list[int] = []
            self.catalog: list[int] = []
            self.catalog_writes: list[int] = []

        def step(self, name: str, part: int | None, call: Callable[[], T]) -> T:
            if name != "commit-batch" or not part:
                return call()
            con: Any = call.args[0]  # type: ignore[attr-defined]  # commit_batch's connection (a partial)
            con.execute("CALL truncate_duckdb_logs()")
            con.execute("CALL enable_logging(level => 'info')")
            try:
                return call()
            finally:
                con.execute("CALL disable_logging()")
                logged = [" ".join(message.split()) for (message,) in con.execute(
                    "SELECT message FROM duckdb_logs WHERE type = 'QueryLog'").fetchall()]
                catalog = [query for query in logged if CATALOG_MARK in query]
                self.ours.append(len(logged) - len(catalog) - 1)  # not the CALL disable_logging()
                self.catalog.append(len(catalog))
                self.catalog_writes.append(sum(1 for query in catalog if query.startswith(WRITES)))

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=2500)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        inbox = Path(folder) / "inbox"
        generate(args.count, inbox, corpora=args.corpora)
        timed, counted = Timed(cProfile.Profile() if args.profile else None), Counted()
        newsdrop.ingest(inbox, Path(folder) / "timed", settle_seconds=0, batch_size=args.batch_size, workers=1,
                        hooks=timed)
        newsdrop.ingest(inbox, Path(folder) / "counted", settle_seconds=0, batch_size=args.batch_size, workers=1,
                        hooks=counted)
    print(f"{args.count} drops in batches of {args.batch_size}: {len(timed.wall)} commits measured")
    print(f"commit wall ms (median): {1000 * statistics.median(timed.wall):.0f}")
    print(f"commit CPU ms, run's process (median): {1000 * statistics.median(timed.cpu):.0f}")
    print(f"statements newsdrop sends a commit (median): {statistics.median(counted.ours):.0f}")
    print(f"catalog statements a commit (median): {statistics.median(counted.catalog):.0f}, "
          f"of which writes {statistics.median(counted.catalog_writes):.0f}")
    if timed.profile is not None:
        pstats.Stats(timed.profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
