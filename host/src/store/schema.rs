//! The DuckDB schema: a series dictionary, raw samples in three tables (a
//! durable head in arrival order, compacted rows sorted by series, and
//! closed days coded into chunks), and 1-minute and 1-hour rollups. docs/storage.md gives the figures that
//! chose this layout.
//!
//! Samples reference their series by a small integer id so the wide,
//! repetitive parts (name, labels, unit) are stored once. A value is either
//! `ivalue / 10^precision` (an integer, which DuckDB bit-packs) or `fvalue`
//! (a double, compressed with ALP); see `encode.rs`. There are no indexes
//! on the sample and rollup tables: zone maps over `ts`/`bucket` and the
//! series-sorted order serve range scans, and an ART index would cost more
//! memory and append time than it saves.

/// Creates the tables when they do not exist yet (the rollups: [`create_rollup`]).
pub const CREATE: &str = "
CREATE TABLE IF NOT EXISTS series (
    id        INTEGER PRIMARY KEY,
    metric    VARCHAR NOT NULL,
    labels    VARCHAR NOT NULL,   -- canonical JSON object, keys sorted
    unit      VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL,
    precision UTINYINT,           -- decimals kept; NULL: stored exactly
    UNIQUE (metric, labels)
);
CREATE TABLE IF NOT EXISTS alert_history (
    ts       BIGINT  NOT NULL, -- epoch milliseconds
    alert_id VARCHAR NOT NULL,
    rule     VARCHAR NOT NULL,
    event    VARCHAR NOT NULL, -- pending, triggered, repeated, flapping, resolved, acknowledged
    severity VARCHAR NOT NULL,
    metric   VARCHAR NOT NULL,
    labels   VARCHAR NOT NULL,
    value    DOUBLE,
    message  VARCHAR NOT NULL
);
-- One row per notification attempt, drop or skip (model::DeliveryRecord).
CREATE TABLE IF NOT EXISTS deliveries (
    ts          BIGINT  NOT NULL, -- epoch milliseconds
    channel     VARCHAR NOT NULL, -- console#0; * for a skip
    status      VARCHAR NOT NULL, -- delivered, failed, gave_up, dropped, skipped
    attempt     UINTEGER NOT NULL, -- 0 when none was made
    group_key   VARCHAR NOT NULL,
    alert_ids   VARCHAR NOT NULL, -- JSON array
    resolved    BOOLEAN NOT NULL,
    error_class VARCHAR,          -- permanent, transient, retry_after
    error       VARCHAR,
    latency_ms  BIGINT
);
-- Every acknowledged sample lands here first, one transaction per batch.
CREATE TABLE IF NOT EXISTS samples_head (
    series_id INTEGER NOT NULL,
    ts        BIGINT  NOT NULL, -- epoch milliseconds
    ivalue    BIGINT,
    fvalue    DOUBLE
);
-- Compaction moves the head here in chunks sorted by (series_id, ts).
CREATE TABLE IF NOT EXISTS samples_compact (
    series_id INTEGER NOT NULL,
    ts        BIGINT  NOT NULL,
    ivalue    BIGINT,
    fvalue    DOUBLE
);
-- Closed days, coded by the daily merge (archive.rs, chunk.rs): each
-- series' samples in chunks of at most 32,768 (tier 0), and its day of
-- 1-minute rollups as one chunk of six columns (tier 1). One table, so the
-- two kinds share their blocks: as two, the benchmark's day took a block
-- more of its 50.
CREATE TABLE IF NOT EXISTS archive (
    series_id INTEGER  NOT NULL,
    tier      UTINYINT NOT NULL,
    first_ms  BIGINT   NOT NULL, -- the first sample's time or minute, epoch ms
    last_ms   BIGINT   NOT NULL, -- the last one's
    count     INTEGER  NOT NULL, -- samples or minutes
    data      BLOB     NOT NULL
);
-- Ranges the daily merge has rewritten, so a restart does not redo them.
CREATE TABLE IF NOT EXISTS merged_ranges (
    start_ms BIGINT NOT NULL,
    end_ms   BIGINT NOT NULL
);
";

