//! The HTTP surface on one port: OTLP/HTTP ingest (`/v1/traces`, `/v1/metrics`,
//! `/v1/logs`), the query API (`/api/v1/...`), `/healthz` and `/readyz`.

use crate::query::{Cursor, DEFAULT_LIMIT, MAX_LIMIT, now_ns, parse_time};
use crate::rows::{self, Batch};
use crate::store::{LogQuery, Store, StoreError, StoredLog, TraceQuery, rfc3339};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
use serde_json::json;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

/// Request size limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body as sent (compressed), in bytes. Default 16 MiB.
    pub max_body_bytes: usize,
    /// Largest body after decompression, in bytes. Default 64 MiB.
    pub max_decompressed_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// Where data goes.
    pub store: Arc<dyn Store>,
    /// Request limits.
    pub limits: Limits,
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/v1/traces", post(ingest::<ExportTraceServiceRequest>))
        .route("/v1/metrics", post(ingest::<ExportMetricsServiceRequest>))
        .route("/v1/logs", post(ingest::<ExportLogsServiceRequest>))
        .layer(DefaultBodyLimit::max(body_limit))
        .route("/api/v1/traces", get(list_traces))
        .route("/api/v1/traces/{trace_id}", get(get_trace))
        .route("/api/v1/services", get(services))
        .route("/api/v1/logs", get(logs))
        .route("/api/v1/events", get(events))
        .route("/api/v1/stats", get(stats))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(state)
}

/// Every error a client can get. Internal details go to the log, never to the client,
/// and the client's payload is never echoed back.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with a readable reason.
    BadRequest(String),
    /// 404.
    NotFound(&'static str),
    /// 413.
    TooLarge(&'static str),
    /// 415.
    UnsupportedMediaType,
    /// 503 with `Retry-After`.
    Overloaded,
    /// 500; the detail is logged.
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Overloaded | StoreError::Unavailable => ApiError::Overloaded,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found")),
            ApiError::TooLarge(what) => (StatusCode::PAYLOAD_TOO_LARGE, what.to_string()),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/x-protobuf or application/json".to_string(),
            ),
            ApiError::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy; retry later".to_string(),
            ),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_string(),
                )
            }
        };
        let mut resp = (status, axum::Json(json!({ "error": message }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// Decompresses with a cap, so a decompression bomb is refused with 413 instead of
/// filling memory.
fn decompress(headers: &HeaderMap, body: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let enc = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let reader: Box<dyn Read + '_> = match enc.as_str() {
        "identity" | "" => return Ok(body.to_vec()),
        "gzip" => Box::new(flate2::read::GzDecoder::new(body)),
        "zstd" => Box::new(
            zstd::stream::read::Decoder::new(body)
                .map_err(|_| ApiError::BadRequest("invalid zstd body".into()))?,
        ),
        _ => {
            return Err(ApiError::BadRequest(format!(
                "unsupported Content-Encoding {enc:?}; use gzip or zstd"
            )));
        }
    };
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| ApiError::BadRequest(format!("the {enc} body could not be decompressed")))?;
    if out.len() > limit {
        return Err(ApiError::TooLarge(
            "the decompressed body is larger than the server accepts",
        ));
    }
    Ok(out)
}

fn decode<T: Message + Default + serde::de::DeserializeOwned>(
    enc: Encoding,
    body: &[u8],
) -> Result<T, ApiError> {
    match enc {
        Encoding::Protobuf => {
            T::decode(body).map_err(|e| ApiError::BadRequest(format!("invalid protobuf: {e}")))
        }
        Encoding::Json => serde_json::from_slice(body).map_err(|e| {
            // serde_json's message names line and column, never the content.
            ApiError::BadRequest(format!("invalid OTLP JSON: {e}"))
        }),
    }
}

fn reply<T: Message + serde::Serialize>(enc: Encoding, message: &T) -> Response {
    match enc {
        Encoding::Protobuf => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            )],
            message.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => {
            // Absent fields are omitted, as OTLP JSON writers do, rather than sent as null.
            let mut v = serde_json::to_value(message).unwrap_or_default();
            if let serde_json::Value::Object(map) = &mut v {
                map.retain(|_, field| !field.is_null());
            }
            axum::Json(v).into_response()
        }
    }
}

/// The body, or the reason it could not be read (too large: 413).
type Body = Result<Bytes, BytesRejection>;

fn body_bytes(body: Body) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge("the request body is larger than the server accepts")
        } else {
            ApiError::BadRequest("the request body could not be read".into())
        }
    })
}

async fn store_batch(state: &AppState, batch: Batch) -> Result<(), ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.insert(batch))
        .await
        .map_err(|e| ApiError::Internal(format!("writer task failed: {e}")))??;
    Ok(())
}

