"""The raw store: every drop's bytes, accepted or rejected, kept by content hash.

`rebuild` and audits read drops from here, so they need no inbox. A file is
written beside its target and renamed, so a reader never sees part of one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from newsdrop.warehouse.atomic import temp_beside
from newsdrop.warehouse.layout import DataLayout

_CHUNK = 1 << 20
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def keep_raw(raw_folder: str, sha256: str, data: bytes) -> None:
    """Write a drop's bytes under raw_folder (DataLayout.raw) by their hash. Plain os calls on
    strings: this runs once per drop, where pathlib and a stat first cost more than the write."""
    folder = f"{raw_folder}/{sha256[:2]}"
    temp = f"{folder}/.{sha256}.{os.getpid()}.tmp"
    try:
        handle = os.open(temp, _NEW_FILE, 0o644)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        handle = os.open(temp, _NEW_FILE, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view):]
    except BaseException:
        os.close(handle)
        os.unlink(temp)
        raise
    os.close(handle)
    # The same bytes may be there already (a re-sent file): replacing them changes nothing.
    os.replace(temp, f"{folder}/{sha256}")  # made durable by the sync before each batch commit


def keep_large(layout: DataLayout, path: Path) -> str:
    """Hash and keep a file too large to read whole, in chunks; returns its sha256."""
    digest = hashlib.sha256()
    with temp_beside(layout.raw / "incoming" / path.name) as temp, open(path, "rb") as source:
        with open(temp, "wb") as sink:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                sink.write(chunk)
        sha256 = digest.hexdigest()
        target = layout.raw_path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.replace(temp, target)
    return sha256
