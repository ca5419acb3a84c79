//! The alert lifecycle: conditions raised by thresholds and rule scripts
//! become firing alerts once, and resolved alerts when they clear.
//!
//! Timing lives here, in Rust, not in scripts: a script only says "this
//! condition holds now". Each (rule, series) pair has at most one firing
//! alert, so a condition that holds for an hour notifies once, not every
//! tick (the original's alert storm, defect B5).

mod bottleneck;
mod channel_stats;
mod delivery;
mod engine;
mod grouping;
mod persist;
mod resend;
mod retry;
mod rule;
mod silence;
mod threshold;

pub use bottleneck::{BottleneckEvent, BottleneckTracker, Detection, RESOLVE_GRACE_MS};
pub use channel_stats::ChannelStats;
pub use delivery::{AlertSink, ChannelSink, DeliveryLog, DeliveryQueue, TestError};
pub use engine::{
    AlertEngine, AlertEvent, Condition, EngineState, FLAP_CHANGES, FLAP_QUIET_MS, FLAP_WINDOW_MS,
    MAX_RESOLVED_HISTORY, Phase, Timing, Tracked, rule_source,
};
pub use grouping::{Grouping, label_of};
pub use persist::{STATE_FILE, StateFile};
pub use resend::{FiringSource, MIN_RESEND, RESEND_KEY, firing_source, resend_interval};
pub use retry::RETRY_FOR;
pub use rule::evaluate_alert_rules;
pub use silence::{Matcher, Silence, SilenceError, Silences, Weekly};
pub use threshold::evaluate_thresholds;
