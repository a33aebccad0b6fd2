//! The dashboard: a single page application at `/` and the public status page at
//! `/status`, their assets compiled into the binary (no CDN), and the read-scoped
//! endpoints only the dashboard needs: the overview figures, the probed targets, and
//! charts rendered on the server as SVG from the same readers as the query API.
//!
//! The pages themselves hold no data and are open; every figure they show comes from
//! the API with the token the user gives them, so access follows the read token.
//! `/status` reads only `/telemetry/public`.

pub mod svg;

use crate::api::{
    ApiError, AppState, HOUR_NS, MINUTE_NS, check_parameters, check_point_count, series_of,
    series_points, span_resolution, span_rollups, step_param, time_range,
};
use crate::rollup::{SpanAgg, SpanKey};
use crate::series;
use crate::store::rfc3339;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

/// A file of the dashboard: the path it is served at, its content type and text, with
/// its gzip form and entity tag made once, on first use.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
    gzip: OnceLock<Vec<u8>>,
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(path: &'static str, content_type: &'static str, body: &'static str) -> Self {
        Asset {
            path,
            content_type,
            body,
            gzip: OnceLock::new(),
            etag: OnceLock::new(),
        }
    }

    fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            let digest = Sha256::digest(self.body.as_bytes());
            format!("\"{}\"", hex::encode(&digest[..12]))
        })
    }

    fn gzip(&self) -> &[u8] {
        self.gzip.get_or_init(|| {
            let mut enc = GzEncoder::new(Vec::new(), Compression::best());
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(self.body.as_bytes());
            enc.finish().unwrap_or_default()
        })
    }
}

static ASSETS: [Asset; 7] = [
    Asset::new(
        "/",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    Asset::new(
        "/status",
        "text/html; charset=utf-8",
        include_str!("assets/status.html"),
    ),
    Asset::new(
        "/assets/dom.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/dom.js"),
    ),
    Asset::new(
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    Asset::new(
        "/assets/status.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/status.js"),
    ),
    Asset::new(
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    Asset::new(
        "/assets/favicon.svg",
        "image/svg+xml",
        include_str!("assets/favicon.svg"),
    ),
];

/// Scripts and styles only from this server; no inline script, no other origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The asset at `path` as the request accepts it: 304 when the browser's copy is
/// current, gzip when accepted.
fn page(path: &str, request: &HeaderMap) -> Result<Response, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.path == path)
        .ok_or(ApiError::NotFound("asset"))?;
    let etag = asset.etag();
    let header = |name| {
        request
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let fresh = header(header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let gzip = header(header::ACCEPT_ENCODING).is_some_and(|a| {
        a.split(',')
            .any(|e| e.split(';').next().map(str::trim) == Some("gzip"))
    });
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        let mut resp = asset.gzip().to_vec().into_response();
        resp.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        resp
    } else {
        asset.body.into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Assets change with the binary: the browser revalidates (a 304 when unchanged).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// The open routes: `/`, `/status` and `/assets/{file}`.
pub fn pages() -> Router<AppState> {
    let serve = get(|uri: Uri, headers: HeaderMap| async move { page(uri.path(), &headers) });
    Router::new()
        .route("/", serve.clone())
        .route("/status", serve.clone())
        .route("/assets/{file}", serve)
}

fn svg_response(body: String) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
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
    let step_ns = step_param(params, to - from, MINUTE_NS)?;
    let resolution = span_resolution(from, to);
    if step_ns % (u64::from(resolution) * 1_000_000_000) != 0 {
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

/// `GET /api/v1/overview?from=&to=&step=`: spans and error spans per step, their
/// totals and rate, per-service figures, and the records the server accepted and
/// refused since it started (by signal and reason).
pub(crate) async fn overview(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let t = throughput(&state, &params).await?;
    let spans: f64 = t.spans.iter().map(|p| p.value).sum();
    let errors: f64 = t.errors.iter().map(|p| p.value).sum();
    let minutes = (t.to - t.from) as f64 / MINUTE_NS as f64;
    // Per service: its operations merged.
    let per_service = series::operations(
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
pub(crate) async fn overview_chart(
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
pub(crate) async fn metric_chart(
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
        title: format!(
            "{name}: {} per {}",
            format!("{:?}", data.agg).to_ascii_lowercase(),
            short_step(data.step_ns)
        ),
        from: data.from,
        to: data.to,
        lines,
        size,
    })))
}

/// `GET /api/v1/probes`: each probed target's last state, latency, reason and
/// dependencies (`serve --probe`), in the probe round's order: root causes first.
pub(crate) async fn probes(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &[])?;
    let items = state.probes.list();
    let up = items.iter().filter(|p| p.state == "up").count();
    Ok(axum::Json(json!({
        "items": items,
        "total": items.len(),
        "up": up,
        "next_cursor": null,
    }))
    .into_response())
}

/// `GET /api/v1/probes/graph.svg`: the probed targets and their dependencies.
pub(crate) async fn probe_graph(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &[])?;
    let nodes: Vec<svg::Node> = state
        .probes
        .list()
        .into_iter()
        .map(|p| svg::Node {
            name: p.name,
            state: p.state,
            depends_on: p.depends_on,
        })
        .collect();
    Ok(svg_response(svg::dependency_graph(&nodes)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_steps() {
        assert_eq!(super::short_step(60_000_000_000), "1m");
        assert_eq!(super::short_step(7_200_000_000_000), "2h");
        assert_eq!(super::short_step(30_000_000_000), "30s");
    }

    #[test]
    fn assets_are_gzipped_when_accepted_and_revalidated_by_etag() {
        use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
        use std::io::Read;
        let mut headers = HeaderMap::new();
        let plain = super::page("/assets/app.js", &headers).expect("app.js");
        let etag = plain.headers()[header::ETAG].clone();
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.9"),
        );
        let zipped = super::page("/assets/app.js", &headers).expect("app.js");
        assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        let body = rt
            .block_on(axum::body::to_bytes(zipped.into_body(), usize::MAX))
            .expect("body");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .expect("gunzip");
        assert_eq!(text, include_str!("assets/app.js"));
        assert!(
            body.len() * 3 < text.len(),
            "{} -> {}",
            text.len(),
            body.len()
        );
        headers.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            super::page("/assets/app.js", &headers)
                .expect("app.js")
                .status(),
            StatusCode::NOT_MODIFIED
        );
        assert!(super::page("/assets/missing.js", &headers).is_err());
    }
}
