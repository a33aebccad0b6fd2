//! Metrics (read token): `GET /api/v1/metrics` (names, kinds, point counts) and
//! `GET /api/v1/metrics/{name}/series` (a metric over time, from its rollups or, grouped,
//! from its raw points) and `GET /api/v1/metrics/{name}/heatmap` (a histogram's buckets
//! per step). The same series drawn is in `overview.rs`.

use super::error::ApiError;
use super::params::{
    HOUR_NS, MAX_SERIES_POINTS, MINUTE_NS, check_parameters, check_point_count,
    name_limit_parameter, step_param, time_range,
};
use super::read::{blocking, series_of};
use super::response::series_points;
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::store::rfc3339;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::collections::HashMap;

/// The metric routes, behind the read scope.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/api/v1/metrics", get(metric_names))
        .route("/api/v1/metrics/{name}/series", get(metric_series))
        .route("/api/v1/metrics/{name}/heatmap", get(metric_heatmap));
    scoped(state, Scope::Read, read)
}

/// Where the points of the metric `name` come from: `probes` for the probes' `up` and
/// `probe_latency_ms`, `fleet` for the fleet collection's gauges (`fleet.*`), both
/// written by the server itself, and `application` for every other name (what clients
/// send).
fn metric_origin(name: &str) -> &'static str {
    if name.starts_with(crate::fleet::GAUGE_PREFIX) {
        "fleet"
    } else if matches!(name, "up" | "probe_latency_ms") {
        "probes"
    } else {
        "application"
    }
}

/// The order of the listing's groups: the applications' metrics first, then the
/// server's own.
fn origin_rank(origin: &str) -> u8 {
    match origin {
        "application" => 0,
        "probes" => 1,
        _ => 2,
    }
}

/// `GET /api/v1/metrics?limit=`: metric names with their kind, point count, last time
/// and `origin` ([`metric_origin`]): the applications' metrics first, then the probes'
/// and the fleet collection's, each group sorted by name; the first `limit` names
/// (1000 by default, at most 10000), `truncated` when more exist.
async fn metric_names(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &["limit"])?;
    let limit = name_limit_parameter(&params)?;
    let mut names = blocking(&state, move |s| s.metric_names(limit)).await?;
    let truncated = names.len() > limit;
    names.truncate(limit);
    // A stable sort: the store's order by name within each group.
    names.sort_by_key(|m| origin_rank(metric_origin(&m.name)));
    let items: Vec<serde_json::Value> = names
        .into_iter()
        .map(|m| {
            json!({
                "origin": metric_origin(&m.name),
                "name": m.name,
                "kind": m.kind,
                "points": m.points,
                "last_time": rfc3339(m.last_time_unix_nano),
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "items": items,
        "next_cursor": null,
        "truncated": truncated,
    }))
    .into_response())
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
            let group_key = value.to_string();
            let mut points_json = series_points(points.clone());
            for (p, out) in points.iter().zip(&mut points_json) {
                if let Some(e) = data.exemplars.get(&(group_key.clone(), p.time)) {
                    out["exemplars"] = json!(e);
                }
            }
            let group = match &data.key {
                Some(key) => json!({ key.clone(): value }),
                None => json!({}),
            };
            json!({ "group": group, "points": points_json })
        })
        .collect();
    Ok(axum::Json(json!({
        "name": name,
        "agg": data.agg.to_string(),
        "step_seconds": data.step_ns as f64 / 1e9,
        "from": rfc3339(data.from),
        "to": rfc3339(data.to),
        "source": data.source,
        "series": series,
    }))
    .into_response())
}

/// `GET /api/v1/metrics/{name}/heatmap?from=&to=&step=`: a histogram's buckets per step,
/// merged from its raw points: `{"bounds": [upper bounds, the last null for +inf],
/// "steps": [{"time", "counts": [...]}]}`.
async fn metric_heatmap(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &["from", "to", "step"])?;
    let (from, to) = time_range(&params, HOUR_NS)?;
    // By default in whole minutes, like the series its p95 is read from.
    let step_ns = step_param(&params, to - from, MINUTE_NS)?;
    check_point_count(to - from, step_ns)?;
    let n = name.clone();
    let points = blocking(&state, move |s| {
        s.metric_points(&n, from, to, MAX_SERIES_POINTS)
    })
    .await?;
    if points.len() > MAX_SERIES_POINTS {
        return Err(ApiError::BadRequest(format!(
            "the range holds more than {MAX_SERIES_POINTS} points; narrow it"
        )));
    }
    if !points.is_empty() && !points.iter().any(|p| p.kind == "histogram") {
        return Err(ApiError::BadRequest(format!(
            "{name:?} is not a histogram: a heatmap needs buckets"
        )));
    }
    let (bounds, steps) = crate::series::heatmap(&points, from, step_ns);
    Ok(axum::Json(json!({
        "name": name,
        "step_ms": step_ns / 1_000_000,
        "from": rfc3339(from),
        "to": rfc3339(to),
        "bounds": bounds
            .iter()
            .map(|b| if b.is_finite() { json!(b) } else { serde_json::Value::Null })
            .collect::<Vec<_>>(),
        "steps": steps
            .into_iter()
            .map(|(t, counts)| json!({"time": rfc3339(t), "counts": counts}))
            .collect::<Vec<_>>(),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::{metric_origin, origin_rank};

    #[test]
    fn the_servers_own_metrics_are_told_apart_and_listed_last() {
        assert_eq!(metric_origin("fleet.collectors.failed"), "fleet");
        assert_eq!(metric_origin("fleet.host.cpu.usage_percent"), "fleet");
        assert_eq!(metric_origin("up"), "probes");
        assert_eq!(metric_origin("probe_latency_ms"), "probes");
        for name in [
            "http.server.request.duration_ms",
            "fleetwood.orders",
            "uptime",
            "queue.depth",
        ] {
            assert_eq!(metric_origin(name), "application", "{name}");
        }
        let mut names = ["fleet.agents.total", "http.requests", "up", "queue.depth"];
        names.sort_by_key(|n| origin_rank(metric_origin(n)));
        assert_eq!(
            names,
            ["http.requests", "queue.depth", "up", "fleet.agents.total"]
        );
    }
}
