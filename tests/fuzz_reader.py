"""Mutation fuzzing of the reader: every input is read or rejected, nothing else.

The fast subset runs in the suite (test_hostile.py); the long run is a command:

    python tests/fuzz_reader.py --count 100000
"""

from __future__ import annotations

import argparse
import codecs
import gzip
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsdrop.transforms import Reading, Rejected, read_drop

SEEDS = sorted((Path(__file__).parent / "fixtures" / "drops").glob("*.txt"))
SPECIAL = [b"\x00", b"\r", b"\n", b"\r\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xc3", b"\xe2\x80",
           b"\xe2\x80\x99", "\u2028".encode(), "\u200b".encode(), b"\xa3", b"\x1f\x8b", b"  \t", b"\n\n\n",
           "â€™".encode(), b"\x85", b"\xd8\x00", b"1\n2\n3\n"]


def mutate(rng: random.Random, corpus: list[bytes]) -> bytes:
    data = bytearray(rng.choice(corpus))
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(9)
        at = rng.randint(0, len(data))
        if op == 0 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[at:at] = rng.choice(SPECIAL)
        elif op == 2:
            data[at:at] = rng.randbytes(rng.randint(1, 16))
        elif op == 3 and data:
            del data[at : at + rng.randint(1, 200)]
        elif op == 4:
            data = data[: rng.randint(0, len(data))]
        elif op == 5:
            other = rng.choice(corpus)
            cut = rng.randint(0, len(other))
            data = data[:at] + other[cut:]
        elif op == 6:
            text = bytes(data).decode("utf-8", errors="replace")
            codec = rng.choice(["utf-16", "utf-16-le", "utf-32", "cp1252", "latin-1", "utf-8-sig"])
            data = bytearray(text.encode(codec, errors="replace"))
        elif op == 7:
            data = bytearray(rng.choice([codecs.BOM_UTF16_LE, codecs.BOM_UTF8, b""]) + data)
        else:
            data = bytearray(gzip.compress(bytes(data))[: rng.randint(2, 64)]) if rng.random() < 0.1 else data
    return bytes(data)


def fuzz(count: int, seed: int = 0) -> dict[str, int]:
    rng = random.Random(seed)
    corpus = [path.read_bytes() for path in SEEDS]
    seen = {"read": 0, "rejected": 0}
    for index in range(count):
        raw = mutate(rng, corpus) if index % 10 else rng.randbytes(rng.randint(0, 4000))
        try:
            outcome = read_drop(raw)
        except Exception as error:
            raise AssertionError(f"input {index} (seed {seed}) raised {error!r}: {raw[:200]!r}") from error
        if isinstance(outcome, Rejected):
            seen["rejected"] += 1
        else:
            assert isinstance(outcome, Reading)
            seen["read"] += 1
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.monotonic()
    seen = fuzz(args.count, args.seed)
    print(f"{args.count} inputs in {time.monotonic() - started:.0f} s: {seen['read']} read, "
          f"{seen['rejected']} rejected, 0 other outcomes")


if __name__ == "__main__":
    main()
