//! The perfwatch plugin SDK: traits, export macros, host access and sample builders over the WIT contract.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[doc(hidden)]
pub mod bindings;
pub mod email;
mod host;
pub mod http;
mod panic;
mod plugin;
mod plugin_config;
mod sample;

pub use host::{LogLevel, log, now_ms};
pub use plugin::{Channel, Collector, Exporter};
pub use plugin_config::{config, parse_config};
pub use sample::{MAX_LABEL_NAME_LEN, MAX_METRIC_NAME_LEN, check_label_name, check_metric_name};

/// The WIT `types` interface: the data plugins and the host exchange.
pub use bindings::collector::perfwatch::plugin::types::{
    Alert, AlertStatus, Artifact, Bottleneck, BottleneckKind, ExportRequest, Label, MetricKind,
    Sample, Series, Severity,
};

/// The serde version the SDK deserialises config with, so plugin crates need
/// no serde dependency of their own: derive with
/// `#[derive(perfwatch_sdk::serde::Deserialize)]` and
/// `#[serde(crate = "perfwatch_sdk::serde")]`.
pub use serde;

/// The serde_json version the SDK parses config and HTTP bodies with, so
/// plugins can build and read `serde_json::Value`s without a dependency of
/// their own.
pub use serde_json;
