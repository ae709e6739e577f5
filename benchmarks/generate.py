"""Generate a realistic inbox of N drops in the seed's shape.

Paragraphs one per line, two blank lines, 10-20 headlines that recur across
drops, trailing blank lines; 3-5 KB on average. A small share is cp1252, CRLF
or mojibake, as real inboxes have. Real text comes from ../shared/corpora when
it is present (BBC articles and headline lists), synthetic text otherwise. The
output depends only on N and the seed.

    python benchmarks/generate.py --count 10000 --out /tmp/inbox
    python benchmarks/generate.py --count 20000 --out /tmp/edited --edited /tmp/edited-truth.csv

--edited TRUTH: near-duplicate stories instead (issue 34). Each drop's body is one source
article; most drops after a story's first are edited copies of it, the rest exact copies. A copy
is edited one to three ways: a few words changed or dropped; the last paragraph cut (its last
sentence when it holds over a quarter of the words); an agency prefix and a copyright line; an
"updated" line inserted. TRUTH gets file_name,story,edits per drop: the story is the source
article's number, so two drops are near-duplicates in truth when they share it (the source
articles are told apart by their text: the BBC set has a few word for word twice, and some
near-duplicates of its own).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import random
from pathlib import Path

DEFAULT_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
BASE_MTIME = 1_700_000_000  # fixed file times: runs do not depend on the clock

_SYNTHETIC_WORDS = (
    "council government minister market prices rose fell report said company shares bank rail strike "
    "storm weather police court judge school hospital water energy football match club season players "
    "film music award festival museum city village harbour ferry election vote party leader plan budget "
    "year week month today yesterday officials residents workers union talks deal growth sales profits "
    "café £4m €2bn naïve “quoted” it’s — résumé"  # the non-ASCII text real news has
).split()


def bbc_articles(corpora: Path) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) of each BBC article with a body, in file order: the title is the file's
    first line, never part of a generated drop."""
    articles = []
    for path in sorted((corpora / "bbc").glob("*/*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # one file of the BBC set is latin-1
        lines = [line.strip() for line in text.splitlines()]
        paragraphs = [line for line in lines[1:] if line]
        if paragraphs:
            articles.append((lines[0], paragraphs))
    return articles


def story_pool(articles: list[list[str]]) -> list[list[str]]:
    """The stories of --edited: the distinct texts, in first-seen order (the BBC set has some
    articles twice, word for word)."""
    return list({tuple(paragraphs): paragraphs for paragraphs in articles}.values())


def load_corpus(corpora: Path | None) -> tuple[list[list[str]], list[str]]:
    """(articles as lists of paragraphs, headline pool)."""
    if corpora is not None and (corpora / "bbc").is_dir():
        articles = [paragraphs for _title, paragraphs in bbc_articles(corpora)]
        headlines: list[str] = []
        for path in sorted((corpora / "headlines").glob("*.txt")):
            headlines.extend(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        return articles, headlines
    rng = random.Random(0)

    def sentence(words: int) -> str:
        text = " ".join(rng.choice(_SYNTHETIC_WORDS) for _ in range(words))
        return text[0].upper() + text[1:] + "."

    articles = [[" ".join(sentence(rng.randint(8, 25)) for _ in range(rng.randint(1, 4)))
                 for _ in range(rng.randint(4, 10))] for _ in range(500)]
    headlines = [" ".join(rng.choice(_SYNTHETIC_WORDS) for _ in range(rng.randint(4, 10))).capitalize()
                 for _ in range(3000)]
    return articles, headlines


def headline_list(rng: random.Random, headlines: list[str]) -> list[str]:
    """The other headlines a page shows: a hot set most pages show, and a long tail."""
    hot = headlines[: max(50, len(headlines) // 40)]
    return [rng.choice(hot) if rng.random() < 0.5 else rng.choice(headlines) for _ in range(rng.randint(10, 20))]


def make_drop(rng: random.Random, articles: list[list[str]], headlines: list[str]) -> tuple[str, str, str]:
    """(text, encoding, line ending) of one drop."""
    paragraphs = list(rng.choice(articles))
    while sum(len(p) for p in paragraphs) < rng.randint(1800, 3400):
        paragraphs += rng.choice(articles)
    text = "\n".join(paragraphs) + "\n\n\n" + "\n".join(headline_list(rng, headlines)) + "\n" * rng.randint(1, 4)

    roll = rng.random()
    if roll < 0.02:
        return text, "cp1252", "\n"
    if roll < 0.05:
        return text, "utf-8", "\r\n"
    if roll < 0.06:
        mangled = text.replace("'", "\u2019").replace(" - ", " \u2013 ")
        broken = mangled.encode("utf-8").decode("cp1252", errors="replace")
        return broken, "utf-8", "\n"
    return text, "utf-8", "\n"


def drop_bytes(index: int, seed: int, articles: list[list[str]], headlines: list[str]) -> bytes:
    """The bytes of drop number `index`: the same for the same seed, every time."""
    rng = random.Random(f"{seed}-{index}")
    text, encoding, newline = make_drop(rng, articles, headlines)
    return text.replace("\n", newline).encode(encoding, errors="replace")


def generate(count: int, out: Path, seed: int = 1, corpora: Path | None = DEFAULT_CORPORA, start: int = 0) -> int:
    """Write drops start..start+count-1 into out; returns the bytes written."""
    articles, headlines = load_corpus(corpora)
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for index in range(start, start + count):
        raw = drop_bytes(index, seed, articles, headlines)
        name = f"{index:07d}_{hashlib.sha256(raw).hexdigest()[:16]}.txt"
        path = out / name
        path.write_bytes(raw)
        os.utime(path, (BASE_MTIME + index, BASE_MTIME + index))
        total += len(raw)
    return total


AGENCIES = ("Reuters", "AP", "AFP", "PA Media")
CITIES = ("LONDON", "NEW YORK", "PARIS", "BRUSSELS", "EDINBURGH")
EDITS = ("words", "cut_last", "agency", "updated")


def edited_copy(rng: random.Random, paragraphs: list[str]) -> tuple[list[str], list[str]]:
    """A story re-published with small edits: (its paragraphs, the names of the edits made)."""
    edits = sorted(rng.sample(EDITS, rng.randint(1, 3)))
    out = list(paragraphs)
    if "cut_last" in edits:
        words = sum(len(paragraph.split()) for paragraph in out)
        if len(out) >= 3 and len(out[-1].split()) <= words // 4:
            out.pop()
        else:  # a long last paragraph (some BBC articles are two or three): its last sentence
            sentences = out[-1].split(". ")
            out[-1] = ". ".join(sentences[:-1]) + "." if len(sentences) > 1 else out[-1]
    if "words" in edits:
        for _ in range(rng.randint(1, 5)):
            at = rng.randrange(len(out))
            words = out[at].split()
            spot = rng.randrange(len(words))
            if rng.random() < 0.5 and len(words) > 1:
                del words[spot]
            else:
                words[spot] = rng.choice(rng.choice(paragraphs).split())
            out[at] = " ".join(words)
    if "agency" in edits:
        agency = rng.choice(AGENCIES)
        out[0] = f"{rng.choice(CITIES)} ({agency}) - {out[0]}"
        out.append(f"Copyright {agency} 2026. All rights reserved.")
    if "updated" in edits:
        out.insert(rng.randint(0, 1), f"Updated {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} GMT")
    return out, edits


def generate_edited(count: int, out: Path, truth: Path, seed: int = 1, corpora: Path | None = DEFAULT_CORPORA,
                    stories: int | None = None, exact_share: float = 0.3) -> int:
    """Drops whose bodies are single source articles, re-published with small edits; the truth
    (file_name, story, edits) to `truth`. Returns the bytes written."""
    articles, headlines = load_corpus(corpora)
    pool = story_pool(articles)[: stories or len(articles)]
    rng = random.Random(f"edited-{seed}")
    out.mkdir(parents=True, exist_ok=True)
    seen: set[int] = set()
    total = 0
    with truth.open("w", newline="", encoding="utf-8") as truth_file:
        writer = csv.writer(truth_file)
        writer.writerow(["file_name", "story", "edits"])
        for index in range(count):
            story = rng.randrange(len(pool))
            paragraphs, edits = pool[story], []
            if story in seen and rng.random() >= exact_share:
                paragraphs, edits = edited_copy(rng, paragraphs)
            seen.add(story)
            raw = ("\n".join(paragraphs) + "\n\n\n" + "\n".join(headline_list(rng, headlines)) + "\n").encode("utf-8")
            name = f"{index:07d}_{hashlib.sha256(raw).hexdigest()[:16]}.txt"
            path = out / name
            path.write_bytes(raw)
            os.utime(path, (BASE_MTIME + index, BASE_MTIME + index))
            writer.writerow([name, story, "+".join(edits)])
            total += len(raw)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="index of the first drop (to add drops later)")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA,
                        help="folder with bbc/ and headlines/; synthetic text when it is missing")
    parser.add_argument("--edited", type=Path, metavar="TRUTH",
                        help="near-duplicate stories (issue 34), their truth as CSV to this file")
    args = parser.parse_args()
    corpora = args.corpora if args.corpora.is_dir() else None
    if args.edited:
        written = generate_edited(args.count, args.out, args.edited, args.seed, corpora)
        print(f"{args.count} drops, {written / 1e6:.1f} MB in {args.out}; truth in {args.edited}")
        return
    written = generate(args.count, args.out, args.seed, args.corpora, args.start)
    print(f"{args.count} drops, {written / 1e6:.1f} MB in {args.out}")


if __name__ == "__main__":
    main()
