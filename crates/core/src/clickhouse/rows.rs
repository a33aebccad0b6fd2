//! OTLP requests as `JSONEachRow` bodies for the tables of the schema, one body per
//! table, as the SDK exporter and the server store insert them.
//!
//! Timestamps are written as RFC 3339 with nanoseconds and `Z` (inserted with
//! `date_time_input_format = 'best_effort'`, so they are UTC whatever the server's time
//! zone); attribute maps hold strings (numbers and booleans as their text, arrays and
//! maps as JSON, bytes as hex, an attribute without a value as `null`), as the
//! OpenTelemetry Collector writes them; non-finite floats are written as `nan` / `inf` /
//! `-inf`.
//!
//! Each table's row is written by one function ([`span_row`], [`log_row`],
//! [`metric_row`], [`run_row`], [`action_row`], [`snapshot_row`]) from plain values, so
//! that rows which do not come from an OTLP request (the server's own gauges, agent runs
//! read from Kafka, fleet snapshots) follow the same column names and value rules;
//! [`inserts`] adds the columns only a request has (schema URLs, scope attributes, the
//! metric tables' scopes and flags, temporality).
//!
//! A log body is stored as its text in `Body` ([`body_text`]: what full-text search
//! reads) with its OTLP type in `BodyType`, so readers give it back structured. Span
//! links keep their ids, trace state, attributes (with their types), flags and dropped
//! counts; span events their attribute types and dropped counts.

use super::Schema;
use crate::SignalRequest;
use crate::agent::{self, Action, SpanRole, string_attr};
use crate::otlp::{BodyType, body_text};
use crate::time::rfc3339;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, exemplar, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use serde_json::{Map, Value as Json, json};
use std::fmt::Write;

/// Rows for one table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Insert {
    /// Table name (without the database).
    pub table: &'static str,
    /// `JSONEachRow` rows, one per line.
    pub rows: String,
    /// How many rows.
    pub count: usize,
}

impl Insert {
    /// An empty body for `table`.
    pub fn new(table: &'static str) -> Self {
        Insert {
            table,
            ..Default::default()
        }
    }

    /// Appends one row.
    pub fn push(&mut self, row: &Json) {
        let _ = writeln!(self.rows, "{row}");
        self.count += 1;
    }
}

fn any_text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => hex::encode(b),
        Some(_) => v.map_or(Json::Null, crate::otlp::any_to_json).to_string(),
    }
}

/// Whether an attribute has no value.
fn has_no_value(kv: &KeyValue) -> bool {
    kv.value.as_ref().and_then(|v| v.value.as_ref()).is_none()
}

/// Attributes as a `Map(String, String)` value (a repeated key keeps its last value; an
/// attribute without a value is `null`, its JSON).
pub fn attribute_map(kvs: &[KeyValue]) -> Json {
    let mut map = Map::new();
    for kv in kvs {
        let text = if has_no_value(kv) {
            "null".to_string()
        } else {
            any_text(kv.value.as_ref())
        };
        map.insert(kv.key.clone(), Json::String(text));
    }
    Json::Object(map)
}

/// The types of the attributes that are not strings, for the `...AttributeTypes`
/// column beside an attribute map: `int`, `double`, `bool`, or `json` (arrays and maps,
/// stored as JSON text, and attributes without a value, stored as `null`). Bytes are
/// stored as hex text, a string.
pub fn attribute_types(kvs: &[KeyValue]) -> Json {
    let mut map = Map::new();
    for kv in kvs {
        let kind = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::IntValue(_)) => "int",
            Some(any_value::Value::DoubleValue(_)) => "double",
            Some(any_value::Value::BoolValue(_)) => "bool",
            Some(any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_)) | None => {
                "json"
            }
            _ => {
                map.remove(&kv.key);
                continue;
            }
        };
        map.insert(kv.key.clone(), Json::String(kind.into()));
    }
    Json::Object(map)
}

/// An attribute set as the two columns that hold it: the string map
/// ([`attribute_map`]) and, beside it, the types of the values that are not strings
/// ([`attribute_types`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Attributes {
    /// The `Map(String, String)` value.
    pub values: Json,
    /// The `...AttributeTypes` value.
    pub types: Json,
}

impl Attributes {
    /// The columns of OTLP attributes.
    pub fn of(kvs: &[KeyValue]) -> Self {
        Attributes {
            values: attribute_map(kvs),
            types: attribute_types(kvs),
        }
    }

    /// The columns of attributes kept as a JSON object (`{"key": value}`, as the server's
    /// rows hold them): each value is read as the OTLP value it stands for (a number that
    /// fits in an `i64` as an integer, any other number as a double, an array or object
    /// as an array or map, `null` as no value), then written by the rules above.
    pub fn of_json(object: &Map<String, Json>) -> Self {
        Self::of(&key_values(object))
    }
}

fn key_values(object: &Map<String, Json>) -> Vec<KeyValue> {
    object
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.clone(),
            value: any_value_of(value),
            ..Default::default()
        })
        .collect()
}

