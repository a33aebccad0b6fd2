//! Metric series: rollup rows or raw points cut into steps and aggregated, and span
//! rollups turned into per-operation latency figures.

use crate::rollup::{MetricAgg, MetricKey, SpanAgg, SpanKey, quantile_ns};
use crate::rows::MetricPointRow;
use std::collections::BTreeMap;

/// How values in one step combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agg {
    /// Mean of the values (of the observations, for histograms).
    Avg,
    /// Sum.
    Sum,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// How many values (observations).
    Count,
    /// The current value: the last value of each series in the step, added across the
    /// series (for histograms, the mean of each series' last point, averaged).
    Last,
    /// A quantile, in thousandths (`p95` is 950): from the merged buckets of the step's
    /// histogram points, from the quantiles summaries carry ([`summary_quantile`]), or
    /// from the values of number points.
    Quantile(u16),
}

impl std::str::FromStr for Agg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        const EXPECTED: &str = "agg: expected avg, sum, min, max, count, last or a percentile such as p50, p90, p95, p99 or p99.9";
        match s {
            "avg" => Ok(Agg::Avg),
            "sum" => Ok(Agg::Sum),
            "min" => Ok(Agg::Min),
            "max" => Ok(Agg::Max),
            "count" => Ok(Agg::Count),
            "last" => Ok(Agg::Last),
            _ => {
                let p: f64 = s
                    .strip_prefix('p')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| EXPECTED.to_string())?;
                let thousandths = (p * 10.0).round();
                if !(p > 0.0 && p <= 100.0) || (thousandths - p * 10.0).abs() > 1e-9 {
                    return Err(EXPECTED.into());
                }
                Ok(Agg::Quantile(thousandths as u16))
            }
        }
    }
}

impl std::fmt::Display for Agg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Agg::Avg => f.write_str("avg"),
            Agg::Sum => f.write_str("sum"),
            Agg::Min => f.write_str("min"),
            Agg::Max => f.write_str("max"),
            Agg::Count => f.write_str("count"),
            Agg::Last => f.write_str("last"),
            Agg::Quantile(t) if t % 10 == 0 => write!(f, "p{}", t / 10),
            Agg::Quantile(t) => write!(f, "p{}.{}", t / 10, t % 10),
        }
    }
}

impl Agg {
    /// Whether the aggregation of a metric of `kind` needs its raw points: rollups keep
    /// count, sum, min, max and histogram buckets per metric and service, not the
    /// series' last values nor the values of gauges and sums.
    pub fn needs_points(self, kind: &str) -> bool {
        match self {
            Agg::Last => true,
            Agg::Quantile(_) => kind != "histogram",
            _ => false,
        }
    }

    /// The default for a metric of `kind`: increases add up, current values (gauges,
    /// up-down counters) are read as the last value, histograms average.
    pub fn default_for(kind: &str) -> Agg {
        match kind {
            "sum" => Agg::Sum,
            "gauge" | "updown_sum" => Agg::Last,
            _ => Agg::Avg,
        }
    }
}

/// One step of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Step start, ns.
    pub time: u64,
    /// Aggregated value.
    pub value: f64,
}

#[derive(Clone, Copy)]
struct Acc {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Acc {
    const EMPTY: Acc = Acc {
        count: 0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };

    fn add(&mut self, m: &MetricAgg) {
        self.count = self.count.saturating_add(m.count);
        self.sum += m.sum;
        self.min = self.min.min(m.min);
        self.max = self.max.max(m.max);
    }

