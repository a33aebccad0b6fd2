//! Refusals made visible to operators: why an item of an accepted request was refused
//! ([`ItemRefusal`], a fixed category; its message goes to the client in the OTLP
//! partial success), the fixed reasons a whole request is refused for
//! ([`REQUEST_REASONS`]), and the server log's lines about both ([`RefusalLog`]): at
//! most one line per signal and reason every [`LOG_INTERVAL`], counting what was
//! refused since the previous line.
//!
//! The categories are the `reason` label of
//! `automagik_telemetry_ingest_rejected_records_total` and
//! `automagik_telemetry_ingest_rejected_requests_total` and the keys of
//! `/api/v1/overview`'s `ingest`: a fixed set, so the label's cardinality is bounded. The
//! log lines name the signal, the reason, the counts and, for a request, the client's
//! address; never a name, attribute or any other content of the telemetry.

use automagik_telemetry_core::human;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shortest time between two log lines about the same signal and reason.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Why one item (a span, a log record, a metric data point) of an accepted request was
/// refused while the rest of the request was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ItemRefusal {
    /// A trace id that is not 16 bytes, or all zeros.
    InvalidTraceId,
    /// A span id that is not 8 bytes, or all zeros.
    InvalidSpanId,
    /// A parent span id that is neither empty nor a valid span id.
    InvalidParentSpanId,
    /// A timestamp the server cannot store (beyond 2^63 ns, or absurdly far from now).
    TimestampOutOfRange,
    /// A metric of a kind the server does not store.
    UnsupportedMetricKind,
    /// A histogram point that cannot be stored as it is (an exponential histogram's
    /// scale out of range, or bounds that are not finite and increasing).
    InvalidHistogram,
    /// A metric without data.
    NoData,
}

impl ItemRefusal {
    /// Every category, in the order of [`ItemRefusal::as_str`]'s table.
    pub const ALL: [ItemRefusal; 7] = [
        ItemRefusal::InvalidTraceId,
        ItemRefusal::InvalidSpanId,
        ItemRefusal::InvalidParentSpanId,
        ItemRefusal::TimestampOutOfRange,
        ItemRefusal::UnsupportedMetricKind,
        ItemRefusal::InvalidHistogram,
        ItemRefusal::NoData,
    ];

    /// The category's stable name: the `reason` label on `/metrics` and the key on
    /// `/api/v1/overview`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemRefusal::InvalidTraceId => "invalid_trace_id",
            ItemRefusal::InvalidSpanId => "invalid_span_id",
            ItemRefusal::InvalidParentSpanId => "invalid_parent_span_id",
            ItemRefusal::TimestampOutOfRange => "timestamp_out_of_range",
            ItemRefusal::UnsupportedMetricKind => "unsupported_metric_kind",
            ItemRefusal::InvalidHistogram => "invalid_histogram",
            ItemRefusal::NoData => "no_data",
        }
    }
}

/// Every reason a whole request is refused for: a token missing, unknown or without the
/// ingest scope (`unauthorized`), a body that cannot be read, decompressed or decoded
/// (`malformed`), over a size or cost limit (`too_large`), of another media type
/// (`unsupported_media_type`), a busy store (`overloaded`, answered 503 or
/// `RESOURCE_EXHAUSTED` so the client retries later) and a failed store write
/// (`store_error`).
pub const REQUEST_REASONS: [&str; 6] = [
    "unauthorized",
    "malformed",
    "too_large",
    "unsupported_media_type",
    "overloaded",
    "store_error",
];

/// What was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refused {
    /// Items of accepted requests.
    Items,
    /// Whole requests.
    Requests,
}

/// A log line that is due: how many refusals it reports, and over how long (`None` for
/// the first line of its signal and reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// Refusals since the previous line, this one included.
    pub count: u64,
    /// Time since the previous line.
    pub since: Option<Duration>,
}

#[derive(Debug, Default)]
struct Pending {
    last_line: Option<Instant>,
    suppressed: u64,
}

/// Decides when a refusal is logged: the first one of a signal and reason at once, the
/// next ones at most once per interval, each line with the count since the previous
/// one. Refusals after the last line are reported by the next one.
#[derive(Debug)]
pub struct RefusalLog {
    interval: Duration,
    pending: Mutex<HashMap<(Refused, &'static str, &'static str), Pending>>,
}

impl Default for RefusalLog {
    fn default() -> Self {
        RefusalLog::new(LOG_INTERVAL)
    }
}