fn any_value_of(value: &Json) -> Option<AnyValue> {
    use any_value::Value as V;
    let value = match value {
        Json::Null => return None,
        Json::Bool(b) => V::BoolValue(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => V::StringValue(s.clone()),
        Json::Array(items) => V::ArrayValue(ArrayValue {
            values: items
                .iter()
                .map(|item| any_value_of(item).unwrap_or_default())
                .collect(),
        }),
        Json::Object(map) => V::KvlistValue(KeyValueList {
            values: key_values(map),
        }),
    };
    Some(AnyValue { value: Some(value) })
}

/// A float for a `Float64` column: finite numbers as numbers, others as text.
fn float(f: f64) -> Json {
    if f.is_nan() {
        Json::String("nan".into())
    } else if f.is_infinite() {
        Json::String(if f > 0.0 { "inf" } else { "-inf" }.into())
    } else {
        Json::from(f)
    }
}

fn service(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| string_attr(&r.attributes, "service.name"))
        .unwrap_or("unknown_service")
        .to_string()
}

fn resource_map(resource: Option<&Resource>) -> Json {
    resource.map_or_else(|| json!({}), |r| attribute_map(&r.attributes))
}

fn scope_parts(scope: Option<&InstrumentationScope>) -> (String, String, Json) {
    scope.map_or_else(
        || (String::new(), String::new(), json!({})),
        |s| {
            (
                s.name.clone(),
                s.version.clone(),
                attribute_map(&s.attributes),
            )
        },
    )
}

/// Span kinds as the Collector writes them, indexed by the OTLP number.
const SPAN_KINDS: [&str; 6] = [
    "Unspecified",
    "Internal",
    "Server",
    "Client",
    "Producer",
    "Consumer",
];
/// Status codes as the Collector writes them, indexed by the OTLP number.
const STATUS_CODES: [&str; 3] = ["Unset", "Ok", "Error"];

fn name_of(names: &'static [&'static str], code: i32) -> &'static str {
    usize::try_from(code)
        .ok()
        .and_then(|i| names.get(i))
        .unwrap_or(&names[0])
}

fn code_of(names: &[&str], name: &str) -> i32 {
    names.iter().position(|n| *n == name).unwrap_or(0) as i32
}

/// `Server`, `Client`, ... for an OTLP span kind (`Unspecified` for unknown ones).
pub fn span_kind_name(kind: i32) -> &'static str {
    name_of(&SPAN_KINDS, kind)
}

/// The OTLP span kind of a [`span_kind_name`] (0 for unknown names).
pub fn span_kind_code(name: &str) -> i32 {
    code_of(&SPAN_KINDS, name)
}

/// `Unset`, `Ok` or `Error` for an OTLP status code.
pub fn status_name(code: i32) -> &'static str {
    name_of(&STATUS_CODES, code)
}

/// The OTLP status code of a [`status_name`] (0 for unknown names).
pub fn status_code_of(name: &str) -> i32 {
    code_of(&STATUS_CODES, name)
}

/// Adds the columns of `more` (an object) to `row` (an object).
fn extend(row: &mut Json, more: Json) {
    if let (Json::Object(row), Json::Object(more)) = (row, more) {
        row.extend(more);
    }
}

/// The columns of an `otel_traces` row that every span has, from a request or not.
#[derive(Clone, Debug)]
pub struct SpanColumns<'a> {
    /// 32 lowercase hex digits.
    pub trace_id: &'a str,
    /// 16 lowercase hex digits.
    pub span_id: &'a str,
    /// 16 lowercase hex digits, or empty for a root span.
    pub parent_span_id: &'a str,
    /// W3C trace state, or empty.
    pub trace_state: &'a str,
    /// OTLP span flags (W3C trace flags in the low 8 bits, the is-remote bits 8 and 9).
    pub flags: u32,
    /// Operation name.
    pub name: &'a str,
    /// OTLP span kind.
    pub kind: i32,
    /// `service.name` of its resource.
    pub service_name: &'a str,
    /// Its resource's [`attribute_map`].
    pub resource: &'a Json,
    /// Its instrumentation scope's name, or empty.
    pub scope_name: &'a str,
    /// Its instrumentation scope's version, or empty.
    pub scope_version: &'a str,
    /// Its attributes.
    pub attributes: &'a Attributes,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
    /// Start, ns.
    pub start_time_unix_nano: u64,
    /// End, ns (a span ending before its start lasts 0).
    pub end_time_unix_nano: u64,
    /// OTLP status code.
    pub status_code: i32,
    /// Status message.
    pub status_message: &'a str,
    /// Its events.
    pub events: Vec<EventColumns<'a>>,
    /// Events the sender dropped.
    pub dropped_events_count: u32,
    /// Its links.
    pub links: Vec<LinkColumns>,
    /// Links the sender dropped.
    pub dropped_links_count: u32,
}

/// A span event, as the `Events.*` columns (and ours beside them) hold it.
#[derive(Clone, Debug)]
pub struct EventColumns<'a> {
    /// When, ns.
    pub time_unix_nano: u64,
    /// Event name.
    pub name: &'a str,
    /// Its attributes.
    pub attributes: Attributes,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
}

impl<'a> EventColumns<'a> {
    /// The columns of an OTLP span event.
    pub fn of(e: &'a Event) -> Self {
        EventColumns {
            time_unix_nano: e.time_unix_nano,
            name: &e.name,
            attributes: Attributes::of(&e.attributes),
            dropped_attributes_count: e.dropped_attributes_count,
        }
    }
}

/// A span link, as the `Links.*` columns (and ours beside them) hold it.
#[derive(Clone, Debug)]
pub struct LinkColumns {
    /// The linked span's trace id, as hex.
    pub trace_id: String,
    /// The linked span's id, as hex.
    pub span_id: String,
    /// The linked span's W3C trace state, or empty.
    pub trace_state: String,
    /// The link's attributes.
    pub attributes: Attributes,
    /// OTLP link flags (W3C trace flags in the low 8 bits, the is-remote bits 8 and 9).
    pub flags: u32,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
}

