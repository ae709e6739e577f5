"""Processes that read batches in parallel, and end with the run that started them.

A reader that outlived a killed run would hold the run's files and pipes, so every
child gets a parent-death signal, even when its parent is killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import functools
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from newsdrop.errors import NewsdropError, RunFailed, first_line
from newsdrop.warehouse.batch import BatchResult, BatchSpec, Candidate, read_batch
from newsdrop.warehouse.layout import DataLayout

if TYPE_CHECKING:  # reader processes import this module: they need no settings
    from newsdrop.settings import Settings

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1
# Loaded here, in the parent: a forked child (a server's preexec_fn) then only calls prctl.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def set_parent_death_signal() -> None:
    """In a child (a pool initializer or a preexec_fn): SIGKILL me when my parent dies."""
    if _LIBC is None:
        return
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _ready() -> None:
    """A no-op: submitting one per worker starts them all."""


# Files read so far by the run's readers, in shared memory: the progress bar moves file by file,
# not by batches of thousands. Set in each local reader process (and in the run's own process
# when it reads); Dask workers have none, and there the bar moves by batch.
_files_read: Any = None


def _start_reader(files_read: Any) -> None:
    """A local reader process's initializer."""
    global _files_read
    set_parent_death_signal()
    _files_read = files_read


def count_file() -> None:
    """One more file read (called by the batch reader after each file)."""
    if _files_read is not None:
        with _files_read.get_lock():
            _files_read.value += 1


# Reader processes are spawned: each imports the main script again. A script that calls
# newsdrop at its top level would start a run in every reader.
UNGUARDED_SCRIPT = ("a script that calls newsdrop must do so under `if __name__ == \"__main__\":` "
                    "(its reader processes import the script again)")


def refuse_unguarded_script() -> None:
    """In a reader process that is importing the user's script: stop at once, in one line."""
    # spawn runs the script again under the name __mp_main__, and only then makes it __main__.
    again = sys.modules.get("__mp_main__")
    if again is not None and again is not sys.modules.get("__main__"):
        raise SystemExit(f"newsdrop: {UNGUARDED_SCRIPT}")


DASK_ANSWER_SECONDS = 10


def _scheduler_identity(address: str) -> dict[str, Any]:
    """The scheduler's own description of itself, asked with a deadline: a closed port is
    refused at once, and something that is not a Dask scheduler (a web server, say) makes
    no answer Dask can read, which a client would wait for, or fail on, at length."""
    try:
        from distributed.core import rpc
    except ImportError:
        raise NewsdropError(f'reading on Dask ({address}) needs pip install "newsdrop[scale]"') from None
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    if not port.isdigit():
        raise NewsdropError(f"dask = {address!r} is not a scheduler address: give tcp://HOST:PORT")

    async def identity() -> dict[str, Any]:
        scheduler = rpc(address, timeout=DASK_ANSWER_SECONDS)  # type: ignore[no-untyped-call]
        try:
            return dict(await scheduler.identity())
        finally:
            await scheduler.close_rpc()  # type: ignore[no-untyped-call]

    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=DASK_ANSWER_SECONDS).close()
        answer = asyncio.run(asyncio.wait_for(identity(), DASK_ANSWER_SECONDS))
    except TimeoutError:
        raise NewsdropError(f"cannot reach the Dask scheduler at {address}: no answer within "
                            f"{DASK_ANSWER_SECONDS} s (is it a Dask scheduler's address?)") from None
    except Exception as error:  # any failure to get an answer means the same to the user
        reason = first_line(error)[:200]
        raise NewsdropError(f"cannot reach the Dask scheduler at {address}: {reason}") from None
    if answer.get("type") != "Scheduler":
        raise NewsdropError(f"{address} is not a Dask scheduler: give the scheduler's address (tcp://HOST:8786)")
    return answer


def dask_threads(address: str) -> int:
    """How many batches the cluster reads at once (its worker threads); checks that a
    scheduler answers there."""
    return _threads_of(_scheduler_identity(address))