async fn prepare<T: Message + Default + serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Encoding, T), ApiError> {
    let enc = encoding(headers)?;
    let body = body_bytes(body)?;
    let raw = decompress(headers, &body, state.limits.max_decompressed_bytes)?;
    Ok((enc, decode::<T>(enc, &raw)?))
}

/// An OTLP export request the server ingests: how it becomes rows, and its response.
trait OtlpRequest: Message + Default + serde::de::DeserializeOwned + Send + 'static {
    /// The export response message.
    type Response: Message + serde::Serialize;
    /// The rows to store (and what was refused).
    fn rows(&self) -> Batch;
    /// The response, carrying partial success when items were refused.
    fn response(rejected: u64, message: Option<String>) -> Self::Response;
}

impl OtlpRequest for ExportTraceServiceRequest {
    type Response = ExportTraceServiceResponse;
    fn rows(&self) -> Batch {
        rows::from_traces(self)
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
    type Response = ExportLogsServiceResponse;
    fn rows(&self) -> Batch {
        rows::from_logs(self)
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
    type Response = ExportMetricsServiceResponse;
    fn rows(&self) -> Batch {
        rows::from_metrics(self)
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

/// One handler for the three OTLP/HTTP paths: decode, convert, store (answering only
/// after commit), reply in the request's encoding.
async fn ingest<T: OtlpRequest>(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (enc, req) = prepare::<T>(&state, &headers, body).await?;
    let batch = req.rows();
    let (rejected, message) = (batch.rejected, batch.rejection.clone());
    store_batch(&state, batch).await?;
    Ok(reply(enc, &T::response(rejected, message)))
}

async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    Ok(tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))??)
}

async fn get_trace(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
) -> Result<Response, ApiError> {
    let trace_id = trace_id.to_ascii_lowercase();
    if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest(
            "trace_id must be 32 hexadecimal digits".into(),
        ));
    }
    let id = trace_id.clone();
    let spans = blocking(&state, move |s| s.trace(&id)).await?;
    if spans.is_empty() {
        return Err(ApiError::NotFound("trace"));
    }
    let spans: Vec<serde_json::Value> = spans
        .into_iter()
        .map(|s| {
            json!({
                "trace_id": s.trace_id,
                "span_id": s.span_id,
                "parent_span_id": if s.parent_span_id.is_empty() { serde_json::Value::Null } else { s.parent_span_id.into() },
                "name": s.name,
                "service_name": s.service_name,
                "kind": s.kind,
                // Strings: nanosecond timestamps do not fit a JavaScript number.
                "start_time_unix_nano": s.start_time_unix_nano.to_string(),
                "end_time_unix_nano": s.end_time_unix_nano.to_string(),
                "status_code": s.status_code,
                "status_message": s.status_message,
                "attributes": parse_json(&s.attributes),
                "events": parse_json(&s.events),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "trace_id": trace_id, "spans": spans })).into_response())
}

/// Stored JSON text back to a value (what the store wrote is always valid JSON).
fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

fn severity(value: &str) -> Option<i32> {
    match value.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(1),
        "debug" => Some(5),
        "info" => Some(9),
        "warn" | "warning" => Some(13),
        "error" => Some(17),
        "fatal" => Some(21),
        n => n.parse().ok().filter(|n| (0..=24).contains(n)),
    }
}

/// Refuses parameters a listing does not know, so a typo never returns unfiltered data.
fn check_parameters(params: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::BadRequest(format!(
            "unknown parameter {unknown:?}; expected one of {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

fn limit_parameter(params: &HashMap<String, String>) -> Result<usize, ApiError> {
    match params
        .get("limit")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "limit: expected a whole number from 1 to {MAX_LIMIT}"
                ))
            }),
    }
}

fn cursor_parameter(params: &HashMap<String, String>) -> Result<Option<Cursor>, ApiError> {
    params
        .get("cursor")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|c| {
            Cursor::decode(c).ok_or_else(|| {
                ApiError::BadRequest("cursor: not a cursor this server gave out".into())
            })
        })
        .transpose()
}