    fn value(&self, agg: Agg) -> f64 {
        match agg {
            Agg::Avg | Agg::Last | Agg::Quantile(_) if self.count > 0 => {
                self.sum / self.count as f64
            }
            Agg::Avg | Agg::Last | Agg::Quantile(_) => 0.0,
            Agg::Sum => self.sum,
            Agg::Min => self.min,
            Agg::Max => self.max,
            Agg::Count => self.count as f64,
        }
    }
}

/// The start of the step of `from` + k `step_ns` that holds `time` (`from` for a time
/// before it). Never overflows: the start is at most `time`. A zero step (which the
/// query API refuses) keeps each time as its own step.
fn step_of(time: u64, from: u64, step_ns: u64) -> u64 {
    match time.saturating_sub(from).checked_div(step_ns) {
        Some(n) => from + n * step_ns,
        None => time.max(from),
    }
}

/// A series from rollup rows (all services together), one point per step with data;
/// percentiles from the rows' merged histogram buckets.
pub fn from_rollups(
    rows: &[(MetricKey, MetricAgg)],
    from: u64,
    step_ns: u64,
    agg: Agg,
) -> Vec<Point> {
    let mut steps: BTreeMap<u64, (Acc, MergedBuckets)> = BTreeMap::new();
    for (k, m) in rows {
        let step = steps
            .entry(step_of(k.bucket, from, step_ns))
            .or_insert_with(|| (Acc::EMPTY, MergedBuckets::default()));
        step.0.add(m);
        if matches!(agg, Agg::Quantile(_)) {
            step.1.add_buckets(&m.buckets, Some(m.min), Some(m.max));
        }
    }
    steps
        .into_iter()
        .filter_map(|(time, (acc, buckets))| {
            let value = match agg {
                Agg::Quantile(t) => buckets.quantile(f64::from(t) / 1000.0)?,
                other => acc.value(other),
            };
            Some(Point { time, value })
        })
        .collect()
}

fn point_agg(p: &MetricPointRow) -> Option<MetricAgg> {
    match (p.value, p.count) {
        (Some(v), _) if v.is_finite() => Some(MetricAgg {
            count: 1,
            sum: v,
            min: v,
            max: v,
            buckets: Vec::new(),
        }),
        (_, Some(count)) if count > 0 => {
            let sum = p.sum.unwrap_or(0.0);
            let mean = sum / count as f64;
            Some(MetricAgg {
                count,
                sum,
                min: p.min.unwrap_or(mean),
                max: p.max.unwrap_or(mean),
                buckets: Vec::new(),
            })
        }
        _ => None,
    }
}

/// An `f64` ordered by `total_cmp`, as a map key.
#[derive(Clone, Copy, Debug)]
struct Bound(f64);

impl PartialEq for Bound {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for Bound {}
impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bound {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Histogram buckets of several points merged by upper bound (the last bucket's bound
/// is `+inf`): points sharing a layout (the common case) add bucket by bucket; a
/// coarser layout's counts go to its buckets' upper bounds.
#[derive(Clone, Debug, Default)]
pub struct MergedBuckets {
    counts: BTreeMap<Bound, u64>,
    min: Option<f64>,
    max: Option<f64>,
}

impl MergedBuckets {
    /// Adds one point's buckets (`bounds.len() + 1` counts), with its min and max.
    pub fn add(&mut self, bounds: &[f64], counts: &[u64], min: Option<f64>, max: Option<f64>) {
        self.add_buckets(&crate::rollup::point_buckets(bounds, counts), min, max);
    }

    /// Adds buckets by upper bound (as rollups keep them), with their min and max.
    pub fn add_buckets(&mut self, buckets: &[(f64, u64)], min: Option<f64>, max: Option<f64>) {
        for (upper, n) in buckets {
            if upper.is_nan() || *n == 0 {
                continue;
            }
            let slot = self.counts.entry(Bound(*upper)).or_insert(0);
            *slot = slot.saturating_add(*n);
        }
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        if let Some(m) = finite(min) {
            self.min = Some(self.min.map_or(m, |x| x.min(m)));
        }
        if let Some(m) = finite(max) {
            self.max = Some(self.max.map_or(m, |x| x.max(m)));
        }
    }

    /// The `q` quantile (0–1): the bucket holding rank `q * count`, interpolated
    /// linearly within it; the open first and last buckets are closed by the min and
    /// max when known (else by the next bound, or 0 for a first bucket above 0), and
    /// the result is kept within min and max. `None` when empty. Its error is at most
    /// the width of the bucket that holds it.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.counts.values().fold(0u64, |t, n| t.saturating_add(*n));
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut seen = 0u64;
        let mut lower: Option<f64> = None;
        for (Bound(upper), n) in &self.counts {
            let before = seen;
            seen = seen.saturating_add(*n);
            if (seen as f64) >= rank {
                let lo = match lower {
                    Some(l) => l,
                    None => self.min.unwrap_or(if *upper > 0.0 { 0.0 } else { *upper }),
                };
                let hi = if upper.is_finite() {
                    *upper
                } else {
                    self.max.unwrap_or(lo)
                };
                let lo = lo.min(hi);
                let within = (rank - before as f64) / (*n as f64);
                let mut v = lo + (hi - lo) * within.clamp(0.0, 1.0);
                if let Some(m) = self.min {
                    v = v.max(m);
                }
                if let Some(m) = self.max {
                    v = v.min(m);
                }
                return Some(v);
            }
            lower = Some(*upper);
        }
        self.max
    }
}

/// The `q` quantile of `values` (linear between closest ranks); `None` when empty.
fn value_quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    let a = values[i];
    let b = values.get(i + 1).copied().unwrap_or(a);
    Some(a + (b - a) * frac)
}

/// The `q` quantile of a summary's `(quantile, value)` pairs (sorted by quantile): the
/// value at `q` when the summary carries it, else linear between the two closest carried
/// quantiles; `None` outside the carried range (a summary's quantiles cannot be
/// extrapolated, nor merged exactly).
pub fn summary_quantile(pairs: &[(f64, f64)], q: f64) -> Option<f64> {
    let upper = pairs.iter().position(|(level, _)| *level >= q)?;
    let (hi_q, hi_v) = pairs[upper];
    if hi_q == q {
        return Some(hi_v);
    }
    let (lo_q, lo_v) = *pairs.get(upper.checked_sub(1)?)?;
    Some(lo_v + (hi_v - lo_v) * (q - lo_q) / (hi_q - lo_q))
}

/// Time, count and `(quantile, value)` pairs of a series' last summary point.
type LastSummary = (u64, u64, Vec<(f64, f64)>);

/// What one step of a raw series gathers for its aggregation.
#[derive(Default)]
struct RawStep {
    acc: Option<Acc>,
    /// Per series (service and attributes): time and value of its last point.
    last: BTreeMap<String, (u64, f64, bool)>,
    values: Vec<f64>,
    buckets: MergedBuckets,
    histograms: bool,
    /// Per series: its last summary point.
    summaries: BTreeMap<String, LastSummary>,
}

impl RawStep {
    fn add(&mut self, p: &MetricPointRow, m: &MetricAgg, agg: Agg) {
        self.acc.get_or_insert(Acc::EMPTY).add(m);
        match agg {
            Agg::Last => {
                let (value, histogram) = match p.value {
                    Some(v) => (v, false),
                    None => (m.sum / m.count.max(1) as f64, true),
                };
                let series = format!("{}\u{1}{}", p.service_name, p.attributes);
                let slot = self
                    .last
                    .entry(series)
                    .or_insert((p.time_unix_nano, value, histogram));
                if p.time_unix_nano >= slot.0 {
                    *slot = (p.time_unix_nano, value, histogram);
                }
            }
            Agg::Quantile(_) => match (&p.bucket_counts, &p.explicit_bounds) {
                _ if p.kind == "summary" => {
                    let series = format!("{}\u{1}{}", p.service_name, p.attributes);
                    let now = (
                        p.time_unix_nano,
                        p.count.unwrap_or(0),
                        p.quantiles.clone().unwrap_or_default(),
                    );
                    let slot = self.summaries.entry(series).or_insert_with(|| now.clone());
                    if now.0 >= slot.0 {
                        *slot = now;
                    }
                }
                (Some(counts), Some(bounds)) if p.kind == "histogram" => {
                    self.histograms = true;
                    self.buckets.add(bounds, counts, p.min, p.max);
                }
                _ => {
                    if let Some(v) = p.value.filter(|v| v.is_finite()) {
                        self.values.push(v);
                    }
                }
            },
            _ => {}
        }
    }