impl LinkColumns {
    /// The columns of an OTLP span link.
    pub fn of(l: &Link) -> Self {
        LinkColumns {
            trace_id: hex::encode(&l.trace_id),
            span_id: hex::encode(&l.span_id),
            trace_state: l.trace_state.clone(),
            attributes: Attributes::of(&l.attributes),
            flags: l.flags,
            dropped_attributes_count: l.dropped_attributes_count,
        }
    }
}

/// A row of `otel_traces`.
pub fn span_row(s: &SpanColumns<'_>) -> Json {
    let (events, links) = (&s.events, &s.links);
    let mut row = json!({
        "Timestamp": rfc3339(s.start_time_unix_nano),
        "TraceId": s.trace_id,
        "SpanId": s.span_id,
        "ParentSpanId": s.parent_span_id,
        "TraceState": s.trace_state,
        "Flags": s.flags,
        "SpanName": s.name,
        "SpanKind": span_kind_name(s.kind),
        "ServiceName": s.service_name,
        "ResourceAttributes": s.resource,
        "ScopeName": s.scope_name,
        "ScopeVersion": s.scope_version,
        "SpanAttributes": s.attributes.values,
        "SpanAttributeTypes": s.attributes.types,
        "DroppedAttributesCount": s.dropped_attributes_count,
        "Duration": s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano),
    });
    extend(
        &mut row,
        json!({
            "StatusCode": status_name(s.status_code),
            "StatusMessage": s.status_message,
            "Events.Timestamp": events.iter().map(|e| rfc3339(e.time_unix_nano)).collect::<Vec<_>>(),
            "Events.Name": events.iter().map(|e| e.name).collect::<Vec<_>>(),
            "Events.Attributes": events.iter().map(|e| &e.attributes.values).collect::<Vec<_>>(),
            "EventsAttributeTypes": events.iter().map(|e| &e.attributes.types).collect::<Vec<_>>(),
            "EventsDroppedAttributesCount": events.iter().map(|e| e.dropped_attributes_count).collect::<Vec<_>>(),
            "DroppedEventsCount": s.dropped_events_count,
        }),
    );
    extend(
        &mut row,
        json!({
            "Links.TraceId": links.iter().map(|l| l.trace_id.as_str()).collect::<Vec<_>>(),
            "Links.SpanId": links.iter().map(|l| l.span_id.as_str()).collect::<Vec<_>>(),
            "Links.TraceState": links.iter().map(|l| l.trace_state.as_str()).collect::<Vec<_>>(),
            "Links.Attributes": links.iter().map(|l| &l.attributes.values).collect::<Vec<_>>(),
            "LinksAttributeTypes": links.iter().map(|l| &l.attributes.types).collect::<Vec<_>>(),
            "LinksFlags": links.iter().map(|l| l.flags).collect::<Vec<_>>(),
            "LinksDroppedAttributesCount": links.iter().map(|l| l.dropped_attributes_count).collect::<Vec<_>>(),
            "DroppedLinksCount": s.dropped_links_count,
        }),
    );
    row
}

/// The columns of an `otel_logs` row that every log record has, from a request or not.
#[derive(Clone, Debug)]
pub struct LogColumns<'a> {
    /// When, ns.
    pub time_unix_nano: u64,
    /// When it was observed, ns (0 when not given).
    pub observed_time_unix_nano: u64,
    /// Trace id as hex, or empty.
    pub trace_id: &'a str,
    /// Span id as hex, or empty.
    pub span_id: &'a str,
    /// OTLP log flags (W3C trace flags; only the low 8 bits are kept).
    pub flags: u32,
    /// Severity text.
    pub severity_text: &'a str,
    /// OTLP severity number (kept within 0..=255).
    pub severity_number: i32,
    /// `service.name` of its resource.
    pub service_name: &'a str,
    /// Body as text ([`body_text`]), or empty.
    pub body: &'a str,
    /// The body's OTLP type.
    pub body_type: BodyType,
    /// Its resource's [`attribute_map`].
    pub resource: &'a Json,
    /// Its instrumentation scope's name, or empty.
    pub scope_name: &'a str,
    /// Its instrumentation scope's version, or empty.
    pub scope_version: &'a str,
    /// Its attributes.
    pub attributes: &'a Attributes,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
    /// Event name, or empty.
    pub event_name: &'a str,
}

/// A row of `otel_logs`.
pub fn log_row(l: &LogColumns<'_>) -> Json {
    let mut row = json!({
        "Timestamp": rfc3339(l.time_unix_nano),
        "ObservedTimestamp": rfc3339(l.observed_time_unix_nano),
        "TraceId": l.trace_id,
        "SpanId": l.span_id,
        "TraceFlags": l.flags & 0xff,
        "SeverityText": l.severity_text,
        "SeverityNumber": l.severity_number.clamp(0, 255),
        "ServiceName": l.service_name,
        "Body": l.body,
        "BodyType": l.body_type.as_str(),
        "ResourceAttributes": l.resource,
    });
    extend(
        &mut row,
        json!({
            "ScopeName": l.scope_name,
            "ScopeVersion": l.scope_version,
            "LogAttributes": l.attributes.values,
            "LogAttributeTypes": l.attributes.types,
            "DroppedAttributesCount": l.dropped_attributes_count,
            "EventName": l.event_name,
        }),
    );
    row
}

