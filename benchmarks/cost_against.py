"""What a change costs a run: the same runs by this tree and by a checkout without the change,
interleaved, so that the machine's drifting speed falls on both (issue 34: near-duplicates;
issue 35: the search index kept by every run).

    git worktree add /tmp/without 8367857      # e.g. the commit before near-duplicates were kept
    python -m benchmarks.cost_against --without /tmp/without --sizes 20000,100000

For each N of --sizes, one inbox of N generated drops (BBC text, every body its own) and one of
1,000 more; then --rounds times, for each tree in turn, each run in a fresh process through the
Python API (no Prefect):
  cold    the N drops into an empty warehouse
  add1k   the 1,000 into that warehouse of N
  only1k  the 1,000 into an empty warehouse
Reported: median wall seconds, CPU seconds of the run and its reader processes, and the
ratio with/without; add1k/only1k is the growth the issue bounds (1.2x).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from benchmarks.generate import DEFAULT_CORPORA, generate  # noqa: E402

# The run in a fresh process that imports newsdrop from the tree given first; a file, not -c,
# since the reader processes are spawned from it.
INGEST = (
    "import sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "import newsdrop\n"
    "if __name__ == '__main__':\n"
    "    newsdrop.ingest(sys.argv[2], sys.argv[3], settle_seconds=0)\n"
)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ingest(script: Path, tree: Path, inbox: Path, data: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run (its reader processes included)."""
    cpu, started = children_cpu(), time.monotonic()
    subprocess.run([sys.executable, str(script), str(tree), str(inbox), str(data)], check=True, cwd=tree)
    return time.monotonic() - started, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--without", type=Path, required=True, help="a checkout of newsdrop without the change")
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--work", type=Path, help="folder for inboxes and warehouses (default: a temp one)")
    args = parser.parse_args()
    trees = {"with": HERE, "without": args.without.resolve()}
    work = args.work or Path(tempfile.mkdtemp(prefix="newsdrop-cost-"))
    script = work / "ingest.py"
    script.write_text(INGEST)
    corpora = args.corpora if args.corpora.is_dir() else None
    print("| N | scenario | with: wall s | with: CPU s | without: wall s | without: CPU s | wall ratio | CPU ratio |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for size in (int(part) for part in args.sizes.split(",")):
        inbox, added = work / f"inbox{size}", work / f"added{size}"
        if not inbox.exists():
            generate(size, inbox, seed=1, corpora=corpora)
            generate(1000, added, seed=2, corpora=corpora, start=size)
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _round in range(args.rounds):
            for name, tree in trees.items():
                data, alone = work / f"data-{name}", work / f"alone-{name}"
                shutil.rmtree(data, ignore_errors=True)
                shutil.rmtree(alone, ignore_errors=True)
                times.setdefault((name, "cold"), []).append(ingest(script, tree, inbox, data))
                times.setdefault((name, "add1k"), []).append(ingest(script, tree, added, data))
                times.setdefault((name, "only1k"), []).append(ingest(script, tree, added, alone))
        medians = {key: (statistics.median(w for w, _c in runs), statistics.median(c for _w, c in runs))
                   for key, runs in times.items()}
        for scenario in ("cold", "add1k", "only1k"):
            (w1, c1), (w0, c0) = medians["with", scenario], medians["without", scenario]
            print(f"| {size:,} | {scenario} | {w1:.2f} | {c1:.2f} | {w0:.2f} | {c0:.2f} | {w1 / w0:.2f} "
                  f"| {c1 / c0:.2f} |", flush=True)
        for name in trees:
            growth = medians[name, "add1k"][0] / medians[name, "only1k"][0]
            print(f"| {size:,} | add1k/only1k, {name} | {growth:.2f}x | | | | | |", flush=True)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