    fn value(mut self, agg: Agg) -> Option<f64> {
        match agg {
            Agg::Last => {
                let histograms = self.last.values().filter(|(_, _, h)| *h).count();
                let total: f64 = self.last.values().map(|(_, v, _)| v).sum();
                if histograms > 0 {
                    Some(total / self.last.len().max(1) as f64)
                } else {
                    (!self.last.is_empty()).then_some(total)
                }
            }
            Agg::Quantile(t) => {
                let q = f64::from(t) / 1000.0;
                if !self.summaries.is_empty() {
                    // Each series' last summary; several series: their mean weighted by
                    // count (an approximation: summaries cannot be merged exactly).
                    let (mut total, mut weight) = (0.0, 0.0);
                    for (_, count, pairs) in self.summaries.values() {
                        if let Some(v) = summary_quantile(pairs, q) {
                            let w = (*count).max(1) as f64;
                            total += v * w;
                            weight += w;
                        }
                    }
                    (weight > 0.0).then(|| total / weight)
                } else if self.histograms {
                    self.buckets.quantile(q)
                } else {
                    value_quantile(&mut self.values, q)
                }
            }
            other => self.acc.map(|a| a.value(other)),
        }
    }
}

/// Most buckets of a heatmap: finer layouts (exponential histograms at a high scale)
/// are merged into every k-th bound.
pub const MAX_HEATMAP_BUCKETS: usize = 200;

/// A histogram heatmap: the union of the points' bucket upper bounds (the last may be
/// `+inf`), and per step (its start) the count of each bucket. Points sharing a layout
/// add bucket by bucket; a coarser layout's counts go to its own upper bounds. Beyond
/// [`MAX_HEATMAP_BUCKETS`] bounds, consecutive buckets are merged.
pub type Heatmap = (Vec<f64>, Vec<(u64, Vec<u64>)>);

/// The heatmap of the histogram points among `points`, in steps of `step_ns` from `from`.
pub fn heatmap(points: &[MetricPointRow], from: u64, step_ns: u64) -> Heatmap {
    let mut steps: BTreeMap<u64, BTreeMap<Bound, u64>> = BTreeMap::new();
    let mut uppers: std::collections::BTreeSet<Bound> = std::collections::BTreeSet::new();
    for p in points.iter().filter(|p| p.kind == "histogram") {
        let (Some(counts), Some(bounds)) = (&p.bucket_counts, &p.explicit_bounds) else {
            continue;
        };
        let step = steps
            .entry(step_of(p.time_unix_nano, from, step_ns))
            .or_default();
        for (upper, n) in crate::rollup::point_buckets(bounds, counts) {
            if upper.is_nan() {
                continue;
            }
            uppers.insert(Bound(upper));
            let slot = step.entry(Bound(upper)).or_insert(0);
            *slot = slot.saturating_add(n);
        }
    }
    let all: Vec<f64> = uppers.into_iter().map(|b| b.0).collect();
    // Keep every k-th bound (and the last); counts go to the next kept bound.
    let k = all.len().div_ceil(MAX_HEATMAP_BUCKETS).max(1);
    let kept: Vec<f64> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| (i + 1) % k == 0 || i + 1 == all.len())
        .map(|(_, b)| *b)
        .collect();
    let slot_of = |upper: f64| {
        kept.partition_point(|b| *b < upper)
            .min(kept.len().saturating_sub(1))
    };
    let rows = steps
        .into_iter()
        .map(|(t, counts)| {
            let mut row = vec![0u64; kept.len()];
            for (Bound(upper), n) in counts {
                if let Some(c) = row.get_mut(slot_of(upper)) {
                    *c = c.saturating_add(n);
                }
            }
            (t, row)
        })
        .collect();
    (kept, rows)
}

/// The group of a point: the value of the attribute `group_by` (or of `service.name`
/// when that is the key), `null` without it or without `group_by`.
pub fn group_of(p: &MetricPointRow, group_by: Option<&str>) -> serde_json::Value {
    match group_by {
        None => serde_json::Value::Null,
        Some("service.name") => serde_json::Value::String(p.service_name.clone()),
        Some(key) => serde_json::from_str::<serde_json::Value>(&p.attributes)
            .ok()
            .and_then(|mut a| a.get_mut(key).map(serde_json::Value::take))
            .unwrap_or(serde_json::Value::Null),
    }
}

/// Exemplars by (group, as JSON text) and step start: at most `per_step` each, the
/// newest first when `points` are newest first.
pub type ExemplarSteps = BTreeMap<(String, u64), Vec<serde_json::Value>>;

/// The exemplars of `points` (see [`MetricPointRow::exemplars`]) by group and step.
pub fn exemplars_by_step(
    points: &[MetricPointRow],
    from: u64,
    step_ns: u64,
    group_by: Option<&str>,
    per_step: usize,
) -> ExemplarSteps {
    let mut out = ExemplarSteps::new();
    for p in points {
        let Ok(serde_json::Value::Array(items)) = serde_json::from_str(&p.exemplars) else {
            continue;
        };
        let slot = out
            .entry((
                group_of(p, group_by).to_string(),
                step_of(p.time_unix_nano, from, step_ns),
            ))
            .or_default();
        for item in items {
            if slot.len() < per_step {
                slot.push(item);
            }
        }
    }
    out
}

/// Series from raw points, one per value of the attribute `group_by` (or of
/// `service.name` when that is the key; one series of every point without it); points
/// without the attribute form the group `null`.
pub fn from_points(
    points: &[MetricPointRow],
    from: u64,
    step_ns: u64,
    agg: Agg,
    group_by: Option<&str>,
) -> Vec<(serde_json::Value, Vec<Point>)> {
    let mut groups: BTreeMap<String, (serde_json::Value, BTreeMap<u64, RawStep>)> = BTreeMap::new();
    for p in points {
        let Some(m) = point_agg(p) else { continue };
        let group = group_of(p, group_by);
        groups
            .entry(group.to_string())
            .or_insert_with(|| (group, BTreeMap::new()))
            .1
            .entry(step_of(p.time_unix_nano, from, step_ns))
            .or_default()
            .add(p, &m, agg);
    }
    groups
        .into_values()
        .map(|(group, steps)| {
            let points = steps
                .into_iter()
                .filter_map(|(time, step)| step.value(agg).map(|value| Point { time, value }))
                .collect();
            (group, points)
        })
        .collect()
}

/// Spans and error spans per step (every service and operation together), from span
/// rollup rows; steps without spans are absent.
pub fn span_throughput(
    rows: &[(SpanKey, SpanAgg)],
    from: u64,
    step_ns: u64,
) -> (Vec<Point>, Vec<Point>) {
    let mut steps: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (k, a) in rows {
        let step = steps.entry(step_of(k.bucket, from, step_ns)).or_default();
        step.0 = step.0.saturating_add(a.count);
        step.1 = step.1.saturating_add(a.errors);
    }
    let point = |time: u64, n: u64| Point {
        time,
        value: n as f64,
    };
    steps
        .into_iter()
        .map(|(t, (spans, errors))| (point(t, spans), point(t, errors)))
        .unzip()
}

/// One step of a raw series with every figure of its values.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Bucket {
    /// Step start, ns.
    pub time: u64,
    /// Values in the step.
    pub count: u64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub avg: f64,
    /// Sum.
    pub sum: f64,
}

