//! The HTTP surface on one port: OTLP/HTTP ingest (`/v1/traces`, `/v1/metrics`,
//! `/v1/logs`), the query API (`/api/v1/...`), Prometheus `/metrics`, `/healthz` and
//! `/readyz`, each group behind its token scope.

use crate::auth::{Auth, Denied, Scope};
use crate::query::{Cursor, DEFAULT_LIMIT, MAX_LIMIT, now_ns, parse_time};
use crate::rollup::{SpanAgg, SpanKey};
use crate::rows::{self, Batch};
use crate::series::{self, Agg};
use crate::server_metrics::ServerMetrics;
use crate::store::{
    LogQuery, RollupQuery, RunQuery, Store, StoreError, StoredLog, StoredRun, TraceQuery, rfc3339,
};
use crate::telemetry;
use crate::ui;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
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
    /// Tokens and their scopes (none: open).
    pub auth: Arc<Auth>,
    /// The server's own metrics.
    pub metrics: Arc<ServerMetrics>,
    /// Alert rules and their states.
    pub alerts: Arc<crate::alerts::Alerts>,
    /// Fleet collection and its newest snapshot.
    pub fleet: Arc<crate::telemetry::Fleet>,
    /// The probed targets' last states (empty without probes).
    pub probes: crate::telemetry::ProbesCollector,
}

impl AppState {
    /// State over `store` with default limits, no tokens and fresh metrics.
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            limits: Limits::default(),
            auth: Arc::new(Auth::default()),
            metrics: Arc::new(ServerMetrics::default()),
            alerts: Arc::new(crate::alerts::Alerts::default()),
            fleet: Arc::new(crate::telemetry::Fleet::default()),
            probes: crate::telemetry::ProbesCollector::default(),
        }
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let scoped = |router: Router<AppState>, scope: Scope| {
        router.route_layer(middleware::from_fn_with_state(
            (state.clone(), scope),
            require_scope,
        ))
    };
    let ingest = Router::new()
        .route("/v1/traces", post(ingest::<ExportTraceServiceRequest>))
        .route("/v1/metrics", post(ingest::<ExportMetricsServiceRequest>))
        .route("/v1/logs", post(ingest::<ExportLogsServiceRequest>))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes));
    let read = Router::new()
        .route("/api/v1/traces", get(list_traces))
        .route("/api/v1/traces/{trace_id}", get(get_trace))
        .route("/api/v1/services", get(services))
        .route("/api/v1/operations", get(operations))
        .route("/api/v1/logs", get(logs))
        .route("/api/v1/events", get(events))
        .route("/api/v1/metrics", get(metric_names))
        .route("/api/v1/metrics/{name}/series", get(metric_series))
        .route("/api/v1/agents/runs", get(list_runs))
        .route("/api/v1/agents/runs/{correlation_id}", get(get_run))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/alerts", get(alerts))
        .route("/telemetry/status", get(telemetry::status))
        .route("/telemetry/history", get(telemetry::history))
        .route("/api/v1/overview", get(ui::overview))
        .route("/api/v1/overview/chart.svg", get(ui::overview_chart))
        .route("/api/v1/metrics/{name}/chart.svg", get(ui::metric_chart))
        .route("/api/v1/probes", get(ui::probes))
        .route("/api/v1/probes/graph.svg", get(ui::probe_graph));
    let admin = Router::new()
        .route("/metrics", get(prometheus))
        .route("/telemetry/collect", post(telemetry::collect));
    Router::new()
        .merge(scoped(ingest, Scope::Ingest))
        .merge(scoped(read, Scope::Read))
        .merge(scoped(admin, Scope::Admin))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/telemetry/public", get(telemetry::public))
        .merge(ui::pages())
        .with_state(state)
}

