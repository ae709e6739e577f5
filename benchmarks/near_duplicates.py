"""Near-duplicate stories (issue 34): how well the warehouse groups drops of one story.

Generates an inbox of stories re-published with small edits and its truth
(`generate.py --edited`), takes it in with `newsdrop.ingest`, and scores each grouping the
warehouse has against the truth (two drops belong together when they share a source article):
- body_key: drops whose article bodies have the same key (articles.body_key);
- near_duplicates: the clusters of the `near_duplicates` table, when the warehouse has it.
Pair precision = pairs grouped together that share a story / pairs grouped together; pair
recall = pairs that share a story grouped together / pairs that share a story; recall is also
given for the drops of each kind of edit (their partners found / their partners in truth).

    python -m benchmarks.near_duplicates [--count 20000] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.generate import DEFAULT_CORPORA, EDITS, generate_edited

GROUPINGS = {
    "body_key": "SELECT d.file_name, a.body_key FROM drops AS d JOIN articles AS a USING (drop_id)",
    "near_duplicates": "SELECT d.file_name, n.cluster_id FROM drops AS d JOIN near_duplicates AS n USING (drop_id)",
}


def pairs(count: int) -> int:
    return count * (count - 1) // 2


def scores(grouping: dict[str, str], story: dict[str, str], edits: dict[str, str]) -> dict[str, float]:
    """Pair precision and recall of `grouping` (file -> group) against `story` (file -> story),
    over the files both name; recall for the files of each edit kind."""
    files = [name for name in grouping if name in story]
    together = Counter((grouping[name], story[name]) for name in files)
    groups = Counter(grouping[name] for name in files)
    stories = Counter(story[name] for name in files)
    found = sum(pairs(n) for n in together.values())
    result = {
        "drops": float(len(files)),
        "precision": found / max(1, sum(pairs(n) for n in groups.values())),
        "recall": found / max(1, sum(pairs(n) for n in stories.values())),
    }
    for kind in EDITS:
        with_kind = [name for name in files if kind in edits[name].split("+")]
        partners = sum(stories[story[name]] - 1 for name in with_kind)
        hit = sum(together[grouping[name], story[name]] - 1 for name in with_kind)
        result[f"recall_{kind}"] = hit / max(1, partners)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--work", type=Path, help="folder for the inbox, truth and warehouse (default: a temp one)")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = parser.parse_args()
    import newsdrop

    work = args.work or Path(tempfile.mkdtemp(prefix="newsdrop-neardup-"))
    inbox, truth_file, data = work / "inbox", work / "truth.csv", work / "data"
    if not truth_file.exists():
        generate_edited(args.count, inbox, truth_file, corpora=args.corpora if args.corpora.is_dir() else None)
    with truth_file.open(encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    story = {row["file_name"]: row["story"] for row in truth}
    edits = {row["file_name"]: row["edits"] for row in truth}
    summary = newsdrop.ingest(inbox, data, settle_seconds=0)
    print(f"{args.count} drops of {len(set(story.values()))} stories, "
          f"{sum(1 for row in truth if row['edits'])} edited; run {summary.run_id}")
    with newsdrop.connect(data) as con:
        tables = {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        tables |= {name for (name,) in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        print("| grouping | drops | pair precision | pair recall |"
              + "".join(f" recall, {kind} |" for kind in EDITS))
        print("|---|---:|---:|---:|" + "---:|" * len(EDITS))
        for name, query in GROUPINGS.items():
            if name != "body_key" and name not in tables:
                continue
            grouping = {file_name: str(group) for file_name, group in con.execute(query).fetchall()}
            result = scores(grouping, story, edits)
            print(f"| {name} | {result['drops']:.0f} | {result['precision']:.3f} | {result['recall']:.3f} |"
                  + "".join(f" {result[f'recall_{kind}']:.3f} |" for kind in EDITS))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
