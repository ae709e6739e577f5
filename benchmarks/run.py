"""newsdrop against its peers, side by side on one machine, in one run.

    python benchmarks/run.py                 # N = 10,000 drops, 3 rounds
    python benchmarks/run.py --count 100000 --rounds 1
    python benchmarks/run.py --count 1000000 --rounds 1 --scenarios cold,noop

Scenarios, each for newsdrop, the pure-DuckDB-SQL peer and the lean Python peer:
  cold   ingest N drops into an empty warehouse
  noop   run again over the same N (newsdrop: nothing new; the peers redo everything)
  rebuild  newsdrop rebuild: re-read the N kept drops with the current rules (the peers
         redo everything from the inbox: they keep no bytes of their own)
  add1k  add 1,000 new drops to the warehouse of N
  only1k the same 1,000 drops into an empty warehouse

Each command runs in its own process, as a user runs it: newsdrop is `newsdrop run` as typed
(the run engine alone; a Prefect flow run on PREFECT_API_URL's server when that is set).
--prefect: each newsdrop command records its run in Prefect on a local server of its own, its
start-up included (newsdrop's default until issue 33); --served: one Prefect server for the
whole benchmark (the case of `serve`). --newest-duckdb-python V/bin/python: the DuckDB SQL
script also on the DuckDB of that venv (duckdb_sql_newest), beside the one newsdrop pins.
Reported:
median wall seconds, drops/s, MB/s, peak RSS (the largest single process, and the
whole process tree sampled every 50 ms), and the ratio newsdrop/peer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.generate import DEFAULT_CORPORA, generate  # noqa: E402

SYSTEMS = ("newsdrop", "duckdb_sql", "duckdb_sql_newest", "lean_python")
PEERS = SYSTEMS[1:]
SCENARIOS = ("cold", "noop", "rebuild", "add1k", "only1k")
ADDED = 1000


@dataclass
class Measure:
    system: str
    scenario: str
    seconds: float
    drops: int
    megabytes: float
    peak_process_mb: float
    peak_tree_mb: float


NEWSDROP_OPTIONS: list[str] = []  # --prefect when the benchmark is given it
NEWEST_DUCKDB_PYTHON: list[str] = []  # --newest-duckdb-python: the DuckDB SQL script on another DuckDB


def command(system: str, inbox: Path, data: Path, scenario: str = "cold") -> list[str]:
    if system == "newsdrop" and scenario == "rebuild":
        return [sys.executable, "-m", "newsdrop", "rebuild", "--data", str(data), *NEWSDROP_OPTIONS]
    if system == "newsdrop":
        return [sys.executable, "-m", "newsdrop", "run", "--inbox", str(inbox), "--data", str(data),
                "--settle-seconds", "0", *NEWSDROP_OPTIONS]
    if system == "duckdb_sql_newest":
        return [*NEWEST_DUCKDB_PYTHON, str(HERE / "peers" / "duckdb_sql.py"), str(inbox), str(data)]
    return [sys.executable, str(HERE / "peers" / f"{system}.py"), str(inbox), str(data)]


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak single-process RSS MB, peak process-tree RSS MB)."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=HERE.parent)
    root = psutil.Process(process.pid)
    peak_one = peak_tree = 0.0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            sizes = []
            for member in tree:
                with contextlib.suppress(psutil.Error):
                    sizes.append(member.memory_info().rss)
            if sizes:
                peak_one = max(peak_one, max(sizes) / 1e6)
                peak_tree = max(peak_tree, sum(sizes) / 1e6)
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{cmd[2:4]} failed ({process.returncode}): {stderr.decode(errors='replace')[-800:]}")
    return seconds, peak_one, peak_tree


def inbox_megabytes(inbox: Path) -> float:
    return sum(entry.stat().st_size for entry in os.scandir(inbox)) / 1e6


def run_round(count: int, scenarios: list[str], work: Path, corpora: Path | None, seed: int,
              systems: tuple[str, ...] = SYSTEMS) -> list[Measure]:
    base = work / "inbox"
    if not base.exists():
        generate(count, base, seed=seed, corpora=corpora)
    extra = work / "extra"
    if not extra.exists():
        generate(ADDED, extra, seed=seed, corpora=corpora, start=count)
    grown = work / "grown"
    if not grown.exists():
        shutil.copytree(base, grown, copy_function=os.link)
        for path in extra.iterdir():
            os.link(path, grown / path.name)
    sizes = {"base": inbox_megabytes(base), "extra": inbox_megabytes(extra), "grown": inbox_megabytes(grown)}
    results = []
    for system in systems:
        data = work / f"data-{system}"
        shutil.rmtree(data, ignore_errors=True)
        steps = {
            "cold": (base, data, count, sizes["base"]),
            "noop": (base, data, count, sizes["base"]),
            "rebuild": (base, data, count, sizes["base"]),
            "add1k": (grown, data, ADDED, sizes["extra"]),
            "only1k": (extra, work / f"data-{system}-1k", ADDED, sizes["extra"]),
        }
        for scenario in SCENARIOS:
            inbox, target, drops, megabytes = steps[scenario]
            if scenario == "only1k":
                shutil.rmtree(target, ignore_errors=True)
            later = {"add1k", "rebuild"} & set(scenarios)
            needed_later = scenario == "cold" and bool(later)  # they work on this warehouse
            if scenario not in scenarios and not needed_later:
                continue
            seconds, peak_one, peak_tree = measure(command(system, inbox, target, scenario))
            if scenario in scenarios:
                results.append(Measure(system, scenario, seconds, drops, megabytes, peak_one, peak_tree))
                print(f"  {system:12s} {scenario:7s} {seconds:8.2f} s  peak {peak_one:6.0f} MB"
                      f" (tree {peak_tree:6.0f} MB)", flush=True)
        shutil.rmtree(data, ignore_errors=True)
    return results


def summarise(measures: list[Measure], scenarios: list[str]) -> list[dict[str, object]]:
    rows = []
    for scenario in scenarios:
        medians = {}
        for system in SYSTEMS:
            picked = [m for m in measures if m.system == system and m.scenario == scenario]
            if not picked:
                continue
            seconds = statistics.median(m.seconds for m in picked)
            medians[system] = seconds
            rows.append({
                "scenario": scenario, "system": system, "seconds": round(seconds, 2),
                "drops_per_s": round(picked[0].drops / seconds), "mb_per_s": round(picked[0].megabytes / seconds, 1),
                "peak_process_mb": round(statistics.median(m.peak_process_mb for m in picked)),
                "peak_tree_mb": round(statistics.median(m.peak_tree_mb for m in picked)),
            })
        for row in rows:
            if row["scenario"] == scenario and row["system"] == "newsdrop":
                for peer in PEERS:
                    if peer in medians:
                        row[f"vs_{peer}"] = round(medians["newsdrop"] / medians[peer], 2)
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    peers = [peer for peer in PEERS if any(row["system"] == peer for row in rows)]
    head = "| scenario | system | seconds | drops/s | MB/s | peak RSS, largest process (MB) | peak RSS, tree (MB) |" \
           + "".join(f" newsdrop / {peer} |" for peer in peers)
    lines = [head, "|" + "---|" * (7 + len(peers))]
    for row in rows:
        ratios = "".join(f" {row.get(f'vs_{peer}', '')} |" for peer in peers)
        lines.append(
            f"| {row['scenario']} | {row['system']} | {row['seconds']} | {row['drops_per_s']} | {row['mb_per_s']} |"
            f" {row['peak_process_mb']} | {row['peak_tree_mb']} |{ratios}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, help="folder for inboxes and warehouses (default: a temp folder)")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--systems", default="newsdrop,duckdb_sql,lean_python",
                        help=f"which of {', '.join(SYSTEMS)} to run (default: all but duckdb_sql_newest)")
    parser.add_argument("--newest-duckdb-python", type=Path,
                        help="a Python whose DuckDB is the newest a user would install (a venv of its own: "
                             "`python3 -m venv V && V/bin/pip install duckdb`); adds duckdb_sql_newest, the same "
                             "script on that DuckDB")
    parser.add_argument("--served", action="store_true",
                        help="run newsdrop against one Prefect server started for the whole benchmark (the case "
                             "of `newsdrop serve`), not a server of its own per command")
    parser.add_argument("--prefect", action="store_true",
                        help="each newsdrop command with --prefect: its run recorded on a local Prefect server of "
                             "its own")
    args = parser.parse_args()
    if args.prefect:
        NEWSDROP_OPTIONS.append("--prefect")
    if args.newest_duckdb_python:
        NEWEST_DUCKDB_PYTHON.append(str(args.newest_duckdb_python))
        if "duckdb_sql_newest" not in args.systems.split(","):
            args.systems += ",duckdb_sql_newest"
    elif "duckdb_sql_newest" in args.systems.split(","):
        parser.error("duckdb_sql_newest needs --newest-duckdb-python: a Python with the newest DuckDB")
    with contextlib.ExitStack() as stack:
        if args.served:
            from newsdrop.flows.server import prefect_api

            url = stack.enter_context(prefect_api(Path(tempfile.mkdtemp(prefix="newsdrop-bench-prefect-"))))
            print(f"Prefect server for every newsdrop command: {url}")
        run_benchmark(args)


def run_benchmark(args: argparse.Namespace) -> None:
    scenarios = [name for name in args.scenarios.split(",") if name]
    corpora = args.corpora if args.corpora.is_dir() else None
    work = args.work or Path(tempfile.mkdtemp(prefix="newsdrop-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"N = {args.count}, {args.rounds} round(s), text from {corpora or 'the synthetic generator'}, in {work}")
    measures: list[Measure] = []
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}", flush=True)
        systems = tuple(name for name in args.systems.split(",") if name in SYSTEMS)
        measures += run_round(args.count, scenarios, work, corpora, args.seed, systems)
    rows = summarise(measures, scenarios)
    print()
    print(markdown(rows))
    if args.out:
        args.out.write_text(json.dumps({"count": args.count, "rounds": args.rounds, "rows": rows,
                                        "measures": [asdict(m) for m in measures]}, indent=2))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
