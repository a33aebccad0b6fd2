//! The OTLP ingest path both receivers share, whatever the transport: decompression
//! within the size limit, decoding (protobuf or OTLP JSON), the rows a request becomes,
//! the store write (answered only after commit) and the counting of each outcome.
//!
//! Errors are [`IngestError`]s: `http::otlp` maps them to HTTP status codes and `grpc`
//! to gRPC codes. Their messages name what is wrong with a request, never its content.

use crate::rows::{self, Batch};
use crate::server_metrics::ServerMetrics;
use crate::store::{Store, StoreError};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::io::Read;
use std::sync::Arc;

/// Why a request was not ingested.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The body cannot be read, decompressed or decoded; the reason is readable and
    /// safe to send (HTTP 400, gRPC `INVALID_ARGUMENT`).
    #[error("{0}")]
    Malformed(String),
    /// The body, as sent or decompressed, is larger than the server accepts (HTTP 413,
    /// gRPC `RESOURCE_EXHAUSTED`).
    #[error("{0}")]
    TooLarge(&'static str),
    /// The media type is neither OTLP protobuf nor OTLP JSON (HTTP 415).
    #[error("the media type is neither application/x-protobuf nor application/json")]
    UnsupportedMediaType,
    /// The store is busy or unavailable; the client retries later (HTTP 503, gRPC
    /// `RESOURCE_EXHAUSTED` with `RetryInfo`).
    #[error("the server is busy; retry later")]
    Overloaded,
    /// The store or its writer task failed (HTTP 500, gRPC `INTERNAL`); the detail is
    /// for the log, never for the client.
    #[error("{0}")]
    Internal(String),
}

impl IngestError {
    /// The `reason` label of the refused request in the server's metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Malformed(_) => "malformed",
            IngestError::TooLarge(_) => "too_large",
            IngestError::UnsupportedMediaType => "unsupported_media_type",
            IngestError::Overloaded => "overloaded",
            IngestError::Internal(_) => "store_error",
        }
    }
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Overloaded | StoreError::Unavailable => IngestError::Overloaded,
            other => IngestError::Internal(other.to_string()),
        }
    }
}

/// How an export request is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Protobuf.
    Protobuf,
    /// OTLP JSON.
    Json,
}

impl Encoding {
    /// The encoding of a media type (`application/x-protobuf`, `application/protobuf` or
    /// `application/json`; parameters and case ignored).
    pub fn from_media_type(media_type: &str) -> Result<Encoding, IngestError> {
        let mime = media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
            "application/json" => Ok(Encoding::Json),
            _ => Err(IngestError::UnsupportedMediaType),
        }
    }
}

/// Decompresses with a cap, so a decompression bomb is refused as too large instead of
/// filling memory.
fn decompress(compression: &str, body: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let enc = compression.trim().to_ascii_lowercase();
    let reader: Box<dyn Read + '_> = match enc.as_str() {
        "identity" | "" => return Ok(body.to_vec()),
        "gzip" => Box::new(flate2::read::GzDecoder::new(body)),
        "zstd" => Box::new(
            zstd::stream::read::Decoder::new(body)
                .map_err(|_| IngestError::Malformed("invalid zstd body".into()))?,
        ),
        _ => {
            return Err(IngestError::Malformed(format!(
                "unsupported Content-Encoding {enc:?}; use gzip or zstd"
            )));
        }
    };
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| IngestError::Malformed(format!("the {enc} body could not be decompressed")))?;
    if out.len() > limit {
        return Err(IngestError::TooLarge(
            "the decompressed body is larger than the server accepts",
        ));
    }
    Ok(out)
}

fn decode<T: Message + Default + serde::de::DeserializeOwned>(
    enc: Encoding,
    body: &[u8],
) -> Result<T, IngestError> {
    match enc {
        Encoding::Protobuf => {
            T::decode(body).map_err(|e| IngestError::Malformed(format!("invalid protobuf: {e}")))
        }
        Encoding::Json => serde_json::from_slice(body).map_err(|e| {
            // serde_json's message names line and column, never the content.
            IngestError::Malformed(format!("invalid OTLP JSON: {e}"))
        }),
    }
}

