//! The OTLP ingest path both receivers share, whatever the transport: decompression
//! within the size limit, the cost of the request measured on its bytes before it is
//! decoded (items, and a bound of the memory its decoded form takes: `cost.rs`),
//! decoding (protobuf or OTLP JSON), redaction of the decoded request
//! ([`crate::redaction`]), the rows a request becomes, the store write (answered only
//! after commit) and the counting of each outcome. The limits are
//! [`Limits`]; their documentation gives the bound on what one request may cost.
//!
//! Errors are [`IngestError`]s: `http::otlp` maps them to HTTP status codes and `grpc`
//! to gRPC codes. Their messages name what is wrong with a request, never its content.

mod cost;
mod json_names;
pub mod temporality;
pub mod time_range;

use crate::genai::GenAiIngest;
use crate::redaction::IngestRedactor;
use crate::refusal::ItemRefusal;
use crate::rows::{self, Batch};
use crate::server_metrics::ServerMetrics;
use crate::store::{Store, StoreError};
use automagik_telemetry_core::exponential;
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
use prost::bytes::Bytes;
use std::io::Read;
use std::sync::Arc;
use temporality::Temporality;

/// Why a request was not ingested.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The body cannot be read, decompressed or decoded; the reason is readable and
    /// safe to send (HTTP 400, gRPC `INVALID_ARGUMENT`).
    #[error("{0}")]
    Malformed(String),
    /// The body, as sent or decompressed, or what it would cost once decoded (its items,
    /// its memory), is over the server's [`Limits`]; the message names the limit (HTTP
    /// 413, gRPC `INVALID_ARGUMENT`: neither is retried).
    #[error("{0}")]
    TooLarge(String),
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

