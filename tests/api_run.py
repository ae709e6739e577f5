"""A run in a plain Python process: newsdrop.ingest or newsdrop.rebuild, without Prefect.

    python tests/api_run.py ingest INBOX DATA [--catalog C] [--dask ADDRESS] [--wait S] [--workers N]
    python tests/api_run.py rebuild DATA [--catalog C] [--dask ADDRESS] [--wait S] [--workers N]

The crash, kill, lock, recovery and concurrency tests run the warehouse's steps this way:
the same run engine as the Prefect flow's (newsdrop.engine) in a process that
starts in about a second, where `newsdrop run` starts or reaches a Prefect server first. It
answers as the command does: the run's summary lines on stdout and exit 0; one line
`newsdrop: REASON` on stderr and exit 1 for a failed run, 3 for another run in progress.
Settings not given come from NEWSDROP_* variables, as for the command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve()


def command(kind: str, *arguments: str) -> list[str]:
    """The argv of this script, for subprocess."""
    return [sys.executable, str(HERE), kind, *arguments]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["ingest", "rebuild"])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--catalog")
    parser.add_argument("--dask")
    parser.add_argument("--wait", type=float)
    parser.add_argument("--workers", type=int)
    given = parser.parse_args()

    import newsdrop
    from newsdrop.errors import NewsdropError, RunInProgress
    from newsdrop.flows.cli import EXIT_BUSY, EXIT_FAILED  # the command's exit codes (imports no Prefect)

    try:
        if given.kind == "ingest":
            inbox, data = given.paths
            summary = newsdrop.ingest(inbox, data, catalog=given.catalog, dask=given.dask,
                                      lock_wait_seconds=given.wait, workers=given.workers)
        else:
            (data,) = given.paths
            summary = newsdrop.rebuild(data, catalog=given.catalog, dask=given.dask, lock_wait_seconds=given.wait,
                                       workers=given.workers)
    except NewsdropError as error:
        print(f"newsdrop: {str(error).splitlines()[0]}", file=sys.stderr)
        return EXIT_BUSY if isinstance(error, RunInProgress) else EXIT_FAILED
    for line in summary.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
