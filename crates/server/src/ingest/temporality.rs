//! Cumulative metrics turned into increases before they are stored, as the
//! OpenTelemetry Collector's `cumulativetodelta` processor does, so that every store,
//! rollup, series, alert and chart adds increases and never running totals.
//!
//! OpenTelemetry SDKs export counters and histograms with *cumulative* temporality by
//! default: each export carries the total since the instrument started. Summing those
//! exports counts every increment again at each export. Here each point of a
//! cumulative monotonic sum, histogram or exponential histogram is rewritten, in the
//! decoded request, as a *delta* point holding the increase since the previous point of
//! its series:
//!
//! - A series is the metric (name, kind, unit), its resource, its instrumentation scope
//!   and the point's attributes.
//! - A point whose `start_time_unix_nano` differs from the previous one's (the sending
//!   process restarted), or whose value (count, bucket count) went down, is a *reset*:
//!   the counter started again from zero at its start time, so its increase is its whole
//!   value.
//! - The first point of a series counts in full when its start time is known and not
//!   before the server started: the counter began while the server was running, so
//!   nothing of it was counted before. Otherwise (no start time, or a series that was
//!   running before the server started, as after a server restart) the first point is
//!   the baseline: it is stored with an increase of zero, and the next point's increase
//!   is counted from it. An increase that happened while the server was down is lost
//!   rather than counted twice.
//! - A point that is not newer than the previous point of its series (a retry of a point
//!   already stored, or one that arrived out of order) is already part of what was
//!   counted: it is dropped from the request, not refused.
//! - Histogram min and max: a cumulative min or max covers the whole life of the
//!   series, so the increase keeps it only when it changed in the interval (then it was
//!   reached in it); otherwise it is left out.
//!
//! Summaries carry no temporality: by the OpenTelemetry data model their count and sum
//! are cumulative, so they are converted the same way (a count that went down or a new
//! start time is a reset); their quantiles describe the sender's own recent window and
//! stay as sent.
//!
//! Non-monotonic sums (up-down counters) are current values and stay as they are; delta
//! points and gauges are left alone.
//!
//! The state of each series is taken in [`Temporality::begin`] and committed only after
//! the store has committed the rows ([`Pending::commit`]): a request the store could not
//! write (and the client retries) does not move the state. Requests holding cumulative
//! points are converted and stored one at a time (the state is held for the duration);
//! others never wait for it. The state is bounded: beyond [`MAX_SERIES`] series, those
//! not seen for the longest time are forgotten (their next point is a baseline).

use automagik_telemetry_core::exponential::indexed;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint,
    SummaryDataPoint, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// Most series whose state is kept.
pub const MAX_SERIES: usize = 200_000;

const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
const DELTA: i32 = AggregationTemporality::Delta as i32;

/// The last point of one cumulative series.
#[derive(Clone, Debug, PartialEq)]
enum Last {
    Sum {
        value: f64,
    },
    Histogram {
        count: u64,
        sum: Option<f64>,
        min: Option<f64>,
        max: Option<f64>,
        bounds: Vec<f64>,
        buckets: Vec<u64>,
    },
    Exponential {
        count: u64,
        sum: Option<f64>,
        min: Option<f64>,
        max: Option<f64>,
        scale: i32,
        zero_count: u64,
        positive: Vec<(i64, u64)>,
        negative: Vec<(i64, u64)>,
    },
    Summary {
        count: u64,
        sum: f64,
    },
}

#[derive(Clone, Debug, PartialEq)]
struct SeriesState {
    start: u64,
    time: u64,
    last: Last,
}

/// The conversion state of every cumulative series the server has seen.
#[derive(Debug)]
pub struct Temporality {
    started_at_unix_nano: u64,
    states: Arc<tokio::sync::Mutex<HashMap<u64, SeriesState>>>,
}

impl Default for Temporality {
    fn default() -> Self {
        Temporality::new(crate::query::now_ns())
    }
}

/// A converted request's new series states, applied by [`Pending::commit`] once the
/// store has committed its rows; dropping it leaves the states as they were.
pub struct Pending {
    guard: Option<tokio::sync::OwnedMutexGuard<HashMap<u64, SeriesState>>>,
    updates: Vec<(u64, SeriesState)>,
}