impl From<cost::Refused> for IngestError {
    fn from(refused: cost::Refused) -> Self {
        match refused {
            cost::Refused::OverLimit(m) => IngestError::TooLarge(m),
            cost::Refused::Malformed(m) => IngestError::Malformed(m),
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

fn decompressed_too_large(limit: usize) -> IngestError {
    IngestError::TooLarge(format!(
        "the decompressed body is larger than the server accepts ({limit} bytes)"
    ))
}

/// Decompresses with a cap, so a decompression bomb is refused as too large instead of
/// filling memory; `None` for an uncompressed body (within the cap), which is used as
/// it is.
///
/// gzip: every member of a multi-member body (as `gzip` and `cat a.gz b.gz` write);
/// bytes after the last member that are not another member are an error, as for
/// `gunzip`. zstd: every frame; bytes after the last frame that are not one are an
/// error.
///
/// Public, and hidden from the documentation, for the fuzz targets (`fuzz/`): the
/// receivers reach it through [`decode_body`].
#[doc(hidden)]
pub fn decompress(
    compression: &str,
    body: &[u8],
    limit: usize,
) -> Result<Option<Vec<u8>>, IngestError> {
    let enc = compression.trim().to_ascii_lowercase();
    let reader: Box<dyn Read + '_> = match enc.as_str() {
        "identity" | "" if body.len() > limit => return Err(decompressed_too_large(limit)),
        "identity" | "" => return Ok(None),
        "gzip" => Box::new(flate2::read::MultiGzDecoder::new(body)),
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
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| IngestError::Malformed(format!("the {enc} body could not be decompressed")))?;
    if out.len() > limit {
        return Err(decompressed_too_large(limit));
    }
    Ok(Some(out))
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

/// Decodes a decompressed body, once its cost has been measured on its bytes and found
/// within `limits` ([`Limits::max_items`], [`Limits::max_decoded_bytes`]): a request
/// over them is refused before any of it is decoded. What the gRPC receiver calls on a
/// message tonic has read and decompressed.
pub fn decode_within<T: OtlpRequest>(
    encoding: Encoding,
    raw: &[u8],
    limits: &Limits,
) -> Result<T, IngestError> {
    let normalized = normalized(encoding, raw);
    decode_measured(encoding, normalized.as_deref().unwrap_or(raw), limits)
}

/// [`decode_within`] of a body already in the form the decoder reads.
fn decode_measured<T: OtlpRequest>(
    encoding: Encoding,
    raw: &[u8],
    limits: &Limits,
) -> Result<T, IngestError> {
    let cost = cost_of::<T>(encoding, raw, limits)?;
    tracing::trace!(
        signal = T::SIGNAL,
        bytes = raw.len(),
        items = cost.items,
        messages = cost.messages,
        decoded_bytes = cost.decoded_bytes,
        "request measured"
    );
    decode(encoding, raw)
}

/// [`decode_within`]'s rewrite of OTLP JSON written with proto field names or enum
/// names (`json_names`), `None` when the body is read as it is. Public, and hidden from
/// the documentation, for the fuzz targets, whose decoder-alone check reads what the
/// server's decoder reads.
#[doc(hidden)]
pub fn normalize_json(raw: &[u8]) -> Option<Vec<u8>> {
    json_names::normalize(raw)
}

/// OTLP JSON with proto field names or enum values by name, rewritten into the form the
/// decoder reads (`json_names`); `None` when the body is read as it is. The copy is never
/// longer than the body, and lives until the request is decoded.
fn normalized(encoding: Encoding, raw: &[u8]) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Json => json_names::normalize(raw),
        Encoding::Protobuf => None,
    }
}

/// What a decompressed body costs, measured on its bytes before it is decoded and
/// refused as soon as it passes `limits`.
fn cost_of<T: OtlpRequest>(
    encoding: Encoding,
    raw: &[u8],
    limits: &Limits,
) -> Result<cost::Cost, IngestError> {
    Ok(match encoding {
        Encoding::Protobuf => cost::protobuf(T::SIGNAL, raw, limits)?,
        Encoding::Json => cost::json(T::SIGNAL, raw, limits)?,
    })
}

/// The measure [`decode_within`] takes of a decompressed body before decoding it: the
/// items it holds (spans, span events, span links, log records, metric data points)
/// and the bound of the memory its decoded form takes, in bytes; refused as
/// [`decode_within`] refuses it when it passes `limits` or is malformed.
///
/// Public, and hidden from the documentation, for the fuzz targets (`fuzz/`), which
/// check the measure against what the decoder builds.
#[doc(hidden)]
pub fn measure<T: OtlpRequest>(
    encoding: Encoding,
    raw: &[u8],
    limits: &Limits,
) -> Result<(u64, u64), IngestError> {
    let normalized = normalized(encoding, raw);
    let cost = cost_of::<T>(encoding, normalized.as_deref().unwrap_or(raw), limits)?;
    Ok((cost.items, cost.decoded_bytes))
}

/// Decodes a body as received: `compression` (`identity`, `gzip` or `zstd`; case and
/// surrounding spaces ignored) over `encoding`, within `limits` (decompressed size,
/// items, decoded memory). A compressed body is released once decompressed, before the
/// request is decoded.
pub fn decode_body<T: OtlpRequest>(
    encoding: Encoding,
    compression: &str,
    body: Bytes,
    limits: &Limits,
) -> Result<T, IngestError> {
    let raw = match decompress(compression, &body, limits.max_decompressed_bytes)? {
        None => body,
        Some(raw) => {
            drop(body);
            Bytes::from(raw)
        }
    };
    // The rewritten body replaces the decompressed one before decoding starts, so the
    // bound on what a request takes while decoded stays the same.
    let raw = match normalized(encoding, &raw) {
        None => raw,
        Some(rewritten) => {
            drop(raw);
            Bytes::from(rewritten)
        }
    };
    decode_measured(encoding, &raw, limits)
}

/// An OTLP export request the server ingests: how it is redacted, how it becomes rows,
/// and its response.
pub trait OtlpRequest: Message + Default + serde::de::DeserializeOwned + Send + 'static {
    /// `traces`, `metrics` or `logs`.
    const SIGNAL: &'static str;
    /// The export response message.
    type Response: Message + serde::Serialize + 'static;
    /// Redacts the request in place with `redactor`, counting replacements in `metrics`.
    fn redact(&mut self, redactor: &IngestRedactor, metrics: &ServerMetrics);
    /// Cuts prompts and completions to `genai`'s size cap (never drops an item).
    fn truncate_content(&mut self, _genai: &GenAiIngest) {}
    /// The rows to store (and what was refused); the request itself becomes the
    /// batch's accepted request, without a copy.
    fn into_rows(self) -> Batch;
    /// The response, carrying partial success when items were refused.
    fn response(rejected: u64, message: Option<String>) -> Self::Response;
    /// Removes the items whose timestamps are refused ([`time_range`]) at `now`; returns
    /// why each was refused.
    fn refuse_times(&mut self, now: u64) -> Vec<String>;
    /// The request as a metrics request, whose points are normalised before they are
    /// stored (cumulative to increases, exponential histograms to explicit buckets).
    fn as_metrics_mut(&mut self) -> Option<&mut ExportMetricsServiceRequest> {
        None
    }
}

