//! Store reads several areas share, run off the async runtime: [`blocking`], the span
//! rollups at the resolution a range needs (operations, the overview), and a metric's
//! series from its rollups or raw points (the series endpoint and its chart).

use super::error::ApiError;
use super::params::{
    HOUR_NS, MAX_SERIES_POINTS, MINUTE_NS, check_parameters, check_point_count, step_param,
    time_range,
};
use super::state::AppState;
use crate::rollup::{SpanAgg, SpanKey};
use crate::series::{self, Agg};
use crate::store::{RollupQuery, Store, StoreError};
use std::collections::HashMap;

/// Runs `f` over the store on a blocking thread.
pub(super) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    Ok(tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))??)
}

/// The span rollups that serve `from..to`, in seconds: minute rows up to two days,
/// hourly rows beyond.
pub(super) fn span_resolution(from: u64, to: u64) -> u32 {
    if to.saturating_sub(from) <= 48 * HOUR_NS {
        60
    } else {
        3600
    }
}

/// The span rollup rows covering `from..to` (of `service`, if given) at
/// [`span_resolution`]. Returns the resolution in seconds, the start of the first
/// bucket, and the rows.
pub(super) async fn span_rollups(
    state: &AppState,
    from: u64,
    to: u64,
    service: Option<String>,
) -> Result<(u32, u64, Vec<(SpanKey, SpanAgg)>), ApiError> {
    let resolution = span_resolution(from, to);
    let res_ns = u64::from(resolution) * 1_000_000_000;
    let q = RollupQuery {
        resolution,
        from: from - from % res_ns,
        to,
        service,
        name: None,
    };
    let aligned = q.from;
    let rows = blocking(state, move |s| s.span_rollups(&q)).await?;
    Ok((resolution, aligned, rows))
}

/// The rollup resolution (ns) a rollup series of `step_ns` reads, whose buckets its
/// steps start on: hourly rows for whole hours, minute rows otherwise.
fn step_origin(step_ns: u64) -> u64 {
    if step_ns.is_multiple_of(HOUR_NS) {
        HOUR_NS
    } else {
        MINUTE_NS
    }
}

/// A metric series as read for the JSON answer and the chart.
pub(super) struct SeriesData {
    pub(super) agg: Agg,
    pub(super) step_ns: u64,
    pub(super) from: u64,
    pub(super) to: u64,
    pub(super) source: &'static str,
    /// The `group_by` key, if any.
    pub(super) key: Option<String>,
    /// (group value, points); one series with a null group without `group_by`.
    pub(super) series: Vec<(serde_json::Value, Vec<series::Point>)>,
    /// Exemplars by group and step.
    pub(super) exemplars: series::ExemplarSteps,
}

/// Exemplars a series returns per step, at most.
const EXEMPLARS_PER_STEP: usize = 5;
/// Points with exemplars a series reads, at most (the newest).
const MAX_EXEMPLAR_POINTS: usize = 2_000;

/// Reads `from=&to=&step=&agg=&group_by=` of `name` from the minute or hourly
/// rollups, or, with `group_by` (an attribute key, or `service.name`), from the raw
/// points of the range.
pub(super) async fn series_of(
    state: &AppState,
    name: &str,
    params: &HashMap<String, String>,
) -> Result<SeriesData, ApiError> {
    check_parameters(params, &["from", "to", "step", "agg", "group_by"])?;
    let (from, to) = time_range(params, HOUR_NS)?;
    let n = name.to_string();
    let sample = blocking(state, move |s| s.metric_points(&n, 0, u64::MAX >> 1, 0)).await?;
    let kind = sample.first().map_or("gauge", |p| p.kind);
    let agg: Agg = match params
        .get("agg")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    {
        Some(a) => a.parse().map_err(ApiError::BadRequest)?,
        // Increases add up; current values are read as the last; histograms average.
        None if sample.is_empty() => Agg::Avg,
        None => Agg::default_for(kind),
    };
    let group_by = params
        .get("group_by")
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty());
    // The last value and percentiles are read from the raw points (rollups keep count,
    // sum, min and max per metric and service).
    let raw = group_by.is_some() || agg.needs_points(kind);
    // By default about 120 points, in whole minutes.
    let step_ns = step_param(params, to - from, MINUTE_NS)?;
    let min_step = if raw { 1_000_000_000 } else { MINUTE_NS };
    if step_ns < min_step || (!raw && step_ns % MINUTE_NS != 0) {
        return Err(ApiError::BadRequest(if raw {
            "step: at least 1s".into()
        } else {
            "step: a whole number of minutes (rollups are per minute and per hour)".into()
        }));
    }
    check_point_count(to - from, step_ns)?;
    // Rollups first, unless the aggregation needs raw points; percentiles fall back to
    // the raw points when the rollups hold no buckets (a store whose rollups keep none,
    // or rows written before they did).
    let mut from_rollups = None;
    if !raw {
        let res_ns = step_origin(step_ns);
        let resolution = (res_ns / 1_000_000_000) as u32;
        let q = RollupQuery {
            resolution,
            from: from - from % res_ns,
            to,
            service: None,
            name: Some(name.to_string()),
        };
        let rows = blocking(state, move |s| s.metric_rollups(&q)).await?;
        let usable = !matches!(agg, Agg::Quantile(_))
            || rows.is_empty()
            || rows.iter().any(|(_, m)| !m.buckets.is_empty());
        if usable {
            let points = series::from_rollups(&rows, from - from % res_ns, step_ns, agg);
            let source = if resolution == 60 {
                "rollup_1m"
            } else {
                "rollup_1h"
            };
            let series = if points.is_empty() {
                Vec::new()
            } else {
                vec![(serde_json::Value::Null, points)]
            };
            from_rollups = Some((source, series));
        }
    }
    let raw = from_rollups.is_none();
    let (source, series) = match from_rollups {
        Some(read) => read,
        None => {
            let n = name.to_string();
            let points = blocking(state, move |s| {
                s.metric_points(&n, from, to, MAX_SERIES_POINTS)
            })
            .await?;
            if points.len() > MAX_SERIES_POINTS {
                return Err(ApiError::BadRequest(format!(
                    "the range holds more than {MAX_SERIES_POINTS} points; narrow it, or use \
                     avg, sum, min, max or count without group_by (read from rollups)"
                )));
            }
            let series = series::from_points(&points, from, step_ns, agg, group_by.as_deref());
            ("raw", series)
        }
    };
    let n = name.to_string();
    let with_exemplars = blocking(state, move |s| {
        s.metric_exemplars(&n, from, to, MAX_EXEMPLAR_POINTS)
    })
    .await?;
    let steps_from = if raw {
        from
    } else {
        from - from % step_origin(step_ns)
    };
    let exemplars = series::exemplars_by_step(
        &with_exemplars,
        steps_from,
        step_ns,
        group_by.as_deref(),
        EXEMPLARS_PER_STEP,
    );
    Ok(SeriesData {
        agg,
        step_ns,
        from,
        to,
        source,
        key: group_by,
        series,
        exemplars,
    })
}
