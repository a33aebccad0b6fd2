//! The fleet endpoints over [`crate::fleet`]:
//!
//! - `GET /telemetry/status` (read token): the newest snapshot in full and its link.
//! - `GET /telemetry/public` (no token, rate-limited per client address): aggregates
//!   only — counts, version shares, health ratios — never ids, names, addresses,
//!   custom metrics or error texts.
//! - `GET /telemetry/history?metric=&from=&to=&step=` (read token): buckets of a fleet
//!   gauge (`agents.healthy`, `host.cpu.usage_percent`, ...).
//! - `POST /telemetry/collect` (admin token): runs a round now and returns its id.

use super::error::ApiError;
use super::params::{
    HOUR_NS, MAX_SERIES_POINTS, check_parameters, check_step_count, step_param, time_range,
};
use super::read::blocking;
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::fleet::{GAUGE_PREFIX, StoredSnapshot, public_view};
use crate::series;
use crate::store::rfc3339;
use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

/// Status and history behind the read scope, collect behind the admin scope, the
/// public aggregates open.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/telemetry/status", get(status))
        .route("/telemetry/history", get(history));
    let admin = Router::new().route("/telemetry/collect", post(collect));
    Router::new()
        .merge(scoped(state, Scope::Read, read))
        .merge(scoped(state, Scope::Admin, admin))
        .route("/telemetry/public", get(public))
}

fn snapshot_json(s: &StoredSnapshot) -> Value {
    json!({
        "snapshot": s.snapshot,
        "chain": {
            "seq": s.link.seq,
            "hash": s.link.hash,
            "prev_hash": s.link.prev_hash,
        },
    })
}

/// `GET /telemetry/status`.
async fn status(State(state): State<AppState>) -> Result<Response, ApiError> {
    let fleet = state.fleet.clone();
    let latest = blocking(&state, move |s| fleet.latest(s)).await?;
    Ok(axum::Json(match latest {
        Some(s) => snapshot_json(&s),
        None => json!({ "snapshot": null, "chain": null }),
    })
    .into_response())
}

/// `GET /telemetry/public`.
async fn public(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    if let Err(wait) = state.fleet.admit_public(client, Instant::now()) {
        return Err(ApiError::RateLimited(wait.as_secs_f64().ceil() as u64));
    }
    let fleet = state.fleet.clone();
    let latest = blocking(&state, move |s| fleet.latest(s)).await?;
    Ok(axum::Json(match latest {
        Some(s) => public_view(&s.snapshot),
        None => json!({ "collected_at": null }),
    })
    .into_response())
}

/// `POST /telemetry/collect`.
async fn collect(State(state): State<AppState>) -> Result<Response, ApiError> {
    let fleet = state.fleet.clone();
    let stored = blocking(&state, move |s| fleet.collect_and_store(s)).await?;
    let snap = &stored.snapshot;
    Ok(axum::Json(json!({
        "snapshot_id": stored.link.snapshot_id,
        "seq": stored.link.seq,
        "hash": stored.link.hash,
        "collected_at": snap["collected_at"],
        "duration_ms": snap["duration_ms"],
        "failed_collectors": snap["errors"].as_object().map_or(0, Map::len),
    }))
    .into_response())
}

/// `GET /telemetry/history?metric=&from=&to=&step=`.
async fn history(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &["metric", "from", "to", "step"])?;
    let metric = params
        .get("metric")
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest("metric is required, e.g. metric=agents.healthy".into())
        })?;
    let metric = metric
        .strip_prefix(GAUGE_PREFIX)
        .unwrap_or(metric)
        .to_string();
    let (from, to) = time_range(&params, HOUR_NS)?;
    // By default about 120 buckets, in whole seconds.
    let step_ns = step_param(&params, to - from, 1_000_000_000)?;
    if step_ns < 1_000_000_000 {
        return Err(ApiError::BadRequest("step: at least 1s".into()));
    }
    check_step_count(to - from, step_ns, "buckets")?;
    let name = format!("{GAUGE_PREFIX}{metric}");
    let points = blocking(&state, move |s| {
        s.metric_points(&name, from, to, MAX_SERIES_POINTS)
    })
    .await?;
    if points.len() > MAX_SERIES_POINTS {
        return Err(ApiError::BadRequest(format!(
            "the range holds more than {MAX_SERIES_POINTS} points; narrow it"
        )));
    }
    // Buckets start at whole multiples of the step (a 1m step starts on the minute).
    let buckets: Vec<Value> = series::buckets(&points, from - from % step_ns, step_ns)
        .into_iter()
        .map(|b| {
            json!({
                "time": rfc3339(b.time),
                "time_unix_nano": b.time.to_string(),
                "count": b.count,
                "min": b.min,
                "max": b.max,
                "avg": b.avg,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "metric": metric,
        "from": rfc3339(from),
        "to": rfc3339(to),
        "step_seconds": step_ns as f64 / 1e9,
        "buckets": buckets,
    }))
    .into_response())
}
