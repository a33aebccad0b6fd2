//! Spans: the SDK's span guard, held by a JavaScript object until `end()` (or until the
//! object is collected, which ends it too).

use crate::convert::{self, JsAttributes};
use automagik_telemetry::{KeyValue, Span, SpanContext, SpanKind, SpanStatus};
use napi_derive::napi;
use serde_json::Value as Json;

/// A span kind by its JavaScript name (`internal` when unknown).
pub fn span_kind(name: Option<&str>) -> SpanKind {
    match name.map(str::to_ascii_lowercase).as_deref() {
        Some("server") => SpanKind::Server,
        Some("client") => SpanKind::Client,
        Some("producer") => SpanKind::Producer,
        Some("consumer") => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

/// The `exception.*` attributes of a JavaScript error.
pub fn exception_attributes(kind: String, message: String, stack: Option<String>) -> Vec<KeyValue> {
    let mut attrs = vec![
        KeyValue::new("exception.type", kind),
        KeyValue::new("exception.message", message),
    ];
    if let Some(stack) = stack.filter(|s| !s.is_empty()) {
        attrs.push(KeyValue::new("exception.stacktrace", stack));
    }
    attrs
}

/// A trace context as JavaScript sees it.
#[napi(object)]
pub struct TraceContext {
    /// The trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// The span id, 16 lowercase hex digits.
    pub span_id: String,
    /// The W3C trace flags (bit 0: sampled).
    pub trace_flags: u32,
    /// Whether the sampled flag is set.
    pub sampled: bool,
    /// The W3C `traceparent` header value.
    pub traceparent: String,
}

impl From<SpanContext> for TraceContext {
    fn from(c: SpanContext) -> Self {
        TraceContext {
            trace_id: c.trace_id.to_string(),
            span_id: c.span_id.to_string(),
            trace_flags: u32::from(c.trace_flags),
            sampled: c.is_sampled(),
            traceparent: c.to_traceparent(),
        }
    }
}

/// Parses a W3C `traceparent` header value; `null` when it is not a valid one.
#[napi]
pub fn parse_traceparent(header: String) -> Option<TraceContext> {
    SpanContext::from_traceparent(&header)
        .ok()
        .map(TraceContext::from)
}

/// A span in progress.
#[napi]
pub struct NativeSpan {
    span: Option<Span>,
}

impl NativeSpan {
    /// Wraps a started span.
    pub fn new(span: Span) -> Self {
        NativeSpan { span: Some(span) }
    }
}

#[napi]
impl NativeSpan {
    /// Whether the span records anything (false when telemetry is disabled or the span
    /// has ended).
    #[napi]
    pub fn is_recording(&self) -> bool {
        self.span.as_ref().is_some_and(Span::is_recording)
    }

    /// The span's identity; `null` when it records nothing.
    #[napi]
    pub fn context(&self) -> Option<TraceContext> {
        self.span
            .as_ref()
            .and_then(Span::context)
            .map(TraceContext::from)
    }

    /// Sets (or replaces) an attribute; the value passes the redactor.
    #[napi]
    pub fn set_attribute(&mut self, key: String, value: Option<Json>) {
        if let (Some(span), Some(value)) = (&mut self.span, value.and_then(convert::value)) {
            span.set_attribute(key, value);
        }
    }

    /// Records a timestamped event inside the span.
    #[napi]
    pub fn add_event(&mut self, name: String, attributes: JsAttributes) {
        if let Some(span) = &mut self.span {
            span.add_event(name, convert::optional_attributes(attributes));
        }
    }

    /// Sets the outcome: `ok`, `error` (with a description) or `unset`.
    #[napi]
    pub fn set_status(&mut self, code: String, message: Option<String>) {
        let Some(span) = &mut self.span else { return };
        let status = match code.to_ascii_lowercase().as_str() {
            "ok" => SpanStatus::Ok,
            "error" => SpanStatus::Error(message.unwrap_or_default().into()),
            _ => SpanStatus::Unset,
        };
        span.set_status(status);
    }

    /// Records an error: an `exception` event with `exception.*` attributes, and an
    /// error status with its message.
    #[napi]
    pub fn record_exception(&mut self, kind: String, message: String, stack: Option<String>) {
        let Some(span) = &mut self.span else { return };
        span.add_event(
            "exception",
            exception_attributes(kind, message.clone(), stack),
        );
        span.set_status(SpanStatus::Error(message.into()));
    }

    /// Ends the span now (later calls do nothing).
    #[napi]
    pub fn end(&mut self) {
        if let Some(span) = self.span.take() {
            span.end();
        }
    }
}
