//! Response bodies several areas share: stored JSON text parsed back, series points as
//! JSON, and SVG images.

use crate::series;
use crate::store::rfc3339;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Stored JSON text back to a value (what the store wrote is always valid JSON).
pub(super) fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

/// Points as JSON: RFC 3339 time, the time in ns as a string, and the value.
pub(super) fn series_points(points: Vec<series::Point>) -> Vec<serde_json::Value> {
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

/// An SVG image, with a policy that lets it load nothing.
pub(super) fn svg_response(body: String) -> Response {
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
