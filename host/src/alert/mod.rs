//! The alert lifecycle: conditions raised by thresholds and rule scripts
//! become firing alerts once, and resolved alerts when they clear.
//!
//! Timing lives here, in Rust, not in scripts: a script only says "this
//! condition holds now". Each (rule, series) pair has at most one firing
//! alert, so a condition that holds for an hour notifies once, not every
//! tick (the original's alert storm, defect B5).

mod delivery;
mod engine;
mod threshold;

pub use delivery::{AlertSink, ChannelSink, DeliveryQueue, DeliveryRecord, MAX_ATTEMPTS};
pub use engine::{AlertEngine, AlertEvent, Condition, MAX_RESOLVED_HISTORY, rule_source};
pub use threshold::evaluate_thresholds;
