"""Storage: Parquet layout, atomic writes, the ledger, DuckDB load and publish."""
