//! perfwatch metrics as Prometheus text exposition 0.0.4 and OpenMetrics 1.0: the one name mapping and writer that the prometheus-text exporter plugin (wasm) and the host's `/metrics` both use.
//!
//! A perfwatch metric is a dotted camelCase name with a free-form unit
//! (`system.cpuUsage` in `%`, `queries.avgResponseTime` in `ms`). A
//! Prometheus metric is snake_case with its base unit as a suffix and
//! `_total` on counters. [`family`] maps one to the other deterministically:
//!
//! - camelCase is split (`cpuUsage` → `cpu_usage`, `HTTPRequests` →
//!   `http_requests`), dots and anything else outside `[a-zA-Z0-9_:]` become
//!   `_`, runs of `_` collapse;
//! - the unit becomes a base-unit suffix, and the values are scaled to it:
//!   `ms` → `_seconds` (× 0.001), `%` → `_percent`, `MB` → `_bytes`
//!   (× 10⁶), `bytes/s` → `_bytes_per_second`; a suffix the name already
//!   ends with is not repeated; an unknown unit is appended as written,
//!   sanitised;
//! - a counter ends in `_total`.
//!
//! Two perfwatch metrics can map to one name (`a.bC` and `a.b_c`);
//! [`FamilyNames`] detects it, and [`Exposition`] refuses the second, so no
//! document or scrape carries two families under one name.

mod names;
mod writer;

pub use names::{
    Collision, Family, FamilyNames, Kind, base_unit, escape_help, escape_label_value, family,
    format_value, label_name, seconds, snake_case,
};
pub use writer::{Exposition, ExpositionError, Format};
