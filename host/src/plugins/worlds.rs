//! The worlds of both package versions as [`World`]s: how each is
//! pre-linked and instantiated.

use futures::future::BoxFuture;
use wasmtime::Store;
use wasmtime::component::Component;

use super::PluginRuntime;
use super::bindings::{v1, v2};
use super::sandbox::World;
use super::state::PluginState;

/// Implements [`World`] for a generated world `$world` with pre-instance `$pre`.
macro_rules! world {
    ($world:ty, $pre:ty) => {
        world!($world, $pre, DEFAULT_CALL_TIMEOUT_MS);
    };
    ($world:ty, $pre:ty, $timeout:ident) => {
        impl World for $world {
            type Pre = $pre;
            const DEFAULT_CALL_TIMEOUT_MS: u64 = crate::config::$timeout;

            fn pre(runtime: &PluginRuntime, component: &Component) -> wasmtime::Result<Self::Pre> {
                <$pre>::new(runtime.linker.instantiate_pre(component)?)
            }

            fn instantiate<'a>(
                pre: &'a Self::Pre,
                store: &'a mut Store<PluginState>,
            ) -> BoxFuture<'a, wasmtime::Result<Self>> {
                Box::pin(pre.instantiate_async(store))
            }
        }
    };
}

world!(
    v2::collector::Collector,
    v2::collector::CollectorPre<PluginState>
);
world!(
    v2::channel::Channel,
    v2::channel::ChannelPre<PluginState>,
    DEFAULT_CHANNEL_CALL_TIMEOUT_MS
);
world!(
    v2::exporter::Exporter,
    v2::exporter::ExporterPre<PluginState>
);
world!(
    v2::configurable::Configurable,
    v2::configurable::ConfigurablePre<PluginState>
);
world!(
    v1::collector::Collector,
    v1::collector::CollectorPre<PluginState>
);
world!(
    v1::channel::Channel,
    v1::channel::ChannelPre<PluginState>,
    DEFAULT_CHANNEL_CALL_TIMEOUT_MS
);
world!(
    v1::exporter::Exporter,
    v1::exporter::ExporterPre<PluginState>
);
