"""What one run costs as the warehouse grows: 1,000 new drops into warehouses of N drops.

For each N: build a warehouse of N drops (not measured), then take in 1,000 more in a fresh
process through the Python API (no Prefect), and report that run's wall seconds, the bytes
it wrote under DATA (new files whole, changed files whole: SQLite rewrites pages in place),
and the peak RSS of its largest process (the run or a reader).

    python benchmarks/run_cost.py --sizes 0,20000,100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.generate import DEFAULT_CORPORA, generate

# The run in a fresh process, which prints the peak RSS (KiB) of its largest process: itself
# or one of its reader processes (waited for, so counted in RUSAGE_CHILDREN).
INGEST = (
    "import resource, sys, newsdrop\n"
    "if __name__ == '__main__':\n"
    "    newsdrop.ingest(sys.argv[1], sys.argv[2], settle_seconds=0)\n"
    "    print(max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))\n"
)


def listing(folder: Path) -> dict[str, tuple[int, int, int]]:
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            found[str(path)] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    return found


def ingest(inbox: Path, data: Path, script: Path) -> int:
    """Returns the peak RSS of the run's largest process, in KiB."""
    done = subprocess.run([sys.executable, str(script), str(inbox), str(data)], check=True, capture_output=True,
                          text=True)
    return int(done.stdout.split()[-1])


def measure(size: int, root: Path, corpora: Path | None) -> dict[str, float]:
    history, new, data = root / f"history{size}", root / f"new{size}", root / f"data{size}"
    script = root / "ingest.py"  # a file, not -c: the reader processes are spawned from it
    script.write_text(INGEST)
    if size:
        generate(size, history, seed=1, corpora=corpora)
        ingest(history, data, script)
    generate(1000, new, seed=2, corpora=corpora, start=size)
    before = listing(data) if data.exists() else {}
    started = time.monotonic()
    peak_kib = ingest(new, data, script)
    seconds = time.monotonic() - started
    after = listing(data)
    written = sum(facts[0] for path, facts in after.items() if before.get(path) != facts)
    return {"history": size, "seconds": round(seconds, 2), "bytes_written": written,
            "peak_rss_mb": round(peak_kib / 1024, 1), "warehouse_bytes": sum(facts[0] for facts in after.values())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0,20000,100000")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    corpora = DEFAULT_CORPORA if DEFAULT_CORPORA.exists() else None
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(part) for part in args.sizes.split(",")):
            row = measure(size, Path(folder), corpora)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("NEWSDROP_SETTLE_SECONDS", "0")
    main()
