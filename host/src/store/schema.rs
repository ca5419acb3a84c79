//! The DuckDB schema: a series dictionary and a narrow samples table.
//!
//! Samples reference their series by a small integer id so the wide,
//! repetitive parts (name, labels, unit) are stored once. There are no
//! indexes or constraints on `samples`: DuckDB's zone maps over `ts` serve
//! range scans, and an ART index would cost more on every append than it
//! saves on reads.

/// Creates the tables when they do not exist yet.
pub const CREATE: &str = "
CREATE TABLE IF NOT EXISTS series (
    id      INTEGER PRIMARY KEY,
    metric  VARCHAR NOT NULL,
    labels  VARCHAR NOT NULL,   -- canonical JSON object, keys sorted
    unit    VARCHAR NOT NULL,
    kind    VARCHAR NOT NULL,
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
CREATE TABLE IF NOT EXISTS samples (
    series_id INTEGER NOT NULL,
    ts        BIGINT  NOT NULL, -- epoch milliseconds
    value     DOUBLE  NOT NULL
);
";