impl Pending {
    /// Nothing to commit: a request with no cumulative point.
    fn nothing() -> Pending {
        Pending {
            guard: None,
            updates: Vec::new(),
        }
    }

    /// Records the converted points as the last of their series.
    pub fn commit(mut self) {
        if let Some(states) = self.guard.as_mut() {
            for (key, state) in self.updates.drain(..) {
                states.insert(key, state);
            }
            if states.len() > MAX_SERIES {
                forget_oldest(states);
            }
        }
    }
}

fn forget_oldest(states: &mut HashMap<u64, SeriesState>) {
    let mut times: Vec<u64> = states.values().map(|s| s.time).collect();
    let keep = MAX_SERIES * 9 / 10;
    let cut_index = times.len().saturating_sub(keep);
    let (_, cut, _) = times.select_nth_unstable(cut_index);
    let cut = *cut;
    states.retain(|_, s| s.time >= cut);
}

impl Temporality {
    /// State for a server that started at `started_at_unix_nano` (ns since the epoch).
    pub fn new(started_at_unix_nano: u64) -> Self {
        Temporality {
            started_at_unix_nano,
            states: Arc::default(),
        }
    }

    /// Converts the cumulative monotonic points of `req` into increases (see the module
    /// documentation). The returned [`Pending`] holds the state until it is committed
    /// or dropped; a request with no cumulative point takes no lock.
    pub async fn begin(&self, req: &mut ExportMetricsServiceRequest) -> Pending {
        if !has_cumulative(req) {
            return Pending::nothing();
        }
        let guard = self.states.clone().lock_owned().await;
        self.convert_under(guard, req)
    }

    /// [`Temporality::begin`] for callers outside an async runtime (it blocks while
    /// another request holds the state); must not be called from async code.
    pub fn begin_blocking(&self, req: &mut ExportMetricsServiceRequest) -> Pending {
        if !has_cumulative(req) {
            return Pending::nothing();
        }
        let guard = self.states.clone().blocking_lock_owned();
        self.convert_under(guard, req)
    }

    fn convert_under(
        &self,
        guard: tokio::sync::OwnedMutexGuard<HashMap<u64, SeriesState>>,
        req: &mut ExportMetricsServiceRequest,
    ) -> Pending {
        let updates = convert(req, &guard, self.started_at_unix_nano);
        Pending {
            guard: Some(guard),
            updates,
        }
    }
}

fn has_cumulative(req: &ExportMetricsServiceRequest) -> bool {
    req.resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .any(|m| match &m.data {
            Some(Data::Sum(s)) => s.is_monotonic && s.aggregation_temporality == CUMULATIVE,
            Some(Data::Histogram(h)) => h.aggregation_temporality == CUMULATIVE,
            Some(Data::ExponentialHistogram(h)) => h.aggregation_temporality == CUMULATIVE,
            Some(Data::Summary(s)) => !s.data_points.is_empty(),
            _ => false,
        })
}

fn hash_any(v: Option<&AnyValue>, h: &mut DefaultHasher) {
    // The protobuf encoding is a faithful, deterministic rendering of the value.
    use prost::Message;
    if let Some(v) = v {
        v.encode_to_vec().hash(h);
    }
}

fn hash_attributes(attrs: &[KeyValue], h: &mut DefaultHasher) {
    let mut sorted: Vec<&KeyValue> = attrs.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    sorted.len().hash(h);
    for kv in sorted {
        kv.key.hash(h);
        hash_any(kv.value.as_ref(), h);
    }
}

fn context_hash(resource: Option<&Resource>, scope: Option<&InstrumentationScope>) -> u64 {
    let mut h = DefaultHasher::new();
    hash_attributes(resource.map_or(&[][..], |r| &r.attributes), &mut h);
    if let Some(s) = scope {
        s.name.hash(&mut h);
        s.version.hash(&mut h);
    }
    h.finish()
}

fn series_key(context: u64, name: &str, unit: &str, kind: u8, attrs: &[KeyValue]) -> u64 {
    let mut h = DefaultHasher::new();
    context.hash(&mut h);
    name.hash(&mut h);
    unit.hash(&mut h);
    kind.hash(&mut h);
    hash_attributes(attrs, &mut h);
    h.finish()
}

/// What to do with one cumulative point, given the previous state of its series.
enum Step {
    /// Counted from zero (first point of a series started while the server ran, or a
    /// reset).
    Full,
    /// A baseline: stored with an increase of zero.
    Baseline,
    /// The increase since the previous point.
    Since(SeriesState),
    /// Already counted: dropped.
    Drop,
}

