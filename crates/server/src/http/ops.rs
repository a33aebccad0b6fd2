//! The server's own state: `GET /healthz` and `GET /readyz` (no token), the store's
//! counts `GET /api/v1/stats` and the alert states `GET /api/v1/alerts` (read token),
//! and its Prometheus metrics `GET /metrics` (admin token).

use super::error::ApiError;
use super::read::blocking;
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::store::rfc3339;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

/// `/healthz` and `/readyz` open, stats and alerts behind the read scope, `/metrics`
/// behind the admin scope.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/alerts", get(alerts));
    let admin = Router::new().route("/metrics", get(prometheus));
    Router::new()
        .merge(scoped(state, Scope::Read, read))
        .merge(scoped(state, Scope::Admin, admin))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
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
