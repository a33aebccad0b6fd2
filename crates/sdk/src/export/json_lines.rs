//! JSON-lines exporter: one OTLP JSON export request per line, to a file (appended)
//! or to standard output. The lines are what the OpenTelemetry Collector's
//! `otlpjsonfile` receiver reads.

use super::{ExportError, ExportOutcome, Exporter};
use automagik_telemetry_core::SignalRequest;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

/// Writes OTLP JSON lines to any writer.
///
/// Each line goes to the writer in one `write_all` and is flushed before the export
/// counts as done, so nothing of a failed export stays buffered to be written again
/// with its retry. A write that failed part way (a full disk) may leave the start of a
/// line behind: the next line then begins on a line of its own, so that one torn line is
/// the only one a reader cannot decode.
pub struct JsonLinesExporter<W: Write + Send + 'static> {
    out: W,
    name: &'static str,
    torn: bool,
}

impl JsonLinesExporter<File> {
    /// Appends to the file at `path`, creating it (and its folder) if needed; each line
    /// is one write to the file (no buffer in between).
    pub fn file(path: &Path) -> io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLinesExporter {
            out: f,
            name: "file",
            torn: false,
        })
    }
}

impl JsonLinesExporter<io::Stdout> {
    /// Writes to standard output.
    pub fn stdout() -> Self {
        JsonLinesExporter {
            out: io::stdout(),
            name: "stdout",
            torn: false,
        }
    }
}

impl<W: Write + Send + 'static> JsonLinesExporter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        JsonLinesExporter {
            out,
            name: "json-lines",
            torn: false,
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
        if self.torn {
            line.insert(0, b'\n');
        }
        line.push(b'\n');
        let written = self.out.write_all(&line).and_then(|()| self.out.flush());
        self.torn = written.is_err();
        written?;
        Ok(ExportOutcome::default())
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        Ok(self.out.flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

    /// Takes `room` bytes, then fails every write until given more room.
    struct Disk {
        written: Vec<u8>,
        room: usize,
    }

    impl Write for Disk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.room);
            if n == 0 {
                return Err(io::Error::other("no space left on device"));
            }
            self.room -= n;
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_torn_by_a_full_disk_is_the_only_one_lost_and_the_retry_is_written_once() {
        let request = SignalRequest::Logs(ExportLogsServiceRequest::default());
        let line = {
            let mut l = request.encode_json();
            l.push(b'\n');
            l
        };
        let mut exporter = JsonLinesExporter::new(Disk {
            written: Vec::new(),
            room: 3,
        });
        let deadline = Instant::now();
        assert!(
            exporter.export(&request, deadline).is_err(),
            "the disk is full"
        );
        exporter.out.room = usize::MAX;
        exporter.export(&request, deadline).expect("the retry");
        exporter
            .export(&request, deadline)
            .expect("the next export");
        let written = exporter.into_inner().written;
        let mut expected = line[..3].to_vec();
        expected.push(b'\n');
        expected.extend_from_slice(&line);
        expected.extend_from_slice(&line);
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&expected)
        );
    }
}
