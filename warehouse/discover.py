"""The first step of a run: which inbox files are new, in batches."""

from __future__ import annotations

from dataclasses import dataclass, field

from newsdrop.warehouse.batch import NO_SHAS, Candidate
from newsdrop.warehouse.faults import checkpoint
from newsdrop.warehouse.inbox import list_inbox
from newsdrop.warehouse.ledger import Ledger


@dataclass
class Plan:
    seen: int
    new: int  # counted once: the run hands its batches out and lets each go once read
    batches: list[list[Candidate]]
    unchanged: int
    settling: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def discover(ledger: Ledger, inbox: str, settle_seconds: float, batch_size: int, max_bytes: int) -> Plan:
    """New = a (name, size, mtime) the ledger has not seen, or rejected as too large for a limit
    since raised; each knows the hashes taken in under its name."""
    listing = list_inbox(inbox, settle_seconds)
    fresh = [listing.drops[position] for position in ledger.unseen(listing.drops, max_bytes)]
    shas = ledger.shas_by_name(item.name for item in fresh)
    # One shared empty set: an empty frozenset of its own costs 216 bytes, 65 MB at 300k files.
    candidates = [Candidate(item, frozenset(shas[item.name]) if item.name in shas else NO_SHAS) for item in fresh]
    batches = [candidates[start : start + batch_size] for start in range(0, len(candidates), batch_size)]
    checkpoint("discovered")
    return Plan(seen=len(listing.drops) + len(listing.refused), new=len(candidates), batches=batches,
                unchanged=len(listing.drops) - len(fresh), settling=listing.settling, refused=listing.refused)
