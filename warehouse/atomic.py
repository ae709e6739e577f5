"""Writes that are either complete or absent, even across a crash or power loss."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def replace_with(target: Path, write: Callable[[Path], object]) -> None:
    """Call write(temp), make it durable, then atomically put it at target."""
    with temp_beside(target) as temp:
        write(temp)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
    fsync_dir(target.parent)


def copy_file(source: Path, target: Path) -> None:
    replace_with(target, lambda temp: shutil.copyfile(source, temp))


def move_into_place(source: Path, target: Path) -> None:
    """Idempotent: a second call after a crash finds the work done."""
    if not source.exists():
        if target.exists():
            return
        raise FileNotFoundError(f"neither {source} nor {target} exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