fn trace_query(params: &HashMap<String, String>) -> Result<TraceQuery, ApiError> {
    check_parameters(
        params,
        &[
            "service",
            "name",
            "status",
            "min_duration_ms",
            "from",
            "to",
            "limit",
            "cursor",
        ],
    )?;
    let now = now_ns();
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let time = |k: &str| {
        get(k)
            .map(|v| parse_time(k, v, now))
            .transpose()
            .map_err(ApiError::BadRequest)
    };
    Ok(TraceQuery {
        service: get("service").map(str::to_string),
        name: get("name").map(str::to_string),
        status_code: get("status")
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "unset" => Ok(0),
                "ok" => Ok(1),
                "error" => Ok(2),
                _ => Err(ApiError::BadRequest(
                    "status: expected unset, ok or error".into(),
                )),
            })
            .transpose()?,
        min_duration_ns: get("min_duration_ms")
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|ms| ms.is_finite() && *ms >= 0.0)
                    .map(|ms| (ms * 1e6) as u64)
                    .ok_or_else(|| {
                        ApiError::BadRequest(
                            "min_duration_ms: expected a number of milliseconds".into(),
                        )
                    })
            })
            .transpose()?,
        from: time("from")?,
        to: time("to")?,
        limit: limit_parameter(params)?,
        cursor: cursor_parameter(params)?,
    })
}

async fn list_traces(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let query = trace_query(&params)?;
    let page = blocking(&state, move |s| s.traces(&query)).await?;
    let items: Vec<serde_json::Value> = page
        .items
        .into_iter()
        .map(|t| {
            let r = t.root;
            json!({
                "trace_id": r.trace_id,
                "root_span_id": r.span_id,
                "name": r.name,
                "service_name": r.service_name,
                "start_time": rfc3339(r.start_time_unix_nano),
                "start_time_unix_nano": r.start_time_unix_nano.to_string(),
                "duration_ms": (r.end_time_unix_nano - r.start_time_unix_nano) as f64 / 1e6,
                "status_code": r.status_code,
                "span_count": t.span_count,
            })
        })
        .collect();
    Ok(
        axum::Json(
            json!({ "items": items, "next_cursor": page.next.as_ref().map(Cursor::encode) }),
        )
        .into_response(),
    )
}

/// Reads list parameters; an unknown parameter is refused so that a typo never
/// silently returns unfiltered data.
fn log_query(params: &HashMap<String, String>, events: bool) -> Result<LogQuery, ApiError> {
    let allowed: &[&str] = if events {
        &["name", "service", "from", "to", "limit", "cursor"]
    } else {
        &[
            "service",
            "severity_min",
            "q",
            "trace_id",
            "from",
            "to",
            "limit",
            "cursor",
        ]
    };
    check_parameters(params, allowed)?;
    let now = now_ns();
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let time = |k: &str| {
        get(k)
            .map(|v| parse_time(k, v, now))
            .transpose()
            .map_err(ApiError::BadRequest)
    };
    let limit = limit_parameter(params)?;
    Ok(LogQuery {
        service: get("service").map(str::to_string),
        severity_min: get("severity_min")
            .map(|v| {
                severity(v).ok_or_else(|| {
                    ApiError::BadRequest(
                        "severity_min: expected a severity name or number 0-24".into(),
                    )
                })
            })
            .transpose()?,
        // Search text is taken as given: its spaces matter.
        text: params.get("q").filter(|v| !v.is_empty()).cloned(),
        trace_id: get("trace_id").map(str::to_ascii_lowercase),
        events_only: events,
        event_name: get("name").map(str::to_string),
        from: time("from")?,
        to: time("to")?,
        limit,
        cursor: cursor_parameter(params)?,
    })
}

fn log_item(l: StoredLog) -> serde_json::Value {
    let r = l.row;
    json!({
        "time": rfc3339(r.time_unix_nano),
        "time_unix_nano": r.time_unix_nano.to_string(),
        "service_name": r.service_name,
        "severity_number": r.severity_number,
        "severity_text": r.severity_text,
        "body": r.body,
        "event_name": r.event_name,
        "trace_id": r.trace_id,
        "span_id": r.span_id,
        "attributes": parse_json(&r.attributes),
    })
}

async fn list_logs(state: AppState, query: LogQuery) -> Result<Response, ApiError> {
    let page = blocking(&state, move |s| s.logs(&query)).await?;
    Ok(axum::Json(json!({
        "items": page.items.into_iter().map(log_item).collect::<Vec<_>>(),
        "next_cursor": page.next.as_ref().map(Cursor::encode),
    }))
    .into_response())
}

async fn logs(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let query = log_query(&params, false)?;
    list_logs(state, query).await
}

async fn events(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let query = log_query(&params, true)?;
    list_logs(state, query).await
}

async fn services(State(state): State<AppState>) -> Result<Response, ApiError> {
    let names = blocking(&state, |s| s.services()).await?;
    Ok(axum::Json(json!({ "items": names, "next_cursor": null })).into_response())
}

async fn stats(State(state): State<AppState>) -> Result<Response, ApiError> {
    let stats = blocking(&state, |s| s.stats()).await?;
    Ok(axum::Json(stats).into_response())
}

async fn ready(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    blocking(&state, |s| s.stats().map(|_| ())).await?;
    Ok("ready")
}