/// Refuses a request whose bearer token is missing, unknown (401) or lacks the scope
/// of its route (403).
async fn require_scope(
    State((state, scope)): State<(AppState, Scope)>,
    req: Request,
    next: Next,
) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let checked = state.auth.check(header, scope);
    if checked.is_err() && scope == Scope::Ingest {
        let signal = match req.uri().path() {
            "/v1/traces" => "traces",
            "/v1/metrics" => "metrics",
            _ => "logs",
        };
        state.metrics.rejected_request(signal, "unauthorized");
    }
    match checked {
        Ok(()) => next.run(req).await,
        Err(Denied::Unauthenticated) => {
            let mut resp = ApiError::Unauthorized.into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"automagik-telemetry\""),
            );
            resp
        }
        Err(Denied::Forbidden) => ApiError::Forbidden(scope).into_response(),
    }
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
    /// 401: no token or an unknown one.
    Unauthorized,
    /// 403: the token lacks this scope.
    Forbidden(Scope),
    /// 503 with `Retry-After`.
    Overloaded,
    /// 429 with `Retry-After` in seconds.
    RateLimited(u64),
    /// 500; the detail is logged.
    Internal(String),
}

impl ApiError {
    /// The reason label of a refused ingest request.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) | ApiError::NotFound(_) => "malformed",
            ApiError::TooLarge(_) => "too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unauthorized | ApiError::Forbidden(_) => "unauthorized",
            ApiError::Overloaded | ApiError::RateLimited(_) => "overloaded",
            ApiError::Internal(_) => "store_error",
        }
    }
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
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required".to_string(),
            ),
            ApiError::Forbidden(scope) => (
                StatusCode::FORBIDDEN,
                format!("this token lacks the {scope:?} scope").to_ascii_lowercase(),
            ),
            ApiError::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy; retry later".to_string(),
            ),
            ApiError::RateLimited(seconds) => {
                let mut resp = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({ "error": "too many requests; retry later" })),
                )
                    .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
                return resp;
            }
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
    let metrics = state.metrics.clone();
    tokio::task::spawn_blocking(move || {
        let _timer = metrics.write_started();
        store.insert(batch)
    })
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
pub(crate) trait OtlpRequest:
    Message + Default + serde::de::DeserializeOwned + Send + 'static
{
    /// `traces`, `metrics` or `logs`.
    const SIGNAL: &'static str;
    /// The export response message.
    type Response: Message + serde::Serialize;
    /// The rows to store (and what was refused).
    fn rows(&self) -> Batch;
    /// The response, carrying partial success when items were refused.
    fn response(rejected: u64, message: Option<String>) -> Self::Response;
}