/// Brings a database written by an earlier version to this schema: before
/// the head/compact split, samples lived in one `samples(series_id, ts,
/// value)` table and series had no precision. Runs before [`CREATE`]'s
/// sample tables are used; the old rows become head rows, which the next
/// compaction sorts and rolls up like any others.
pub const MIGRATE: &[(&str, &str)] = &[(
    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'series' AND column_name = 'precision'",
    "ALTER TABLE series ADD COLUMN precision UTINYINT",
)];

/// The rollup tables, with the span of their buckets.
pub const ROLLUPS: [(&str, &str); 2] = [("rollup_1m", "minute"), ("rollup_1h", "hour")];

/// Creates a rollup table when it does not exist yet.
pub fn create_rollup(table: &str, span: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
             series_id   INTEGER NOT NULL,
             bucket      BIGINT  NOT NULL, -- start of the {span}, epoch ms
             min         DOUBLE  NOT NULL,
             max         DOUBLE  NOT NULL,
             sum         DOUBLE  NOT NULL,
             count       INTEGER NOT NULL,
             last        DOUBLE  NOT NULL,
             last_offset INTEGER NOT NULL  -- the last sample's ms after bucket
         );"
    )
}

/// Whether `table` (a rollup) still has the earlier `last_ts` column.
pub fn has_last_ts(table: &str) -> String {
    format!(
        "SELECT count(*) FROM information_schema.columns
         WHERE table_name = '{table}' AND column_name = 'last_ts'"
    )
}

/// Rollups kept the last sample's time as epoch ms (`last_ts`) until it
/// became an offset into the bucket: epoch ms jump back at every series
/// boundary of the series-sorted rows, which bit-packing paid for in every
/// group, while the offset of a steady tick is one constant.
pub fn migrate_last_ts(table: &str) -> String {
    format!(
        "BEGIN;
         ALTER TABLE {table} ADD COLUMN last_offset INTEGER DEFAULT 0;
         UPDATE {table} SET last_offset = (last_ts - bucket)::INTEGER;
         ALTER TABLE {table} DROP COLUMN last_ts;
         COMMIT;"
    )
}

/// A rollup table's rows with the last sample's time as epoch ms (`last_ts`),
/// as compaction and range queries compare them.
pub fn rollup_rows(table: &str) -> String {
    format!(
        "(SELECT series_id, bucket, min, max, sum, count, last, bucket + last_offset AS last_ts
          FROM {table})"
    )
}

/// Whether the version-0 `samples` table is still there.
pub const HAS_LEGACY_SAMPLES: &str =
    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'samples'";

/// Moves version-0 samples into the head and drops their table.
pub const MIGRATE_LEGACY_SAMPLES: &str = "
INSERT INTO samples_head SELECT series_id, ts, NULL, value FROM samples;
DROP TABLE samples;
";

/// A sample's value from its two columns; `x` is the sample table, `s` the series.
pub const VALUE: &str = "coalesce(x.ivalue / pow(10, coalesce(s.precision, 0)), x.fvalue)";

/// The sum of a group's values, as exact as they are: scaled integers are
/// summed as integers and divided once, so values with two decimals sum to
/// two decimals (a sum of doubles such as 0.1 + 0.2 does not), which DuckDB's
/// ALP stores in a third of the space. Rollups and the head's on-the-fly
/// buckets both use it, so an answer does not change with compaction.
pub const EXACT_SUM: &str =
    "coalesce(sum(x.ivalue) / pow(10, coalesce(any_value(s.precision), 0)), 0)
    + coalesce(sum(x.fvalue), 0)";

/// The main connection's table of archived samples decoded for the query
/// at hand (`archive.rs`); temporary, so it is never written to the file.
pub const CREATE_STAGED: &str = "CREATE TEMP TABLE IF NOT EXISTS staged_chunks (
    series_id INTEGER NOT NULL,
    ts        BIGINT  NOT NULL,
    ivalue    BIGINT,
    fvalue    DOUBLE
);";

/// Every raw sample as one relation: the head, the compacted rows and the
/// archived chunks a query has staged (none unless it has).
pub const RAW: &str = "(SELECT series_id, ts, ivalue, fvalue FROM samples_head
  UNION ALL SELECT series_id, ts, ivalue, fvalue FROM samples_compact
  UNION ALL SELECT series_id, ts, ivalue, fvalue FROM staged_chunks)";

/// Series ids as an SQL list, for `series_id IN (…)`.
pub(super) fn id_list(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}
