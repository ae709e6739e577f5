"""The exceptions a caller of newsdrop can meet, each with a message that says what to do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def first_line(error: BaseException) -> str:
    """An error as one line for a user: its message's first line, or its type's name."""
    return (str(error) or type(error).__name__).splitlines()[0]


class NewsdropError(Exception):
    """Base of newsdrop's own errors: the message is one line for the user."""


class RunFailed(NewsdropError):
    """A run or rebuild failed; what it had not committed is not visible."""


class RunInProgress(NewsdropError):
    """Another newsdrop run holds this data folder; try again later or wait for it."""


def run_in_progress(where: str, holder: str | None) -> RunInProgress:
    """Busy, told the same way wherever it is found (a run's lock, the command's preflight):
    `where` is "data folder" or "catalog"; `holder` who holds it, when known."""
    held = f" ({holder})" if holder else ""
    return RunInProgress(f"another newsdrop run is in progress on this {where}{held}; "
                         "try again later, or pass --wait SECONDS")


class QualityCheckFailed(RunFailed):
    """An error-severity check failed on a batch: that batch is not committed."""

    def __init__(self, message: str, checks: list[Any] | None = None, part: int = 0) -> None:
        super().__init__(message)
        self.checks = checks or []
        self.part = part


def _error_chain(error: BaseException | None) -> Iterator[BaseException]:
    """The error and those it was raised from or while handling (a few levels), as Python
    shows them: not past a `raise ... from None`, which says the error stands on its own."""
    for _ in range(10):
        if error is None:
            return
        yield error
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)


def stopped_by_signal(error: BaseException) -> bool:
    """Ctrl-C or SIGTERM, whatever it became on its way out: the CLI raises KeyboardInterrupt
    (DuckDB turns one that lands in a query into RuntimeError("Query interrupted") raised from
    it), Prefect's SIGTERM handler raises TerminationSignal, and its task engine can raise
    another error while handling that."""
    return any(isinstance(cause, KeyboardInterrupt) or type(cause).__name__ == "TerminationSignal"
               for cause in _error_chain(error))
