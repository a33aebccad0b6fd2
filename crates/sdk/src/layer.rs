//! A `tracing_subscriber` layer: `tracing` spans become our spans (with their fields
//! as attributes), `tracing` events become our logs (the `message` field is the body),
//! with parent links and trace context as `tracing` sees them. Entered `tracing` spans
//! are also the current span for [`Telemetry::span`], so the two APIs nest.
//!
//! The layer keeps a handle to the client, so a client installed in a global subscriber
//! is never dropped: call [`Telemetry::shutdown`] before the program exits.
//!
//! ```no_run
//! use tracing_subscriber::prelude::*;
//! let telemetry = automagik_telemetry::Telemetry::builder().consent(true).build()?;
//! tracing_subscriber::registry().with(telemetry.tracing_layer()).init();
//! tracing::info_span!("request", route = "/checkout").in_scope(|| tracing::info!(items = 3, "paid"));
//! # Ok::<(), automagik_telemetry::ConfigError>(())
//! ```

use crate::active::{now_nanos, started_record};
use crate::context::{child_context, current_context, push_current, remove_current};
use crate::telemetry::Telemetry;
use automagik_telemetry_core::{KeyValue, Record, Severity, SpanKind, SpanRecord, Value};
use std::borrow::Cow;
use std::fmt;
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record as FieldValues};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Our own diagnostics are never fed back into the pipeline.
const OWN_TARGET: &str = "automagik_telemetry";

/// See the module docs.
#[derive(Debug, Clone)]
pub struct TelemetryLayer {
    telemetry: Telemetry,
}

impl Telemetry {
    /// A `tracing_subscriber` layer that turns `tracing` spans and events into this
    /// client's spans and logs.
    pub fn tracing_layer(&self) -> TelemetryLayer {
        TelemetryLayer {
            telemetry: self.clone(),
        }
    }
}

struct LayerSpan(Box<SpanRecord>);

#[derive(Default)]
struct Fields {
    message: Option<String>,
    attributes: Vec<KeyValue>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_string());
        } else {
            self.attributes
                .push(KeyValue::new(field.name(), Value::from(value.to_string())));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.attributes
            .push(KeyValue::new(field.name(), Value::from(value.to_string())));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        } else {
            self.attributes.push(KeyValue::new(
                field.name(),
                Value::from(format!("{value:?}")),
            ));
        }
    }
}

fn severity(level: &Level) -> Severity {
    match *level {
        Level::TRACE => Severity::Trace,
        Level::DEBUG => Severity::Debug,
        Level::INFO => Severity::Info,
        Level::WARN => Severity::Warn,
        Level::ERROR => Severity::Error,
    }
}

impl<S> Layer<S> for TelemetryLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(active) = &self.telemetry.inner else {
            return;
        };
        let meta = attrs.metadata();
        if meta.target().starts_with(OWN_TARGET) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent = match span.parent() {
            Some(p) => p.extensions().get::<LayerSpan>().map(|ls| ls.0.context),
            None if attrs.is_contextual() => current_context(),
            None => None,
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let mut attributes = fields.attributes;
        attributes.push(KeyValue::new("code.namespace", meta.target()));
        let dropped_attributes_count = active.redactor.redact_attributes(&mut attributes);
        let context = child_context(parent.as_ref());
        span.extensions_mut().insert(LayerSpan(started_record(
            context,
            parent.as_ref(),
            Cow::Borrowed(meta.name()),
            SpanKind::Internal,
            attributes,
            dropped_attributes_count,
        )));
    }

    fn on_record(&self, id: &Id, values: &FieldValues<'_>, ctx: Context<'_, S>) {
        let Some(active) = &self.telemetry.inner else {
            return;
        };
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut ext = span.extensions_mut();
        let Some(LayerSpan(record)) = ext.get_mut::<LayerSpan>() else {
            return;
        };
        for mut kv in fields.attributes {
            active.redactor.redact_attribute(&mut kv);
            match record.attributes.iter_mut().find(|a| a.key == kv.key) {
                Some(existing) => existing.value = kv.value,
                None => record.attributes.push(kv),
            }
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(ls) = span.extensions().get::<LayerSpan>()
        {
            push_current(ls.0.context);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(ls) = span.extensions().get::<LayerSpan>()
        {
            remove_current(ls.0.context.span_id);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(active) = &self.telemetry.inner else {
            return;
        };
        let meta = event.metadata();
        if meta.target().starts_with(OWN_TARGET) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let trace = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<LayerSpan>().map(|ls| ls.0.context))
            .or_else(current_context)
            .map(|c| (c.trace_id, c.span_id));
        let mut attributes = fields.attributes;
        attributes.push(KeyValue::new("code.namespace", meta.target()));
        active.emit_log(
            severity(meta.level()),
            fields.message.map(Cow::Owned),
            None,
            attributes,
            trace,
        );
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(active) = &self.telemetry.inner else {
            return;
        };
        let Some(span) = ctx.span(&id) else { return };
        let Some(LayerSpan(mut record)) = span.extensions_mut().remove::<LayerSpan>() else {
            return;
        };
        record.end_time_unix_nano = now_nanos().max(record.start_time_unix_nano);
        if record.context.is_sampled() {
            active.pipeline.enqueue(Record::Span(record));
        }
    }
}
