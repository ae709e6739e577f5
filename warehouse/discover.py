"""The first step of a run: which inbox files are new, in batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

from newsdrop.warehouse.batch import NO_SHAS, Candidate
from newsdrop.warehouse.faults import checkpoint
from newsdrop.warehouse.inbox import ListedFiles, list_inbox
from newsdrop.warehouse.ledger import Ledger


class PlannedBatch(Sequence[Candidate]):
    """A batch's new files, as columns until the batch is handed out: its candidates are made
    then (`list(batch)`), so a run over a large inbox holds no Python object a file."""

    def __init__(self, files: ListedFiles, shas: dict[str, set[str]]) -> None:
        self.files = files
        self.shas = shas  # the hashes already taken in under a name, for the names that have some

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[Candidate]:
        shas = self.shas
        for listed in self.files:
            # One shared empty set: an empty frozenset of its own costs 216 bytes, 65 MB at 300k files.
            yield Candidate(listed, frozenset(shas[listed.name]) if listed.name in shas else NO_SHAS)

    @overload
    def __getitem__(self, index: int) -> Candidate: ...
    @overload
    def __getitem__(self, index: slice) -> list[Candidate]: ...
    def __getitem__(self, index: int | slice) -> Candidate | list[Candidate]:
        return list(self)[index]


@dataclass
class Plan:
    seen: int
    new: int  # counted once: the run hands its batches out and lets each go once read
    batches: list[PlannedBatch]
    unchanged: int
    settling: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def discover(ledger: Ledger, inbox: str, settle_seconds: float, batch_size: int, max_bytes: int) -> Plan:
    """New = a (name, size, mtime) the ledger has not seen, or rejected as too large for a limit
    since raised; each knows the hashes taken in under its name."""
    listing = list_inbox(inbox, settle_seconds)
    fresh = listing.drops.take(ledger.unseen(listing.drops, max_bytes))
    shas = ledger.shas_by_name(fresh.names)
    batches = [PlannedBatch(fresh.slice(start, batch_size), shas) for start in range(0, len(fresh), batch_size)]
    checkpoint("discovered")
    return Plan(seen=len(listing.drops) + len(listing.refused), new=len(fresh), batches=batches,
                unchanged=len(listing.drops) - len(fresh), settling=listing.settling, refused=listing.refused)
