//! JSON-lines exporter: one OTLP JSON export request per line, to a file (appended)
//! or to standard output. The lines are what the OpenTelemetry Collector's
//! `otlpjsonfile` receiver reads.

use super::{ExportError, ExportOutcome, Exporter};
use automagik_telemetry_core::SignalRequest;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// Writes OTLP JSON lines to any writer.
pub struct JsonLinesExporter<W: Write + Send + 'static> {
    out: W,
    name: &'static str,
}

impl JsonLinesExporter<BufWriter<File>> {
    /// Appends to the file at `path`, creating it (and its folder) if needed.
    pub fn file(path: &Path) -> io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLinesExporter {
            out: BufWriter::new(f),
            name: "file",
        })
    }
}

impl JsonLinesExporter<io::Stdout> {
    /// Writes to standard output.
    pub fn stdout() -> Self {
        JsonLinesExporter {
            out: io::stdout(),
            name: "stdout",
        }
    }
}

impl<W: Write + Send + 'static> JsonLinesExporter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        JsonLinesExporter {
            out,
            name: "json-lines",
        }
    }

    /// The writer, for inspection.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send + 'static> Exporter for JsonLinesExporter<W> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn export(
        &mut self,
        request: &SignalRequest,
        _deadline: Instant,
    ) -> Result<ExportOutcome, ExportError> {
        let mut line = request.encode_json();
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.out.flush()?;
        Ok(ExportOutcome::default())
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        Ok(self.out.flush()?)
    }
}
