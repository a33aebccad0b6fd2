//! Query parameters shared by the read endpoints: unknown ones refused, times (RFC 3339
//! or relative to now), ranges, steps, page and name limits and cursors.
//!
//! Every value a client sends is checked here before any arithmetic uses it: a step is
//! never zero and never more than [`MAX_STEP_NS`], a limit is within its bounds, so the
//! handlers' divisions and remainders cannot panic.

use super::error::ApiError;
use crate::query::{Cursor, DEFAULT_LIMIT, MAX_LIMIT, now_ns, parse_time};
use std::collections::HashMap;

/// An hour in ns.
pub(super) const HOUR_NS: u64 = 3_600_000_000_000;
/// A minute in ns.
pub(super) const MINUTE_NS: u64 = 60_000_000_000;
/// Raw points a grouped series reads at most.
pub(super) const MAX_SERIES_POINTS: usize = 200_000;
/// Most steps a series, a chart or a history cuts its range into.
pub(super) const MAX_STEPS: u64 = 10_000;
/// About how many steps a range is cut into when no `step` is given.
const DEFAULT_STEPS: u64 = 120;
/// The longest `step` accepted: 3650 days.
pub(super) const MAX_STEP_NS: u64 = 3650 * 24 * HOUR_NS;
/// Names a name listing (services, metrics, the overview's services) returns when no
/// `limit` is given.
pub(super) const DEFAULT_NAME_LIMIT: usize = 1000;
/// Most names one name listing returns.
pub(super) const MAX_NAME_LIMIT: usize = 10_000;

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
    bounded_limit(params, DEFAULT_LIMIT, MAX_LIMIT)
}

/// The `limit` parameter of a name listing: from 1 to [`MAX_NAME_LIMIT`], by default
/// [`DEFAULT_NAME_LIMIT`].
pub(super) fn name_limit_parameter(params: &HashMap<String, String>) -> Result<usize, ApiError> {
    bounded_limit(params, DEFAULT_NAME_LIMIT, MAX_NAME_LIMIT)
}

