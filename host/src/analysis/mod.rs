//! What the host concludes from what it measured, beyond single rules:
//! the health score (`health.rs`). Pure functions over model values; the
//! runtime decides when they run and where their answers go.

mod health;

pub use health::{Health, HealthInputs, HealthPart, health};
