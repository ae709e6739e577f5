"""Readings to table rows, column by column (the layout pyarrow builds fastest from).

Columns are filled by name; warehouse.schema checks the names and owns the types
and order when the batch becomes Arrow tables.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from newsdrop.transforms.decode import Rejected
from newsdrop.transforms.keys import body_key, drop_id, headline_id
from newsdrop.transforms.names import parse_drop_name
from newsdrop.transforms.read import Reading


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the store knows of one file version before it is read."""

    file_name: str
    sha256: str
    size_bytes: int
    received_at: datetime
    raw_path: str


Columns = dict[str, list[Any]]


@dataclass
class BatchRecords:
    run_id: str
    ingested_at: datetime
    drops: Columns = field(default_factory=lambda: defaultdict(list))
    articles: Columns = field(default_factory=lambda: defaultdict(list))
    drop_headlines: Columns = field(default_factory=lambda: defaultdict(list))
    dropped_lines: Columns = field(default_factory=lambda: defaultdict(list))
    rejected_drops: Columns = field(default_factory=lambda: defaultdict(list))

    def tables(self) -> dict[str, Columns]:
        return {
            "drops": self.drops,
            "articles": self.articles,
            "drop_headlines": self.drop_headlines,
            "dropped_lines": self.dropped_lines,
            "rejected_drops": self.rejected_drops,
        }

    def add(self, facts: FileFacts, outcome: Reading | Rejected) -> str | None:
        """Add one file's rows; returns its drop_id, or None when it was rejected."""
        if isinstance(outcome, Rejected):
            self.add_rejected(facts, outcome)
            return None
        return self.add_reading(facts, outcome)

    def add_rejected(self, facts: FileFacts, rejected: Rejected) -> None:
        row = self.rejected_drops
        row["file_name"].append(facts.file_name)
        row["sha256"].append(facts.sha256)
        row["size_bytes"].append(facts.size_bytes)
        row["reason"].append(rejected.reason)
        row["detail"].append(rejected.detail)
        row["received_at"].append(facts.received_at)
        row["rejected_at"].append(self.ingested_at)
        row["raw_path"].append(facts.raw_path)
        row["run_id"].append(self.run_id)

    def add_reading(self, facts: FileFacts, reading: Reading) -> str:
        the_drop_id = drop_id(facts.file_name, facts.sha256)
        name = parse_drop_name(facts.file_name)
        run_id = self.run_id

        drop = self.drops
        drop["drop_id"].append(the_drop_id)
        drop["file_name"].append(facts.file_name)
        drop["sequence"].append(name.sequence)
        drop["name_id"].append(name.name_id)
        drop["sha256"].append(facts.sha256)
        drop["size_bytes"].append(facts.size_bytes)
        drop["encoding"].append(reading.encoding)
        drop["warnings"].append(list(reading.warnings))
        drop["received_at"].append(facts.received_at)
        drop["ingested_at"].append(self.ingested_at)
        drop["run_id"].append(run_id)
        drop["headline_count"].append(len(reading.headlines))
        drop["dropped_line_count"].append(len(reading.dropped_lines))
        drop["raw_path"].append(facts.raw_path)

        body = "\n".join(reading.paragraphs)
        article = self.articles
        article["article_id"].append(the_drop_id)
        article["drop_id"].append(the_drop_id)
        article["title"].append(reading.title)
        article["body"].append(body)
        article["paragraph_count"].append(len(reading.paragraphs))
        article["word_count"].append(len(body.split()))
        article["char_count"].append(len(body))
        article["body_key"].append(body_key(reading.paragraphs))
        article["run_id"].append(run_id)

        headlines = self.drop_headlines
        for position, text in enumerate(reading.headlines, start=1):
            headlines["drop_id"].append(the_drop_id)
            headlines["position"].append(position)
            headlines["headline_id"].append(headline_id(text))
            headlines["text"].append(text)
            headlines["run_id"].append(run_id)

        dropped = self.dropped_lines
        for line in reading.dropped_lines:
            dropped["drop_id"].append(the_drop_id)
            dropped["line_no"].append(line.line_no)
            dropped["text"].append(line.text)
            dropped["reason"].append(line.reason)
            dropped["run_id"].append(run_id)
        return the_drop_id
