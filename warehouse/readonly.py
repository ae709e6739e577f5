"""Which SQL an analyst's `newsdrop sql` may run: queries of the warehouse, nothing else.

The connection itself is read-only and cannot touch files outside the lake
(warehouse.lake.connect_read_only). Two things get past those settings, so they
are refused here: statements that are not queries (ATTACH can create a SQLite file
anywhere), the SQLite scanner's functions, which read any SQLite file, and with a PostgreSQL
catalog the postgres extension's, which reach any database.
"""

from __future__ import annotations

import duckdb

from newsdrop.errors import NewsdropError, first_line

QUERY_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_FILES = "reads files outside the warehouse"
_DATABASES = "reaches databases outside the warehouse"  # loaded with a PostgreSQL catalog
REFUSED_FUNCTIONS = {"sqlite_scan": _FILES, "sqlite_query": _FILES, "sqlite_attach": _FILES,
                     "postgres_scan": _DATABASES, "postgres_scan_pushdown": _DATABASES,
                     "postgres_query": _DATABASES, "postgres_attach": _DATABASES, "postgres_execute": _DATABASES}


def query_statements(sql: str) -> list[str]:
    """The statements of `sql`, each a query; raises NewsdropError naming what is refused."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise NewsdropError(first_line(error)) from None
    if not statements:  # empty, blank, only ";" or only comments
        raise NewsdropError('no SQL given: newsdrop sql "SELECT count(*) FROM drops"')
    for statement in statements:
        if statement.type not in QUERY_STATEMENTS:
            # DuckDB files INSTALL under LOAD.
            kind = "INSTALL or LOAD" if statement.type == duckdb.StatementType.LOAD else statement.type.name
            kind = kind.replace("_", " ")
            raise NewsdropError(f"refused: {kind} statements are not allowed; newsdrop sql only reads the "
                                "warehouse (SELECT, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)")
    tokens = duckdb.tokenize(sql)
    ends = [start for start, _token in tokens[1:]] + [len(sql)]
    for (start, token), end in zip(tokens, ends, strict=True):
        # The token's own text, whatever follows it (a comment, a line break, then "(").
        word = sql[start:end].split("--", 1)[0].split("/*", 1)[0].strip().strip('"').lower()
        if token == duckdb.token_type.identifier and word in REFUSED_FUNCTIONS:
            raise NewsdropError(f"refused: {word} {REFUSED_FUNCTIONS[word]}")
    return [statement.query.strip() for statement in statements]
