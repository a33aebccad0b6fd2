//! OTLP requests as `JSONEachRow` bodies for the tables of the schema, one body per
//! table, as the SDK exporter and the server store insert them.
//!
//! Timestamps are written as RFC 3339 with nanoseconds and `Z` (inserted with
//! `date_time_input_format = 'best_effort'`, so they are UTC whatever the server's time
//! zone); attribute maps hold strings (numbers and booleans as their text, arrays and
//! maps as JSON, bytes as hex), as the OpenTelemetry Collector writes them; non-finite
//! floats are written as `nan` / `inf` / `-inf`.

use super::Schema;
use crate::SignalRequest;
use crate::agent::{self, Action, SpanRole, string_attr};
use crate::time::rfc3339;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
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

/// Attributes as a `Map(String, String)` value (a repeated key keeps its last value).
pub fn attribute_map(kvs: &[KeyValue]) -> Json {
    let mut map = Map::new();
    for kv in kvs {
        map.insert(kv.key.clone(), Json::String(any_text(kv.value.as_ref())));
    }
    Json::Object(map)
}

/// The types of the attributes that are not strings, for the `...AttributeTypes`
/// column beside an attribute map: `int`, `double`, `bool`, or `json` (arrays and maps,
/// stored as JSON text). Bytes are stored as hex text, a string.
pub fn attribute_types(kvs: &[KeyValue]) -> Json {
    let mut map = Map::new();
    for kv in kvs {
        let kind = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::IntValue(_)) => "int",
            Some(any_value::Value::DoubleValue(_)) => "double",
            Some(any_value::Value::BoolValue(_)) => "bool",
            Some(any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_)) => "json",
            _ => {
                map.remove(&kv.key);
                continue;
            }
        };
        map.insert(kv.key.clone(), Json::String(kind.into()));
    }
    Json::Object(map)
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

/// A row of `automagik_agent_actions`.
fn action_json(a: Action, service_name: &str, trace_id: &str, attributes: &[KeyValue]) -> Json {
    json!({
        "Timestamp": rfc3339(a.time_unix_nano),
        "ActionId": a.action_id,
        "CorrelationId": a.correlation_id,
        "AgentName": a.agent_name,
        "ActionType": a.action_type,
        "Name": a.name,
        "IsError": a.is_error,
        "DurationNs": a.duration_ns,
        "ServiceName": service_name,
        "TraceId": trace_id,
        "Attributes": attribute_map(attributes),
        "AttributeTypes": attribute_types(attributes),
    })
}