/// The columns every metric table has, from a request or not.
#[derive(Clone, Debug)]
pub struct MetricColumns<'a> {
    /// `service.name` of its resource.
    pub service_name: &'a str,
    /// Metric name.
    pub name: &'a str,
    /// The point's attributes.
    pub attributes: &'a Attributes,
    /// Start of the point's interval, ns.
    pub start_time_unix_nano: u64,
    /// The point's time, ns.
    pub time_unix_nano: u64,
}

/// The value columns of a data point.
#[derive(Clone, Debug)]
pub enum PointColumns<'a> {
    /// An exponential histogram (no sum is written as 0, no min or max as NaN).
    Exponential(&'a ExponentialHistogramDataPoint),
    /// A gauge or sum value (none is written as NaN).
    Number(Option<f64>),
    /// A summary: count, sum (NaN when not finite) and its `(quantile, value)` pairs.
    Summary {
        /// Count.
        count: u64,
        /// Sum.
        sum: f64,
        /// Quantiles, by quantile.
        quantiles: &'a [(f64, f64)],
    },
    /// A histogram (no sum is written as 0, no min or max as NaN).
    Histogram {
        /// Count.
        count: u64,
        /// Sum.
        sum: Option<f64>,
        /// Minimum.
        min: Option<f64>,
        /// Maximum.
        max: Option<f64>,
        /// Bucket counts.
        bucket_counts: &'a [u64],
        /// Bucket bounds.
        explicit_bounds: &'a [f64],
    },
}

/// The Collector's `Exemplars.*` columns of a point's row (left out when it has none).
fn add_exemplars(row: &mut Json, exemplars: &[Exemplar]) {
    if exemplars.is_empty() {
        return;
    }
    let column = |f: &dyn Fn(&Exemplar) -> Json| Json::Array(exemplars.iter().map(f).collect());
    row["Exemplars.FilteredAttributes"] = column(&|e| attribute_map(&e.filtered_attributes));
    row["Exemplars.TimeUnix"] = column(&|e| json!(rfc3339(e.time_unix_nano)));
    row["Exemplars.Value"] = column(&|e| {
        float(match e.value {
            Some(exemplar::Value::AsDouble(d)) => d,
            Some(exemplar::Value::AsInt(i)) => i as f64,
            None => f64::NAN,
        })
    });
    row["Exemplars.SpanId"] = column(&|e| json!(hex::encode(&e.span_id)));
    row["Exemplars.TraceId"] = column(&|e| json!(hex::encode(&e.trace_id)));
}

/// A row of `otel_metrics_gauge` or `otel_metrics_sum` (a [`PointColumns::Number`]) or
/// of `otel_metrics_histogram`.
pub fn metric_row(m: &MetricColumns<'_>, point: &PointColumns<'_>) -> Json {
    let mut row = json!({
        "ServiceName": m.service_name,
        "MetricName": m.name,
        "Attributes": m.attributes.values,
        "AttributeTypes": m.attributes.types,
        "StartTimeUnix": rfc3339(m.start_time_unix_nano),
        "TimeUnix": rfc3339(m.time_unix_nano),
    });
    match point {
        PointColumns::Number(value) => row["Value"] = float(value.unwrap_or(f64::NAN)),
        PointColumns::Summary {
            count,
            sum,
            quantiles,
        } => {
            row["Count"] = json!(count);
            row["Sum"] = float(*sum);
            row["ValueAtQuantiles.Quantile"] =
                Json::Array(quantiles.iter().map(|(q, _)| float(*q)).collect());
            row["ValueAtQuantiles.Value"] =
                Json::Array(quantiles.iter().map(|(_, v)| float(*v)).collect());
        }
        PointColumns::Exponential(p) => {
            let (positive, negative) = (p.positive.clone(), p.negative.clone());
            let (positive, negative) = (positive.unwrap_or_default(), negative.unwrap_or_default());
            row["Count"] = json!(p.count);
            row["Sum"] = float(p.sum.unwrap_or(0.0));
            row["Scale"] = json!(p.scale);
            row["ZeroCount"] = json!(p.zero_count);
            row["ZeroThreshold"] = float(p.zero_threshold);
            row["PositiveOffset"] = json!(positive.offset);
            row["PositiveBucketCounts"] = json!(positive.bucket_counts);
            row["NegativeOffset"] = json!(negative.offset);
            row["NegativeBucketCounts"] = json!(negative.bucket_counts);
            row["Min"] = float(p.min.unwrap_or(f64::NAN));
            row["Max"] = float(p.max.unwrap_or(f64::NAN));
        }
        PointColumns::Histogram {
            count,
            sum,
            min,
            max,
            bucket_counts,
            explicit_bounds,
        } => {
            row["Count"] = json!(count);
            row["Sum"] = float(sum.unwrap_or(0.0));
            row["BucketCounts"] = json!(bucket_counts);
            row["ExplicitBounds"] =
                Json::Array(explicit_bounds.iter().map(|b| float(*b)).collect());
            row["Min"] = float(min.unwrap_or(f64::NAN));
            row["Max"] = float(max.unwrap_or(f64::NAN));
        }
    }
    row
}