fn step(prev: Option<&SeriesState>, start: u64, time: u64, started_at: u64) -> Step {
    match prev {
        None if start != 0 && start >= started_at => Step::Full,
        None => Step::Baseline,
        Some(p) if start == p.start && time <= p.time => Step::Drop,
        Some(p) if start != 0 && start < p.start => Step::Drop,
        Some(p) if start != p.start => Step::Full,
        Some(p) => Step::Since(p.clone()),
    }
}

/// The state each point sees: the committed one, or one set earlier in this request.
struct View<'a> {
    committed: &'a HashMap<u64, SeriesState>,
    updates: Vec<(u64, SeriesState)>,
    index: HashMap<u64, usize>,
}

impl View<'_> {
    fn get(&self, key: u64) -> Option<&SeriesState> {
        match self.index.get(&key) {
            Some(i) => self.updates.get(*i).map(|(_, s)| s),
            None => self.committed.get(&key),
        }
    }

    fn set(&mut self, key: u64, state: SeriesState) {
        match self.index.get(&key) {
            Some(i) => {
                if let Some(slot) = self.updates.get_mut(*i) {
                    slot.1 = state;
                }
            }
            None => {
                self.index.insert(key, self.updates.len());
                self.updates.push((key, state));
            }
        }
    }
}

fn convert(
    req: &mut ExportMetricsServiceRequest,
    committed: &HashMap<u64, SeriesState>,
    started_at: u64,
) -> Vec<(u64, SeriesState)> {
    let mut view = View {
        committed,
        updates: Vec::new(),
        index: HashMap::new(),
    };
    for rm in &mut req.resource_metrics {
        let resource = rm.resource.as_ref();
        for sm in &mut rm.scope_metrics {
            let context = context_hash(resource, sm.scope.as_ref());
            for m in &mut sm.metrics {
                let (name, unit) = (m.name.as_str(), m.unit.as_str());
                match &mut m.data {
                    Some(Data::Sum(s))
                        if s.is_monotonic && s.aggregation_temporality == CUMULATIVE =>
                    {
                        s.data_points.retain_mut(|p| {
                            let key = series_key(context, name, unit, 0, &p.attributes);
                            sum_point(p, key, &mut view, started_at)
                        });
                        s.aggregation_temporality = DELTA;
                    }
                    Some(Data::Histogram(h)) if h.aggregation_temporality == CUMULATIVE => {
                        h.data_points.retain_mut(|p| {
                            let key = series_key(context, name, unit, 1, &p.attributes);
                            histogram_point(p, key, &mut view, started_at)
                        });
                        h.aggregation_temporality = DELTA;
                    }
                    Some(Data::ExponentialHistogram(h))
                        if h.aggregation_temporality == CUMULATIVE =>
                    {
                        h.data_points.retain_mut(|p| {
                            let key = series_key(context, name, unit, 2, &p.attributes);
                            exponential_point(p, key, &mut view, started_at)
                        });
                        h.aggregation_temporality = DELTA;
                    }
                    Some(Data::Summary(s)) => {
                        s.data_points.retain_mut(|p| {
                            let key = series_key(context, name, unit, 3, &p.attributes);
                            summary_point(p, key, &mut view, started_at)
                        });
                    }
                    _ => {}
                }
            }
        }
    }
    view.updates
}

fn number(p: &NumberDataPoint) -> Option<f64> {
    p.value.map(|v| match v {
        number_data_point::Value::AsDouble(d) => d,
        number_data_point::Value::AsInt(i) => i as f64,
    })
}

fn set_number(p: &mut NumberDataPoint, increase: f64) {
    p.value = Some(match p.value {
        Some(number_data_point::Value::AsInt(_)) => {
            number_data_point::Value::AsInt(increase as i64)
        }
        _ => number_data_point::Value::AsDouble(increase),
    });
}

