//! Rollups maintained at ingest: per minute and per hour, span counts, error counts
//! and a latency histogram per service and operation; count, sum, min and max per
//! metric series; counts and errors per agent and action type; calls, tokens, cost and a
//! latency histogram of LLM calls per model, provider, agent, session and user.
//!
//! A batch is first aggregated here, in memory; the store then merges each aggregate
//! into its row (`INSERT ... ON CONFLICT DO UPDATE`), so a rollup row costs one
//! statement per batch, not one per span.

use crate::rows::{Batch, LlmCallRow};
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

/// The dimensions LLM calls are rolled up by (see [`GenAiKey::dimension`]).
pub const GENAI_DIMENSIONS: [&str; 5] = ["model", "provider", "agent", "session", "user"];

/// Key of a GenAI usage rollup row: one per resolution, bucket, dimension and key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GenAiKey {
    /// Seconds per bucket.
    pub resolution: u32,
    /// Bucket start, ns.
    pub bucket: u64,
    /// `model`, `provider`, `agent`, `session` or `user`.
    pub dimension: String,
    /// The model (response model, else request model), provider, agent name, session id
    /// or user id; empty when the call has none.
    pub key: String,
}

/// Aggregate of LLM calls in one bucket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenAiAgg {
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Input tokens (cached ones included).
    pub input_tokens: u64,
    /// Output tokens (reasoning ones included).
    pub output_tokens: u64,
    /// Input tokens read from a cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to a cache.
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
    /// Cost of the priced calls, USD.
    pub cost_usd: f64,
    /// Calls without a cost.
    pub unpriced_calls: u64,
    /// Total duration, ns.
    pub duration_sum_ns: u64,
    /// Latency histogram, as [`SpanAgg::hist`].
    pub hist: Vec<u64>,
}

