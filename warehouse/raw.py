"""The raw store: every drop's bytes, accepted or rejected, kept by content hash.

`rebuild` and audits read drops from here, so they need no inbox. A file is
written beside its target and renamed, and an S3 object appears when its upload
ends, so a reader never sees part of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

from newsdrop.warehouse.layout import DataLayout
from newsdrop.warehouse.storage import is_s3, join, move, remove, s3_filesystem, s3_key, write_bytes

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


def keep_object(location: str, data: bytes) -> None:
    """A drop's bytes kept in S3 (the same bytes again change nothing)."""
    write_bytes(location, data)


def keep_large(layout: DataLayout, path: str) -> str:
    """Hash and keep a file too large to read whole, streamed in chunks to a temporary file
    (or object) that is moved to its name once the hash is known; returns its sha256."""
    digest = hashlib.sha256()
    source = s3_filesystem().open_input_stream(s3_key(path)) if is_s3(path) else open(path, "rb")  # noqa: SIM115
    with source:
        if layout.remote:
            temp = join(layout.raw_url, "incoming", f"{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
            try:
                with s3_filesystem().open_output_stream(s3_key(temp)) as sink:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        sink.write(chunk)
                move(temp, layout.raw_location(digest.hexdigest()))
            finally:
                remove(temp)
            return digest.hexdigest()
        with temp_beside(layout.raw / "incoming" / os.path.basename(path)) as local_temp:
            with open(local_temp, "wb") as local_sink:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    local_sink.write(chunk)
            target = Path(layout.raw_location(digest.hexdigest()))
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.replace(local_temp, target)
    return digest.hexdigest()


@contextlib.contextmanager
def temp_beside(target: Path) -> Iterator[Path]:
    """A temporary path in the target's folder; it is removed unless moved away."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
