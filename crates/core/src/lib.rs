//! Shared building blocks of Automagik Telemetry, used by both the SDK and the server:
//! the record model, OTLP mapping, PII redaction, the consent rules and configuration
//! parsers. This crate does no I/O.
#![deny(missing_docs)]

pub mod agent;
pub mod agent_event;
pub mod attrs;
pub mod clickhouse;
pub mod consent;
pub mod exponential;
pub mod genai;
pub mod human;
pub mod kafka;
pub mod latency;
pub mod otlp;
pub mod parse;
pub mod ports;
pub mod record;
pub mod redact;
pub mod time;
pub mod trace_context;
pub mod value;

pub use consent::{ConsentDecision, ConsentInputs, ConsentRule};
pub use otlp::{Origin, Signal, SignalRequest};
pub use record::{
    EncodedLog, LogRecord, MetricKind, MetricRecord, Record, Severity, SpanEvent, SpanKind,
    SpanRecord, SpanStatus,
};
pub use redact::{PiiKind, Redactor, RedactorBuilder};
pub use trace_context::{SpanContext, SpanId, TraceId, TraceparentError};
pub use value::{Key, KeyValue, Value};

/// Re-export of the OTLP protobuf types this crate maps to.
pub use opentelemetry_proto as proto;