impl OtlpRequest for ExportTraceServiceRequest {
    const SIGNAL: &'static str = "traces";
    fn refuse_times(&mut self, now: u64) -> Vec<String> {
        time_range::traces(self, now)
    }
    type Response = ExportTraceServiceResponse;
    fn redact(&mut self, redactor: &IngestRedactor, metrics: &ServerMetrics) {
        redactor.traces(self, metrics);
    }
    fn truncate_content(&mut self, genai: &GenAiIngest) {
        genai.truncate_traces(self);
    }
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
    fn refuse_times(&mut self, now: u64) -> Vec<String> {
        time_range::logs(self, now)
    }
    type Response = ExportLogsServiceResponse;
    fn redact(&mut self, redactor: &IngestRedactor, metrics: &ServerMetrics) {
        redactor.logs(self, metrics);
    }
    fn truncate_content(&mut self, genai: &GenAiIngest) {
        genai.truncate_logs(self);
    }
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
    fn refuse_times(&mut self, now: u64) -> Vec<String> {
        time_range::metrics(self, now)
    }
    type Response = ExportMetricsServiceResponse;
    fn redact(&mut self, redactor: &IngestRedactor, metrics: &ServerMetrics) {
        redactor.metrics(self, metrics);
    }
    fn into_rows(self) -> Batch {
        rows::into_metrics(self)
    }
    fn as_metrics_mut(&mut self) -> Option<&mut ExportMetricsServiceRequest> {
        Some(self)
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

/// Redacts one decoded export request with `redactor`, normalises its metric points
/// (cumulative to increases with `temporality`, exponential histograms to explicit
/// buckets), cuts prompts and completions to `genai`'s cap and prices LLM calls, stores
/// it in `store` (answering only after commit) and counts the outcome in `metrics` (items refused by their category, which also logs them, rate-limited);
/// shared by OTLP/HTTP and OTLP/gRPC. Nothing of the request reaches the store
/// unredacted.
pub async fn store_request<T: OtlpRequest>(
    store: &Arc<dyn Store>,
    metrics: &Arc<ServerMetrics>,
    redactor: &IngestRedactor,
    temporality: &Temporality,
    genai: &GenAiIngest,
    mut req: T,
) -> Result<T::Response, IngestError> {
    // Cut first: the redactor need not read what is not kept.
    req.truncate_content(genai);
    req.redact(redactor, metrics);
    let mut refused: Vec<(ItemRefusal, String)> = req
        .refuse_times(crate::query::now_ns())
        .into_iter()
        .map(|why| (ItemRefusal::TimestampOutOfRange, why))
        .collect();
    let pending = match req.as_metrics_mut() {
        Some(m) => {
            let pending = temporality.begin(m).await;
            refused.extend(
                exponential::check_request(m)
                    .into_iter()
                    .map(|why| (ItemRefusal::InvalidHistogram, why)),
            );
            Some(pending)
        }
        None => None,
    };
    let mut batch = req.into_rows();
    genai.price(&mut batch.llm_calls);
    for (reason, why) in refused {
        batch.reject(reason, why);
    }
    let stored = batch.spans.len() + batch.logs.len() + batch.metric_points.len();
    let (rejected, message) = (batch.rejected, batch.rejection.clone());
    let by_reason = std::mem::take(&mut batch.rejected_by_reason);
    if let Err(e) = store_batch(store, metrics, batch).await {
        metrics.rejected_request(T::SIGNAL, e.reason());
        return Err(e);
    }
    if let Some(pending) = pending {
        pending.commit();
    }
    metrics.accepted(T::SIGNAL, stored as u64);
    for (reason, n) in by_reason {
        metrics.rejected_records(T::SIGNAL, reason, n);
    }
    Ok(T::response(rejected, message))
}

/// What one OTLP request may cost, on both transports and in both encodings: as sent, once
/// decompressed, and once decoded, so that no request within them takes more than a
/// bounded amount of memory. A request over any of them is refused before it is decoded,
/// with a message naming the limit (HTTP 413, gRPC `INVALID_ARGUMENT`, neither retried
/// by OTLP exporters).
///
/// # The bound
///
/// The decoded size is not measured after the fact but bounded before decoding, by a
/// scan of the decompressed bytes (`ingest::cost`): each element of a repeated field is
/// charged twice the size of its struct (a `Vec` grown by pushing holds at most twice
/// its length, and two spare slots and one allocation per non-empty `Vec`), each
/// non-empty string or bytes field its length and one allocation (32 bytes), each
/// repeated number 16 bytes; OTLP JSON is also charged the buffers serde fills for the
/// objects it decodes in two passes (`AnyValue`, `Metric`, `NumberDataPoint`,
/// `Exemplar`). Struct sizes on 64-bit targets: `Span` 264 bytes (the largest),
/// `ExponentialHistogramDataPoint` 208, `LogRecord` 184, `HistogramDataPoint` 176,
/// `Metric` 136, `Link` 104, `NumberDataPoint` 88, `KeyValue` 64, `Event` 64,
/// `AnyValue` 32.
///
/// Worst cases: an empty span is 2 bytes of protobuf (its tag and a zero length) and is
/// charged 528 bytes, 264 per byte on the wire, which is why the decompressed limit alone
/// bounds nothing (64 KB of gzip, 33 million empty spans, decoded into 4.4 GB). With the
/// defaults a request holds at most 100,000 items and its decoded form at most 96 MiB, so
/// while a request is decoded it takes at most 96 MiB plus its decompressed bytes
/// (32 MiB): 128 MiB over HTTP, where the compressed body is released first, and 160 MiB
/// over gRPC, where tonic keeps the compressed message (at most 32 MiB) beside the
/// decompressed one.
/// An ordinary large batch, 10,000 spans with 20 attributes each (about 10 MB of
/// protobuf), is charged about 54 MB and holds 10 % of the items allowed.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body as sent (compressed), in bytes; a larger `Content-Length` is
    /// refused before the body is read. Default 16 MiB.
    pub max_body_bytes: usize,
    /// Largest body after decompression, in bytes (over gRPC, also the largest message
    /// as sent). Default 32 MiB.
    pub max_decompressed_bytes: usize,
    /// Most items one request may hold: spans, span events and span links, log records,
    /// metric data points. Default 100,000.
    pub max_items: usize,
    /// Most memory, in bytes, the decoded request may take, as bounded before decoding
    /// (see "The bound" above). Default 96 MiB.
    pub max_decoded_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 32 * 1024 * 1024,
            max_items: 100_000,
            max_decoded_bytes: 96 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        zstd::encode_all(data, 3).expect("zstd")
    }

