//! What starts and drives a running host: `serve` wires the engines
//! together, `tick` runs collection, rules and alerts on the interval,
//! `reload` rebuilds rules and plugins that `watch` sees change, and
//! `records` stores delivery records.

mod records;
pub mod reload;
pub mod serve;
pub mod tick;
pub mod watch;
