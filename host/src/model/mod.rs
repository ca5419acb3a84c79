//! Plain data that flows through the tick: samples, series keys, alerts,
//! notifications and delivery records.
//!
//! Nothing here talks to an engine; every other module speaks these types.

mod alert;
mod bottleneck;
mod delivery;
mod metric;
mod notification;
mod registry;
mod sample;

pub use alert::{Acknowledgement, Alert, AlertStatus, Severity};
pub use bottleneck::{Bottleneck, BottleneckKind, BottleneckSeverity};
pub use delivery::{DeliveryRecord, DeliveryStatus};
pub use metric::{MetricKind, MetricNameError, canonical_metric_name};
pub use notification::{DeliveryError, Notification};
pub use registry::{MetricInfo, REGISTRY, known_unit, lookup as registered_metric};
pub use sample::{LabelError, Labels, Sample, SeriesKey};
