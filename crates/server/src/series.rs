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
}

impl std::str::FromStr for Agg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "avg" => Ok(Agg::Avg),
            "sum" => Ok(Agg::Sum),
            "min" => Ok(Agg::Min),
            "max" => Ok(Agg::Max),
            "count" => Ok(Agg::Count),
            _ => Err("agg: expected avg, sum, min, max or count".into()),
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
            Agg::Avg if self.count > 0 => self.sum / self.count as f64,
            Agg::Avg => 0.0,
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

fn finish(steps: BTreeMap<u64, Acc>, agg: Agg) -> Vec<Point> {
    steps
        .into_iter()
        .map(|(time, acc)| Point {
            time,
            value: acc.value(agg),
        })
        .collect()
}

/// A series from rollup rows (all services together), one point per step with data.
pub fn from_rollups(
    rows: &[(MetricKey, MetricAgg)],
    from: u64,
    step_ns: u64,
    agg: Agg,
) -> Vec<Point> {
    let mut steps: BTreeMap<u64, Acc> = BTreeMap::new();
    for (k, m) in rows {
        steps
            .entry(step_of(k.bucket, from, step_ns))
            .or_insert(Acc::EMPTY)
            .add(m);
    }
    finish(steps, agg)
}

fn point_agg(p: &MetricPointRow) -> Option<MetricAgg> {
    match (p.value, p.count) {
        (Some(v), _) if v.is_finite() => Some(MetricAgg {
            count: 1,
            sum: v,
            min: v,
            max: v,
        }),
        (_, Some(count)) if count > 0 => {
            let sum = p.sum.unwrap_or(0.0);
            let mean = sum / count as f64;
            Some(MetricAgg {
                count,
                sum,
                min: p.min.unwrap_or(mean),
                max: p.max.unwrap_or(mean),
            })
        }
        _ => None,
    }
}

/// Series from raw points, one per value of the attribute `group_by` (or of
/// `service.name` when that is the key); points without it form the group `null`.
pub fn from_points(
    points: &[MetricPointRow],
    from: u64,
    step_ns: u64,
    agg: Agg,
    group_by: &str,
) -> Vec<(serde_json::Value, Vec<Point>)> {
    let mut groups: BTreeMap<String, (serde_json::Value, BTreeMap<u64, Acc>)> = BTreeMap::new();
    for p in points {
        let Some(m) = point_agg(p) else { continue };
        let group = if group_by == "service.name" {
            serde_json::Value::String(p.service_name.clone())
        } else {
            serde_json::from_str::<serde_json::Value>(&p.attributes)
                .ok()
                .and_then(|mut a| a.get_mut(group_by).map(serde_json::Value::take))
                .unwrap_or(serde_json::Value::Null)
        };
        groups
            .entry(group.to_string())
            .or_insert_with(|| (group, BTreeMap::new()))
            .1
            .entry(step_of(p.time_unix_nano, from, step_ns))
            .or_insert(Acc::EMPTY)
            .add(&m);
    }
    groups
        .into_values()
        .map(|(group, steps)| (group, finish(steps, agg)))
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
        let groups = from_points(&points, 0, 10, Agg::Sum, "queue");
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
}
