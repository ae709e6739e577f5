"""Search (issue 35): how well and how fast `newsdrop search` finds articles.

    python -m benchmarks.search --count 20000 --work /tmp/search20k

An inbox of --count drops with planted edits (generate.py --edited; the truth: each drop's
source article), taken in by one run (kept in --work for the next call); then:
- finding: 40 edited drops sampled (seed 35), each searched for by the words of its source
  article's BBC title (a title is never part of a drop), limit 5; found when a result is the
  drop or a drop of its near-duplicate cluster. The issue's target: at least 30 of 40.
- speed, ms: each search through newsdrop.search (the index current: the lake's last snapshot
  read from its catalog, then the index alone), and its parts: the catalog's read, and
  tantivy's search of the parsed query (50 hits).
- the index's size on disk.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from benchmarks.generate import DEFAULT_CORPORA, bbc_articles, generate_edited, story_pool  # noqa: E402

SAMPLE = 40
LIMIT = 5


def story_titles(corpora: Path) -> list[str]:
    """The BBC title of each story of generate_edited, by its number."""
    articles = bbc_articles(corpora)
    title_of: dict[tuple[str, ...], str] = {}
    for title, paragraphs in articles:
        title_of.setdefault(tuple(paragraphs), title)
    return [title_of[tuple(paragraphs)] for paragraphs in story_pool([paragraphs for _t, paragraphs in articles])]


def milliseconds(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f}, max {max(values) * 1000:.1f}"


def main() -> None:
    import tantivy

    import newsdrop
    from newsdrop.warehouse.layout import DataLayout
    from newsdrop.warehouse.search import TITLE_BOOST, _current_by_catalog

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--work", type=Path, required=True, help="folder for the inbox, truth and warehouse")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = parser.parse_args()
    inbox, truth, data = args.work / "inbox", args.work / "truth.csv", args.work / "data"
    if not truth.exists():
        generate_edited(args.count, inbox, truth, corpora=args.corpora)
    if not data.exists():
        started = time.monotonic()
        summary = newsdrop.ingest(inbox, data, settle_seconds=0)
        print(f"ingest: {summary.drops_loaded} drops in {time.monotonic() - started:.1f} s")
    titles = story_titles(args.corpora)
    with truth.open(encoding="utf-8") as handle:
        edited = [row for row in csv.DictReader(handle) if row["edits"]]
    sample = random.Random(35).sample(edited, SAMPLE)

    layout = DataLayout(data)
    con = newsdrop.connect(data)
    drop_of = dict(con.execute("SELECT file_name, drop_id FROM drops").fetchall())
    cluster_of = dict(con.execute("SELECT drop_id, cluster_id FROM near_duplicates").fetchall())
    newsdrop.search(data, "warm up", limit=LIMIT)  # the index brought up to date, if it is not
    index = tantivy.Index.open(str(layout.search_index))
    found, whole, alone, catalog, misses = 0, [], [], [], []
    for row in sample:
        words = " ".join(re.findall(r"\w+", titles[int(row["story"])]))
        started = time.perf_counter()
        hits = newsdrop.search(data, words, limit=LIMIT)
        whole.append(time.perf_counter() - started)
        drop = drop_of[row["file_name"]]
        if drop in set(hits["drop_id"]) or cluster_of[drop] in set(hits["cluster_id"].dropna()):
            found += 1
        else:
            misses.append(f"  {words!r}: {[snippet[:60] for snippet in hits['snippet'][:2]]}")
        started = time.perf_counter()
        assert _current_by_catalog(layout)
        catalog.append(time.perf_counter() - started)
        parsed, _errors = index.parse_query_lenient(words, ["title", "body"], field_boosts={"title": TITLE_BOOST})
        searcher = index.searcher()
        started = time.perf_counter()
        ranked = searcher.search(parsed, 50)
        [searcher.doc(address)["drop_id"][0] for _score, address in ranked.hits]
        alone.append(time.perf_counter() - started)
    articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]  # type: ignore[index]
    size = sum(path.stat().st_size for path in layout.search_index.iterdir() if path.is_file())
    print(f"articles: {articles:,}; index {size / 1e6:.1f} MB")
    print(f"found in the top {LIMIT} by the source's title: {found} of {SAMPLE} (target: at least 30)")
    print("\n".join(misses))
    print(f"newsdrop.search, ms: {milliseconds(whole)}")
    print(f"  of it the catalog's read: {milliseconds(catalog)}; tantivy's search, 50 hits: {milliseconds(alone)}")

if __name__ == "__main__":
    main()
