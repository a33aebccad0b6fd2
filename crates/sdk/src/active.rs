//! What an enabled [`Telemetry`](crate::Telemetry) handle holds ([`Active`]: the
//! pipeline, the redactor, the install id and the configuration), and the pieces that
//! the handle, its spans and the `tracing` layer all use to make records: the clock,
//! log emission, `exception.*` attributes and span records that start now.

use crate::config::Config;
use crate::pipeline::Pipeline;
use automagik_telemetry_core::{
    KeyValue, LogRecord, Redactor, Severity, SpanContext, SpanId, SpanKind, SpanRecord, SpanStatus,
    TraceId, Value,
};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch.
pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The state of an enabled client, shared by its clones, its spans and its `tracing`
/// layer. Dropping the last reference delivers what is queued.
pub(crate) struct Active {
    pub pipeline: Pipeline,
    pub redactor: Redactor,
    pub install_id: String,
    pub config: Config,
}

impl Drop for Active {
    fn drop(&mut self) {
        // The last handle is gone: deliver what is queued, within the drop deadline.
        let _ = self.pipeline.shutdown(self.config.drop_timeout);
    }
}

impl Active {
    pub fn emit_log(
        &self,
        severity: Severity,
        body: Option<Cow<'static, str>>,
        event_name: Option<Cow<'static, str>>,
        attributes: impl IntoIterator<Item = KeyValue>,
        trace: Option<(TraceId, SpanId)>,
    ) {
        // The attributes only live until they are encoded: reuse this thread's buffer.
        let mut scratch = SCRATCH.with(Cell::take);
        scratch.extend(attributes);
        let dropped_attributes_count = self.redactor.redact_attributes(&mut scratch);
        let mut body = body;
        if let Some(b) = &mut body {
            self.redactor.redact_cow(b);
        }
        let mut event_name = event_name;
        // A static event name is a constant of the program's source and cannot carry
        // user data; names built at run time are scanned like any other string.
        if let Some(n @ Cow::Owned(_)) = &mut event_name {
            self.redactor.redact_cow(n);
        }
        let record = LogRecord {
            time_unix_nano: now_nanos(),
            severity,
            body,
            event_name,
            attributes: scratch,
            dropped_attributes_count,
            trace,
        };
        self.pipeline.enqueue_log(&record);
        let mut scratch = record.attributes;
        if scratch.capacity() <= MAX_SCRATCH_ATTRIBUTES {
            scratch.clear();
            SCRATCH.with(|s| s.set(scratch));
        }
    }
}

/// Largest attribute buffer kept for reuse per thread.
const MAX_SCRATCH_ATTRIBUTES: usize = 256;

thread_local! {
    static SCRATCH: Cell<Vec<KeyValue>> = const { Cell::new(Vec::new()) };
}

/// `exception.*` attributes of an error.
pub(crate) fn exception_attributes<E: std::error::Error + ?Sized>(error: &E) -> Vec<KeyValue> {
    let mut stack = String::new();
    let mut source = error.source();
    while let Some(s) = source {
        let _ = writeln!(stack, "caused by: {s}");
        source = s.source();
    }
    let backtrace = std::backtrace::Backtrace::capture();
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        let _ = write!(stack, "{backtrace}");
    }
    let mut attrs = vec![
        KeyValue::new("exception.type", std::any::type_name::<E>()),
        KeyValue::new("exception.message", Value::from(error.to_string())),
    ];
    if !stack.is_empty() {
        attrs.push(KeyValue::new("exception.stacktrace", Value::from(stack)));
    }
    attrs
}

/// A span record that starts now, under `parent`.
pub(crate) fn started_record(
    context: SpanContext,
    parent: Option<&SpanContext>,
    name: Cow<'static, str>,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
    dropped_attributes_count: u32,
) -> Box<SpanRecord> {
    Box::new(SpanRecord {
        context,
        parent_span_id: parent.map(|p| p.span_id),
        name,
        kind,
        start_time_unix_nano: now_nanos(),
        end_time_unix_nano: 0,
        attributes,
        dropped_attributes_count,
        events: Vec::new(),
        status: SpanStatus::Unset,
    })
}
