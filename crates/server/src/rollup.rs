//! Rollups maintained at ingest: per minute and per hour, span counts, error counts
//! and a latency histogram per service and operation; count, sum, min and max per
//! metric series; counts and errors per agent and action type.
//!
//! A batch is first aggregated here, in memory; the store then merges each aggregate
//! into its row (`INSERT ... ON CONFLICT DO UPDATE`), so a rollup row costs one
//! statement per batch, not one per span.

use crate::rows::Batch;
use std::collections::{BTreeMap, HashMap};

/// Rollup resolutions, in seconds.
pub const RESOLUTIONS: [u32; 2] = [60, 3600];

/// Histogram buckets (see [`automagik_telemetry_core::latency`]).
pub const HIST_BUCKETS: usize = automagik_telemetry_core::latency::BUCKETS;
pub use automagik_telemetry_core::latency::{bucket_of, bucket_value_ns};

/// Adds `other` into `into`, bucket by bucket.
pub fn merge_hist(into: &mut Vec<u64>, other: &[u64]) {
    if into.len() < other.len() {
        into.resize(other.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(other) {
        *a = a.saturating_add(*b);
    }
}

/// The `q` quantile (0–1) of a histogram, in ns, or `None` when it is empty.
pub fn quantile_ns(hist: &[u64], q: f64) -> Option<f64> {
    let total = hist.iter().fold(0u64, |total, n| total.saturating_add(*n));
    if total == 0 {
        return None;
    }
    // The smallest bucket whose cumulative count reaches rank ceil(q * total).
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
    let mut seen: u64 = 0;
    for (i, n) in hist.iter().enumerate() {
        seen = seen.saturating_add(*n);
        if seen >= rank {
            return Some(bucket_value_ns(i));
        }
    }
    None
}

/// Histogram as little-endian u64 words, trailing empty buckets dropped.
pub fn hist_to_bytes(hist: &[u64]) -> Vec<u8> {
    let used = hist.iter().rposition(|n| *n > 0).map_or(0, |i| i + 1);
    hist[..used].iter().flat_map(|n| n.to_le_bytes()).collect()
}

/// The inverse of [`hist_to_bytes`] (a trailing partial word is ignored).
pub fn hist_from_bytes(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect()
}

/// Key of a span rollup row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpanKey {
    /// Seconds per bucket.
    pub resolution: u32,
    /// Bucket start, ns.
    pub bucket: u64,
    /// Service.
    pub service_name: String,
    /// Span name.
    pub operation: String,
}

/// Aggregate of spans in one bucket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanAgg {
    /// Spans.
    pub count: u64,
    /// Spans with an error status.
    pub errors: u64,
    /// Total duration, ns.
    pub duration_sum_ns: u64,
    /// Latency histogram (see [`HIST_BUCKETS`]).
    pub hist: Vec<u64>,
}

impl SpanAgg {
    /// Adds another aggregate of the same key.
    pub fn merge(&mut self, other: &SpanAgg) {
        self.count = self.count.saturating_add(other.count);
        self.errors = self.errors.saturating_add(other.errors);
        self.duration_sum_ns = self.duration_sum_ns.saturating_add(other.duration_sum_ns);
        merge_hist(&mut self.hist, &other.hist);
    }
}

/// Key of a metric rollup row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricKey {
    /// Seconds per bucket.
    pub resolution: u32,
    /// Bucket start, ns.
    pub bucket: u64,
    /// Metric name.
    pub name: String,
    /// Service.
    pub service_name: String,
}

/// Aggregate of metric points in one bucket. For a histogram point, `count` and `sum`
/// are those of its observations, and `buckets` its bucket counts.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricAgg {
    /// Values (or observations).
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Histogram bucket counts by upper bound (ascending, the last `+inf`), merged
    /// across the bucket's points; empty for sums and gauges.
    pub buckets: Vec<(f64, u64)>,
}

impl MetricAgg {
    /// An aggregate of nothing yet.
    pub fn empty() -> MetricAgg {
        MetricAgg {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            buckets: Vec::new(),
        }
    }