/// Rewrites one cumulative sum point as its increase; `false` drops it.
fn sum_point(p: &mut NumberDataPoint, key: u64, view: &mut View<'_>, started_at: u64) -> bool {
    let Some(value) = number(p).filter(|v| v.is_finite()) else {
        // Nothing to count; stored as sent (the row keeps no value).
        return true;
    };
    let (start, time) = (p.start_time_unix_nano, p.time_unix_nano);
    let increase = match step(view.get(key), start, time, started_at) {
        Step::Drop => return false,
        Step::Full => value,
        Step::Baseline => {
            p.start_time_unix_nano = time;
            0.0
        }
        Step::Since(prev) => match prev.last {
            Last::Sum { value: before } if value >= before => {
                p.start_time_unix_nano = prev.time;
                value - before
            }
            // A value that went down: the counter restarted.
            _ => value,
        },
    };
    set_number(p, increase);
    view.set(
        key,
        SeriesState {
            start,
            time,
            last: Last::Sum { value },
        },
    );
    true
}

/// `after - before`, element by element, or `None` when any went down (a reset).
fn bucket_increase(after: &[u64], before: &[u64]) -> Option<Vec<u64>> {
    if after.len() != before.len() {
        return None;
    }
    after
        .iter()
        .zip(before)
        .map(|(a, b)| a.checked_sub(*b))
        .collect()
}

/// The min (or max) of an interval from cumulative ones: kept when it moved.
fn moved(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    match (now, before) {
        (Some(n), Some(b)) if n != b => Some(n),
        (Some(n), None) => Some(n),
        _ => None,
    }
}

fn sum_increase(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    match (now, before) {
        (Some(n), Some(b)) => Some(n - b),
        (Some(n), None) => Some(n),
        _ => None,
    }
}

/// Rewrites one cumulative histogram point as its increase; `false` drops it.
fn histogram_point(
    p: &mut HistogramDataPoint,
    key: u64,
    view: &mut View<'_>,
    started_at: u64,
) -> bool {
    let (start, time) = (p.start_time_unix_nano, p.time_unix_nano);
    let state = SeriesState {
        start,
        time,
        last: Last::Histogram {
            count: p.count,
            sum: p.sum,
            min: p.min,
            max: p.max,
            bounds: p.explicit_bounds.clone(),
            buckets: p.bucket_counts.clone(),
        },
    };
    match step(view.get(key), start, time, started_at) {
        Step::Drop => return false,
        Step::Full => {}
        Step::Baseline => {
            p.start_time_unix_nano = time;
            p.count = 0;
            p.sum = p.sum.map(|_| 0.0);
            p.min = None;
            p.max = None;
            p.bucket_counts.iter_mut().for_each(|n| *n = 0);
        }
        Step::Since(prev) => {
            if let Last::Histogram {
                count,
                sum,
                min,
                max,
                bounds,
                buckets,
            } = &prev.last
            {
                let increase = (bounds == &p.explicit_bounds)
                    .then(|| bucket_increase(&p.bucket_counts, buckets))
                    .flatten()
                    .zip(p.count.checked_sub(*count));
                // Otherwise the histogram restarted: its whole value is the increase.
                if let Some((buckets, count)) = increase {
                    p.start_time_unix_nano = prev.time;
                    p.bucket_counts = buckets;
                    p.count = count;
                    p.sum = sum_increase(p.sum, *sum);
                    p.min = moved(p.min, *min);
                    p.max = moved(p.max, *max);
                }
            }
        }
    }
    view.set(key, state);
    true
}

/// Counts by index at scale `from` lowered to scale `to` (each step down merges pairs
/// of neighbouring buckets).
fn lowered(counts: &[(i64, u64)], from: i32, to: i32) -> Vec<(i64, u64)> {
    let shift = u32::try_from(from.saturating_sub(to)).unwrap_or(0).min(63);
    let mut out: Vec<(i64, u64)> = Vec::new();
    for (i, n) in counts {
        let index = i >> shift;
        match out.last_mut() {
            Some((last, total)) if *last == index => *total = total.saturating_add(*n),
            _ => out.push((index, *n)),
        }
    }
    out
}

/// `after - before` by index (indices absent from `before` count zero), or `None` when
/// a count went down.
fn indexed_increase(after: &[(i64, u64)], before: &[(i64, u64)]) -> Option<Vec<(i64, u64)>> {
    let before: HashMap<i64, u64> = before.iter().copied().collect();
    let out = after
        .iter()
        .map(|(i, n)| {
            let b = before.get(i).copied().unwrap_or(0);
            n.checked_sub(b).map(|d| (*i, d))
        })
        .collect::<Option<Vec<_>>>()?;
    // A bucket that held counts and is gone went down to zero.
    let after: HashMap<i64, u64> = after.iter().copied().collect();
    let gone = before.iter().any(|(i, n)| *n > 0 && !after.contains_key(i));
    (!gone).then_some(out)
}

