"""What a reader process spends on one batch beyond the reading contract, in CPU µs per drop.

Generates one inbox (BBC text), then, in this one process, times with CPU time:
- contract: read_drop over every drop's bytes (held in memory), the part the rules cost;
- batch: read_batch over the same drops from the inbox folder, as a reader process runs it
  (file read and sha256, the reading, the rows, the raw bytes and the staged Parquet files).
"outside the contract" is batch minus contract. Medians of --rounds; --profile prints the
batch's top functions by own time.

    python -m benchmarks.batch_cost [--count 2500] [--rounds 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.generate import DEFAULT_CORPORA, generate
from newsdrop.transforms import keys
from newsdrop.transforms.read import read_drop
from newsdrop.warehouse.batch import BatchSpec, Candidate, read_batch
from newsdrop.warehouse.inbox import list_folder
from newsdrop.warehouse.layout import DataLayout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime", help="the profile's order: tottime or cumulative")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        inbox = Path(folder) / "inbox"
        generate(args.count, inbox, corpora=args.corpora)
        candidates = [Candidate(listed) for listed in list_folder(inbox, 0).drops]
        drops = [(inbox / candidate.listed.name).read_bytes() for candidate in candidates]

        def contract() -> None:
            for raw in drops:
                read_drop(raw)

        def batch(round_no: int) -> None:
            data = Path(folder) / f"data{round_no}"
            spec = BatchSpec(f"run{round_no}", datetime.now(UTC), 0, f"run{round_no}")
            read_batch(spec, candidates, str(inbox), DataLayout(data), 1 << 24)
            shutil.rmtree(data)

        contract_us, batch_us = [], []
        for round_no in range(args.rounds):
            keys.clear_caches()
            contract_us.append(cpu_us(contract) / len(drops))
            keys.clear_caches()
            batch_us.append(cpu_us(lambda round_no=round_no: batch(round_no)) / len(drops))
        contract_median, batch_median = statistics.median(contract_us), statistics.median(batch_us)
        print(f"{len(drops)} drops, CPU µs per drop (median of {args.rounds}): contract {contract_median:.0f}, "
              f"batch {batch_median:.0f}, outside the contract {batch_median - contract_median:.0f}")
        if args.profile:
            keys.clear_caches()
            profile = cProfile.Profile()
            profile.runcall(batch, args.rounds)
            pstats.Stats(profile).sort_stats(args.sort).print_stats(30)


def cpu_us(work: object) -> float:
    started = time.process_time()
    work()  # type: ignore[operator]
    return (time.process_time() - started) * 1e6


if __name__ == "__main__":
    main()
