//! Items whose timestamps cannot be right are refused one by one, with the reason,
//! before rows are made: a time past 2^63 - 1 ns (the year 2262, beyond what the stores
//! hold, which were clamped before) or more than [`MAX_AHEAD_NS`] ahead of the server's
//! clock (a clock or a unit gone wrong: such a record would sort above every real one
//! and never age out). Times of zero are "unknown" in OTLP and left to the rows.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;

/// How far ahead of the server's clock a timestamp may be: one day (clocks drift by
/// seconds or minutes; a day covers any time zone mistake).
pub const MAX_AHEAD_NS: u64 = 24 * 3600 * 1_000_000_000;

/// Why `time` (ns since the epoch) is refused at `now`, naming `what` it is.
fn check(what: &str, time: u64, now: u64) -> Result<(), String> {
    if time > i64::MAX as u64 {
        return Err(format!(
            "{what} is past 2^63 - 1 ns (the year 2262): not a time the server can store"
        ));
    }
    if time > now.saturating_add(MAX_AHEAD_NS) {
        let days = (time - now) / (24 * 3600 * 1_000_000_000);
        let ahead = if days >= 1 {
            format!("{days} days")
        } else {
            "more than a day".to_string()
        };
        return Err(format!(
            "{what} is {ahead} ahead of the server's clock (at most 1 day is accepted)"
        ));
    }
    Ok(())
}

fn first_error(checks: &[(&str, u64)], now: u64) -> Option<String> {
    checks
        .iter()
        .find_map(|(what, t)| check(what, *t, now).err())
}

/// Keeps the `items` that `error` finds nothing wrong with; pushes why each other one
/// was refused to `refused`.
fn keep<T>(items: &mut Vec<T>, refused: &mut Vec<String>, error: impl Fn(&T) -> Option<String>) {
    items.retain(|item| match error(item) {
        Some(e) => {
            refused.push(e);
            false
        }
        None => true,
    });
}

/// Removes the spans of `req` with a refused start, end or event time; returns why each
/// was refused.
pub fn traces(req: &mut ExportTraceServiceRequest, now: u64) -> Vec<String> {
    let mut refused = Vec::new();
    for ss in req
        .resource_spans
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
    {
        keep(&mut ss.spans, &mut refused, |s| {
            let mut checks = vec![
                ("span start time", s.start_time_unix_nano),
                ("span end time", s.end_time_unix_nano),
            ];
            checks.extend(
                s.events
                    .iter()
                    .map(|e| ("span event time", e.time_unix_nano)),
            );
            first_error(&checks, now)
        });
    }
    refused
}

/// Removes the log records of `req` with a refused time or observed time; returns why
/// each was refused.
pub fn logs(req: &mut ExportLogsServiceRequest, now: u64) -> Vec<String> {
    let mut refused = Vec::new();
    for sl in req
        .resource_logs
        .iter_mut()
        .flat_map(|rl| &mut rl.scope_logs)
    {
        keep(&mut sl.log_records, &mut refused, |l| {
            first_error(
                &[
                    ("log record time", l.time_unix_nano),
                    ("log record observed time", l.observed_time_unix_nano),
                ],
                now,
            )
        });
    }
    refused
}

/// Removes the data points of `req` with a refused time (or a start time past 2^63);
/// returns why each was refused.
pub fn metrics(req: &mut ExportMetricsServiceRequest, now: u64) -> Vec<String> {
    let mut refused = Vec::new();
    for m in req
        .resource_metrics
        .iter_mut()
        .flat_map(|rm| &mut rm.scope_metrics)
        .flat_map(|sm| &mut sm.metrics)
    {
        let name = &m.name;
        // A start time is in the past of its point; only its range is checked.
        let error = |start: u64, time: u64| {
            first_error(&[("data point time", time)], now)
                .or_else(|| check("data point start time", start, u64::MAX).err())
                .map(|e| format!("metric {name:?}: {e}"))
        };
        let r = &mut refused;
        match &mut m.data {
            Some(Data::Gauge(g)) => keep(&mut g.data_points, r, |p| {
                error(p.start_time_unix_nano, p.time_unix_nano)
            }),
            Some(Data::Sum(s)) => keep(&mut s.data_points, r, |p| {
                error(p.start_time_unix_nano, p.time_unix_nano)
            }),
            Some(Data::Histogram(h)) => keep(&mut h.data_points, r, |p| {
                error(p.start_time_unix_nano, p.time_unix_nano)
            }),
            Some(Data::ExponentialHistogram(h)) => keep(&mut h.data_points, r, |p| {
                error(p.start_time_unix_nano, p.time_unix_nano)
            }),
            Some(Data::Summary(s)) => keep(&mut s.data_points, r, |p| {
                error(p.start_time_unix_nano, p.time_unix_nano)
            }),
            None => {}
        }
    }
    refused
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    const NOW: u64 = 1_800_000_000_000_000_000;

    #[test]
    fn far_future_and_unstorable_times_are_refused_with_the_reason() {
        assert!(
            check("t", NOW + 3600 * 1_000_000_000, NOW).is_ok(),
            "an hour of skew"
        );
        let e = check("span start time", NOW + 400 * MAX_AHEAD_NS, NOW).expect_err("refused");
        assert!(e.contains("400 days ahead"), "{e}");
        let e = check("span end time", u64::MAX, NOW).expect_err("refused");
        assert!(e.contains("2^63"), "{e}");
        assert!(check("t", 0, NOW).is_ok(), "unknown");
    }

    #[test]
    fn only_the_refused_spans_are_removed() {
        let span = |start: u64| Span {
            start_time_unix_nano: start,
            end_time_unix_nano: start,
            ..Default::default()
        };
        let mut req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span(NOW), span(u64::MAX), span(NOW - 1)],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let refused = traces(&mut req, NOW);
        assert_eq!(refused.len(), 1);
        assert_eq!(req.resource_spans[0].scope_spans[0].spans.len(), 2);
    }
}