/// The columns of an `automagik_agent_runs` row.
#[derive(Clone, Debug)]
pub struct RunColumns<'a> {
    /// Start, ns.
    pub start_time_unix_nano: u64,
    /// End, ns.
    pub end_time_unix_nano: u64,
    /// Correlation id.
    pub correlation_id: &'a str,
    /// Agent name.
    pub agent_name: &'a str,
    /// `completed` or `failed`.
    pub status: &'a str,
    /// `service.name` of its resource.
    pub service_name: &'a str,
    /// The run's trace id as hex (may be empty).
    pub trace_id: &'a str,
    /// The run's span id as hex (empty for a run not read from a span).
    pub span_id: &'a str,
    /// The parent of the run's span as hex (empty for a root span).
    pub parent_span_id: &'a str,
    /// Its session (empty when none).
    pub session_id: &'a str,
    /// Its user (empty when none).
    pub user_id: &'a str,
    /// Quality score, when given (a non-finite one is written as none).
    pub quality_score: Option<f64>,
    /// Its error, when it failed.
    pub error: Option<&'a str>,
    /// Its attributes.
    pub attributes: &'a Attributes,
}

/// A row of `automagik_agent_runs`.
pub fn run_row(r: &RunColumns<'_>) -> Json {
    json!({
        "Timestamp": rfc3339(r.start_time_unix_nano),
        "EndTimestamp": rfc3339(r.end_time_unix_nano),
        "CorrelationId": r.correlation_id,
        "AgentName": r.agent_name,
        "Status": r.status,
        "ServiceName": r.service_name,
        "TraceId": r.trace_id,
        "SpanId": r.span_id,
        "ParentSpanId": r.parent_span_id,
        "SessionId": r.session_id,
        "UserId": r.user_id,
        "QualityScore": r.quality_score,
        "Error": r.error,
        "Attributes": r.attributes.values,
        "AttributeTypes": r.attributes.types,
    })
}

/// The columns of an `automagik_agent_actions` row.
#[derive(Clone, Debug)]
pub struct ActionColumns<'a> {
    /// When, ns.
    pub time_unix_nano: u64,
    /// Unique id.
    pub action_id: &'a str,
    /// The run it belongs to.
    pub correlation_id: &'a str,
    /// Agent name (may be empty).
    pub agent_name: &'a str,
    /// `tool_call`, `decision`, `error` or `success`.
    pub action_type: &'a str,
    /// Tool name, choice or message.
    pub name: &'a str,
    /// Whether it failed.
    pub is_error: bool,
    /// How long, ns.
    pub duration_ns: u64,
    /// `service.name` of its resource (may be empty).
    pub service_name: &'a str,
    /// Trace id as hex (may be empty).
    pub trace_id: &'a str,
    /// Its attributes.
    pub attributes: &'a Attributes,
}

/// A row of `automagik_agent_actions`.
pub fn action_row(a: &ActionColumns<'_>) -> Json {
    json!({
        "Timestamp": rfc3339(a.time_unix_nano),
        "ActionId": a.action_id,
        "CorrelationId": a.correlation_id,
        "AgentName": a.agent_name,
        "ActionType": a.action_type,
        "Name": a.name,
        "IsError": a.is_error,
        "DurationNs": a.duration_ns,
        "ServiceName": a.service_name,
        "TraceId": a.trace_id,
        "Attributes": a.attributes.values,
        "AttributeTypes": a.attributes.types,
    })
}

/// A row of the server's fleet snapshots ([`Schema::FLEET_SNAPSHOTS`]): a link of their
/// hash chain.
pub fn snapshot_row(
    seq: u64,
    snapshot_id: &str,
    collected_at_unix_nano: u64,
    body: &str,
    prev_hash: &str,
    hash: &str,
) -> Json {
    json!({
        "Seq": seq,
        "SnapshotId": snapshot_id,
        "CollectedAt": rfc3339(collected_at_unix_nano),
        "Body": body,
        "PrevHash": prev_hash,
        "Hash": hash,
    })
}

/// Attributes naming a run's session, in the order they are looked for.
const SESSION_KEYS: [&str; 3] = [
    "gen_ai.conversation.id",
    "session.id",
    "langfuse.session.id",
];
/// Attributes naming a run's user, in the order they are looked for.
const USER_KEYS: [&str; 2] = ["user.id", "langfuse.user.id"];

/// The first non-empty string attribute of `keys`, or empty.
fn first_string<'a>(kvs: &'a [KeyValue], keys: &[&str]) -> &'a str {
    keys.iter()
        .filter_map(|k| string_attr(kvs, k))
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

/// An action read from a request, with the span or record it came from.
fn action_of(a: &Action, service_name: &str, trace_id: &str, attributes: &Attributes) -> Json {
    action_row(&ActionColumns {
        time_unix_nano: a.time_unix_nano,
        action_id: &a.action_id,
        correlation_id: &a.correlation_id,
        agent_name: &a.agent_name,
        action_type: a.action_type,
        name: &a.name,
        is_error: a.is_error,
        duration_ns: a.duration_ns,
        service_name,
        trace_id,
        attributes,
    })
}