    fn add(&mut self, count: u64, sum: f64, min: f64, max: f64) {
        self.count = self.count.saturating_add(count);
        self.sum += sum;
        self.min = self.min.min(min);
        self.max = self.max.max(max);
    }

    /// Adds another aggregate of the same key.
    pub fn merge(&mut self, other: &MetricAgg) {
        self.add(other.count, other.sum, other.min, other.max);
        merge_buckets(&mut self.buckets, &other.buckets);
    }
}

/// Adds `other` into `into`, bucket by upper bound (both ascending).
pub fn merge_buckets(into: &mut Vec<(f64, u64)>, other: &[(f64, u64)]) {
    if other.is_empty() {
        return;
    }
    let mut merged = Vec::with_capacity(into.len() + other.len());
    let (mut a, mut b) = (into.iter().peekable(), other.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.0.total_cmp(&y.0) {
                std::cmp::Ordering::Less => a.next().copied(),
                std::cmp::Ordering::Greater => b.next().copied(),
                std::cmp::Ordering::Equal => {
                    let (x, y) = (a.next().copied(), b.next().copied());
                    x.zip(y).map(|(x, y)| (x.0, x.1.saturating_add(y.1)))
                }
            },
            (Some(_), None) => a.next().copied(),
            (None, Some(_)) => b.next().copied(),
            (None, None) => break,
        };
        merged.extend(next);
    }
    *into = merged;
}

/// A histogram point's buckets by upper bound (`bounds.len() + 1` counts; the last
/// bound `+inf`); empty buckets and NaN bounds left out.
pub fn point_buckets(bounds: &[f64], counts: &[u64]) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = counts
        .iter()
        .enumerate()
        .map(|(i, n)| (bounds.get(i).copied().unwrap_or(f64::INFINITY), *n))
        .filter(|(b, n)| *n > 0 && !b.is_nan())
        .collect();
    out.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut merged: Vec<(f64, u64)> = Vec::with_capacity(out.len());
    merge_buckets(&mut merged, &out);
    merged
}

/// The stored form of rollup buckets: a JSON object of counts by upper bound (`inf`
/// for the last), `None` for none.
pub fn buckets_to_text(buckets: &[(f64, u64)]) -> Option<String> {
    if buckets.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = buckets
        .iter()
        .map(|(b, n)| (b.to_string(), serde_json::Value::from(*n)))
        .collect();
    Some(serde_json::Value::Object(map).to_string())
}

/// The inverse of [`buckets_to_text`] (what cannot be read is left out).
pub fn buckets_from_text(text: Option<&str>) -> Vec<(f64, u64)> {
    let Some(Ok(serde_json::Value::Object(map))) = text.map(serde_json::from_str) else {
        return Vec::new();
    };
    let mut out: Vec<(f64, u64)> = map
        .iter()
        .filter_map(|(k, v)| {
            let bound: f64 = k.parse().ok()?;
            let n = v.as_u64().or_else(|| v.as_f64().map(|f| f as u64))?;
            (!bound.is_nan()).then_some((bound, n))
        })
        .collect();
    out.sort_by(|x, y| x.0.total_cmp(&y.0));
    out
}

/// Key of an agent rollup row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgentKey {
    /// Seconds per bucket.
    pub resolution: u32,
    /// Bucket start, ns.
    pub bucket: u64,
    /// Agent.
    pub agent_name: String,
    /// `run` for runs, else the action type.
    pub action_type: String,
}

/// Aggregate of agent actions in one bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentAgg {
    /// Actions (or runs).
    pub count: u64,
    /// Failed ones.
    pub errors: u64,
}

/// The rollup contributions of one batch, sorted by key (so concurrent writers lock
/// rows in the same order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rollups {
    /// Span rollups.
    pub spans: BTreeMap<SpanKey, SpanAgg>,
    /// Metric rollups.
    pub metrics: BTreeMap<MetricKey, MetricAgg>,
    /// Agent rollups.
    pub agents: BTreeMap<AgentKey, AgentAgg>,
}

fn bucket_start(time_ns: u64, resolution: u32) -> u64 {
    let step = u64::from(resolution) * 1_000_000_000;
    time_ns - time_ns % step
}

