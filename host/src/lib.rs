//! perfwatch: a performance monitor for agent systems and the machines
//! they run on. One process collects metrics every tick, stores them in an
//! embedded DuckDB database, evaluates Rhai rules, raises alerts and
//! streams everything to a WebSocket dashboard. Collectors, channels and
//! exporters are WebAssembly components.
//!
//! See ARCHITECTURE.md for the code map and the invariants.

pub mod alert;
pub mod analysis;
pub mod app;
pub mod cli;
pub mod clock;
pub mod codec;
pub mod collect;
pub mod config;
pub mod dir;
pub mod embed;
pub mod hub;
pub mod ingest;
pub mod memory;
pub mod model;
pub mod plugins;
pub mod rules;
pub mod runtime;
pub mod server;
pub mod snapshot;
pub mod store;
pub mod window;
