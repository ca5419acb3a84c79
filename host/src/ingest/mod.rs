//! Samples pushed by applications. Parsing and validation only; the server
//! decides transport, the store durability.

mod json;

pub use json::{BatchError, MAX_BATCH_SAMPLES, ParsedBatch, Rejection, parse_json_batch};
