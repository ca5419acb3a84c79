//! Built-in collection: the machine (sysinfo, /proc/net/dev) and the
//! host's own overhead. This module owns sysinfo.

mod netdev;
mod overhead;
mod system;

pub use overhead::{OverheadTracker, TickCost};
pub use system::SystemCollector;
