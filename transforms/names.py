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


def recorded_name(os_name: str) -> str:
    """The name a file is recorded and shown under. A name the OS gives with bytes that are not
    UTF-8 (Python holds them as lone surrogates, which no table or terminal takes) shows those
    bytes escaped as backslash-x: b"caf\\xe9.txt" becomes "caf\\xe9.txt". Any other name is
    itself."""
    if name_is_utf8(os_name):
        return os_name
    return os_name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def name_is_utf8(os_name: str) -> bool:
    if os_name.isascii():
        return True
    try:
        os_name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
