//! Spans: a guard that ends the span when dropped. A span started with
//! [`Telemetry::span`] is the current span of its thread until then, so spans and logs
//! started meanwhile on that thread are its children.
//!
//! A [`Span`] stays on the thread that started it (it is not `Send`). To continue a
//! trace on another thread or in another process, pass its [`SpanContext`] (or its
//! W3C `traceparent`) and start a child there with [`SpanBuilder::parent`].

use crate::active::{Active, exception_attributes, now_nanos, started_record};
use crate::context::{child_context, push_current, remove_current};
use crate::telemetry::Telemetry;
use automagik_telemetry_core::{
    KeyValue, SpanContext, SpanEvent, SpanKind, SpanRecord, SpanStatus,
};
use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

pub use crate::context::current_context;

impl Telemetry {
    /// Starts a span that is a child of this thread's current span (or a new trace),
    /// and becomes the current span until it is dropped.
    pub fn span(&self, name: impl Into<Cow<'static, str>>) -> Span {
        self.span_builder(name).start()
    }

    /// A span with options: kind, explicit or remote parent, attributes.
    pub fn span_builder(&self, name: impl Into<Cow<'static, str>>) -> SpanBuilder<'_> {
        SpanBuilder::new(self, name.into())
    }
}

enum Parent {
    Current,
    Explicit(SpanContext),
    Root,
}

/// Options for a new span.
#[must_use = "call .start() to start the span"]
pub struct SpanBuilder<'a> {
    telemetry: &'a Telemetry,
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: Parent,
    attributes: Vec<KeyValue>,
}

impl<'a> SpanBuilder<'a> {
    fn new(telemetry: &'a Telemetry, name: Cow<'static, str>) -> Self {
        SpanBuilder {
            telemetry,
            name,
            kind: SpanKind::Internal,
            parent: Parent::Current,
            attributes: Vec::new(),
        }
    }

    /// The span's kind (default internal).
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// An explicit parent, for example one extracted from an incoming `traceparent`.
    pub fn parent(mut self, parent: SpanContext) -> Self {
        self.parent = Parent::Explicit(parent);
        self
    }

    /// Starts a new trace, ignoring the current span.
    pub fn root(mut self) -> Self {
        self.parent = Parent::Root;
        self
    }

    /// An attribute known at start.
    pub fn attribute(
        mut self,
        key: impl Into<automagik_telemetry_core::Key>,
        value: impl Into<automagik_telemetry_core::Value>,
    ) -> Self {
        if self.telemetry.is_enabled() {
            self.attributes.push(KeyValue::new(key, value));
        }
        self
    }

    /// Starts the span; it is this thread's current span until dropped.
    pub fn start(self) -> Span {
        let Some(active) = &self.telemetry.inner else {
            return Span::noop();
        };
        let parent = match self.parent {
            Parent::Current => current_context(),
            Parent::Explicit(p) => Some(p),
            Parent::Root => None,
        };
        let context = child_context(parent.as_ref());
        let mut name = self.name;
        active.redactor.redact_cow(&mut name);
        let mut attributes = self.attributes;
        let dropped_attributes_count = active.redactor.redact_attributes(&mut attributes);
        push_current(context);
        Span {
            inner: Some(ActiveSpan {
                active: active.clone(),
                record: started_record(
                    context,
                    parent.as_ref(),
                    name,
                    self.kind,
                    attributes,
                    dropped_attributes_count,
                ),
            }),
            _not_send: PhantomData,
        }
    }
}

struct ActiveSpan {
    active: Arc<Active>,
    record: Box<SpanRecord>,
}

/// A span in progress; it ends when dropped (or with [`Span::end`]).
#[must_use = "a span ends when dropped: bind it with `let _span = ...`"]
pub struct Span {
    inner: Option<ActiveSpan>,
    // Spans belong to the thread whose current-span stack they are on.
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Span")
            .field("context", &self.context())
            .finish_non_exhaustive()
    }
}

impl Span {
    fn noop() -> Self {
        Span {
            inner: None,
            _not_send: PhantomData,
        }
    }

    /// Whether this span records anything (false when telemetry is disabled).
    pub fn is_recording(&self) -> bool {
        self.inner.is_some()
    }

    /// The span's identity.
    pub fn context(&self) -> Option<SpanContext> {
        self.inner.as_ref().map(|s| s.record.context)
    }

    /// The W3C `traceparent` header value for calls made on behalf of this span.
    pub fn traceparent(&self) -> Option<String> {
        self.context().map(|c| c.to_traceparent())
    }

    /// Sets (or replaces) an attribute. Values pass the redactor.
    pub fn set_attribute(
        &mut self,
        key: impl Into<automagik_telemetry_core::Key>,
        value: impl Into<automagik_telemetry_core::Value>,
    ) {
        let Some(s) = &mut self.inner else { return };
        let mut kv = KeyValue::new(key, value);
        s.active.redactor.redact_attribute(&mut kv);
        let attrs = &mut s.record.attributes;
        if let Some(existing) = attrs.iter_mut().find(|a| a.key == kv.key) {
            existing.value = kv.value;
        } else if attrs.len() < s.active.redactor.limits().max_attributes {
            attrs.push(kv);
        } else {
            s.record.dropped_attributes_count += 1;
        }
    }

    /// Records a timestamped event inside the span.
    pub fn add_event<A>(&mut self, name: impl Into<Cow<'static, str>>, attributes: A)
    where
        A: IntoIterator,
        A::Item: Into<KeyValue>,
    {
        let Some(s) = &mut self.inner else { return };
        let mut name = name.into();
        s.active.redactor.redact_cow(&mut name);
        let mut attributes: Vec<KeyValue> = attributes.into_iter().map(Into::into).collect();
        s.active.redactor.redact_attributes(&mut attributes);
        s.record.events.push(SpanEvent {
            name,
            time_unix_nano: now_nanos(),
            attributes,
        });
    }

    /// Sets the outcome. An error description passes the redactor.
    pub fn set_status(&mut self, status: SpanStatus) {
        let Some(s) = &mut self.inner else { return };
        s.record.status = match status {
            SpanStatus::Error(mut message) => {
                s.active.redactor.redact_cow(&mut message);
                SpanStatus::Error(message)
            }
            other => other,
        };
    }

    /// Records an error: an `exception` event with `exception.*` attributes, and an
    /// error status.
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        if self.inner.is_none() {
            return;
        }
        self.add_event("exception", exception_attributes(error));
        self.set_status(SpanStatus::Error(Cow::Owned(error.to_string())));
    }

    /// Ends the span now.
    pub fn end(self) {
        drop(self);
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        let Some(s) = self.inner.take() else { return };
        remove_current(s.record.context.span_id);
        let mut record = s.record;
        record.end_time_unix_nano = now_nanos().max(record.start_time_unix_nano);
        // Unsampled traces keep their context flowing but export nothing.
        if record.context.is_sampled() {
            s.active
                .pipeline
                .enqueue(automagik_telemetry_core::Record::Span(record));
        }
    }
}
