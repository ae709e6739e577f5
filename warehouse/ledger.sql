-- The ledger: which file versions were taken in, by which run, and which Parquet
-- files are committed. SQLite, so that a run's commit is one transaction.
CREATE TABLE IF NOT EXISTS runs (
    run_id          TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,              -- ingest | rebuild
    status          TEXT NOT NULL,              -- running | committed | succeeded | failed | interrupted
    started_us      INTEGER NOT NULL,
    finished_us     INTEGER,
    seconds         REAL,
    files_seen      INTEGER NOT NULL DEFAULT 0,
    files_new       INTEGER NOT NULL DEFAULT 0,
    drops_loaded    INTEGER NOT NULL DEFAULT 0,
    files_rejected  INTEGER NOT NULL DEFAULT 0,
    files_unchanged INTEGER NOT NULL DEFAULT 0,
    files_skipped   INTEGER NOT NULL DEFAULT 0,
    error           TEXT
);

-- One row per (name, size, mtime) seen; a listing that matches one is not re-read.
CREATE TABLE IF NOT EXISTS file_versions (
    file_name       TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    mtime_ns        INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    outcome         TEXT NOT NULL,              -- loaded | rejected | unchanged
    run_id          TEXT NOT NULL,
    part            INTEGER NOT NULL,
    ingested_us     INTEGER NOT NULL,
    reason          TEXT,                       -- why it was rejected
    PRIMARY KEY (file_name, size_bytes, mtime_ns)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS file_versions_by_run ON file_versions (run_id, part);

-- Committed Parquet files of the per-run tables, relative to DATA/parquet.
CREATE TABLE IF NOT EXISTS parquet_files (
    path            TEXT PRIMARY KEY,
    table_name      TEXT NOT NULL,
    run_id          TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS parquet_files_by_run ON parquet_files (run_id);

-- Results of the data-quality checks of each run (warehouse.quality).
CREATE TABLE IF NOT EXISTS quality_checks (
    run_id          TEXT NOT NULL,
    check_name      TEXT NOT NULL,
    severity        TEXT NOT NULL,
    passed          INTEGER NOT NULL,
    detail          TEXT NOT NULL,
    checked_us      INTEGER NOT NULL,
    PRIMARY KEY (run_id, check_name)
) WITHOUT ROWID;

-- Small facts about the warehouse as a whole, e.g. snapshot_stale = 1 from a
-- commit until the snapshot that shows it is published.
CREATE TABLE IF NOT EXISTS meta (
    key             TEXT PRIMARY KEY,
    value           TEXT NOT NULL
) WITHOUT ROWID;