def _threads_of(identity: dict[str, Any]) -> int:
    workers = identity.get("workers") or {}
    return max(1, sum(int(worker.get("nthreads", 1)) for worker in workers.values()))


@dataclass(frozen=True)
class Readers:
    """Where a run's batches are read: `submit(fn, *args)` gives a future; `in_flight`
    batches at a time; `parallel` unless they are read in the run's own process."""

    submit: Callable[..., Future[Any]]
    in_flight: int
    parallel: bool
    files_read: Callable[[], int] | None = None  # the files read so far, as they are read


def submit_inline(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """Read in this process, now: the future is done when it is given."""
    future: Future[Any] = Future()
    try:
        future.set_result(fn(*args))
    except BaseException as error:  # the future carries it to whoever waits
        future.set_exception(error)
    return future


@contextlib.contextmanager
def reading_executor(settings: Settings, batches: int) -> Iterator[Readers]:
    """The readers of a run: a Dask cluster's workers when one is given; else local
    processes for CPU-bound reading when there is more than one batch to share; else this
    process."""
    if settings.dask:
        identity = _scheduler_identity(settings.dask)
        from distributed import Client

        with Client(settings.dask, timeout=DASK_ANSWER_SECONDS, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            yield Readers(client.get_executor().submit, 2 * _threads_of(identity), parallel=True)
        return
    global _files_read
    files_read = multiprocessing.get_context("spawn").Value("q", 0)
    with process_pool(settings.workers, batches, files_read) as local:
        if local is not None:
            yield Readers(local.submit, 2 * settings.workers, parallel=True, files_read=lambda: files_read.value)
            return
        _files_read = files_read  # read here: this process counts
        try:
            yield Readers(submit_inline, in_flight=1, parallel=False, files_read=lambda: files_read.value)
        finally:
            _files_read = None


# Transient I/O (a network file system or S3 hiccup) is tried again after these pauses;
# a bug, a missing file, a permission or a full disk is not: a second try cannot fix it.
RETRY_DELAYS = (1.0, 5.0)


def is_transient_io(error: BaseException) -> bool:
    return (isinstance(error, OSError) and not isinstance(error, PermissionError | FileNotFoundError)
            and error.errno != errno.ENOSPC)


def retrying_io(call: Callable[[], T]) -> T:
    """call(), tried again on transient I/O errors (RETRY_DELAYS); each try redoes its work whole."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return call()
        except OSError as error:
            if delay is None or not is_transient_io(error):
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")


def read_batch_retrying(spec: BatchSpec, candidates: list[Candidate], inbox: str | None, layout: DataLayout,
                        max_bytes: int) -> BatchResult:
    """What a reader runs: one batch read (newsdrop.warehouse.batch), tried again on transient I/O."""
    return retrying_io(functools.partial(read_batch, spec, candidates, inbox, layout, max_bytes, count_file))


@contextlib.contextmanager
def process_pool(workers: int, batches: int, files_read: Any = None) -> Iterator[Executor | None]:
    if batches < 2 or workers < 2:
        yield None
        return
    # spawn: forking a process that runs Prefect's threads is unsafe, and a
    # forkserver would stand between the run and its workers, so that they
    # would outlive a killed run. (Measured: a worker's start is not what limits
    # a run; reading is.)
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_reader,
                               initargs=(files_read,))
    try:
        if threading.current_thread() is threading.main_thread():
            # Start every worker now with SIGINT blocked, a mask they inherit: Ctrl-C in a
            # terminal goes to the whole process group, and only this process should get
            # it (it stops the run in one line; the workers end with it, no tracebacks).
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                for future in [pool.submit(_ready) for _ in range(workers)]:
                    future.result()
            except BrokenProcessPool as broken:
                raise RunFailed(f"the reader processes could not start; {UNGUARDED_SCRIPT}") from broken
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # the batches being read end in a second or two
        raise
    else:
        pool.shutdown(wait=True)
