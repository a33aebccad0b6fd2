//! The server's rows as `JSONEachRow` bodies for the tables of the shared schema.

use crate::rows::Batch;
use crate::rows::write_json_str;
use automagik_telemetry_core::clickhouse::{Insert, Schema, span_kind_name, status_name};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value as Json, json};
use std::borrow::Cow;
use std::fmt::Write as _;

/// A time as `DateTime64(9)` input text: seconds, a dot and nine digits.
pub(super) fn time_text(ns: u64) -> String {
    TimeText(ns).to_string()
}

/// [`time_text`] without the allocation, for the rows written field by field.
struct TimeText(u64);

impl std::fmt::Display for TimeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ten digits of seconds: fewer would read as a date.
        write!(
            f,
            "{:010}.{:09}",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

/// An object key, borrowed from the text unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The entries of a JSON object, values left as their JSON text.
struct Entries<'a>(Vec<(Key<'a>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Writes a JSON object of typed attributes as the string map and the type map, straight
/// from its text: string values are copied as they are, other values become their JSON
/// text (a repeated key keeps its last value; text that is not an object, nothing).
fn write_attributes(text: &str, values: &mut String, types: &mut String) {
    let entries = serde_json::from_str::<Entries<'_>>(text)
        .map(|e| e.0)
        .unwrap_or_default();
    values.push('{');
    types.push('{');
    let (mut first_value, mut first_type) = (true, true);
    for (i, (key, raw)) in entries.iter().enumerate() {
        if entries[i + 1..].iter().any(|(k, _)| k.0 == key.0) {
            continue;
        }
        if !std::mem::take(&mut first_value) {
            values.push(',');
        }
        write_json_str(&key.0, values);
        values.push(':');
        let raw = raw.get();
        let kind = match raw.as_bytes().first() {
            Some(b'"') => {
                values.push_str(raw);
                continue;
            }
            Some(b't' | b'f') => "bool",
            Some(b'[' | b'{' | b'n') | None => "json",
            Some(_) if raw.contains(['.', 'e', 'E']) => "double",
            Some(_) => "int",
        };
        write_json_str(raw, values);
        if !std::mem::take(&mut first_type) {
            types.push(',');
        }
        write_json_str(&key.0, types);
        types.push(':');
        write_json_str(kind, types);
    }
    values.push('}');
    types.push('}');
}

/// [`write_attributes`] as JSON values, for the tables written with `json!`.
pub(super) fn split_attributes(text: &str) -> (Json, Json) {
    let (mut values, mut types) = (String::new(), String::new());
    write_attributes(text, &mut values, &mut types);
    (
        serde_json::from_str(&values).unwrap_or_default(),
        serde_json::from_str(&types).unwrap_or_default(),
    )
}

/// One `JSONEachRow` object written field by field.
struct Row<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Row<'a> {
    fn start(out: &'a mut String) -> Self {
        out.push('{');
        Row { out, first: true }
    }

    fn name(&mut self, name: &str) -> &mut String {
        if !std::mem::take(&mut self.first) {
            self.out.push(',');
        }
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    fn text(&mut self, name: &str, value: &str) {
        write_json_str(value, self.name(name));
    }

    fn number(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.name(name), "{value}");
    }

    fn time(&mut self, name: &str, ns: u64) {
        let _ = write!(self.name(name), "\"{}\"", TimeText(ns));
    }

    fn end(self) {
        self.out.push_str("}\n");
    }
}

