//! The records an SDK queues: logs (events and errors are logs), spans and metric measurements.

use crate::trace_context::{SpanContext, SpanId, TraceId};
use crate::value::KeyValue;
use std::borrow::Cow;

/// OpenTelemetry severity numbers (the first of each range).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Severity {
    /// Fine-grained debugging.
    Trace = 1,
    /// Debugging.
    Debug = 5,
    /// Normal operation.
    Info = 9,
    /// Something unexpected, handled.
    Warn = 13,
    /// An error.
    Error = 17,
    /// An error the program cannot continue after.
    Fatal = 21,
}

impl Severity {
    /// The OTLP severity text.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Trace => "TRACE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }
}

/// The kind of a span, as OTLP defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(i32)]
pub enum SpanKind {
    /// An operation inside the process.
    #[default]
    Internal = 1,
    /// The server side of a remote call.
    Server = 2,
    /// The client side of a remote call.
    Client = 3,
    /// A message sent to a broker.
    Producer = 4,
    /// A message received from a broker.
    Consumer = 5,
}

/// A span's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum SpanStatus {
    /// Not set by the program.
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed, with a description.
    Error(Cow<'static, str>),
}

/// The kind of a metric measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    /// A monotonic sum: each measurement is an increment (must be >= 0).
    Counter,
    /// The latest value wins.
    Gauge,
    /// Measurements are bucketed into an explicit-bucket histogram.
    Histogram,
}

/// A log record. Events and errors are log records too.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// When it happened, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Its severity.
    pub severity: Severity,
    /// The message, if any.
    pub body: Option<Cow<'static, str>>,
    /// For events: the event's name (also sent as the `event.name` attribute).
    pub event_name: Option<Cow<'static, str>>,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the per-record cap.
    pub dropped_attributes_count: u32,
    /// The span that was current when it was recorded.
    pub trace: Option<(TraceId, SpanId)>,
}

/// A timestamped event inside a span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanEvent {
    /// Event name.
    pub name: Cow<'static, str>,
    /// When, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
}

/// A finished span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    /// Its identity.
    pub context: SpanContext,
    /// Its parent, if any.
    pub parent_span_id: Option<SpanId>,
    /// Operation name.
    pub name: Cow<'static, str>,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_time_unix_nano: u64,
    /// Attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the per-record cap.
    pub dropped_attributes_count: u32,
    /// Events recorded during the span.
    pub events: Vec<SpanEvent>,
    /// Outcome.
    pub status: SpanStatus,
}

/// One metric measurement, aggregated with its peers at export time.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRecord {
    /// Metric name.
    pub name: Cow<'static, str>,
    /// How to aggregate it.
    pub kind: MetricKind,
    /// The measurement.
    pub value: f64,
    /// When, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Attributes; measurements with equal attributes aggregate together.
    pub attributes: Vec<KeyValue>,
}

/// A log record already encoded as the protobuf bytes of an OTLP `LogRecord`
/// message: what the SDK queues for logs, one allocation each. Made by
/// [`EncodedLog::new`] (the encoder, with the other OTLP code, is in `otlp::wire`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedLog(pub(crate) Box<[u8]>);

impl EncodedLog {
    /// The protobuf bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Anything an SDK queues, kept small: the queue holds thousands.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A log record (including events and errors), encoded.
    Log(EncodedLog),
    /// A finished span.
    Span(Box<SpanRecord>),
    /// A metric measurement.
    Metric(Box<MetricRecord>),
}

impl Record {
    /// A rough size in bytes, used to refuse oversize records before they are queued.
    pub fn approx_size(&self) -> usize {
        fn attrs(a: &[KeyValue]) -> usize {
            a.iter()
                .map(|kv| kv.key.as_str().len() + value_size(&kv.value) + 8)
                .sum()
        }
        match self {
            Record::Log(l) => l.as_bytes().len(),
            Record::Span(s) => {
                96 + s.name.len()
                    + attrs(&s.attributes)
                    + s.events
                        .iter()
                        .map(|e| 16 + e.name.len() + attrs(&e.attributes))
                        .sum::<usize>()
            }
            Record::Metric(m) => 32 + m.name.len() + attrs(&m.attributes),
        }
    }
}

fn value_size(v: &crate::Value) -> usize {
    use crate::Value;
    match v {
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Array(items) => items.iter().map(value_size).sum::<usize>() + 4,
        Value::Map(kvs) => {
            kvs.iter()
                .map(|kv| kv.key.as_str().len() + value_size(&kv.value))
                .sum::<usize>()
                + 4
        }
        _ => 8,
    }
}
