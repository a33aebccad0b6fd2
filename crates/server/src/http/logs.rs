//! Logs and events (read token): `GET /api/v1/logs` (log records, filtered by
//! service, severity, text or trace) and `GET /api/v1/events` (the records that are
//! events, by name), newest first.

use super::error::ApiError;
use super::params::{check_parameters, cursor_parameter, limit_parameter, param, time_param};
use super::read::blocking;
use super::response::parse_json;
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::query::{Cursor, now_ns};
use crate::store::{LogQuery, StoredLog, rfc3339};
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::collections::HashMap;

/// The log and event routes, behind the read scope.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/api/v1/logs", get(logs))
        .route("/api/v1/events", get(events));
    scoped(state, Scope::Read, read)
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

/// A log record as the listings show it: every OTLP field that is stored, the body as
/// JSON of its type (a string body stays a string).
fn log_item(l: StoredLog) -> serde_json::Value {
    let r = l.row;
    let mut item = json!({
        "time": rfc3339(r.time_unix_nano),
        "time_unix_nano": r.time_unix_nano.to_string(),
        "observed_time_unix_nano": r.observed_time_unix_nano.to_string(),
        "service_name": r.service_name,
        "severity_number": r.severity_number,
        "severity_text": r.severity_text,
        "body": r.body_value(),
        "body_type": r.body.as_ref().map(|_| r.body_type.as_str()),
        "event_name": r.event_name,
        "trace_id": r.trace_id,
        "span_id": r.span_id,
        "flags": r.flags,
    });
    if let Some(o) = item.as_object_mut() {
        o.extend([
            ("scope_name".to_string(), json!(r.scope_name)),
            ("scope_version".to_string(), json!(r.scope_version)),
            ("attributes".to_string(), parse_json(&r.attributes)),
            (
                "dropped_attributes_count".to_string(),
                json!(r.dropped_attributes_count),
            ),
            ("resource".to_string(), parse_json(&r.resource)),
        ]);
    }
    item
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
