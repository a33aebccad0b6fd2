//! Traces (read token): `GET /api/v1/traces` (root spans, filtered, newest first),
//! `GET /api/v1/traces/{trace_id}` (every span of one trace), `GET /api/v1/services`
//! (service names seen in any signal) and `GET /api/v1/operations` (per-operation
//! counts, errors and latency percentiles from the span rollups).

use super::error::ApiError;
use super::params::{
    HOUR_NS, check_parameters, cursor_parameter, limit_parameter, name_limit_parameter, param,
    time_param, time_range,
};
use super::read::{blocking, span_rollups};
use super::response::parse_json;
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::query::{Cursor, now_ns};
use crate::rows::SpanRow;
use crate::series;
use crate::store::{TraceQuery, rfc3339};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The trace routes, behind the read scope.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/api/v1/traces", get(list_traces))
        .route("/api/v1/traces/{trace_id}", get(get_trace))
        .route("/api/v1/services", get(services))
        .route("/api/v1/operations", get(operations));
    scoped(state, Scope::Read, read)
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
                "duration_ms": r.end_time_unix_nano.saturating_sub(r.start_time_unix_nano) as f64 / 1e6,
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
    let spans: Vec<Value> = spans.into_iter().map(span_json).collect();
    Ok(axum::Json(json!({ "trace_id": trace_id, "spans": spans })).into_response())
}

/// A span as the trace response shows it: every OTLP field that is stored. Events and
/// links stored before their dropped counts were kept show 0.
fn span_json(s: SpanRow) -> Value {
    let with_dropped_count = |mut list: Value| {
        if let Value::Array(items) = &mut list {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.entry("dropped_attributes_count").or_insert(json!(0));
            }
        }
        list
    };
    let mut span = json!({
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_span_id": if s.parent_span_id.is_empty() { Value::Null } else { s.parent_span_id.into() },
        "trace_state": s.trace_state,
        "flags": s.flags,
        "name": s.name,
        "service_name": s.service_name,
        "scope_name": s.scope_name,
        "scope_version": s.scope_version,
        "kind": s.kind,
        // Strings: nanosecond timestamps do not fit a JavaScript number.
        "start_time_unix_nano": s.start_time_unix_nano.to_string(),
        "end_time_unix_nano": s.end_time_unix_nano.to_string(),
        "status_code": s.status_code,
        "status_message": s.status_message,
    });
    if let Some(o) = span.as_object_mut() {
        o.extend([
            ("attributes".to_string(), parse_json(&s.attributes)),
            (
                "dropped_attributes_count".to_string(),
                json!(s.dropped_attributes_count),
            ),
            (
                "events".to_string(),
                with_dropped_count(parse_json(&s.events)),
            ),
            (
                "dropped_events_count".to_string(),
                json!(s.dropped_events_count),
            ),
            (
                "links".to_string(),
                with_dropped_count(parse_json(&s.links)),
            ),
            (
                "dropped_links_count".to_string(),
                json!(s.dropped_links_count),
            ),
            ("resource".to_string(), parse_json(&s.resource)),
        ]);
    }
    span
}

/// `GET /api/v1/services?limit=`: service names seen in any signal, sorted; the first
/// `limit` (1000 by default, at most 10000), `truncated` when more exist.
async fn services(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &["limit"])?;
    let limit = name_limit_parameter(&params)?;
    let mut names = blocking(&state, move |s| s.services(limit)).await?;
    let truncated = names.len() > limit;
    names.truncate(limit);
    Ok(axum::Json(json!({
        "items": names,
        "next_cursor": null,
        "truncated": truncated,
    }))
    .into_response())
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