/// The rows of one request, by table (empty tables left out).
pub fn inserts(request: &SignalRequest) -> Vec<Insert> {
    let mut out = Vec::new();
    match request.decoded().as_ref() {
        SignalRequest::Traces(req) => {
            let mut spans = Insert {
                table: Schema::TRACES,
                ..Default::default()
            };
            let mut actions = Insert {
                table: Schema::AGENT_ACTIONS,
                ..Default::default()
            };
            let mut runs = Insert {
                table: Schema::AGENT_RUNS,
                ..Default::default()
            };
            for rs in &req.resource_spans {
                let service_name = service(rs.resource.as_ref());
                let resource = resource_map(rs.resource.as_ref());
                for ss in &rs.scope_spans {
                    let (scope_name, scope_version, _) = scope_parts(ss.scope.as_ref());
                    for s in &ss.spans {
                        let status = s.status.clone().unwrap_or_default();
                        let trace_id = hex::encode(&s.trace_id);
                        let span_id = hex::encode(&s.span_id);
                        let duration = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano);
                        spans.push(&json!({
                            "Timestamp": rfc3339(s.start_time_unix_nano),
                            "TraceId": trace_id,
                            "SpanId": span_id,
                            "ParentSpanId": hex::encode(&s.parent_span_id),
                            "TraceState": s.trace_state,
                            "SpanName": s.name,
                            "SpanKind": span_kind_name(s.kind),
                            "ServiceName": service_name,
                            "ResourceAttributes": resource,
                            "ScopeName": scope_name,
                            "ScopeVersion": scope_version,
                            "SpanAttributes": attribute_map(&s.attributes),
                            "SpanAttributeTypes": attribute_types(&s.attributes),
                            "Duration": duration,
                            "StatusCode": status_name(status.code),
                            "StatusMessage": status.message,
                            "Events.Timestamp": s.events.iter().map(|e| rfc3339(e.time_unix_nano)).collect::<Vec<_>>(),
                            "Events.Name": s.events.iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
                            "Events.Attributes": s.events.iter().map(|e| attribute_map(&e.attributes)).collect::<Vec<_>>(),
                            "Links.TraceId": s.links.iter().map(|l| hex::encode(&l.trace_id)).collect::<Vec<_>>(),
                            "Links.SpanId": s.links.iter().map(|l| hex::encode(&l.span_id)).collect::<Vec<_>>(),
                            "Links.TraceState": s.links.iter().map(|l| l.trace_state.clone()).collect::<Vec<_>>(),
                            "Links.Attributes": s.links.iter().map(|l| attribute_map(&l.attributes)).collect::<Vec<_>>(),
                        }));
                        match agent::from_span(s, &trace_id, &span_id) {
                            Some(SpanRole::Action(a)) => actions.push(&action_json(
                                a,
                                &service_name,
                                &trace_id,
                                &s.attributes,
                            )),
                            Some(SpanRole::Run(r)) => runs.push(&json!({
                                "Timestamp": rfc3339(s.start_time_unix_nano),
                                "EndTimestamp": rfc3339(s.end_time_unix_nano),
                                "CorrelationId": r.correlation_id,
                                "AgentName": r.agent_name,
                                "Status": if r.failed { "failed" } else { "completed" },
                                "ServiceName": service_name,
                                "TraceId": trace_id,
                                "QualityScore": r.quality_score,
                                "Error": r.error,
                                "Attributes": attribute_map(&s.attributes),
                                "AttributeTypes": attribute_types(&s.attributes),
                            })),
                            None => {}
                        }
                    }
                }
            }
            out.extend([spans, actions, runs]);
        }
        SignalRequest::Logs(req) => {
            let mut logs = Insert {
                table: Schema::LOGS,
                ..Default::default()
            };
            let mut actions = Insert {
                table: Schema::AGENT_ACTIONS,
                ..Default::default()
            };
            for rl in &req.resource_logs {
                let service_name = service(rl.resource.as_ref());
                let resource = resource_map(rl.resource.as_ref());
                let schema_url = rl.schema_url.clone();
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
                        logs.push(&json!({
                            "Timestamp": rfc3339(time),
                            "TraceId": trace_id,
                            "SpanId": hex::encode(&l.span_id),
                            "TraceFlags": l.flags & 0xff,
                            "SeverityText": l.severity_text,
                            "SeverityNumber": l.severity_number.clamp(0, 255),
                            "ServiceName": service_name,
                            "Body": any_text(l.body.as_ref()),
                            "ResourceSchemaUrl": schema_url,
                            "ResourceAttributes": resource,
                            "ScopeSchemaUrl": sl.schema_url,
                            "ScopeName": scope_name,
                            "ScopeVersion": scope_version,
                            "ScopeAttributes": scope_attrs,
                            "LogAttributes": attribute_map(&l.attributes),
                            "LogAttributeTypes": attribute_types(&l.attributes),
                            "EventName": event_name,
                        }));
                        let body = any_text(l.body.as_ref());
                        if let Some(a) = agent::from_event(l, &event_name, time, Some(&body)) {
                            actions.push(&action_json(a, &service_name, &trace_id, &l.attributes));
                        }
                    }
                }
            }
            out.extend([logs, actions]);
        }
        SignalRequest::Metrics(req) => {
            let mut gauges = Insert {
                table: Schema::GAUGES,
                ..Default::default()
            };
            let mut sums = Insert {
                table: Schema::SUMS,
                ..Default::default()
            };
            let mut histograms = Insert {
                table: Schema::HISTOGRAMS,
                ..Default::default()
            };
            for rm in &req.resource_metrics {
                let service_name = service(rm.resource.as_ref());
                let resource = resource_map(rm.resource.as_ref());
                for sm in &rm.scope_metrics {
                    let (scope_name, scope_version, scope_attrs) = scope_parts(sm.scope.as_ref());
                    for m in &sm.metrics {
                        let common =
                            |attributes: &[KeyValue], start: u64, time: u64, flags: u32| {
                                json!({
                                    "ResourceAttributes": resource,
                                    "ResourceSchemaUrl": rm.schema_url,
                                    "ScopeName": scope_name,
                                    "ScopeVersion": scope_version,
                                    "ScopeAttributes": scope_attrs,
                                    "ScopeSchemaUrl": sm.schema_url,
                                    "ServiceName": service_name,
                                    "MetricName": m.name,
                                    "MetricDescription": m.description,
                                    "MetricUnit": m.unit,
                                    "Attributes": attribute_map(attributes),
                                    "AttributeTypes": attribute_types(attributes),
                                    "StartTimeUnix": rfc3339(start),
                                    "TimeUnix": rfc3339(time),
                                    "Flags": flags,
                                })
                            };
                        let number =
                            |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint| {
                                let mut row = common(
                                    &p.attributes,
                                    p.start_time_unix_nano,
                                    p.time_unix_nano,
                                    p.flags,
                                );
                                row["Value"] = float(match p.value {
                                    Some(number_data_point::Value::AsDouble(d)) => d,
                                    Some(number_data_point::Value::AsInt(i)) => i as f64,
                                    None => f64::NAN,
                                });
                                row
                            };
                        match &m.data {
                            Some(Data::Gauge(g)) => {
                                for p in &g.data_points {
                                    gauges.push(&number(p));
                                }
                            }
                            Some(Data::Sum(s)) => {
                                for p in &s.data_points {
                                    let mut row = number(p);
                                    row["AggregationTemporality"] =
                                        json!(s.aggregation_temporality);
                                    row["IsMonotonic"] = json!(s.is_monotonic);
                                    sums.push(&row);
                                }
                            }
                            Some(Data::Histogram(h)) => {
                                for p in &h.data_points {
                                    let mut row = common(
                                        &p.attributes,
                                        p.start_time_unix_nano,
                                        p.time_unix_nano,
                                        p.flags,
                                    );
                                    row["Count"] = json!(p.count);
                                    row["Sum"] = float(p.sum.unwrap_or(0.0));
                                    row["BucketCounts"] = json!(p.bucket_counts);
                                    row["ExplicitBounds"] = Json::Array(
                                        p.explicit_bounds.iter().map(|b| float(*b)).collect(),
                                    );
                                    row["Min"] = float(p.min.unwrap_or(f64::NAN));
                                    row["Max"] = float(p.max.unwrap_or(f64::NAN));
                                    row["AggregationTemporality"] =
                                        json!(h.aggregation_temporality);
                                    histograms.push(&row);
                                }
                            }
                            // Exponential histograms and summaries have no table yet.
                            _ => {}
                        }
                    }
                }
            }
            out.extend([gauges, sums, histograms]);
        }
        SignalRequest::EncodedLogs(_) => {}
    }
    out.retain(|i| i.count > 0);
    out
}
