//! Exporter plugins: the [`Exporter`] trait, the [`DocumentWriter`] it streams a document through, and `export_exporter!`.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::config::exports::perfwatch::plugin0_2_0::config_api;
use crate::bindings::exporter::exports::perfwatch::plugin0_2_0::exporter_api;
use crate::{Alert, Bottleneck, ConfigError, ConfigInfo, DocumentType, ExportInfo, Series};

/// A plugin that renders stored data as a document (the WIT `exporter` world).
///
/// An export is streamed: [`Exporter::begin`] starts a document, the host
/// then hands it the range's series, alerts and bottlenecks in batches, and
/// every call returns the bytes to append. Neither side ever holds the whole
/// range, so a writer should keep only what it needs to continue (which
/// section it is in, whether a series is open), never the data itself.
pub trait Exporter {
    /// The document being written.
    type Document: DocumentWriter + 'static;

    /// Starts a document for the range `info` describes; an error says what
    /// is wrong with the request (an unknown option in `info.options`, for
    /// example) and ends the export before anything is written.
    fn begin(info: ExportInfo) -> Result<Self::Document, String>;

    /// Checks the plugin's `config` before the host uses it, and names the
    /// keys that hold secrets; see [`Collector::validate_config`](crate::Collector::validate_config).
    /// The default accepts any config and names no secrets.
    fn validate_config(config: &str) -> Result<ConfigInfo, Vec<ConfigError>> {
        let _ = config;
        Ok(ConfigInfo::default())
    }
}

/// One document being written, call by call.
///
/// The host asks for [`document_type`](DocumentWriter::document_type)
/// first, then calls [`write_series`](DocumentWriter::write_series) until
/// every series is sent, then [`write_alerts`](DocumentWriter::write_alerts),
/// then [`write_bottlenecks`](DocumentWriter::write_bottlenecks) (each zero
/// or more times: a section may get no call at all when it is empty), then
/// [`finish`](DocumentWriter::finish) once. The document is the
/// concatenation of what the calls return. After an error the host stops
/// and discards what was written.
///
/// # Long series
///
/// A series with many points arrives in several consecutive entries, in
/// time order, possibly split across batches. The first entry has
/// `continued == false`; each following one has `continued == true` and
/// adds points to the same series. Take the metric, unit and labels from the
/// first entry: those of a continuation are not meant to be read. An entry
/// with `continued == false` starts a new series, so that is where a
/// writer closes the previous one.
pub trait DocumentWriter {
    /// The document's file type, asked for before the first write.
    fn document_type(&self) -> DocumentType;

    /// Renders a batch of series (see "Long series" above).
    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String>;

    /// Renders a batch of the alerts raised or resolved in the range. The
    /// default writes nothing, for formats without alerts.
    fn write_alerts(&mut self, batch: Vec<Alert>) -> Result<Vec<u8>, String> {
        let _ = batch;
        Ok(Vec::new())
    }

    /// Renders a batch of the bottlenecks seen in the range. The default
    /// writes nothing, for formats without bottlenecks.
    fn write_bottlenecks(&mut self, batch: Vec<Bottleneck>) -> Result<Vec<u8>, String> {
        let _ = batch;
        Ok(Vec::new())
    }

    /// Ends the document: the bytes that close it.
    fn finish(&mut self) -> Result<Vec<u8>, String>;
}

impl<T: Exporter> exporter_api::Guest for T {
    type Document = DocumentCell<T::Document>;

    fn begin(info: ExportInfo) -> Result<exporter_api::Document, String> {
        crate::panic::forward_panics_to_host_log();
        let writer = <T as Exporter>::begin(info)?;
        Ok(exporter_api::Document::new(DocumentCell(RefCell::new(
            writer,
        ))))
    }
}

/// A [`DocumentWriter`] as the WIT `document` resource.
///
/// wit-bindgen hands a resource's methods `&self`, because the host could
/// in principle hold several references to it; writing a document is
/// naturally `&mut self`. The host calls one method at a time and a guest
/// has no threads, so the `RefCell` is never borrowed twice and
/// `borrow_mut` cannot fail.
#[doc(hidden)]
pub struct DocumentCell<W>(RefCell<W>);

impl<W: DocumentWriter + 'static> exporter_api::GuestDocument for DocumentCell<W> {
    fn document_type(&self) -> DocumentType {
        crate::panic::forward_panics_to_host_log();
        self.0.borrow().document_type()
    }

    fn write_series(&self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        crate::panic::forward_panics_to_host_log();
        self.0.borrow_mut().write_series(batch)
    }

    fn write_alerts(&self, batch: Vec<Alert>) -> Result<Vec<u8>, String> {
        crate::panic::forward_panics_to_host_log();
        self.0.borrow_mut().write_alerts(batch)
    }

    fn write_bottlenecks(&self, batch: Vec<Bottleneck>) -> Result<Vec<u8>, String> {
        crate::panic::forward_panics_to_host_log();
        self.0.borrow_mut().write_bottlenecks(batch)
    }

    fn finish(&self) -> Result<Vec<u8>, String> {
        crate::panic::forward_panics_to_host_log();
        self.0.borrow_mut().finish()
    }
}

/// The `config-api` export of exporter `T`; named by `export_exporter!`.
#[doc(hidden)]
pub struct ExporterConfig<T>(PhantomData<T>);

impl<T: Exporter> config_api::Guest for ExporterConfig<T> {
    fn validate_config(config: String) -> Result<ConfigInfo, Vec<ConfigError>> {
        crate::panic::forward_panics_to_host_log();
        T::validate_config(&config)
    }
}

impl DocumentType {
    /// A document type: the file extension without the dot (`csv`) and the
    /// media type (`text/csv`).
    pub fn new(extension: impl Into<String>, media_type: impl Into<String>) -> Self {
        Self {
            extension: extension.into(),
            media_type: media_type.into(),
        }
    }
}

/// Exports a type implementing [`Exporter`](crate::Exporter) as the plugin's
/// `perfwatch:plugin/exporter-api@0.2.0` and `config-api@0.2.0`.
///
/// Use it once per crate, at the top level, with the name of a type (not a
/// path). A type that does not implement the trait fails to compile here,
/// pointing at this call.
#[macro_export]
macro_rules! export_exporter {
    ($ty:ident) => {
        // A readable error at the call site, as in `export_collector!`.
        const _: () = {
            fn assert_implements_exporter<T: $crate::Exporter>() {}
            let _ = assert_implements_exporter::<$ty>;
        };
        // Wasm only, as in `export_collector!`.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type PerfwatchConfigApi = $crate::__export::ExporterConfig<$ty>;
            $crate::bindings::exporter::export_exporter_world!(
                $ty with_types_in $crate::bindings::exporter
            );
            $crate::bindings::config::export_config_world!(
                PerfwatchConfigApi with_types_in $crate::bindings::config
            );
        };
    };
}