/// The `limit` parameter from 1 to `max`, `default` when absent.
fn bounded_limit(
    params: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match param(params, "limit") {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("limit: expected a whole number from 1 to {max}"))
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

/// The `step` parameter in ns, from 1 ns to [`MAX_STEP_NS`] (zero, or a step too long
/// to be meant, is a 400 naming `step`); without one, [`default_step`] over `range_ns`
/// in whole `unit_ns`.
pub(super) fn step_param(
    params: &HashMap<String, String>,
    range_ns: u64,
    unit_ns: u64,
) -> Result<u64, ApiError> {
    let Some(v) = param(params, "step") else {
        return Ok(default_step(range_ns, unit_ns));
    };
    let step = automagik_telemetry_core::parse::parse_duration("step", v)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    match u64::try_from(step.as_nanos()) {
        Ok(0) => Err(ApiError::BadRequest(
            "step: must be longer than zero".into(),
        )),
        Ok(ns) if ns <= MAX_STEP_NS => Ok(ns),
        _ => Err(ApiError::BadRequest("step: at most 3650d".into())),
    }
}

/// The step chosen when none is given: the smallest whole number of `unit_ns` (at least
/// one) that cuts `range_ns` into at most about [`DEFAULT_STEPS`] steps, so it is valid
/// for the rollups of `unit_ns` and always within [`MAX_STEPS`].
pub(super) fn default_step(range_ns: u64, unit_ns: u64) -> u64 {
    let unit = unit_ns.max(1);
    (range_ns / DEFAULT_STEPS)
        .div_ceil(unit)
        .max(1)
        .saturating_mul(unit)
}

/// Refuses a step that would cut `range_ns` into more than [`MAX_STEPS`] steps (or a
/// zero step), naming `what` the steps are.
pub(super) fn check_step_count(range_ns: u64, step_ns: u64, what: &str) -> Result<(), ApiError> {
    match range_ns.checked_div(step_ns) {
        Some(n) if n <= MAX_STEPS => Ok(()),
        _ => Err(ApiError::BadRequest(format!(
            "step: too small for the range (more than {MAX_STEPS} {what})"
        ))),
    }
}

/// Refuses a step that would cut `range_ns` into more than [`MAX_STEPS`] points.
pub(super) fn check_point_count(range_ns: u64, step_ns: u64) -> Result<(), ApiError> {
    check_step_count(range_ns, step_ns, "points")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn refusal<T: std::fmt::Debug>(result: Result<T, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn zero_and_absurd_steps_are_refused_naming_step() {
        for step in [
            "0",
            "0s",
            "0m",
            "0.1ns",
            "-1s",
            "1e3",
            "3651d",
            "99999999999d",
            "999999999999999999999999d",
        ] {
            let m = refusal(step_param(&params(&[("step", step)]), HOUR_NS, MINUTE_NS));
            assert!(m.starts_with("step:"), "{step}: {m}");
        }
        assert_eq!(
            step_param(&params(&[("step", "3650d")]), HOUR_NS, MINUTE_NS).ok(),
            Some(MAX_STEP_NS)
        );
        assert_eq!(
            step_param(&params(&[("step", "90s")]), HOUR_NS, MINUTE_NS).ok(),
            Some(90_000_000_000)
        );
    }

    #[test]
    fn the_default_step_is_whole_units_within_the_step_count() {
        let none = params(&[]);
        // (range, unit, step chosen)
        for (range, unit, want) in [
            (HOUR_NS, MINUTE_NS, MINUTE_NS),
            (48 * HOUR_NS, MINUTE_NS, 24 * MINUTE_NS),
            (49 * HOUR_NS, HOUR_NS, HOUR_NS),
            (72 * HOUR_NS, HOUR_NS, HOUR_NS),
            (7 * 24 * HOUR_NS, HOUR_NS, 2 * HOUR_NS),
            (30 * 24 * HOUR_NS, HOUR_NS, 6 * HOUR_NS),
            (0, HOUR_NS, HOUR_NS),
            (HOUR_NS, 0, 30_000_000_000),
        ] {
            let step = step_param(&none, range, unit).ok();
            assert_eq!(step, Some(want), "range {range}, unit {unit}");
            assert!(check_point_count(range, want).is_ok());
        }
        let step = default_step(u64::MAX, HOUR_NS);
        assert_eq!(step % HOUR_NS, 0);
        assert!(check_point_count(u64::MAX, step).is_ok());
    }

    #[test]
    fn step_counts_are_checked_without_dividing_by_zero() {
        assert!(check_point_count(10_000 * MINUTE_NS, MINUTE_NS).is_ok());
        let m = refusal(check_point_count(10_001 * MINUTE_NS, MINUTE_NS));
        assert!(m.starts_with("step:"), "{m}");
        let m = refusal(check_point_count(HOUR_NS, 0));
        assert!(m.starts_with("step:"), "{m}");
        let m = refusal(check_step_count(0, 0, "buckets"));
        assert!(m.contains("buckets"), "{m}");
    }

    #[test]
    fn name_limits() {
        assert_eq!(name_limit_parameter(&params(&[])).ok(), Some(1000));
        assert_eq!(
            name_limit_parameter(&params(&[("limit", " 10000 ")])).ok(),
            Some(10_000)
        );
        for bad in ["0", "10001", "-1", "ten", "1.5"] {
            let m = refusal(name_limit_parameter(&params(&[("limit", bad)])));
            assert_eq!(m, "limit: expected a whole number from 1 to 10000", "{bad}");
        }
        // Page sizes keep their own bounds.
        assert_eq!(limit_parameter(&params(&[])).ok(), Some(DEFAULT_LIMIT));
        let m = refusal(limit_parameter(&params(&[("limit", "1001")])));
        assert_eq!(m, "limit: expected a whole number from 1 to 1000");
    }
}
