//! The dashboard's figures and charts (read token), drawn on the server as SVG from the
//! same readers as the query API: `GET /api/v1/overview` (spans and errors per step,
//! totals, per-service figures, ingest counts), `GET /api/v1/overview/chart.svg` and
//! `GET /api/v1/metrics/{name}/chart.svg` (the series of `/api/v1/metrics/{name}/series`
//! drawn).

use super::error::ApiError;
use super::params::{
    HOUR_NS, MINUTE_NS, check_parameters, check_point_count, name_limit_parameter, step_param,
    time_range,
};
use super::read::{series_of, span_resolution, span_rollups};
use super::response::{series_points, svg_response};
use super::scope::scoped;
use super::state::AppState;
use crate::auth::Scope;
use crate::rollup::{SpanAgg, SpanKey};
use crate::series;
use crate::store::rfc3339;
use crate::ui::svg;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::collections::HashMap;

/// The overview and chart routes, behind the read scope.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let read = Router::new()
        .route("/api/v1/overview", get(overview))
        .route("/api/v1/overview/chart.svg", get(overview_chart))
        .route("/api/v1/metrics/{name}/chart.svg", get(metric_chart));
    scoped(state, Scope::Read, read)
}

/// Span rollups of the range, and the spans and errors per step.
struct Throughput {
    from: u64,
    to: u64,
    step_ns: u64,
    spans: Vec<series::Point>,
    errors: Vec<series::Point>,
    rows: Vec<(SpanKey, SpanAgg)>,
}

async fn throughput(
    state: &AppState,
    params: &HashMap<String, String>,
) -> Result<Throughput, ApiError> {
    check_parameters(params, &["from", "to", "step"])?;
    let (from, to) = time_range(params, HOUR_NS)?;
    let resolution = span_resolution(from, to);
    let resolution_ns = u64::from(resolution) * 1_000_000_000;
    // By default about 120 steps in whole units of the rollups the range reads (minutes
    // up to two days, hours beyond), so the default is valid for any range.
    let step_ns = step_param(params, to - from, resolution_ns)?;
    if step_ns % resolution_ns != 0 {
        return Err(ApiError::BadRequest(format!(
            "step: a whole number of {} for this range",
            if resolution == 60 { "minutes" } else { "hours" }
        )));
    }
    check_point_count(to - from, step_ns)?;
    let (_, aligned, rows) = span_rollups(state, from, to, None).await?;
    let (spans, errors) = series::span_throughput(&rows, aligned, step_ns);
    Ok(Throughput {
        from,
        to,
        step_ns,
        spans,
        errors,
        rows,
    })
}

/// `GET /api/v1/overview?from=&to=&step=&limit=`: spans and error spans per step, their
/// totals and rate, per-service figures (the `limit` busiest services, 1000 by default,
/// `services_truncated` when more had spans), and the records the server accepted and
/// refused since it started (by signal and reason).
async fn overview(
    State(state): State<AppState>,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limit = name_limit_parameter(&params)?;
    params.remove("limit");
    let t = throughput(&state, &params).await?;
    let spans: f64 = t.spans.iter().map(|p| p.value).sum();
    let errors: f64 = t.errors.iter().map(|p| p.value).sum();
    let minutes = (t.to - t.from) as f64 / MINUTE_NS as f64;
    // Per service: its operations merged, busiest first.
    let mut per_service = series::operations(
        t.rows
            .into_iter()
            .map(|(k, a)| {
                let k = SpanKey {
                    operation: String::new(),
                    ..k
                };
                (k, a)
            })
            .collect(),
    );
    let services_truncated = per_service.len() > limit;
    per_service.truncate(limit);
    let services: Vec<serde_json::Value> = per_service
        .iter()
        .map(|s| {
            json!({
                "service_name": s.service_name,
                "span_count": s.span_count,
                "error_count": s.error_count,
                "error_rate": if s.span_count > 0 { s.error_count as f64 / s.span_count as f64 } else { 0.0 },
                "p95_ms": s.p95_ms,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "from": rfc3339(t.from),
        "to": rfc3339(t.to),
        "step_seconds": t.step_ns as f64 / 1e9,
        "totals": {
            "spans": spans,
            "errors": errors,
            "error_rate": if spans > 0.0 { errors / spans } else { 0.0 },
            "spans_per_minute": if minutes > 0.0 { spans / minutes } else { 0.0 },
        },
        "spans": series_points(t.spans),
        "errors": series_points(t.errors),
        "services": services,
        "services_truncated": services_truncated,
        "ingest": state.metrics.ingest_totals(),
    }))
    .into_response())
}

/// Takes a chart's `width` and `height` in pixels out of `params` (defaults: 720 x 240).
fn chart_size(params: &mut HashMap<String, String>) -> Result<(u32, u32), ApiError> {
    let mut take = |key: &str, default: u32, min: u32, max: u32| match params.remove(key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "{key}: expected a whole number of pixels from {min} to {max}"
                ))
            }),
    };
    Ok((
        take("width", svg::DEFAULT_SIZE.0, 200, 4000)?,
        take("height", svg::DEFAULT_SIZE.1, 120, 2000)?,
    ))
}

fn line(label: &str, points: &[series::Point]) -> svg::Line {
    svg::Line {
        label: label.to_string(),
        points: points.iter().map(|p| (p.time, p.value)).collect(),
    }
}

/// `GET /api/v1/overview/chart.svg?from=&to=&step=&width=&height=`: spans and error
/// spans per step.
async fn overview_chart(
    State(state): State<AppState>,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let size = chart_size(&mut params)?;
    let t = throughput(&state, &params).await?;
    let per = short_step(t.step_ns);
    Ok(svg_response(svg::line_chart(&svg::Chart {
        title: format!("Spans and errors per {per}"),
        from: t.from,
        to: t.to,
        lines: vec![
            line(&format!("spans / {per}"), &t.spans),
            line(&format!("errors / {per}"), &t.errors),
        ],
        size,
    })))
}

fn short_step(step_ns: u64) -> String {
    let s = step_ns / 1_000_000_000;
    match s {
        s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `GET /api/v1/metrics/{name}/chart.svg?from=&to=&step=&agg=&group_by=&width=&height=`:
/// the series of `/api/v1/metrics/{name}/series` drawn, one line per group.
async fn metric_chart(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let size = chart_size(&mut params)?;
    let data = series_of(&state, &name, &params).await?;
    let lines = data
        .series
        .iter()
        .map(|(group, points)| {
            let label = match (&data.key, group) {
                (None, _) => name.clone(),
                (Some(_), serde_json::Value::String(v)) => v.clone(),
                (Some(_), serde_json::Value::Null) => "(none)".to_string(),
                (Some(_), other) => other.to_string(),
            };
            line(&label, points)
        })
        .collect();
    Ok(svg_response(svg::line_chart(&svg::Chart {
        title: format!("{name}: {} per {}", data.agg, short_step(data.step_ns)),
        from: data.from,
        to: data.to,
        lines,
        size,
    })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_steps() {
        assert_eq!(super::short_step(60_000_000_000), "1m");
        assert_eq!(super::short_step(7_200_000_000_000), "2h");
        assert_eq!(super::short_step(30_000_000_000), "30s");
    }
}
