"""The exceptions a caller of newsdrop can meet, each with a message that says what to do."""

from __future__ import annotations

from typing import Any


class NewsdropError(Exception):
    """Base of newsdrop's own errors: the message is one line for the user."""


class RunFailed(NewsdropError):
    """A run or rebuild failed; what it had not committed is not visible."""


class RunInProgress(NewsdropError):
    """Another newsdrop run holds this data folder; try again later or wait for it."""


class QualityCheckFailed(RunFailed):
    """An error-severity check failed on a batch: that batch is not committed."""

    def __init__(self, message: str, checks: list[Any] | None = None, part: int = 0) -> None:
        super().__init__(message)
        self.checks = checks or []
        self.part = part
