"""newsdrop: news text drops into Parquet and DuckDB.

The Python API (docs/python-api.md):

    import newsdrop
    summary = newsdrop.ingest(inbox, data)        # one run, plain Python: no Prefect API needed
    summary = newsdrop.rebuild(data)
    info    = newsdrop.status(data)               # the same facts as `newsdrop status --json`
    con     = newsdrop.connect(data)              # read-only DuckDB connection
    setup   = newsdrop.client_setup(data)         # the SQL that opens it in any DuckDB client
    df      = newsdrop.query(data, "SELECT ...")  # a pandas DataFrame
    hits    = newsdrop.search(data, "oil prices")   # ranked articles, one a near-duplicate cluster

The code lives in three rooms: newsdrop.transforms (the reading rules),
newsdrop.warehouse (storage) and newsdrop.flows (Prefect and the CLI).
"""

from importlib.metadata import PackageNotFoundError, version

from newsdrop.api import client_setup, connect, ingest, query, rebuild, reindex, search, status, vacuum
from newsdrop.errors import NewsdropError, QualityCheckFailed, RunFailed, RunInProgress
from newsdrop.summary import RunSummary

try:
    __version__ = version("newsdrop")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "NewsdropError",
    "QualityCheckFailed",
    "RunFailed",
    "RunInProgress",
    "RunSummary",
    "__version__",
    "client_setup",
    "connect",
    "ingest",
    "query",
    "rebuild",
    "reindex",
    "search",
    "status",
    "vacuum",
]