    fn refused_as_malformed(result: Result<Option<Vec<u8>>, IngestError>) -> bool {
        matches!(result, Err(IngestError::Malformed(_)))
    }

    #[test]
    fn a_message_written_as_a_json_array_is_refused() {
        // serde reads a struct from a JSON array too; OTLP JSON writes messages as
        // objects, and the measure taken before decoding refuses anything else (found by
        // the otlp_json fuzz target: `[]` as a metrics request).
        for body in [&b"[]"[..], br#"{"resourceMetrics": [[]]}"#] {
            let refused = decode_within::<ExportMetricsServiceRequest>(
                Encoding::Json,
                body,
                &Limits::default(),
            );
            assert!(
                matches!(refused, Err(IngestError::Malformed(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn every_gzip_member_is_decompressed() {
        let body = [gzip(b"first member, "), gzip(b"second member")].concat();
        let out = decompress("gzip", &body, 1024).expect("two members");
        assert_eq!(out.as_deref(), Some(&b"first member, second member"[..]));
    }

    #[test]
    fn bytes_after_the_last_gzip_member_are_refused() {
        let member = gzip(b"a request");
        for trailing in [&b"garbage"[..], &[0x1f][..], &[0x1f, 0x8b][..], &[0][..]] {
            let body = [member.as_slice(), trailing].concat();
            assert!(
                refused_as_malformed(decompress("gzip", &body, 1024)),
                "{trailing:?}"
            );
        }
    }

    #[test]
    fn every_zstd_frame_is_decompressed_and_bytes_after_the_last_refused() {
        let body = [zstd(b"first frame, "), zstd(b"second frame")].concat();
        let out = decompress("zstd", &body, 1024).expect("two frames");
        assert_eq!(out.as_deref(), Some(&b"first frame, second frame"[..]));
        for trailing in [&b"garbage after the frame"[..], &[0x28][..]] {
            let body = [zstd(b"a request").as_slice(), trailing].concat();
            assert!(
                refused_as_malformed(decompress("zstd", &body, 1024)),
                "{trailing:?}"
            );
        }
    }

    #[test]
    fn the_decompressed_cap_holds_across_members_and_for_identity() {
        let half = vec![b'x'; 600];
        let body = [gzip(&half), gzip(&half)].concat();
        assert!(matches!(
            decompress("gzip", &body, 1000),
            Err(IngestError::TooLarge(_))
        ));
        let body = [zstd(&half), zstd(&half)].concat();
        assert!(matches!(
            decompress("zstd", &body, 1000),
            Err(IngestError::TooLarge(_))
        ));
        assert!(matches!(
            decompress("identity", &[0; 1001], 1000),
            Err(IngestError::TooLarge(_))
        ));
        assert_eq!(
            decompress(" Identity ", &[0; 1000], 1000).expect("within"),
            None
        );
    }

    #[test]
    fn a_multi_member_body_decodes_into_one_request() {
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        // Two encoded requests one after the other are one request of both.
        let one = |name: &str| {
            ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![Span {
                            name: name.into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
            .encode_to_vec()
        };
        let body = [gzip(&one("a")), gzip(&one("b"))].concat();
        let req: ExportTraceServiceRequest = decode_body(
            Encoding::Protobuf,
            "gzip",
            Bytes::from(body),
            &Limits::default(),
        )
        .expect("decoded");
        let names: Vec<&str> = req
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