impl OtlpRequest for ExportTraceServiceRequest {
    const SIGNAL: &'static str = "traces";
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
    const SIGNAL: &'static str = "logs";
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
    const SIGNAL: &'static str = "metrics";
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

/// Stores one decoded export request (answering only after commit) and counts the
/// outcome; shared by OTLP/HTTP and OTLP/gRPC.
pub(crate) async fn ingest_request<T: OtlpRequest>(
    state: &AppState,
    req: T,
) -> Result<T::Response, ApiError> {
    let batch = req.rows();
    let stored = batch.spans.len() + batch.logs.len() + batch.metric_points.len();
    let (rejected, message) = (batch.rejected, batch.rejection.clone());
    if let Err(e) = store_batch(state, batch).await {
        state.metrics.rejected_request(T::SIGNAL, e.reason());
        return Err(e);
    }
    state.metrics.accepted(T::SIGNAL, stored as u64);
    state
        .metrics
        .rejected_records(T::SIGNAL, "invalid_item", rejected);
    Ok(T::response(rejected, message))
}

/// One handler for the three OTLP/HTTP paths: decode, store, reply in the request's
/// encoding.
async fn ingest<T: OtlpRequest>(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (enc, req) = prepare::<T>(&state, &headers, body)
        .await
        .inspect_err(|e| state.metrics.rejected_request(T::SIGNAL, e.reason()))?;
    let response = ingest_request(&state, req).await?;
    Ok(reply(enc, &response))
}

pub(crate) async fn blocking<T: Send + 'static>(
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

/// A query parameter, trimmed; absent when missing or blank.
fn param<'a>(params: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A time parameter (RFC 3339 or relative to `now`), if given.
fn time_param(
    params: &HashMap<String, String>,
    key: &str,
    now: u64,
) -> Result<Option<u64>, ApiError> {
    param(params, key)
        .map(|v| parse_time(key, v, now))
        .transpose()
        .map_err(ApiError::BadRequest)
}

/// Refuses parameters a listing does not know, so a typo never returns unfiltered data.
pub(crate) fn check_parameters(
    params: &HashMap<String, String>,
    allowed: &[&str],
) -> Result<(), ApiError> {
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
    let get = |k: &str| param(params, k);
    let time = |k: &str| time_param(params, k, now);
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
    let get = |k: &str| param(params, k);
    let time = |k: &str| time_param(params, k, now);
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

async fn alerts(State(state): State<AppState>) -> Response {
    let items: Vec<serde_json::Value> = state
        .alerts
        .list()
        .into_iter()
        .map(|a| {
            json!({
                "name": a.rule.name,
                "metric": a.rule.metric,
                "where": a.rule.filter.as_ref().map(|(k, v)| format!("{k}={v}")),
                "reduce": a.rule.reduce,
                "condition": a.rule.comparison,
                "threshold": a.rule.threshold,
                "window_seconds": a.rule.window_ns as f64 / 1e9,
                "for_seconds": a.rule.for_ns as f64 / 1e9,
                "severity": a.rule.severity,
                "state": a.state,
                "value": a.value,
                "since": a.since_unix_nano.map(rfc3339),
                "evaluated": a.evaluated_unix_nano.map(rfc3339),
            })
        })
        .collect();
    axum::Json(json!({ "items": items })).into_response()
}

async fn ready(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    blocking(&state, |s| s.ready()).await?;
    Ok("ready")
}

/// Reads `from` and `to` (defaults: the last hour) and checks their order.
pub(crate) fn time_range(
    params: &HashMap<String, String>,
    default_span_ns: u64,
) -> Result<(u64, u64), ApiError> {
    let now = now_ns();
    let to = time_param(params, "to", now)?.unwrap_or(now);
    let from = time_param(params, "from", now)?.unwrap_or(to.saturating_sub(default_span_ns));
    if from > to {
        return Err(ApiError::BadRequest("from must not be after to".into()));
    }
    Ok((from, to))
}

/// The `step` parameter in ns; without one, about 120 steps over `range_ns` in whole
/// `unit_ns`.
pub(crate) fn step_param(
    params: &HashMap<String, String>,
    range_ns: u64,
    unit_ns: u64,
) -> Result<u64, ApiError> {
    Ok(
        match params
            .get("step")
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            Some(v) => automagik_telemetry_core::parse::parse_duration("step", v)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?
                .as_nanos()
                .try_into()
                .unwrap_or(u64::MAX),
            None => (range_ns / 120).div_ceil(unit_ns).max(1) * unit_ns,
        },
    )
}

/// Refuses a step that would cut `range_ns` into more than 10,000 points.
pub(crate) fn check_point_count(range_ns: u64, step_ns: u64) -> Result<(), ApiError> {
    if range_ns / step_ns > 10_000 {
        return Err(ApiError::BadRequest(
            "step: too small for the range (more than 10000 points)".into(),
        ));
    }
    Ok(())
}

pub(crate) const HOUR_NS: u64 = 3_600_000_000_000;
pub(crate) const MINUTE_NS: u64 = 60_000_000_000;
/// Raw points a grouped series reads at most.
pub(crate) const MAX_SERIES_POINTS: usize = 200_000;

/// The span rollups that serve `from..to`, in seconds: minute rows up to two days,
/// hourly rows beyond.
pub(crate) fn span_resolution(from: u64, to: u64) -> u32 {
    if to - from <= 48 * HOUR_NS { 60 } else { 3600 }
}

/// The span rollup rows covering `from..to` (of `service`, if given) at
/// [`span_resolution`]. Returns the resolution in seconds, the start of the first
/// bucket, and the rows.
pub(crate) async fn span_rollups(
    state: &AppState,
    from: u64,
    to: u64,
    service: Option<String>,
) -> Result<(u32, u64, Vec<(SpanKey, SpanAgg)>), ApiError> {
    let resolution = span_resolution(from, to);
    let res_ns = u64::from(resolution) * 1_000_000_000;
    let q = RollupQuery {
        resolution,
        from: from - from % res_ns,
        to,
        service,
        name: None,
    };
    let aligned = q.from;
    let rows = blocking(state, move |s| s.span_rollups(&q)).await?;
    Ok((resolution, aligned, rows))
}

/// Per-operation span counts, errors and latency percentiles from the rollups.
async fn operations(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &["service", "from", "to"])?;
    let (from, to) = time_range(&params, HOUR_NS)?;
    let service = params.get("service").filter(|v| !v.is_empty()).cloned();
    let (resolution, _, rows) = span_rollups(&state, from, to, service).await?;
    Ok(axum::Json(json!({
        "items": series::operations(rows),
        "next_cursor": null,
        "resolution_seconds": resolution,
    }))
    .into_response())
}