fn to_buckets(indexed: &[(i64, u64)]) -> Option<Buckets> {
    let first = indexed.first()?.0;
    let last = indexed.last()?.0;
    let offset = i32::try_from(first).ok()?;
    let len = usize::try_from(last - first + 1).ok()?;
    let mut counts = vec![0u64; len];
    for (i, n) in indexed {
        if let Some(slot) = usize::try_from(i - first)
            .ok()
            .and_then(|k| counts.get_mut(k))
        {
            *slot = *n;
        }
    }
    Some(Buckets {
        offset,
        bucket_counts: counts,
    })
}

/// Rewrites one cumulative exponential histogram point as its increase; `false` drops
/// it.
fn exponential_point(
    p: &mut ExponentialHistogramDataPoint,
    key: u64,
    view: &mut View<'_>,
    started_at: u64,
) -> bool {
    let (start, time) = (p.start_time_unix_nano, p.time_unix_nano);
    let state = SeriesState {
        start,
        time,
        last: Last::Exponential {
            count: p.count,
            sum: p.sum,
            min: p.min,
            max: p.max,
            scale: p.scale,
            zero_count: p.zero_count,
            positive: indexed(p.positive.as_ref()),
            negative: indexed(p.negative.as_ref()),
        },
    };
    match step(view.get(key), start, time, started_at) {
        Step::Drop => return false,
        Step::Full => {}
        Step::Baseline => {
            p.start_time_unix_nano = time;
            p.count = 0;
            p.zero_count = 0;
            p.sum = p.sum.map(|_| 0.0);
            p.min = None;
            p.max = None;
            p.positive = None;
            p.negative = None;
        }
        Step::Since(prev) => {
            if let Last::Exponential {
                count,
                sum,
                min,
                max,
                scale,
                zero_count,
                positive,
                negative,
            } = &prev.last
            {
                // The finer of the two scales is lowered to the coarser one.
                let to = p.scale.min(*scale);
                let pos = indexed_increase(
                    &lowered(&indexed(p.positive.as_ref()), p.scale, to),
                    &lowered(positive, *scale, to),
                );
                let neg = indexed_increase(
                    &lowered(&indexed(p.negative.as_ref()), p.scale, to),
                    &lowered(negative, *scale, to),
                );
                let counts = p
                    .count
                    .checked_sub(*count)
                    .zip(p.zero_count.checked_sub(*zero_count));
                if let (Some(pos), Some(neg), Some((count, zeros))) = (pos, neg, counts) {
                    p.start_time_unix_nano = prev.time;
                    p.scale = to;
                    p.count = count;
                    p.zero_count = zeros;
                    p.positive = to_buckets(&pos);
                    p.negative = to_buckets(&neg);
                    p.sum = sum_increase(p.sum, *sum);
                    p.min = moved(p.min, *min);
                    p.max = moved(p.max, *max);
                }
            }
        }
    }
    view.set(key, state);
    true
}

/// Rewrites one summary point's cumulative count and sum as their increases (its
/// quantiles stay as sent); `false` drops it.
fn summary_point(p: &mut SummaryDataPoint, key: u64, view: &mut View<'_>, started_at: u64) -> bool {
    let (start, time) = (p.start_time_unix_nano, p.time_unix_nano);
    let state = SeriesState {
        start,
        time,
        last: Last::Summary {
            count: p.count,
            sum: p.sum,
        },
    };
    match step(view.get(key), start, time, started_at) {
        Step::Drop => return false,
        Step::Full => {}
        Step::Baseline => {
            p.start_time_unix_nano = time;
            p.count = 0;
            p.sum = 0.0;
        }
        Step::Since(prev) => {
            if let Last::Summary { count, sum } = prev.last {
                // A count that went down: the summary restarted, its whole value counts.
                if let Some(increase) = p.count.checked_sub(count) {
                    p.start_time_unix_nano = prev.time;
                    p.count = increase;
                    p.sum -= sum;
                }
            }
        }
    }
    view.set(key, state);
    true
}

#[cfg(test)]
mod tests;
