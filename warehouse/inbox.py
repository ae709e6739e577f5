"""Listing the inbox: which files are drops, settled, and not yet taken in.

The inbox is a local folder or an s3:// prefix, read-only to newsdrop: nothing here
or anywhere else writes to it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from newsdrop.errors import NewsdropError
from newsdrop.transforms.names import is_drop_name, name_is_utf8, recorded_name
from newsdrop.warehouse.schema import SkipReason
from newsdrop.warehouse.storage import check_bucket, is_s3, list_objects


@dataclass(frozen=True, slots=True)
class Listed:
    name: str  # as recorded and shown: transforms.names.recorded_name
    size_bytes: int
    mtime_ns: int
    # A name that is not UTF-8 is recorded escaped, and the file rejected (but kept): this is the
    # name to open it by (None: `name` is), and rebuild sets the flag from the ledger's reason.
    os_name: str | None = None
    name_not_utf8: bool = False

    @property
    def path_name(self) -> str:
        return self.os_name or self.name


@dataclass
class Listing:
    drops: list[Listed] = field(default_factory=list)
    settling: list[str] = field(default_factory=list)  # still being written: left for the next run
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, reason): not followed


def listed_entry(os_name: str, size_bytes: int, mtime_ns: int) -> Listed:
    if name_is_utf8(os_name):
        return Listed(os_name, size_bytes, mtime_ns)
    return Listed(recorded_name(os_name), size_bytes, mtime_ns, os_name=os_name, name_not_utf8=True)


def check_inbox(inbox: str) -> None:
    """A local inbox must be a folder; an s3:// one's bucket must exist (its prefix may be empty)."""
    if is_s3(inbox):
        check_bucket(inbox)
    elif not os.path.isdir(inbox):
        raise NewsdropError(f"no inbox folder at {inbox}: give the folder the drops arrive in")


def list_inbox(inbox: str, settle_seconds: float, sleep: Callable[[float], None] = time.sleep) -> Listing:
    """The inbox's drops, sorted by name. In S3 an object appears whole when its upload
    ends, so nothing there needs to settle."""
    if is_s3(inbox):
        listing = Listing()
        listing.drops = sorted((Listed(item.name, item.size_bytes, item.mtime_ns)
                                for item in list_objects(inbox) if is_drop_name(item.name)),
                               key=lambda item: item.name)
        return listing
    return list_folder(Path(inbox), settle_seconds, sleep)


def list_folder(inbox: Path, settle_seconds: float, sleep: Callable[[float], None] = time.sleep) -> Listing:
    """One pass of os.scandir with one stat per drop; no file is opened here.

    A drop modified less than settle_seconds ago may still be being written: the
    listing waits out the settle time once and stats those drops again. One whose
    size or mtime changed meanwhile is left for the next run; the others are taken
    now, so a file copied in just before a run is not held back for a whole period."""
    settle_ns = int(settle_seconds * 1e9)
    now_ns = time.time_ns()
    inbox_real = inbox.resolve()
    listing = Listing()
    recent: list[Listed] = []
    with os.scandir(inbox) as entries:
        for entry in entries:
            if not is_drop_name(entry.name):
                continue
            if entry.is_symlink():
                target = Path(os.path.realpath(entry.path))
                if not target.exists():
                    listing.refused.append((recorded_name(entry.name), SkipReason.DANGLING_SYMLINK))
                    continue
                if target.parent != inbox_real:
                    listing.refused.append((recorded_name(entry.name), SkipReason.SYMLINK_OUTSIDE_INBOX))
                    continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue  # gone between listing and stat: nothing to do
            if not entry.is_file():
                continue
            listed = listed_entry(entry.name, stat.st_size, stat.st_mtime_ns)
            (recent if now_ns - stat.st_mtime_ns < settle_ns else listing.drops).append(listed)
    if recent:
        sleep(settle_seconds)
        for listed in recent:
            try:
                stat = (inbox / listed.path_name).stat()
            except FileNotFoundError:
                continue
            if (stat.st_size, stat.st_mtime_ns) == (listed.size_bytes, listed.mtime_ns):
                listing.drops.append(listed)
            else:
                listing.settling.append(listed.name)
    listing.drops.sort(key=lambda item: item.name)
    return listing