async fn metric_names(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &[])?;
    let names = blocking(&state, |s| s.metric_names()).await?;
    let items: Vec<serde_json::Value> = names
        .into_iter()
        .map(|m| {
            json!({
                "name": m.name,
                "kind": m.kind,
                "points": m.points,
                "last_time": rfc3339(m.last_time_unix_nano),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "items": items, "next_cursor": null })).into_response())
}

pub(crate) fn series_points(points: Vec<series::Point>) -> Vec<serde_json::Value> {
    points
        .into_iter()
        .map(|p| {
            json!({
                "time": rfc3339(p.time),
                "time_unix_nano": p.time.to_string(),
                "value": p.value,
            })
        })
        .collect()
}

/// A metric series as read for the JSON answer and the chart.
pub(crate) struct SeriesData {
    pub(crate) agg: Agg,
    pub(crate) step_ns: u64,
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) source: &'static str,
    /// The `group_by` key, if any.
    pub(crate) key: Option<String>,
    /// (group value, points); one series with a null group without `group_by`.
    pub(crate) series: Vec<(serde_json::Value, Vec<series::Point>)>,
}

/// Reads `from=&to=&step=&agg=&group_by=` of `name` from the minute or hourly
/// rollups, or, with `group_by` (an attribute key, or `service.name`), from the raw
/// points of the range.
pub(crate) async fn series_of(
    state: &AppState,
    name: &str,
    params: &HashMap<String, String>,
) -> Result<SeriesData, ApiError> {
    check_parameters(params, &["from", "to", "step", "agg", "group_by"])?;
    let (from, to) = time_range(params, HOUR_NS)?;
    let agg: Agg = match params
        .get("agg")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    {
        Some(a) => a.parse().map_err(ApiError::BadRequest)?,
        // Counters add up; gauges and histograms average.
        None => {
            let n = name.to_string();
            let sample = blocking(state, move |s| s.metric_points(&n, 0, u64::MAX >> 1, 0)).await?;
            if sample.first().is_some_and(|p| p.kind == "sum") {
                Agg::Sum
            } else {
                Agg::Avg
            }
        }
    };
    let group_by = params
        .get("group_by")
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty());
    // By default about 120 points, in whole minutes.
    let step_ns = step_param(params, to - from, MINUTE_NS)?;
    let min_step = if group_by.is_some() {
        1_000_000_000
    } else {
        MINUTE_NS
    };
    if step_ns < min_step || (group_by.is_none() && step_ns % MINUTE_NS != 0) {
        return Err(ApiError::BadRequest(if group_by.is_some() {
            "step: at least 1s".into()
        } else {
            "step: a whole number of minutes (rollups are per minute and per hour)".into()
        }));
    }
    check_point_count(to - from, step_ns)?;
    let (source, series) = match &group_by {
        Some(key) => {
            let n = name.to_string();
            let points = blocking(state, move |s| {
                s.metric_points(&n, from, to, MAX_SERIES_POINTS)
            })
            .await?;
            if points.len() > MAX_SERIES_POINTS {
                return Err(ApiError::BadRequest(format!(
                    "the range holds more than {MAX_SERIES_POINTS} points; narrow it or drop group_by"
                )));
            }
            ("raw", series::from_points(&points, from, step_ns, agg, key))
        }
        None => {
            let resolution: u32 = if step_ns % HOUR_NS == 0 { 3600 } else { 60 };
            let res_ns = u64::from(resolution) * 1_000_000_000;
            let q = RollupQuery {
                resolution,
                from: from - from % res_ns,
                to,
                service: None,
                name: Some(name.to_string()),
            };
            let rows = blocking(state, move |s| s.metric_rollups(&q)).await?;
            let points = series::from_rollups(&rows, from - from % res_ns, step_ns, agg);
            let source = if resolution == 60 {
                "rollup_1m"
            } else {
                "rollup_1h"
            };
            let series = if points.is_empty() {
                Vec::new()
            } else {
                vec![(serde_json::Value::Null, points)]
            };
            (source, series)
        }
    };
    Ok(SeriesData {
        agg,
        step_ns,
        from,
        to,
        source,
        key: group_by,
        series,
    })
}

