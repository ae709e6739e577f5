"""Storage only: the lake (DuckLake), the ledger, raw bytes, a batch's reading and commit, and a run's
lock, marker, recovery and `runs` row. No Prefect here."""
