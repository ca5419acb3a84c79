//! Samples pushed by applications and other monitoring systems: the JSON
//! batch, OTLP/HTTP metrics and Prometheus remote write. Decoding, mapping
//! and validation only, no I/O; the server decides transport, the store
//! durability.

mod checks;
mod compression;
mod delta;
mod entries;
mod json;
mod otlp;
mod remote_write;

pub use compression::{DecompressError, gunzip};
pub use delta::{Accumulated, DeltaPoint, DeltaSums, MAX_DELTA_SERIES, PendingTotals};
pub use json::{BatchError, MAX_BATCH_SAMPLES, ParsedBatch, Rejection, parse_json_batch};
pub use otlp::{
    CODE_INTERNAL, CODE_INVALID_ARGUMENT, OtlpBatch, OtlpEncoding, OtlpError, encode_response,
    encode_status, parse_otlp_metrics,
};
pub use remote_write::{
    Label, PromSample, RemoteWriteBatch, RemoteWriteError, STALE_NAN_BITS, TimeSeries,
    WriteRequest, parse_remote_write,
};
