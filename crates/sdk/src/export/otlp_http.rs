//! OTLP/HTTP exporter: protobuf (`application/x-protobuf`, the default) or JSON
//! (`application/json`) bodies to `<endpoint>/v1/traces`, `/v1/metrics` and `/v1/logs`,
//! compressed with gzip or zstd above a size threshold, over a blocking HTTP client
//! (no async runtime).

use super::{ExportError, ExportOutcome, Exporter, RetryClass, send, time_left};
use crate::config::{Compression, Config};
use automagik_telemetry_core::proto::tonic::collector::{
    logs::v1::ExportLogsServiceResponse, metrics::v1::ExportMetricsServiceResponse,
    trace::v1::ExportTraceServiceResponse,
};
use automagik_telemetry_core::{Signal, SignalRequest};
use prost::Message;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

/// The body encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (OTLP JSON: hex ids, 64-bit integers as strings).
    Json,
}

impl OtlpEncoding {
    fn content_type(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "application/x-protobuf",
            OtlpEncoding::Json => "application/json",
        }
    }
}

/// Sends OTLP requests over HTTP.
pub struct OtlpHttpExporter {
    agent: ureq::Agent,
    urls: [String; 3],
    encoding: OtlpEncoding,
    compression: Compression,
    threshold: usize,
    headers: Vec<(String, String)>,
    timeout: Duration,
}

impl std::fmt::Debug for OtlpHttpExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpHttpExporter")
            .field("urls", &self.urls)
            .field("encoding", &self.encoding)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

/// Most of a response body read back (partial-success messages are short).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

impl OtlpHttpExporter {
    /// An exporter for the endpoint, compression and headers of `config`.
    pub fn new(config: &Config, encoding: OtlpEncoding) -> Self {
        let agent = super::http_agent(config.timeout);
        OtlpHttpExporter {
            agent,
            urls: [
                config.signal_url(Signal::Traces),
                config.signal_url(Signal::Metrics),
                config.signal_url(Signal::Logs),
            ],
            encoding,
            compression: config.compression,
            threshold: config.compression_threshold,
            headers: config.headers.clone(),
            timeout: config.timeout,
        }
    }

    fn url(&self, signal: Signal) -> &str {
        match signal {
            Signal::Traces => &self.urls[0],
            Signal::Metrics => &self.urls[1],
            Signal::Logs => &self.urls[2],
        }
    }
}

/// Compresses `body` when it is at least `threshold` bytes; returns the body to send
/// and its `Content-Encoding`.
pub fn compress(
    body: Vec<u8>,
    compression: Compression,
    threshold: usize,
) -> std::io::Result<(Vec<u8>, Option<&'static str>)> {
    if body.len() < threshold {
        return Ok((body, None));
    }
    match compression {
        Compression::None => Ok((body, None)),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::default(),
            );
            enc.write_all(&body)?;
            Ok((enc.finish()?, Some("gzip")))
        }
        Compression::Zstd => Ok((zstd::bulk::compress(&body, 3)?, Some("zstd"))),
    }
}

impl Exporter for OtlpHttpExporter {
    fn name(&self) -> &'static str {
        match self.encoding {
            OtlpEncoding::Protobuf => "otlp-http",
            OtlpEncoding::Json => "otlp-http-json",
        }
    }

    fn export(
        &mut self,
        request: &SignalRequest,
        deadline: Instant,
    ) -> Result<ExportOutcome, ExportError> {
        let remaining = time_left(deadline, self.timeout)?;
        let body = match self.encoding {
            OtlpEncoding::Protobuf => request.encode_protobuf(),
            OtlpEncoding::Json => request.encode_json(),
        };
        let (body, encoding) = compress(body, self.compression, self.threshold)?;
        let signal = request.signal();
        let mut req = self
            .agent
            .post(self.url(signal))
            .header("Content-Type", self.encoding.content_type());
        if let Some(enc) = encoding {
            req = req.header("Content-Encoding", enc);
        }
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut response = send(req, &body, remaining)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let is_json = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(partial_success(signal, &bytes, is_json));
        }
        let class = RetryClass::from_http(status, retry_after.as_deref(), SystemTime::now());
        let message = std::str::from_utf8(&bytes)
            .ok()
            .map(|t| t.trim().chars().take(200).collect::<String>())
            .filter(|t| !t.is_empty() && is_json);
        Err(ExportError::Status {
            status,
            class,
            message,
        })
    }
}

/// Reads OTLP partial success from a success response body (protobuf or JSON).
fn partial_success(signal: Signal, body: &[u8], is_json: bool) -> ExportOutcome {
    if body.is_empty() {
        return ExportOutcome::default();
    }
    let (rejected, message) = if is_json {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return ExportOutcome::default();
        };
        let ps = &v["partialSuccess"];
        let field = match signal {
            Signal::Traces => "rejectedSpans",
            Signal::Metrics => "rejectedDataPoints",
            Signal::Logs => "rejectedLogRecords",
        };
        let rejected = match &ps[field] {
            serde_json::Value::Number(n) => n.as_i64().unwrap_or(0),
            serde_json::Value::String(s) => s.parse().unwrap_or(0),
            _ => 0,
        };
        (
            rejected,
            ps["errorMessage"].as_str().unwrap_or_default().to_string(),
        )
    } else {
        match signal {
            Signal::Traces => ExportTraceServiceResponse::decode(body)
                .ok()
                .and_then(|r| r.partial_success)
                .map(|p| (p.rejected_spans, p.error_message)),
            Signal::Metrics => ExportMetricsServiceResponse::decode(body)
                .ok()
                .and_then(|r| r.partial_success)
                .map(|p| (p.rejected_data_points, p.error_message)),
            Signal::Logs => ExportLogsServiceResponse::decode(body)
                .ok()
                .and_then(|r| r.partial_success)
                .map(|p| (p.rejected_log_records, p.error_message)),
        }
        .unwrap_or_default()
    };
    ExportOutcome {
        rejected: u64::try_from(rejected).unwrap_or(0),
        message: Some(message).filter(|m| !m.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn compression_threshold() {
        let small = vec![b'a'; 1023];
        let (out, enc) = compress(small.clone(), Compression::Gzip, 1024).expect("ok");
        assert_eq!((out, enc), (small, None));

        let big = vec![b'a'; 1024];
        let (out, enc) = compress(big.clone(), Compression::Gzip, 1024).expect("ok");
        assert_eq!(enc, Some("gzip"));
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, big);

        let (out, enc) = compress(big.clone(), Compression::Zstd, 0).expect("ok");
        assert_eq!(enc, Some("zstd"));
        assert_eq!(zstd::decode_all(&out[..]).expect("unzstd"), big);

        let (out, enc) = compress(big.clone(), Compression::None, 0).expect("ok");
        assert_eq!((out, enc), (big, None));
    }

    #[test]
    fn partial_success_forms() {
        use automagik_telemetry_core::proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
        let pb = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "bad span".into(),
            }),
        }
        .encode_to_vec();
        assert_eq!(
            partial_success(Signal::Traces, &pb, false),
            ExportOutcome {
                rejected: 3,
                message: Some("bad span".into())
            }
        );
        let json = br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}"#;
        assert_eq!(
            partial_success(Signal::Logs, json, true),
            ExportOutcome {
                rejected: 2,
                message: Some("too old".into())
            }
        );
        assert_eq!(
            partial_success(Signal::Metrics, b"{}", true),
            ExportOutcome::default()
        );
        assert_eq!(
            partial_success(Signal::Metrics, b"", false),
            ExportOutcome::default()
        );
    }
}
