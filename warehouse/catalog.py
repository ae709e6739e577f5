"""Which DuckLake catalog holds the lake's metadata: a SQLite file in the data folder
(the default), or a PostgreSQL database that many machines share.

    --catalog sqlite                                   DATA/catalog.sqlite (the default)
    --catalog "postgres:dbname=news host=db user=newsdrop"

A PostgreSQL catalog takes libpq connection parameters. The password comes from
PGPASSWORD or a .pgpass file, never from the catalog string: that string is shown in
messages, in Prefect's run parameters and in `ps`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsdrop.errors import NewsdropError

SQLITE = "sqlite"
POSTGRES = "postgres"
# key=value parameters, and a URI's query string (postgresql://host/db?password=...).
_PASSWORD_PARAMETER = re.compile(r"(^|[\s?&])password\s*=", re.IGNORECASE)
_PASSWORD_IN_URI = re.compile(r"^postgres(ql)?://[^/@]*:[^/@]*@", re.IGNORECASE)
USAGE = ('give --catalog sqlite (the default: DATA/catalog.sqlite) or --catalog "postgres:dbname=NAME '
         'host=HOST user=USER" (libpq parameters; the password from PGPASSWORD or ~/.pgpass)')


@dataclass(frozen=True)
class CatalogSpec:
    kind: str
    params: str = ""  # libpq parameters of a PostgreSQL catalog

    @property
    def shared(self) -> bool:
        """Runs on several machines meet in it: its lock and running marker live there."""
        return self.kind == POSTGRES

    def __str__(self) -> str:
        return SQLITE if self.kind == SQLITE else f"{POSTGRES}:{self.params}"


DEFAULT = CatalogSpec(SQLITE)


def catalog_unreachable(spec: CatalogSpec, error: BaseException) -> NewsdropError:
    """The one line for a PostgreSQL catalog that cannot be opened (by DuckDB or by psycopg):
    libpq's reason, out of a message of several lines. It names the parameters, which hold
    no password (parse_catalog refuses one)."""
    text = str(error)
    reason = " ".join(text.split())
    for marker in ("FATAL:", "failed:", "Unable to connect to Postgres"):
        if marker in text:
            reason = " ".join(text.split(marker, 1)[1].split())
            break
    return NewsdropError(f"cannot open the PostgreSQL catalog ({spec.params}): {reason[:300]}")


def parse_catalog(text: str | None) -> CatalogSpec:
    """The catalog a --catalog value names; NewsdropError saying what to give otherwise."""
    value = (text or "").strip()
    if value in ("", SQLITE):
        return DEFAULT
    kind, colon, params = value.partition(":")
    if kind.lower() not in (POSTGRES, "postgresql") or not colon or not params.strip():
        raise NewsdropError(f"catalog {value!r} is not allowed: {USAGE}")
    params = params.strip()
    if _PASSWORD_PARAMETER.search(params) or _PASSWORD_IN_URI.search(params):
        raise NewsdropError("the catalog string must not hold the password: set PGPASSWORD or use a ~/.pgpass file "
                            "(the string shows in messages, run parameters and ps)")
    return CatalogSpec(POSTGRES, params)