/// `GET /api/v1/metrics/{name}/series?from=&to=&step=&agg=&group_by=` (see
/// [`series_of`]).
async fn metric_series(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let data = series_of(&state, &name, &params).await?;
    let series: Vec<serde_json::Value> = data
        .series
        .into_iter()
        .map(|(value, points)| {
            let group = match &data.key {
                Some(key) => json!({ key.clone(): value }),
                None => json!({}),
            };
            json!({ "group": group, "points": series_points(points) })
        })
        .collect();
    Ok(axum::Json(json!({
        "name": name,
        "agg": format!("{:?}", data.agg).to_ascii_lowercase(),
        "step_seconds": data.step_ns as f64 / 1e9,
        "from": rfc3339(data.from),
        "to": rfc3339(data.to),
        "source": data.source,
        "series": series,
    }))
    .into_response())
}

fn run_json(r: StoredRun) -> serde_json::Value {
    let run = r.row;
    json!({
        "correlation_id": run.correlation_id,
        "agent_name": run.agent_name,
        "status": run.status,
        "service_name": run.service_name,
        "trace_id": run.trace_id,
        "start_time": rfc3339(run.start_time_unix_nano),
        "end_time": rfc3339(run.end_time_unix_nano),
        "duration_ms": (run.end_time_unix_nano - run.start_time_unix_nano) as f64 / 1e6,
        "quality_score": run.quality_score,
        "error": run.error,
        "action_count": r.action_count,
        "attributes": parse_json(&run.attributes),
    })
}

async fn list_runs(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(
        &params,
        &["agent", "status", "from", "to", "limit", "cursor"],
    )?;
    let now = now_ns();
    let get = |k: &str| param(&params, k);
    let time = |k: &str| time_param(&params, k, now);
    let status = get("status")
        .map(|s| match s {
            "completed" | "failed" => Ok(s.to_string()),
            _ => Err(ApiError::BadRequest(
                "status: expected completed or failed".into(),
            )),
        })
        .transpose()?;
    let query = RunQuery {
        agent: get("agent").map(str::to_string),
        status,
        from: time("from")?,
        to: time("to")?,
        limit: limit_parameter(&params)?,
        cursor: cursor_parameter(&params)?,
    };
    let page = blocking(&state, move |s| s.runs(&query)).await?;
    let next = page.next.as_ref().map(Cursor::encode);
    Ok(axum::Json(json!({
        "items": page.items.into_iter().map(run_json).collect::<Vec<_>>(),
        "next_cursor": next,
    }))
    .into_response())
}

/// The run with its actions, oldest first.
async fn get_run(
    State(state): State<AppState>,
    Path(correlation_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = correlation_id.clone();
    let (run, actions) = blocking(&state, move |s| {
        let run = s.run(&id)?;
        let actions = if run.is_some() {
            s.actions(&id)?
        } else {
            Vec::new()
        };
        Ok((run, actions))
    })
    .await?;
    let run = run.ok_or(ApiError::NotFound("run"))?;
    let actions: Vec<serde_json::Value> = actions
        .into_iter()
        .map(|a| {
            json!({
                "action_id": a.action_id,
                "action_type": a.action_type,
                "name": a.name,
                "agent_name": a.agent_name,
                "is_error": a.is_error,
                "time": rfc3339(a.time_unix_nano),
                "duration_ms": a.duration_ns as f64 / 1e6,
                "attributes": parse_json(&a.attributes),
            })
        })
        .collect();
    let mut body = run_json(run);
    body["actions"] = actions.into();
    Ok(axum::Json(body).into_response())
}

/// The server's metrics in the Prometheus text format.
async fn prometheus(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.encode(),
    )
        .into_response()
}