/// The rows of one request, by table (empty tables left out).
pub fn inserts(request: &SignalRequest) -> Vec<Insert> {
    let mut out = Vec::new();
    match request.decoded().as_ref() {
        SignalRequest::Traces(req) => {
            let mut spans = Insert::new(Schema::TRACES);
            let mut actions = Insert::new(Schema::AGENT_ACTIONS);
            let mut runs = Insert::new(Schema::AGENT_RUNS);
            for rs in &req.resource_spans {
                let service_name = service(rs.resource.as_ref());
                let resource = resource_map(rs.resource.as_ref());
                for ss in &rs.scope_spans {
                    let (scope_name, scope_version, _) = scope_parts(ss.scope.as_ref());
                    for s in &ss.spans {
                        let status = s.status.clone().unwrap_or_default();
                        let trace_id = hex::encode(&s.trace_id);
                        let span_id = hex::encode(&s.span_id);
                        let parent_span_id = hex::encode(&s.parent_span_id);
                        let attributes = Attributes::of(&s.attributes);
                        spans.push(&span_row(&SpanColumns {
                            trace_id: &trace_id,
                            span_id: &span_id,
                            parent_span_id: &parent_span_id,
                            trace_state: &s.trace_state,
                            flags: s.flags,
                            name: &s.name,
                            kind: s.kind,
                            service_name: &service_name,
                            resource: &resource,
                            scope_name: &scope_name,
                            scope_version: &scope_version,
                            attributes: &attributes,
                            dropped_attributes_count: s.dropped_attributes_count,
                            start_time_unix_nano: s.start_time_unix_nano,
                            end_time_unix_nano: s.end_time_unix_nano,
                            status_code: status.code,
                            status_message: &status.message,
                            events: s.events.iter().map(EventColumns::of).collect(),
                            dropped_events_count: s.dropped_events_count,
                            links: s.links.iter().map(LinkColumns::of).collect(),
                            dropped_links_count: s.dropped_links_count,
                        }));
                        match agent::from_span(s, &trace_id, &span_id) {
                            Some(SpanRole::Action(a)) => {
                                actions.push(&action_of(&a, &service_name, &trace_id, &attributes))
                            }
                            Some(SpanRole::Run(r)) => runs.push(&run_row(&RunColumns {
                                start_time_unix_nano: s.start_time_unix_nano,
                                end_time_unix_nano: s.end_time_unix_nano,
                                correlation_id: &r.correlation_id,
                                agent_name: &r.agent_name,
                                status: if r.failed { "failed" } else { "completed" },
                                service_name: &service_name,
                                trace_id: &trace_id,
                                span_id: &span_id,
                                parent_span_id: &parent_span_id,
                                session_id: first_string(&s.attributes, &SESSION_KEYS),
                                user_id: first_string(&s.attributes, &USER_KEYS),
                                quality_score: r.quality_score,
                                error: r.error.as_deref(),
                                attributes: &attributes,
                            })),
                            Some(SpanRole::LlmCall(_)) | None => {}
                        }
                    }
                }
            }
            out.extend([spans, actions, runs]);
        }
        SignalRequest::Logs(req) => {
            let mut logs = Insert::new(Schema::LOGS);
            let mut actions = Insert::new(Schema::AGENT_ACTIONS);
            for rl in &req.resource_logs {
                let service_name = service(rl.resource.as_ref());
                let resource = resource_map(rl.resource.as_ref());
                for sl in &rl.scope_logs {
                    let (scope_name, scope_version, scope_attrs) = scope_parts(sl.scope.as_ref());
                    for l in &sl.log_records {
                        let time = if l.time_unix_nano != 0 {
                            l.time_unix_nano
                        } else {
                            l.observed_time_unix_nano
                        };
                        let event_name = Some(l.event_name.clone())
                            .filter(|n| !n.is_empty())
                            .or_else(|| {
                                string_attr(&l.attributes, "event.name").map(str::to_string)
                            })
                            .unwrap_or_default();
                        let trace_id = hex::encode(&l.trace_id);
                        let span_id = hex::encode(&l.span_id);
                        let (body, body_type) =
                            l.body.as_ref().and_then(body_text).unwrap_or_default();
                        let attributes = Attributes::of(&l.attributes);
                        let mut row = log_row(&LogColumns {
                            time_unix_nano: time,
                            observed_time_unix_nano: l.observed_time_unix_nano,
                            trace_id: &trace_id,
                            span_id: &span_id,
                            flags: l.flags,
                            severity_text: &l.severity_text,
                            severity_number: l.severity_number,
                            service_name: &service_name,
                            body: &body,
                            body_type,
                            resource: &resource,
                            scope_name: &scope_name,
                            scope_version: &scope_version,
                            attributes: &attributes,
                            dropped_attributes_count: l.dropped_attributes_count,
                            event_name: &event_name,
                        });
                        extend(
                            &mut row,
                            json!({
                                "ResourceSchemaUrl": rl.schema_url,
                                "ScopeSchemaUrl": sl.schema_url,
                                "ScopeAttributes": scope_attrs,
                            }),
                        );
                        logs.push(&row);
                        if let Some(a) = agent::from_event(l, &event_name, time, Some(&body)) {
                            actions.push(&action_of(&a, &service_name, &trace_id, &attributes));
                        }
                    }
                }
            }
            out.extend([logs, actions]);
        }
        SignalRequest::Metrics(req) => {
            let mut gauges = Insert::new(Schema::GAUGES);
            let mut sums = Insert::new(Schema::SUMS);
            let mut histograms = Insert::new(Schema::HISTOGRAMS);
            let mut exponentials = Insert::new(Schema::EXPONENTIAL_HISTOGRAMS);
            let mut summaries = Insert::new(Schema::SUMMARIES);
            for rm in &req.resource_metrics {
                let service_name = service(rm.resource.as_ref());
                let resource = resource_map(rm.resource.as_ref());
                for sm in &rm.scope_metrics {
                    let (scope_name, scope_version, scope_attrs) = scope_parts(sm.scope.as_ref());
                    for m in &sm.metrics {
                        // The row of one point: the shared columns, then a request's own.
                        let point_row =
                            |attributes: &[KeyValue],
                             start: u64,
                             time: u64,
                             flags: u32,
                             point: PointColumns<'_>| {
                                let attributes = Attributes::of(attributes);
                                let mut row = metric_row(
                                    &MetricColumns {
                                        service_name: &service_name,
                                        name: &m.name,
                                        attributes: &attributes,
                                        start_time_unix_nano: start,
                                        time_unix_nano: time,
                                    },
                                    &point,
                                );
                                extend(
                                    &mut row,
                                    json!({
                                        "ResourceAttributes": resource,
                                        "ResourceSchemaUrl": rm.schema_url,
                                        "ScopeName": scope_name,
                                        "ScopeVersion": scope_version,
                                        "ScopeAttributes": scope_attrs,
                                        "ScopeSchemaUrl": sm.schema_url,
                                        "MetricDescription": m.description,
                                        "MetricUnit": m.unit,
                                        "Flags": flags,
                                    }),
                                );
                                row
                            };
                        let number =
                            |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint| {
                                let value = p.value.map(|v| match v {
                                    number_data_point::Value::AsDouble(d) => d,
                                    number_data_point::Value::AsInt(i) => i as f64,
                                });
                                point_row(
                                    &p.attributes,
                                    p.start_time_unix_nano,
                                    p.time_unix_nano,
                                    p.flags,
                                    PointColumns::Number(value),
                                )
                            };
                        match &m.data {
                            Some(Data::Gauge(g)) => {
                                for p in &g.data_points {
                                    let mut row = number(p);
                                    add_exemplars(&mut row, &p.exemplars);
                                    gauges.push(&row);
                                }
                            }
                            Some(Data::Sum(s)) => {
                                for p in &s.data_points {
                                    let mut row = number(p);
                                    add_exemplars(&mut row, &p.exemplars);
                                    row["AggregationTemporality"] =
                                        json!(s.aggregation_temporality);
                                    row["IsMonotonic"] = json!(s.is_monotonic);
                                    sums.push(&row);
                                }
                            }
                            Some(Data::Histogram(h)) => {
                                for p in &h.data_points {
                                    let mut row = point_row(
                                        &p.attributes,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        p.flags,
                                        PointColumns::Histogram {
                                            count: p.count,
                                            sum: p.sum,
                                            min: p.min,
                                            max: p.max,
                                            bucket_counts: &p.bucket_counts,
                                            explicit_bounds: &p.explicit_bounds,
                                        },
                                    );
                                    row["AggregationTemporality"] =
                                        json!(h.aggregation_temporality);
                                    add_exemplars(&mut row, &p.exemplars);
                                    histograms.push(&row);
                                }
                            }
                            Some(Data::ExponentialHistogram(h)) => {
                                for p in &h.data_points {
                                    let mut row = point_row(
                                        &p.attributes,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        p.flags,
                                        PointColumns::Exponential(p),
                                    );
                                    row["AggregationTemporality"] =
                                        json!(h.aggregation_temporality);
                                    add_exemplars(&mut row, &p.exemplars);
                                    exponentials.push(&row);
                                }
                            }
                            Some(Data::Summary(s)) => {
                                for p in &s.data_points {
                                    let quantiles: Vec<(f64, f64)> = p
                                        .quantile_values
                                        .iter()
                                        .map(|q| (q.quantile, q.value))
                                        .collect();
                                    let row = point_row(
                                        &p.attributes,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        p.flags,
                                        PointColumns::Summary {
                                            count: p.count,
                                            sum: p.sum,
                                            quantiles: &quantiles,
                                        },
                                    );
                                    summaries.push(&row);
                                }
                            }
                            None => {}
                        }
                    }
                }
            }
            out.extend([gauges, sums, histograms, exponentials, summaries]);
        }
        SignalRequest::EncodedLogs(_) => {}
    }
    out.retain(|i| i.count > 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: Option<any_value::Value>) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.map(|v| AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    #[test]
    fn json_attributes_follow_the_rules_of_otlp_ones() {
        use any_value::Value as V;
        let otlp = [
            kv("s", Some(V::StringValue("x".into()))),
            kv("i", Some(V::IntValue(-42))),
            kv("f", Some(V::DoubleValue(0.25))),
            kv("b", Some(V::BoolValue(true))),
            kv(
                "a",
                Some(V::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(V::IntValue(1)),
                    }],
                })),
            ),
            kv("none", None),
        ];
        let object = json!({"s": "x", "i": -42, "f": 0.25, "b": true, "a": [1], "none": null});
        let Json::Object(object) = object else {
            panic!("an object")
        };
        let columns = Attributes::of(&otlp);
        assert_eq!(Attributes::of_json(&object), columns);
        assert_eq!(
            columns.values,
            json!({"s": "x", "i": "-42", "f": "0.25", "b": "true", "a": "[1]", "none": "null"})
        );
        assert_eq!(
            columns.types,
            json!({"i": "int", "f": "double", "b": "bool", "a": "json", "none": "json"})
        );
    }

    /// The one row of the one table of `request`.
    fn only_row(request: SignalRequest, table: &str) -> Json {
        let inserts = inserts(&request);
        let insert = inserts
            .iter()
            .find(|i| i.table == table)
            .expect("the table's insert");
        assert_eq!(insert.count, 1);
        serde_json::from_str(insert.rows.trim()).expect("one JSON row")
    }

    fn scope() -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: "checkout-lib".into(),
            version: "2.1.0".into(),
            ..Default::default()
        })
    }

    #[test]
    fn spans_keep_links_trace_state_flags_scope_and_dropped_counts() {
        use any_value::Value as V;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            trace_state: "vendor=v1".into(),
            flags: 0x301,
            name: "op".into(),
            dropped_attributes_count: 3,
            events: vec![Event {
                name: "retry".into(),
                attributes: vec![kv("attempt", Some(V::IntValue(2)))],
                dropped_attributes_count: 1,
                ..Default::default()
            }],
            dropped_events_count: 4,
            links: vec![Link {
                trace_id: vec![0xab; 16],
                span_id: vec![0xcd; 8],
                trace_state: "other=x".into(),
                attributes: vec![
                    kv("link.kind", Some(V::StringValue("follows".into()))),
                    kv("batch", Some(V::IntValue(7))),
                ],
                dropped_attributes_count: 2,
                flags: 0x101,
            }],
            dropped_links_count: 5,
            ..Default::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let row = only_row(SignalRequest::Traces(request), Schema::TRACES);
        assert_eq!(row["TraceState"], "vendor=v1");
        assert_eq!(row["Flags"], 0x301);
        assert_eq!(
            (row["ScopeName"].as_str(), row["ScopeVersion"].as_str()),
            (Some("checkout-lib"), Some("2.1.0"))
        );
        assert_eq!(
            (
                row["DroppedAttributesCount"].as_u64(),
                row["DroppedEventsCount"].as_u64(),
                row["DroppedLinksCount"].as_u64()
            ),
            (Some(3), Some(4), Some(5))
        );
        assert_eq!(row["EventsAttributeTypes"], json!([{"attempt": "int"}]));
        assert_eq!(row["EventsDroppedAttributesCount"], json!([1]));
        assert_eq!(row["Links.TraceId"], json!(["ab".repeat(16)]));
        assert_eq!(row["Links.SpanId"], json!(["cd".repeat(8)]));
        assert_eq!(row["Links.TraceState"], json!(["other=x"]));
        assert_eq!(
            row["Links.Attributes"],
            json!([{"link.kind": "follows", "batch": "7"}])
        );
        assert_eq!(row["LinksAttributeTypes"], json!([{"batch": "int"}]));
        assert_eq!(row["LinksFlags"], json!([0x101]));
        assert_eq!(row["LinksDroppedAttributesCount"], json!([2]));
    }

    #[test]
    fn runs_keep_their_span_parent_session_and_user() {
        use any_value::Value as V;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        let run = |attributes: Vec<KeyValue>| {
            let mut attributes = attributes;
            attributes.push(kv(
                "gen_ai.operation.name",
                Some(V::StringValue("invoke_agent".into())),
            ));
            let request = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![Span {
                            trace_id: vec![1; 16],
                            span_id: vec![2; 8],
                            parent_span_id: vec![3; 8],
                            name: "planner".into(),
                            attributes,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            only_row(SignalRequest::Traces(request), Schema::AGENT_RUNS)
        };
        let row = run(vec![
            kv("session.id", Some(V::StringValue("s-1".into()))),
            kv(
                "gen_ai.conversation.id",
                Some(V::StringValue("conv-9".into())),
            ),
            kv("langfuse.user.id", Some(V::StringValue("u-2".into()))),
        ]);
        assert_eq!(row["SpanId"], "02".repeat(8));
        assert_eq!(row["ParentSpanId"], "03".repeat(8));
        assert_eq!(row["SessionId"], "conv-9", "the GenAI name first");
        assert_eq!(row["UserId"], "u-2");
        let row = run(vec![
            kv(
                "gen_ai.conversation.id",
                Some(V::StringValue(String::new())),
            ),
            kv("langfuse.session.id", Some(V::StringValue("lf-3".into()))),
        ]);
        assert_eq!(row["SessionId"], "lf-3", "an empty one is skipped");
        assert_eq!(row["UserId"], "");
    }

    #[test]
    fn log_bodies_keep_their_type_beside_their_text() {
        use any_value::Value as V;
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        let record = |body: Option<V>| LogRecord {
            time_unix_nano: 0,
            observed_time_unix_nano: 1_699_999_200_000_000_001,
            flags: 0x1ff,
            body: body.map(|v| AnyValue { value: Some(v) }),
            dropped_attributes_count: 6,
            ..Default::default()
        };
        let request = |body: Option<V>| {
            SignalRequest::Logs(ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    scope_logs: vec![ScopeLogs {
                        scope: scope(),
                        log_records: vec![record(body)],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            })
        };
        let map = V::KvlistValue(KeyValueList {
            values: vec![kv("user", Some(V::StringValue("ada".into())))],
        });
        let row = only_row(request(Some(map)), Schema::LOGS);
        assert_eq!(row["Body"], r#"{"user":"ada"}"#);
        assert_eq!(row["BodyType"], "kvlist");
        assert_eq!(row["ObservedTimestamp"], "2023-11-14T22:00:00.000000001Z");
        assert_eq!(
            row["Timestamp"], row["ObservedTimestamp"],
            "no time: the observed one"
        );
        assert_eq!(row["TraceFlags"], 0xff, "W3C trace flags only");
        assert_eq!(row["ScopeName"], "checkout-lib");
        assert_eq!(row["DroppedAttributesCount"], 6);
        let row = only_row(request(Some(V::BytesValue(vec![0xbe, 0xef]))), Schema::LOGS);
        assert_eq!(
            (row["Body"].as_str(), row["BodyType"].as_str()),
            (Some("beef"), Some("bytes"))
        );
        let row = only_row(request(None), Schema::LOGS);
        assert_eq!(
            (row["Body"].as_str(), row["BodyType"].as_str()),
            (Some(""), Some("string"))
        );
    }
}
