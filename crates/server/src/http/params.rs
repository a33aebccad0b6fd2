//! Query parameters shared by the read endpoints: unknown ones refused, times (RFC 3339
//! or relative to now), ranges, steps, page limits and cursors.

use super::error::ApiError;
use crate::query::{Cursor, DEFAULT_LIMIT, MAX_LIMIT, now_ns, parse_time};
use std::collections::HashMap;

/// An hour in ns.
pub(super) const HOUR_NS: u64 = 3_600_000_000_000;
/// A minute in ns.
pub(super) const MINUTE_NS: u64 = 60_000_000_000;
/// Raw points a grouped series reads at most.
pub(super) const MAX_SERIES_POINTS: usize = 200_000;

/// A query parameter, trimmed; absent when missing or blank.
pub(super) fn param<'a>(params: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A time parameter (RFC 3339 or relative to `now`), if given.
pub(super) fn time_param(
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
pub(super) fn check_parameters(
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

/// The `limit` parameter: a page size from 1 to `MAX_LIMIT`, by default `DEFAULT_LIMIT`.
pub(super) fn limit_parameter(params: &HashMap<String, String>) -> Result<usize, ApiError> {
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

/// The `cursor` parameter: where the previous page ended, as this server gave it out.
pub(super) fn cursor_parameter(
    params: &HashMap<String, String>,
) -> Result<Option<Cursor>, ApiError> {
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

/// Reads `from` and `to` (defaults: the last hour) and checks their order.
pub(super) fn time_range(
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
pub(super) fn step_param(
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
pub(super) fn check_point_count(range_ns: u64, step_ns: u64) -> Result<(), ApiError> {
    if range_ns / step_ns > 10_000 {
        return Err(ApiError::BadRequest(
            "step: too small for the range (more than 10000 points)".into(),
        ));
    }
    Ok(())
}
