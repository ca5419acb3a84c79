//! Alert channel plugins: the [`Channel`] trait and `export_channel!`.

use std::marker::PhantomData;

use crate::bindings::channel::exports::perfwatch::plugin0_2_0::channel_api;
use crate::bindings::config::exports::perfwatch::plugin0_2_0::config_api;
use crate::{ConfigError, ConfigInfo, DeliveryError, Notification};

/// A plugin that delivers alert notifications (the WIT `channel` world).
///
/// Each enabled `[[alerting.channels]]` entry gets its own instance, whose
/// [`config`](crate::config) is that entry's `config` table with its
/// `secrets` merged in; no other plugin sees them.
pub trait Channel {
    /// Delivers one notification (a group of alerts) as one message.
    ///
    /// The error's kind decides what the host does next: a
    /// [`DeliveryError::Permanent`] is never retried, a
    /// [`DeliveryError::Transient`] is retried with backoff, and a
    /// [`DeliveryError::RetryAfter`] after the time the receiver asked for.
    /// [`DeliveryError::from_http_status`] and `From<HttpError>` pick the
    /// kind for HTTP answers and failures. Delivering the same notification
    /// twice must be harmless.
    fn deliver(notification: Notification) -> Result<(), DeliveryError>;

    /// Checks the channel's `config` (secrets merged in) before the host
    /// uses it, and names the keys that hold secrets, so the host can
    /// redact them wherever it shows the config. The host calls it on a
    /// fresh instance at start-up, on reload and for `perfwatch config check`.
    ///
    /// The default accepts any config and names no secrets; a channel with a
    /// config type returns [`validate_config::<Options>(config, &["url"])`](crate::validate_config).
    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        let _ = config;
        Ok(ConfigInfo::default())
    }
}

impl<T: Channel> channel_api::Guest for T {
    fn deliver(notification: Notification) -> Result<(), DeliveryError> {
        crate::panic::forward_panics_to_host_log();
        <T as Channel>::deliver(notification)
    }
}

/// The `config-api` export of channel `T`; named by `export_channel!`.
#[doc(hidden)]
pub struct ChannelConfig<T>(PhantomData<T>);

impl<T: Channel> config_api::Guest for ChannelConfig<T> {
    fn validate_config(config: String) -> Result<ConfigInfo, Vec<ConfigError>> {
        crate::panic::forward_panics_to_host_log();
        T::validate_config(&config)
    }
}

/// Exports a type implementing [`Channel`](crate::Channel) as the plugin's
/// `perfwatch:plugin/channel-api@0.2.0` and `config-api@0.2.0`.
///
/// Use it once per crate, at the top level, with the name of a type (not a
/// path). A type that does not implement the trait fails to compile here,
/// pointing at this call.
#[macro_export]
macro_rules! export_channel {
    ($ty:ident) => {
        // A readable error at the call site, as in `export_collector!`.
        const _: () = {
            fn assert_implements_channel<T: $crate::Channel>() {}
            let _ = assert_implements_channel::<$ty>;
        };
        // Wasm only, as in `export_collector!`.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type PerfwatchConfigApi = $crate::__export::ChannelConfig<$ty>;
            $crate::bindings::channel::export_channel_world!(
                $ty with_types_in $crate::bindings::channel
            );
            $crate::bindings::config::export_config_world!(
                PerfwatchConfigApi with_types_in $crate::bindings::config
            );
        };
    };
}
