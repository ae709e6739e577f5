"""Which file names are drops, and what a conventional name tells (DROP_FORMAT.md §1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONVENTIONAL = re.compile(r"(?P<sequence>\d{3,})_(?P<name_id>[0-9a-fA-F]{16})\.txt", re.IGNORECASE)
_IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", "~")


@dataclass(frozen=True, slots=True)
class DropName:
    sequence: int | None
    name_id: str | None


def is_drop_name(name: str) -> bool:
    lowered = name.lower()
    if name.startswith(".") or lowered.endswith(_IN_PROGRESS_SUFFIXES):
        return False
    return lowered.endswith(".txt")


def parse_drop_name(name: str) -> DropName:
    match = _CONVENTIONAL.fullmatch(name)
    if match is None:
        return DropName(None, None)
    return DropName(int(match["sequence"]), match["name_id"].lower())