impl Rollups {
    /// Aggregates one batch at every resolution.
    pub fn of(batch: &Batch) -> Rollups {
        let mut r = Rollups::default();
        // Spans are many: aggregate them per minute under borrowed names first, then
        // derive the owned keys of every resolution from those few aggregates.
        let mut minutes: HashMap<(u64, &str, &str), SpanAgg> = HashMap::new();
        for s in &batch.spans {
            let agg = minutes
                .entry((
                    bucket_start(s.start_time_unix_nano, RESOLUTIONS[0]),
                    s.service_name.as_str(),
                    s.name.as_str(),
                ))
                .or_default();
            // Durations and counts come from the request: saturate rather than overflow.
            let duration = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano);
            agg.count += 1;
            agg.errors += u64::from(s.status_code == 2);
            agg.duration_sum_ns = agg.duration_sum_ns.saturating_add(duration);
            let b = bucket_of(duration);
            if agg.hist.len() <= b {
                agg.hist.resize(b + 1, 0);
            }
            agg.hist[b] += 1;
        }
        // An hour is a whole number of minutes, so the minute buckets roll up exactly.
        for ((minute, service, operation), agg) in &minutes {
            for &resolution in &RESOLUTIONS {
                r.spans
                    .entry(SpanKey {
                        resolution,
                        bucket: bucket_start(*minute, resolution),
                        service_name: service.to_string(),
                        operation: operation.to_string(),
                    })
                    .or_default()
                    .merge(agg);
            }
        }
        for &resolution in &RESOLUTIONS {
            for m in &batch.metric_points {
                let contribution = match (m.value, m.count) {
                    (Some(v), _) if v.is_finite() => Some((1, v, v, v)),
                    (_, Some(count)) if count > 0 => {
                        let sum = m.sum.filter(|s| s.is_finite()).unwrap_or(0.0);
                        let mean = sum / count as f64;
                        Some((
                            count,
                            sum,
                            m.min.filter(|v| v.is_finite()).unwrap_or(mean),
                            m.max.filter(|v| v.is_finite()).unwrap_or(mean),
                        ))
                    }
                    _ => None,
                };
                if let Some((count, sum, min, max)) = contribution {
                    let agg = r
                        .metrics
                        .entry(MetricKey {
                            resolution,
                            bucket: bucket_start(m.time_unix_nano, resolution),
                            name: m.name.clone(),
                            service_name: m.service_name.clone(),
                        })
                        .or_insert_with(MetricAgg::empty);
                    agg.add(count, sum, min, max);
                    if let (Some(bounds), Some(counts)) = (&m.explicit_bounds, &m.bucket_counts) {
                        merge_buckets(&mut agg.buckets, &point_buckets(bounds, counts));
                    }
                }
            }
            let runs = batch.agent_runs.iter().map(|run| {
                (
                    run.start_time_unix_nano,
                    &run.agent_name,
                    "run",
                    run.status == "failed",
                )
            });
            let actions = batch.agent_actions.iter().map(|a| {
                (
                    a.time_unix_nano,
                    &a.agent_name,
                    a.action_type.as_str(),
                    a.is_error,
                )
            });
            for (time, agent, action_type, failed) in runs.chain(actions) {
                let agg = r
                    .agents
                    .entry(AgentKey {
                        resolution,
                        bucket: bucket_start(time, resolution),
                        agent_name: agent.clone(),
                        action_type: action_type.to_string(),
                    })
                    .or_default();
                agg.count += 1;
                agg.errors += u64::from(failed);
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{MetricPointRow, SpanRow};

    fn span(service: &str, name: &str, start: u64, duration: u64, status: i32) -> SpanRow {
        SpanRow {
            trace_id: "0".repeat(32),
            span_id: "1".repeat(16),
            parent_span_id: String::new(),
            name: name.into(),
            service_name: service.into(),
            kind: 1,
            start_time_unix_nano: start,
            end_time_unix_nano: start + duration,
            status_code: status,
            status_message: String::new(),
            attributes: "{}".into(),
            events: "[]".into(),
            resource: "{}".into(),
            ..SpanRow::default()
        }
    }

    #[test]
    fn buckets_are_monotonic_and_within_nine_percent() {
        let mut last = 0;
        for d in (0..40).map(|i| 1_000u64 << i) {
            let b = bucket_of(d);
            assert!(b >= last);
            last = b;
        }
        for d in [1_500u64, 7_777, 1_000_000, 123_456_789, 3_600_000_000_000] {
            let v = bucket_value_ns(bucket_of(d));
            assert!((v / d as f64 - 1.0).abs() < 0.1, "{d} -> {v}");
        }
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(u64::MAX), HIST_BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut hist = Vec::new();
        // 1..=100 ms, one span each.
        for ms in 1..=100u64 {
            let b = bucket_of(ms * 1_000_000);
            if hist.len() <= b {
                hist.resize(b + 1, 0);
            }
            hist[b] += 1;
        }
        for (q, want_ms) in [(0.5, 50.0), (0.95, 95.0), (0.99, 99.0)] {
            let got = quantile_ns(&hist, q).expect("non-empty") / 1e6;
            assert!(
                (got / want_ms - 1.0).abs() < 0.1,
                "p{q}: {got} vs {want_ms}"
            );
        }
        assert_eq!(quantile_ns(&[], 0.5), None);
        assert_eq!(hist_from_bytes(&hist_to_bytes(&hist)), hist);
    }

    #[test]
    fn durations_and_counts_from_a_request_saturate_instead_of_overflowing() {
        let batch = Batch {
            spans: vec![
                span("api", "GET /", 0, u64::MAX, 0),
                span("api", "GET /", 1, u64::MAX - 1, 0),
            ],
            metric_points: (0..2)
                .map(|_| MetricPointRow {
                    count: Some(u64::MAX),
                    sum: Some(1.0),
                    ..MetricPointRow::number("h", "api", "histogram", 0, None, "{}")
                })
                .collect(),
            ..Default::default()
        };
        let r = Rollups::of(&batch);
        let minute = r.spans.values().next().expect("a span rollup");
        assert_eq!((minute.count, minute.duration_sum_ns), (2, u64::MAX));
        let metric = r.metrics.values().next().expect("a metric rollup");
        assert_eq!(metric.count, u64::MAX);
        assert_eq!(
            quantile_ns(&[u64::MAX, u64::MAX], 0.5),
            Some(bucket_value_ns(0))
        );
    }

    #[test]
    fn batch_rollups_per_minute_and_hour() {
        let t0 = 1_700_000_020_000_000_000; // 40 s into a minute
        let batch = Batch {
            spans: vec![
                span("api", "GET /", t0, 2_000_000, 0),
                span("api", "GET /", t0 + 30_000_000_000, 4_000_000, 2), // next minute
                span("api", "POST /", t0, 1_000_000, 1),
            ],
            metric_points: vec![MetricPointRow::number(
                "queue.depth",
                "api",
                "gauge",
                t0,
                Some(7.0),
                "{}",
            )],
            ..Default::default()
        };
        let r = Rollups::of(&batch);
        let minute = |bucket| SpanKey {
            resolution: 60,
            bucket,
            service_name: "api".into(),
            operation: "GET /".into(),
        };
        let m0 = t0 - 40_000_000_000;
        assert_eq!(r.spans[&minute(m0)].count, 1);
        assert_eq!(r.spans[&minute(m0 + 60_000_000_000)].errors, 1);
        let hour = r
            .spans
            .iter()
            .find(|(k, _)| k.resolution == 3600 && k.operation == "GET /")
            .map(|(_, v)| v.clone())
            .expect("hourly row");
        assert_eq!(
            (hour.count, hour.errors, hour.duration_sum_ns),
            (2, 1, 6_000_000)
        );
        assert_eq!(r.spans.len(), 5);
        let metric = r.metrics.values().next().expect("metric rollup");
        assert_eq!(
            (metric.count, metric.sum, metric.min, metric.max),
            (1, 7.0, 7.0, 7.0)
        );
    }
}