impl RefusalLog {
    /// At most one line per signal and reason every `interval`.
    pub fn new(interval: Duration) -> Self {
        RefusalLog {
            interval,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Notes `n` refusals of `what` (signal, reason) at `now`; the line to log, if one
    /// is due.
    pub fn note(
        &self,
        now: Instant,
        what: Refused,
        signal: &'static str,
        reason: &'static str,
        n: u64,
    ) -> Option<Due> {
        if n == 0 {
            return None;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let p = pending.entry((what, signal, reason)).or_default();
        match p.last_line {
            Some(last) if now.saturating_duration_since(last) < self.interval => {
                p.suppressed = p.suppressed.saturating_add(n);
                None
            }
            last => {
                let due = Due {
                    count: p.suppressed.saturating_add(n),
                    since: last.map(|l| now.saturating_duration_since(l)),
                };
                p.suppressed = 0;
                p.last_line = Some(now);
                Some(due)
            }
        }
    }

    /// Notes `n` items of `signal` refused for `reason` and logs the line if one is due.
    pub fn items(&self, signal: &'static str, reason: ItemRefusal, n: u64) {
        let reason = reason.as_str();
        if let Some(due) = self.note(Instant::now(), Refused::Items, signal, reason, n) {
            tracing::warn!("{}", items_line(due, signal, reason));
        }
    }

    /// Notes a request of `signal` refused for `reason` (from `client`, when known) and
    /// logs the line if one is due.
    pub fn request(&self, signal: &'static str, reason: &'static str, client: Option<SocketAddr>) {
        if let Some(due) = self.note(Instant::now(), Refused::Requests, signal, reason, 1) {
            tracing::warn!("{}", request_line(due, signal, reason, client));
        }
    }
}

/// What one item of `signal` is called, and several.
fn item_noun(signal: &str, count: u64) -> &'static str {
    match (signal, count == 1) {
        ("traces", true) => "span",
        ("traces", false) => "spans",
        ("logs", true) => "log record",
        ("logs", false) => "log records",
        ("metrics", true) => "data point",
        ("metrics", false) => "data points",
        (_, true) => "item",
        (_, false) => "items",
    }
}

/// ` in the last 10 s`, or nothing for a first line.
fn period(since: Option<Duration>) -> String {
    since.map_or_else(String::new, |d| {
        let whole = Duration::from_secs(d.as_secs_f64().round() as u64);
        format!(" in the last {}", human::duration(whole))
    })
}

/// `traces: refused 3 spans in the last 10 s (invalid_trace_id) ...`.
pub fn items_line(due: Due, signal: &str, reason: &str) -> String {
    format!(
        "{signal}: refused {} {}{} ({reason}), answered as OTLP partial success; the rest of each request was stored",
        human::count(due.count),
        item_noun(signal, due.count),
        period(due.since),
    )
}

/// `logs: refused 1 request (unauthorized) from 10.0.0.7:51234`.
pub fn request_line(due: Due, signal: &str, reason: &str, client: Option<SocketAddr>) -> String {
    let from = match (client, due.since) {
        (None, _) => String::new(),
        (Some(addr), None) => format!(" from {addr}"),
        (Some(addr), Some(_)) => format!(", the last from {addr}"),
    };
    format!(
        "{signal}: refused {} {}{} ({reason}){from}; nothing of {} was stored",
        human::count(due.count),
        if due.count == 1 {
            "request"
        } else {
            "requests"
        },
        period(due.since),
        if due.count == 1 { "it" } else { "them" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_have_stable_distinct_names() {
        let names: Vec<&str> = ItemRefusal::ALL.iter().map(|r| r.as_str()).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        assert_eq!(ItemRefusal::InvalidTraceId.as_str(), "invalid_trace_id");
        assert_eq!(
            ItemRefusal::UnsupportedMetricKind.as_str(),
            "unsupported_metric_kind"
        );
    }

    #[test]
    fn rows_refuse_each_item_with_its_category() {
        use crate::rows::{into_logs, into_traces};
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        use std::collections::BTreeMap;

        let span = |trace_id: Vec<u8>, span_id: Vec<u8>, parent: Vec<u8>| Span {
            trace_id,
            span_id,
            parent_span_id: parent,
            name: "checkout".into(),
            start_time_unix_nano: 1,
            end_time_unix_nano: 2,
            ..Default::default()
        };
        let traces = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span(vec![1; 16], vec![2; 8], Vec::new()),
                        span(vec![1; 3], vec![2; 8], Vec::new()),
                        span(vec![1; 16], vec![0; 8], Vec::new()),
                        span(vec![1; 16], vec![3; 8], vec![4; 5]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let batch = into_traces(traces);
        assert_eq!(batch.spans.len(), 1);
        assert_eq!(batch.rejected, 3);
        assert_eq!(
            batch.rejected_by_reason,
            BTreeMap::from([
                (ItemRefusal::InvalidTraceId, 1),
                (ItemRefusal::InvalidSpanId, 1),
                (ItemRefusal::InvalidParentSpanId, 1),
            ])
        );
        assert!(
            batch
                .rejection
                .as_deref()
                .is_some_and(|m| m.contains("trace_id")),
            "the first refusal's words: {:?}",
            batch.rejection
        );

        let log = |trace_id: Vec<u8>, span_id: Vec<u8>| LogRecord {
            time_unix_nano: 1,
            trace_id,
            span_id,
            ..Default::default()
        };
        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![
                        log(Vec::new(), Vec::new()),
                        log(vec![7; 15], Vec::new()),
                        log(vec![7; 16], vec![8; 9]),
                        log(Vec::new(), vec![0; 8]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let batch = into_logs(logs);
        assert_eq!(batch.logs.len(), 1);
        assert_eq!(
            batch.rejected_by_reason,
            BTreeMap::from([
                (ItemRefusal::InvalidTraceId, 1),
                (ItemRefusal::InvalidSpanId, 2),
            ])
        );
    }

    #[test]
    fn one_line_per_signal_and_reason_per_interval_with_the_count_since_the_last() {
        let log = RefusalLog::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let note = |s: u64, reason: &'static str, n: u64| {
            log.note(at(s), Refused::Items, "traces", reason, n)
        };
        assert_eq!(
            note(0, "invalid_trace_id", 2),
            Some(Due {
                count: 2,
                since: None
            }),
            "the first refusal is logged at once"
        );
        assert_eq!(note(1, "invalid_trace_id", 3), None);
        assert_eq!(note(9, "invalid_trace_id", 4), None);
        assert_eq!(
            note(2, "invalid_span_id", 1),
            Some(Due {
                count: 1,
                since: None
            }),
            "another reason has a line of its own"
        );
        assert_eq!(
            log.note(at(3), Refused::Items, "logs", "invalid_trace_id", 1),
            Some(Due {
                count: 1,
                since: None
            }),
            "another signal too"
        );
        assert_eq!(
            log.note(at(3), Refused::Requests, "traces", "invalid_trace_id", 1),
            Some(Due {
                count: 1,
                since: None
            }),
            "and requests apart from items"
        );
        assert_eq!(
            note(10, "invalid_trace_id", 1),
            Some(Due {
                count: 8,
                since: Some(Duration::from_secs(10))
            }),
            "3 + 4 held back, and this one"
        );
        assert_eq!(note(15, "invalid_trace_id", 0), None, "nothing refused");
        assert_eq!(
            note(40, "invalid_trace_id", 1),
            Some(Due {
                count: 1,
                since: Some(Duration::from_secs(30))
            })
        );
    }

    #[test]
    fn lines_say_signal_reason_and_counts_in_words() {
        let first = Due {
            count: 1,
            since: None,
        };
        let later = Due {
            count: 1200,
            since: Some(Duration::from_millis(10_400)),
        };
        assert_eq!(
            items_line(first, "traces", "invalid_trace_id"),
            "traces: refused 1 span (invalid_trace_id), answered as OTLP partial success; \
             the rest of each request was stored"
        );
        assert_eq!(
            items_line(later, "metrics", "unsupported_metric_kind"),
            "metrics: refused 1,200 data points in the last 10 s (unsupported_metric_kind), \
             answered as OTLP partial success; the rest of each request was stored"
        );
        let client: SocketAddr = "10.0.0.7:51234".parse().expect("address");
        assert_eq!(
            request_line(first, "logs", "unauthorized", Some(client)),
            "logs: refused 1 request (unauthorized) from 10.0.0.7:51234; nothing of it was stored"
        );
        assert_eq!(
            request_line(later, "traces", "too_large", Some(client)),
            "traces: refused 1,200 requests in the last 10 s (too_large), the last from \
             10.0.0.7:51234; nothing of them was stored"
        );
        assert_eq!(
            request_line(first, "metrics", "overloaded", None),
            "metrics: refused 1 request (overloaded); nothing of it was stored"
        );
    }
}
