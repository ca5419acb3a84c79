//! The perfwatch plugin SDK: traits, export macros, host access and builders over the `perfwatch:plugin@0.2.0` contract.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[doc(hidden)]
pub mod bindings;
mod channel;
mod collector;
mod delivery;
pub mod email;
mod exporter;
mod host;
pub mod http;
mod notification;
mod panic;
mod plugin_config;
mod sample;
mod series;
mod time;

pub use channel::Channel;
pub use collector::Collector;
pub use exporter::{DocumentWriter, Exporter};
pub use host::{LogLevel, log, now_ms};
pub use notification::truncate_to;
pub use plugin_config::{config, parse_config, validate_config, validate_config_with};
pub use sample::{MAX_LABEL_NAME_LEN, MAX_METRIC_NAME_LEN, check_label_name, check_metric_name};
pub use series::{Handles, SeriesHandle};
pub use time::rfc3339;

/// The WIT `types` interface: the data plugins and the host exchange.
pub use bindings::imports::perfwatch::plugin0_2_0::types::{
    Alert, AlertStatus, Bottleneck, BottleneckKind, ConfigError, ConfigInfo, DeliveryError, Label,
    MetricKind, Notification, RetryAfter, Sample, Series, SeriesDescription, Severity,
};

/// What a collector returns, and its readings of declared series.
pub use bindings::collector::exports::perfwatch::plugin0_2_0::collector_api::{
    Collection, Reading,
};

/// What an exporter is told at the start, and what it says its document is.
pub use bindings::exporter::exports::perfwatch::plugin0_2_0::exporter_api::{
    DocumentType, ExportInfo,
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

/// What the export macros expand to in a plugin crate; not for plugin code.
#[doc(hidden)]
pub mod __export {
    pub use crate::channel::ChannelConfig;
    pub use crate::collector::CollectorConfig;
    pub use crate::exporter::ExporterConfig;
}