/// Raw points cut into steps of `step_ns` from `from`, one bucket per step with data
/// (all attribute sets together).
pub fn buckets(points: &[MetricPointRow], from: u64, step_ns: u64) -> Vec<Bucket> {
    let mut steps: BTreeMap<u64, Acc> = BTreeMap::new();
    for p in points {
        if let Some(m) = point_agg(p) {
            steps
                .entry(step_of(p.time_unix_nano, from, step_ns))
                .or_insert(Acc::EMPTY)
                .add(&m);
        }
    }
    steps
        .into_iter()
        .map(|(time, a)| Bucket {
            time,
            count: a.count,
            min: a.min,
            max: a.max,
            avg: a.value(Agg::Avg),
            sum: a.sum,
        })
        .collect()
}

/// Latency and error figures of one operation over a time range.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OperationStats {
    /// Service.
    pub service_name: String,
    /// Span name.
    pub operation: String,
    /// Spans.
    pub span_count: u64,
    /// Spans with an error status.
    pub error_count: u64,
    /// Mean duration, ms.
    pub avg_ms: f64,
    /// Median, ms (±9 %).
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// Per-operation figures from span rollup rows, busiest first.
pub fn operations(rows: Vec<(SpanKey, SpanAgg)>) -> Vec<OperationStats> {
    let mut merged: BTreeMap<(String, String), SpanAgg> = BTreeMap::new();
    for (k, v) in rows {
        merged
            .entry((k.service_name, k.operation))
            .or_default()
            .merge(&v);
    }
    let ms = |ns: Option<f64>| ns.map_or(0.0, |v| (v / 1e4).round() / 100.0);
    let mut out: Vec<OperationStats> = merged
        .into_iter()
        .map(|((service_name, operation), a)| OperationStats {
            service_name,
            operation,
            span_count: a.count,
            error_count: a.errors,
            avg_ms: ms((a.count > 0).then(|| a.duration_sum_ns as f64 / a.count as f64)),
            p50_ms: ms(quantile_ns(&a.hist, 0.5)),
            p95_ms: ms(quantile_ns(&a.hist, 0.95)),
            p99_ms: ms(quantile_ns(&a.hist, 0.99)),
        })
        .collect();
    out.sort_by_key(|o| std::cmp::Reverse(o.span_count));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_never_divide_by_zero_nor_overflow() {
        assert_eq!(step_of(125, 100, 10), 120);
        assert_eq!(
            step_of(50, 100, 10),
            100,
            "before the range: its first step"
        );
        assert_eq!(step_of(u64::MAX, 0, u64::MAX - 1), u64::MAX - 1);
        assert_eq!(step_of(u64::MAX, u64::MAX - 5, 3), u64::MAX - 2);
        assert_eq!(step_of(125, 100, 0), 125);
        let rows = [row(0, 1, 1.0, 1.0, 1.0), row(90, 1, 2.0, 2.0, 2.0)];
        assert_eq!(from_rollups(&rows, 0, 0, Agg::Sum).len(), 2);
    }

    #[test]
    fn span_throughput_sums_operations_per_step() {
        let key = |bucket: u64, operation: &str| SpanKey {
            resolution: 60,
            bucket,
            service_name: "s".into(),
            operation: operation.into(),
        };
        let agg = |count: u64, errors: u64| SpanAgg {
            count,
            errors,
            ..Default::default()
        };
        let rows = vec![
            (key(0, "a"), agg(3, 1)),
            (key(60, "b"), agg(2, 0)),
            (key(120, "a"), agg(5, 2)),
        ];
        let (spans, errors) = span_throughput(&rows, 0, 120);
        let values = |p: &[Point]| p.iter().map(|p| (p.time, p.value)).collect::<Vec<_>>();
        assert_eq!(values(&spans), [(0, 5.0), (120, 5.0)]);
        assert_eq!(values(&errors), [(0, 1.0), (120, 2.0)]);
    }

    fn row(bucket: u64, count: u64, sum: f64, min: f64, max: f64) -> (MetricKey, MetricAgg) {
        (
            MetricKey {
                resolution: 60,
                bucket,
                name: "m".into(),
                service_name: "s".into(),
            },
            MetricAgg {
                count,
                sum,
                min,
                max,
                buckets: Vec::new(),
            },
        )
    }

    #[test]
    fn rollups_into_steps() {
        let m = 60_000_000_000;
        let rows = [
            row(0, 2, 10.0, 4.0, 6.0),
            row(m, 2, 30.0, 10.0, 20.0),
            row(5 * m, 1, 7.0, 7.0, 7.0),
        ];
        let step = 2 * m;
        let avg = from_rollups(&rows, 0, step, Agg::Avg);
        assert_eq!(
            avg,
            vec![
                Point {
                    time: 0,
                    value: 10.0
                },
                Point {
                    time: 4 * m,
                    value: 7.0
                }
            ]
        );
        let max = from_rollups(&rows, 0, step, Agg::Max);
        assert_eq!(max[0].value, 20.0);
        assert_eq!(from_rollups(&rows, 0, step, Agg::Count)[0].value, 4.0);
        assert_eq!(from_rollups(&rows, 0, step, Agg::Sum)[0].value, 40.0);
        assert_eq!(from_rollups(&rows, 0, step, Agg::Min)[0].value, 4.0);
    }

    #[test]
    fn raw_points_grouped_by_attribute() {
        let p = |t: u64, v: f64, attrs: &str| {
            MetricPointRow::number("m", "s", "gauge", t, Some(v), attrs)
        };
        let points = [
            p(0, 1.0, r#"{"queue":"a"}"#),
            p(5, 3.0, r#"{"queue":"a"}"#),
            p(12, 10.0, r#"{"queue":"b"}"#),
            p(13, 4.0, "{}"),
        ];
        let groups = from_points(&points, 0, 10, Agg::Sum, Some("queue"));
        assert_eq!(groups.len(), 3);
        let a = groups.iter().find(|(g, _)| g == "a").expect("group a");
        assert_eq!(
            a.1,
            vec![Point {
                time: 0,
                value: 4.0
            }]
        );
        let b = groups.iter().find(|(g, _)| g == "b").expect("group b");
        assert_eq!(
            b.1,
            vec![Point {
                time: 10,
                value: 10.0
            }]
        );
        assert!(groups.iter().any(|(g, _)| g.is_null()));
    }

    #[test]
    fn last_adds_the_current_value_of_each_series() {
        let p = |t: u64, v: f64, attrs: &str| {
            MetricPointRow::number("m", "s", "updown_sum", t, Some(v), attrs)
        };
        let points = [
            p(1, 10.0, r#"{"q":"a"}"#),
            p(5, 12.0, r#"{"q":"a"}"#),
            p(3, 4.0, r#"{"q":"b"}"#),
        ];
        let all = from_points(&points, 0, 100, Agg::Last, None);
        assert_eq!(all[0].1[0].value, 16.0);
        let per_q = from_points(&points, 0, 100, Agg::Last, Some("q"));
        assert_eq!(per_q.len(), 2);
    }

    #[test]
    fn percentiles_from_merged_buckets_and_from_values() {
        let h = |counts: Vec<u64>| MetricPointRow {
            count: Some(counts.iter().sum()),
            sum: Some(0.0),
            bucket_counts: Some(counts),
            explicit_bounds: Some(vec![10.0, 20.0, 30.0]),
            min: Some(1.0),
            max: Some(35.0),
            ..MetricPointRow::number("h", "s", "histogram", 1, None, "{}")
        };
        // 40 observations: 10 per bucket; the median is the top of the second bucket.
        let points = [h(vec![5, 5, 5, 5]), h(vec![5, 5, 5, 5])];
        let q = |agg| from_points(&points, 0, 100, agg, None)[0].1[0].value;
        assert_eq!(q(Agg::Quantile(500)), 20.0);
        assert_eq!(q(Agg::Quantile(250)), 10.0);
        assert_eq!(
            q(Agg::Quantile(1000)),
            35.0,
            "the open last bucket ends at max"
        );
        let v = |t: u64, v: f64| MetricPointRow::number("g", "s", "gauge", t, Some(v), "{}");
        let values: Vec<MetricPointRow> = (1..=5).map(|i| v(i, i as f64)).collect();
        let p = from_points(&values, 0, 100, Agg::Quantile(500), None);
        assert_eq!(p[0].1[0].value, 3.0);
    }

    #[test]
    fn percentile_names_parse_and_print() {
        for name in ["p50", "p90", "p95", "p99", "p99.9", "last", "avg"] {
            let agg: Agg = name.parse().expect(name);
            assert_eq!(agg.to_string(), name);
        }
        for bad in ["p0", "p101", "p9.99", "px", "median"] {
            assert!(bad.parse::<Agg>().is_err(), "{bad}");
        }
    }

    #[test]
    fn summary_quantiles_are_read_as_carried_and_interpolated_between() {
        let pairs = [(0.0, 1.0), (0.5, 10.0), (0.9, 50.0), (1.0, 90.0)];
        assert_eq!(summary_quantile(&pairs, 0.5), Some(10.0));
        let close = |q: f64, want: f64| {
            let got = summary_quantile(&pairs, q).expect("within the carried range");
            assert!((got - want).abs() < 1e-9, "{q}: {got} != {want}");
        };
        close(0.7, 30.0);
        close(0.95, 70.0);
        assert_eq!(summary_quantile(&[(0.5, 10.0), (0.9, 50.0)], 0.99), None);
        assert_eq!(summary_quantile(&[(0.5, 10.0), (0.9, 50.0)], 0.25), None);
        assert_eq!(summary_quantile(&[], 0.5), None);

        let summary = |t: u64, route: &str, count: u64, median: f64| MetricPointRow {
            count: Some(count),
            sum: Some(median * count as f64),
            quantiles: Some(vec![(0.5, median), (0.99, median * 2.0)]),
            ..MetricPointRow::number(
                "rpc",
                "s",
                "summary",
                t,
                None,
                format!(r#"{{"route":"{route}"}}"#),
            )
        };
        // Series "a": its last point (median 30) counts, weighted by its count 3; "b": 60, 1.
        let points = [
            summary(1, "a", 5, 10.0),
            summary(2, "a", 3, 30.0),
            summary(3, "b", 1, 60.0),
        ];
        let p50 = from_points(&points, 0, 100, Agg::Quantile(500), None);
        assert_eq!(p50[0].1[0].value, (30.0 * 3.0 + 60.0) / 4.0);
        let per_route = from_points(&points, 0, 100, Agg::Quantile(990), Some("route"));
        let values: Vec<f64> = per_route.iter().map(|(_, pts)| pts[0].value).collect();
        assert_eq!(values, [60.0, 120.0]);
        // Count and mean come from count and sum.
        assert_eq!(
            from_points(&points, 0, 100, Agg::Count, None)[0].1[0].value,
            9.0
        );
        let avg = from_points(&points, 0, 100, Agg::Avg, None)[0].1[0].value;
        assert_eq!(avg, (50.0 + 90.0 + 60.0) / 9.0);
    }

    #[test]
    fn heatmaps_count_each_bucket_per_step() {
        let h = |t: u64, counts: Vec<u64>| MetricPointRow {
            count: Some(counts.iter().sum()),
            bucket_counts: Some(counts),
            explicit_bounds: Some(vec![10.0, 20.0]),
            ..MetricPointRow::number("h", "s", "histogram", t, None, "{}")
        };
        let points = [
            h(5, vec![1, 2, 3]),
            h(7, vec![1, 0, 0]),
            h(105, vec![0, 4, 0]),
        ];
        let (bounds, steps) = heatmap(&points, 0, 100);
        assert_eq!(bounds, [10.0, 20.0, f64::INFINITY]);
        assert_eq!(steps, [(0, vec![2, 2, 3]), (100, vec![0, 4, 0])]);
        // A fine layout is merged down to the cap.
        let fine: Vec<f64> = (1..=1000).map(f64::from).collect();
        let p = MetricPointRow {
            count: Some(1001),
            bucket_counts: Some(vec![1; 1001]),
            explicit_bounds: Some(fine),
            ..MetricPointRow::number("h", "s", "histogram", 1, None, "{}")
        };
        let (bounds, steps) = heatmap(&[p], 0, 100);
        assert!(bounds.len() <= MAX_HEATMAP_BUCKETS, "{}", bounds.len());
        assert_eq!(steps[0].1.iter().sum::<u64>(), 1001, "no count lost");
    }
}
