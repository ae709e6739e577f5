"""The reader alone: µs per drop for reading plus keys, beside the lean peer's plain split.

Reads a generated inbox into memory once, then times, single process, medians of
--rounds passes:
- newsdrop: read_drop, then headline_id for every headline and the body key (what a
  reader process does per drop, without the disk and Parquet);
- reference: the same with the frozen reader the tests compare against
  (tests/reference_reader.py), i.e. the reader before the fast path;
- lean split: the lean peer's decode and split at the last gap.

    python benchmarks/reader.py --count 3000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.generate import DEFAULT_CORPORA, generate
from benchmarks.peers.lean_python import split_drop
from newsdrop.transforms import keys, read

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import reference_reader  # the frozen reader lives with the tests


def read_with_keys(read_drop: Any, headline_id: Any, body_key: Any) -> Callable[[bytes], object]:
    def one(raw: bytes) -> object:
        reading = read_drop(raw)
        if isinstance(reading, read.Reading):
            return ([headline_id(text) for text in reading.headlines], body_key(reading.paragraphs))
        return reading
    return one


def per_drop(function: Callable[[bytes], object], drops: list[bytes], rounds: int) -> float:
    """Median µs per drop over `rounds` passes (a cache inside the reader is cleared before each)."""
    times = []
    for _ in range(rounds):
        keys.clear_caches()
        start = time.perf_counter()
        for raw in drops:
            function(raw)
        times.append((time.perf_counter() - start) / len(drops) * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = parser.parse_args()
    corpora = args.corpora if args.corpora.is_dir() else None
    with tempfile.TemporaryDirectory() as folder:
        inbox = Path(folder)
        generate(args.count, inbox, seed=args.seed, corpora=corpora)
        drops = [path.read_bytes() for path in sorted(inbox.iterdir())]
    megabytes = sum(map(len, drops)) / 1e6
    print(f"{len(drops)} drops ({megabytes:.1f} MB) from {corpora or 'the synthetic generator'}, "
          f"medians of {args.rounds}, single process")
    newsdrop = read_with_keys(read.read_drop, keys.headline_id, keys.clean_body_key)
    reference = read_with_keys(reference_reader.read_drop, reference_reader.headline_id, reference_reader.body_key)
    for name, function in (("newsdrop reader + keys", newsdrop), ("reference reader + keys", reference),
                           ("lean split", split_drop)):
        print(f"{name:<26} {per_drop(function, drops, args.rounds):8.1f} µs/drop")


if __name__ == "__main__":
    main()
