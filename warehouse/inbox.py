"""Listing the inbox: which files are drops, settled, and not yet taken in.

The inbox is read-only to newsdrop: nothing here or anywhere else writes to it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from transforms.names import is_drop_name


@dataclass(frozen=True, slots=True)
class Listed:
    name: str
    size_bytes: int
    mtime_ns: int


@dataclass
class Listing:
    drops: list[Listed] = field(default_factory=list)
    settling: list[str] = field(default_factory=list)  # still being written: left for the next run
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, reason): not followed


def list_inbox(inbox: Path, settle_seconds: float, now: float | None = None) -> Listing:
    """One pass of os.scandir with one stat per drop: no file is opened here."""
    now = time.time() if now is None else now
    settle_ns = int(settle_seconds * 1e9)
    now_ns = int(now * 1e9)
    inbox_real = inbox.resolve()
    listing = Listing()
    with os.scandir(inbox) as entries:
        for entry in entries:
            if not is_drop_name(entry.name):
                continue
            if entry.is_symlink():
                target = Path(os.path.realpath(entry.path))
                if target.parent != inbox_real:
                    listing.refused.append((entry.name, "symlink_outside_inbox"))
                    continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue  # gone between listing and stat: nothing to do
            if not entry.is_file():
                continue
            if now_ns - stat.st_mtime_ns < settle_ns:
                listing.settling.append(entry.name)
                continue
            listing.drops.append(Listed(entry.name, stat.st_size, stat.st_mtime_ns))
    listing.drops.sort(key=lambda item: item.name)
    return listing