impl GenAiAgg {
    /// Adds another aggregate of the same key.
    pub fn merge(&mut self, other: &GenAiAgg) {
        self.calls = self.calls.saturating_add(other.calls);
        self.errors = self.errors.saturating_add(other.errors);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(other.cache_write_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(other.reasoning_tokens);
        self.cost_usd += other.cost_usd;
        self.unpriced_calls = self.unpriced_calls.saturating_add(other.unpriced_calls);
        self.duration_sum_ns = self.duration_sum_ns.saturating_add(other.duration_sum_ns);
        merge_hist(&mut self.hist, &other.hist);
    }

    /// The aggregate of one call. A cost that is not a finite number counts the call as
    /// unpriced, as a missing one does.
    pub fn of_call(c: &LlmCallRow) -> GenAiAgg {
        let cost = c.cost_usd.filter(|v| v.is_finite());
        let b = bucket_of(c.duration_ns);
        let mut hist = vec![0; b + 1];
        hist[b] = 1;
        GenAiAgg {
            calls: 1,
            errors: u64::from(c.is_error),
            input_tokens: c.input_tokens.unwrap_or(0),
            output_tokens: c.output_tokens.unwrap_or(0),
            cache_read_tokens: c.cache_read_tokens.unwrap_or(0),
            cache_write_tokens: c.cache_write_tokens.unwrap_or(0),
            reasoning_tokens: c.reasoning_tokens.unwrap_or(0),
            cost_usd: cost.unwrap_or(0.0),
            unpriced_calls: u64::from(cost.is_none()),
            duration_sum_ns: c.duration_ns,
            hist,
        }
    }
}

/// The key a call is counted under in `dimension` (one of [`GENAI_DIMENSIONS`]): the
/// model that answered (else the one asked for), the provider, agent, session or user;
/// empty when the call has none, or for another dimension.
pub fn genai_key_of<'a>(c: &'a LlmCallRow, dimension: &str) -> &'a str {
    match dimension {
        "model" if c.response_model.is_empty() => &c.request_model,
        "model" => &c.response_model,
        "provider" => &c.provider,
        "agent" => &c.agent_name,
        "session" => &c.session_id,
        "user" => &c.user_id,
        _ => "",
    }
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
    /// GenAI usage rollups: each LLM call once per dimension, by its start time.
    pub genai: BTreeMap<GenAiKey, GenAiAgg>,
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
        for c in &batch.llm_calls {
            let one = GenAiAgg::of_call(c);
            for &resolution in &RESOLUTIONS {
                let bucket = bucket_start(c.start_time_unix_nano, resolution);
                for dimension in GENAI_DIMENSIONS {
                    r.genai
                        .entry(GenAiKey {
                            resolution,
                            bucket,
                            dimension: dimension.to_string(),
                            key: genai_key_of(c, dimension).to_string(),
                        })
                        .or_default()
                        .merge(&one);
                }
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{LlmCallRow, MetricPointRow, SpanRow};

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

    const MS: u64 = 1_000_000;
    /// 2023-11-14T22:00:00Z, a whole hour.
    const HOUR: u64 = 1_699_999_200_000_000_000;
    const MINUTE: u64 = 60_000_000_000;

    fn call(model: &str, start: u64, duration_ms: u64, cost: Option<f64>) -> LlmCallRow {
        LlmCallRow {
            trace_id: "ab".repeat(16),
            span_id: format!("{start:016x}"),
            agent_name: "planner".into(),
            provider: "openai".into(),
            request_model: "gpt-4o".into(),
            response_model: model.into(),
            input_tokens: Some(1_000),
            output_tokens: Some(200),
            cache_read_tokens: Some(100),
            cache_write_tokens: None,
            reasoning_tokens: Some(20),
            cost_usd: cost,
            start_time_unix_nano: start,
            duration_ns: duration_ms * MS,
            session_id: "sess-1".into(),
            user_id: "user-1".into(),
            ..LlmCallRow::default()
        }
    }

    fn genai_row<'a>(
        r: &'a Rollups,
        resolution: u32,
        bucket: u64,
        dimension: &str,
        key: &str,
    ) -> &'a GenAiAgg {
        let k = GenAiKey {
            resolution,
            bucket,
            dimension: dimension.into(),
            key: key.into(),
        };
        r.genai.get(&k).unwrap_or_else(|| panic!("no row {k:?}"))
    }

    #[test]
    fn llm_calls_roll_up_once_per_dimension_at_every_resolution() {
        let unpriced = LlmCallRow {
            provider: "acme".into(),
            request_model: "acme-large".into(),
            agent_name: String::new(),
            session_id: "sess-2".into(),
            is_error: true,
            input_tokens: Some(40),
            output_tokens: None,
            cache_read_tokens: None,
            reasoning_tokens: None,
            ..call("", HOUR + 20_000 * MS, 200, None)
        };
        let batch = Batch {
            llm_calls: vec![
                call("gpt-4o-2024-08-06", HOUR + 10_000 * MS, 800, Some(0.25)),
                unpriced,
                // The next minute, the same hour.
                call("gpt-4o-2024-08-06", HOUR + MINUTE + 5, 400, Some(0.5)),
                // An infinite cost is no cost.
                call("gpt-4o-mini", HOUR + 2 * MINUTE, 300, Some(f64::INFINITY)),
            ],
            ..Default::default()
        };
        let r = Rollups::of(&batch);
        let minute_rows = r.genai.keys().filter(|k| k.resolution == 60).count();
        let hour_rows = r.genai.keys().filter(|k| k.resolution == 3600).count();
        // Minute HOUR: 2 calls, every dimension but user (both user-1) tells them apart
        // (model, provider, agent, session: 2 keys each; user: 1) = 9; the two other
        // minutes: 5 each.
        assert_eq!(minute_rows, 9 + 5 + 5);
        // The hour: model 3, provider 2, agent 2, session 2, user 1.
        assert_eq!(hour_rows, 10);
        for dimension in GENAI_DIMENSIONS {
            let calls: u64 = r
                .genai
                .iter()
                .filter(|(k, _)| k.resolution == 3600 && k.dimension == dimension)
                .map(|(_, v)| v.calls)
                .sum();
            assert_eq!(calls, 4, "{dimension}");
        }

        let gpt = genai_row(&r, 3600, HOUR, "model", "gpt-4o-2024-08-06");
        assert_eq!(
            (gpt.calls, gpt.errors, gpt.unpriced_calls, gpt.cost_usd),
            (2, 0, 0, 0.75)
        );
        assert_eq!(
            (
                gpt.input_tokens,
                gpt.output_tokens,
                gpt.cache_read_tokens,
                gpt.cache_write_tokens,
                gpt.reasoning_tokens
            ),
            (2_000, 400, 200, 0, 40)
        );
        assert_eq!(gpt.duration_sum_ns, 1_200 * MS);
        assert_eq!(gpt.hist.iter().sum::<u64>(), 2);
        assert_eq!(
            quantile_ns(&gpt.hist, 0.5),
            Some(bucket_value_ns(bucket_of(400 * MS)))
        );
        assert_eq!(
            quantile_ns(&gpt.hist, 1.0),
            Some(bucket_value_ns(bucket_of(800 * MS)))
        );

        // No response model: counted under the requested one; no cost: unpriced, not 0.
        let acme = genai_row(&r, 60, HOUR, "model", "acme-large");
        assert_eq!(
            (acme.calls, acme.errors, acme.unpriced_calls, acme.cost_usd),
            (1, 1, 1, 0.0)
        );
        assert_eq!((acme.input_tokens, acme.output_tokens), (40, 0));
        let mini = genai_row(&r, 60, HOUR + 2 * MINUTE, "model", "gpt-4o-mini");
        assert_eq!((mini.unpriced_calls, mini.cost_usd), (1, 0.0));

        // A call without an agent is counted under the empty key.
        assert_eq!(genai_row(&r, 3600, HOUR, "agent", "").calls, 1);
        assert_eq!(genai_row(&r, 3600, HOUR, "agent", "planner").calls, 3);
        let openai = genai_row(&r, 3600, HOUR, "provider", "openai");
        assert_eq!(
            (openai.calls, openai.cost_usd, openai.unpriced_calls),
            (3, 0.75, 1)
        );
        assert_eq!(genai_row(&r, 3600, HOUR, "session", "sess-2").errors, 1);
        let user = genai_row(&r, 3600, HOUR, "user", "user-1");
        assert_eq!((user.calls, user.errors, user.unpriced_calls), (4, 1, 2));
        assert_eq!(user.duration_sum_ns, 1_700 * MS);
        // The minute rows add up to the hour's.
        let mut minutes = GenAiAgg::default();
        for (_, v) in r
            .genai
            .iter()
            .filter(|(k, _)| k.resolution == 60 && k.dimension == "user")
        {
            minutes.merge(v);
        }
        assert_eq!(&minutes, user);
    }

    #[test]
    fn genai_counts_from_a_request_saturate_instead_of_overflowing() {
        let huge = LlmCallRow {
            input_tokens: Some(u64::MAX),
            duration_ns: u64::MAX,
            ..call("m", HOUR, 0, Some(1.0))
        };
        let batch = Batch {
            llm_calls: vec![huge.clone(), huge],
            ..Default::default()
        };
        let r = Rollups::of(&batch);
        let row = genai_row(&r, 60, HOUR, "model", "m");
        assert_eq!(
            (row.calls, row.input_tokens, row.duration_sum_ns),
            (2, u64::MAX, u64::MAX)
        );
        assert_eq!(row.hist.len(), HIST_BUCKETS);
        assert_eq!(row.hist[HIST_BUCKETS - 1], 2);
        assert_eq!(genai_key_of(&call("m", 0, 1, None), "colour"), "");
    }
}
