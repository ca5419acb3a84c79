//! The three worlds as [`World`]s: how each is pre-linked and instantiated.

use futures::future::BoxFuture;
use wasmtime::Store;
use wasmtime::component::Component;

use super::PluginRuntime;
use super::bindings::{channel, collector, exporter};
use super::sandbox::World;
use super::state::PluginState;

impl World for collector::Collector {
    type Pre = collector::CollectorPre<PluginState>;

    fn pre(runtime: &PluginRuntime, component: &Component) -> wasmtime::Result<Self::Pre> {
        collector::CollectorPre::new(runtime.linker.instantiate_pre(component)?)
    }

    fn instantiate<'a>(
        pre: &'a Self::Pre,
        store: &'a mut Store<PluginState>,
    ) -> BoxFuture<'a, wasmtime::Result<Self>> {
        Box::pin(pre.instantiate_async(store))
    }
}

impl World for channel::Channel {
    type Pre = channel::ChannelPre<PluginState>;

    fn pre(runtime: &PluginRuntime, component: &Component) -> wasmtime::Result<Self::Pre> {
        channel::ChannelPre::new(runtime.linker.instantiate_pre(component)?)
    }

    fn instantiate<'a>(
        pre: &'a Self::Pre,
        store: &'a mut Store<PluginState>,
    ) -> BoxFuture<'a, wasmtime::Result<Self>> {
        Box::pin(pre.instantiate_async(store))
    }
}

impl World for exporter::Exporter {
    type Pre = exporter::ExporterPre<PluginState>;

    fn pre(runtime: &PluginRuntime, component: &Component) -> wasmtime::Result<Self::Pre> {
        exporter::ExporterPre::new(runtime.linker.instantiate_pre(component)?)
    }

    fn instantiate<'a>(
        pre: &'a Self::Pre,
        store: &'a mut Store<PluginState>,
    ) -> BoxFuture<'a, wasmtime::Result<Self>> {
        Box::pin(pre.instantiate_async(store))
    }
}
