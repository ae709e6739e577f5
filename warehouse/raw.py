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


def keep_raw(layout: DataLayout, sha256: str, data: bytes) -> None:
    target = layout.raw_path(sha256)
    if target.exists():
        return
    with temp_beside(target) as temp:
        temp.write_bytes(data)
        os.replace(temp, target)  # made durable by the sync before each batch commit


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
