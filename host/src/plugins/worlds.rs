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
        impl World for $world {
            type Pre = $pre;

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
world!(v2::channel::Channel, v2::channel::ChannelPre<PluginState>);
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
world!(v1::channel::Channel, v1::channel::ChannelPre<PluginState>);
world!(
    v1::exporter::Exporter,
    v1::exporter::ExporterPre<PluginState>
);
