//! Test fixture: an exporter whose document starts well (it renders every
//! series batch) and then fails at the alerts, so the host must discard
//! what it already wrote instead of leaving half a file.

use perfwatch_sdk::{
    Alert, DocumentType, DocumentWriter, ExportInfo, Exporter, Series, export_exporter,
};

struct FailHalfway;

struct Document;

impl Exporter for FailHalfway {
    type Document = Document;

    fn begin(_info: ExportInfo) -> Result<Document, String> {
        Ok(Document)
    }
}

impl DocumentWriter for Document {
    fn document_type(&self) -> DocumentType {
        DocumentType::new("txt", "text/plain")
    }

    fn write_series(&mut self, batch: Vec<Series>) -> Result<Vec<u8>, String> {
        Ok(batch
            .iter()
            .map(|s| format!("{} {}\n", s.metric, s.values.len()))
            .collect::<String>()
            .into_bytes())
    }

    fn write_alerts(&mut self, _batch: Vec<Alert>) -> Result<Vec<u8>, String> {
        Err("the fixture fails halfway, as told".to_owned())
    }

    fn finish(&mut self) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
}

export_exporter!(FailHalfway);