/// Decodes a body as received: `compression` (`identity`, `gzip` or `zstd`; case and
/// surrounding spaces ignored) over `encoding`, at most `limit` bytes once
/// decompressed.
pub fn decode_body<T: OtlpRequest>(
    encoding: Encoding,
    compression: &str,
    body: &[u8],
    limit: usize,
) -> Result<T, IngestError> {
    let raw = decompress(compression, body, limit)?;
    decode(encoding, &raw)
}

/// An OTLP export request the server ingests: how it becomes rows, and its response.
pub trait OtlpRequest: Message + Default + serde::de::DeserializeOwned + Send + 'static {
    /// `traces`, `metrics` or `logs`.
    const SIGNAL: &'static str;
    /// The export response message.
    type Response: Message + serde::Serialize;
    /// The rows to store (and what was refused); the request itself becomes the
    /// batch's accepted request, without a copy.
    fn into_rows(self) -> Batch;
    /// The response, carrying partial success when items were refused.
    fn response(rejected: u64, message: Option<String>) -> Self::Response;
}

impl OtlpRequest for ExportTraceServiceRequest {
    const SIGNAL: &'static str = "traces";
    type Response = ExportTraceServiceResponse;
    fn into_rows(self) -> Batch {
        rows::into_traces(self)
    }
    fn response(rejected: u64, message: Option<String>) -> Self::Response {
        ExportTraceServiceResponse {
            partial_success: (rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: rejected as i64,
                error_message: message.unwrap_or_default(),
            }),
        }
    }
}

impl OtlpRequest for ExportLogsServiceRequest {
    const SIGNAL: &'static str = "logs";
    type Response = ExportLogsServiceResponse;
    fn into_rows(self) -> Batch {
        rows::into_logs(self)
    }
    fn response(rejected: u64, message: Option<String>) -> Self::Response {
        ExportLogsServiceResponse {
            partial_success: (rejected > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: rejected as i64,
                error_message: message.unwrap_or_default(),
            }),
        }
    }
}

impl OtlpRequest for ExportMetricsServiceRequest {
    const SIGNAL: &'static str = "metrics";
    type Response = ExportMetricsServiceResponse;
    fn into_rows(self) -> Batch {
        rows::into_metrics(self)
    }
    fn response(rejected: u64, message: Option<String>) -> Self::Response {
        ExportMetricsServiceResponse {
            partial_success: (rejected > 0).then(|| ExportMetricsPartialSuccess {
                rejected_data_points: rejected as i64,
                error_message: message.unwrap_or_default(),
            }),
        }
    }
}

async fn store_batch(
    store: &Arc<dyn Store>,
    metrics: &Arc<ServerMetrics>,
    batch: Batch,
) -> Result<(), IngestError> {
    let store = store.clone();
    let metrics = metrics.clone();
    tokio::task::spawn_blocking(move || {
        let _timer = metrics.write_started();
        store.insert(batch)
    })
    .await
    .map_err(|e| IngestError::Internal(format!("writer task failed: {e}")))??;
    Ok(())
}

/// Stores one decoded export request in `store` (answering only after commit) and
/// counts the outcome in `metrics`; shared by OTLP/HTTP and OTLP/gRPC.
pub async fn store_request<T: OtlpRequest>(
    store: &Arc<dyn Store>,
    metrics: &Arc<ServerMetrics>,
    req: T,
) -> Result<T::Response, IngestError> {
    let batch = req.into_rows();
    let stored = batch.spans.len() + batch.logs.len() + batch.metric_points.len();
    let (rejected, message) = (batch.rejected, batch.rejection.clone());
    if let Err(e) = store_batch(store, metrics, batch).await {
        metrics.rejected_request(T::SIGNAL, e.reason());
        return Err(e);
    }
    metrics.accepted(T::SIGNAL, stored as u64);
    metrics.rejected_records(T::SIGNAL, "invalid_item", rejected);
    Ok(T::response(rejected, message))
}