/// The `JSONEachRow` bodies `batch` is inserted as, one per table (empty ones
/// included).
pub(super) fn inserts(batch: &Batch) -> Vec<Insert> {
    // Spans are the volume: written field by field, the resource map once per
    // resource.
    let mut spans = Insert::new(Schema::TRACES);
    let (mut values, mut types) = (String::new(), String::new());
    let mut resource: (&str, String) = ("", String::new());
    for s in &batch.spans {
        if resource.1.is_empty() || resource.0 != s.resource {
            resource.1.clear();
            write_attributes(&s.resource, &mut resource.1, &mut types);
            resource.0 = &s.resource;
        }
        values.clear();
        types.clear();
        write_attributes(&s.attributes, &mut values, &mut types);
        let mut row = Row::start(&mut spans.rows);
        row.time("Timestamp", s.start_time_unix_nano);
        row.text("TraceId", &s.trace_id);
        row.text("SpanId", &s.span_id);
        row.text("ParentSpanId", &s.parent_span_id);
        row.text("SpanName", &s.name);
        row.text("SpanKind", span_kind_name(s.kind));
        row.text("ServiceName", &s.service_name);
        row.name("ResourceAttributes").push_str(&resource.1);
        row.name("SpanAttributes").push_str(&values);
        row.name("SpanAttributeTypes").push_str(&types);
        row.number(
            "Duration",
            s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano),
        );
        row.text("StatusCode", status_name(s.status_code));
        row.text("StatusMessage", &s.status_message);
        if s.events != "[]" {
            let events: Vec<Json> = serde_json::from_str(&s.events).unwrap_or_default();
            let field = |e: &Json, k: &str| e.get(k).cloned().unwrap_or(Json::Null);
            let times: Vec<String> = events
                .iter()
                .map(|e| {
                    let ns = field(e, "time_unix_nano");
                    time_text(
                        ns.as_str()
                            .and_then(|t| t.parse().ok())
                            .or(ns.as_u64())
                            .unwrap_or(0),
                    )
                })
                .collect();
            let names: Vec<Json> = events.iter().map(|e| field(e, "name")).collect();
            let attributes: Vec<Json> = events
                .iter()
                .map(|e| split_attributes(&field(e, "attributes").to_string()).0)
                .collect();
            row.number("Events.Timestamp", Json::from(times));
            row.number("Events.Name", Json::from(names));
            row.number("Events.Attributes", Json::from(attributes));
        }
        row.end();
        spans.count += 1;
    }
    let mut logs = Insert::new(Schema::LOGS);
    for l in &batch.logs {
        let (attributes, types) = split_attributes(&l.attributes);
        logs.push(&json!({
            "Timestamp": time_text(l.time_unix_nano),
            "TraceId": l.trace_id.as_deref().unwrap_or(""),
            "SpanId": l.span_id.as_deref().unwrap_or(""),
            "SeverityText": l.severity_text,
            "SeverityNumber": l.severity_number.clamp(0, 255),
            "ServiceName": l.service_name,
            "Body": l.body.as_deref().unwrap_or(""),
            "ResourceAttributes": split_attributes(&l.resource).0,
            "LogAttributes": attributes,
            "LogAttributeTypes": types,
            "EventName": l.event_name.as_deref().unwrap_or(""),
        }));
    }
    let (mut gauges, mut sums, mut histograms) = (
        Insert::new(Schema::GAUGES),
        Insert::new(Schema::SUMS),
        Insert::new(Schema::HISTOGRAMS),
    );
    for m in &batch.metric_points {
        let (attributes, types) = split_attributes(&m.attributes);
        let float = |f: Option<f64>| match f {
            Some(f) if f.is_finite() => json!(f),
            Some(f) if f.is_infinite() => json!(if f > 0.0 { "inf" } else { "-inf" }),
            _ => json!("nan"),
        };
        let mut row = json!({
            "ServiceName": m.service_name,
            "MetricName": m.name,
            "Attributes": attributes,
            "AttributeTypes": types,
            "StartTimeUnix": time_text(m.start_time_unix_nano),
            "TimeUnix": time_text(m.time_unix_nano),
        });
        let table = match m.kind {
            "histogram" => {
                row["Count"] = json!(m.count.unwrap_or(0));
                row["Sum"] = float(m.sum.or(Some(0.0)));
                row["Min"] = float(m.min);
                row["Max"] = float(m.max);
                row["BucketCounts"] = json!(m.bucket_counts.clone().unwrap_or_default());
                row["ExplicitBounds"] = Json::Array(
                    m.explicit_bounds
                        .iter()
                        .flatten()
                        .map(|b| float(Some(*b)))
                        .collect(),
                );
                &mut histograms
            }
            kind => {
                row["Value"] = float(m.value);
                if kind == "sum" {
                    &mut sums
                } else {
                    &mut gauges
                }
            }
        };
        table.push(&row);
    }
    let mut runs = Insert::new(Schema::AGENT_RUNS);
    for r in &batch.agent_runs {
        let (attributes, types) = split_attributes(&r.attributes);
        runs.push(&json!({
            "Timestamp": time_text(r.start_time_unix_nano),
            "EndTimestamp": time_text(r.end_time_unix_nano),
            "CorrelationId": r.correlation_id,
            "AgentName": r.agent_name,
            "Status": r.status,
            "ServiceName": r.service_name,
            "TraceId": r.trace_id,
            "QualityScore": r.quality_score.filter(|q| q.is_finite()),
            "Error": r.error,
            "Attributes": attributes,
            "AttributeTypes": types,
        }));
    }
    let mut actions = Insert::new(Schema::AGENT_ACTIONS);
    for a in &batch.agent_actions {
        let (attributes, types) = split_attributes(&a.attributes);
        actions.push(&json!({
            "Timestamp": time_text(a.time_unix_nano),
            "ActionId": a.action_id,
            "CorrelationId": a.correlation_id,
            "AgentName": a.agent_name,
            "ActionType": a.action_type,
            "Name": a.name,
            "IsError": a.is_error,
            "DurationNs": a.duration_ns,
            "Attributes": attributes,
            "AttributeTypes": types,
        }));
    }
    vec![spans, logs, gauges, sums, histograms, runs, actions]
}
