//! Mapping of records to OTLP export requests (the `opentelemetry-proto` types), and
//! their protobuf and JSON encodings.
//!
//! Metric measurements are aggregated per batch, per name, kind and attribute set:
//! counters become monotonic delta sums, gauges keep their last value, histograms are
//! explicit-bucket delta histograms with count, sum, min and max.

use crate::record::{LogRecord, MetricKind, MetricRecord, Record, SpanRecord, SpanStatus};
use crate::value::{KeyValue, Value};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pcommon;
use opentelemetry_proto::tonic::logs::v1 as plogs;
use opentelemetry_proto::tonic::metrics::v1 as pmetrics;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1 as ptrace;
use prost::Message;
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub mod wire;

/// The default histogram bucket boundaries (OpenTelemetry's).
pub const DEFAULT_HISTOGRAM_BOUNDS: &[f64] = &[
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// The three OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metric data points.
    Metrics,
    /// Log records (events and errors included).
    Logs,
}

impl Signal {
    /// The OTLP/HTTP path, `/v1/traces` and so on.
    pub fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}

/// One OTLP export request: the unit an exporter sends, retries and spools.
#[derive(Clone, Debug, PartialEq)]
pub enum SignalRequest {
    /// `ExportTraceServiceRequest`.
    Traces(ExportTraceServiceRequest),
    /// `ExportMetricsServiceRequest`.
    Metrics(ExportMetricsServiceRequest),
    /// `ExportLogsServiceRequest`.
    Logs(ExportLogsServiceRequest),
    /// Logs still in their queued, encoded form: the protobuf body is built by
    /// concatenation, without decoding. [`SignalRequest::decoded`] gives the `Logs` form.
    EncodedLogs(EncodedLogs),
}

/// A logs request whose records are already protobuf-encoded `LogRecord`s.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedLogs {
    /// Who sent them.
    pub origin: Origin,
    /// The records, in order.
    pub records: Vec<crate::record::EncodedLog>,
}

impl EncodedLogs {
    /// The protobuf bytes of the equivalent `ExportLogsServiceRequest`.
    pub fn encode_protobuf(&self) -> Vec<u8> {
        use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};
        fn field_len(tag: u32, body: usize) -> usize {
            key_len(tag) + encoded_len_varint(body as u64) + body
        }
        fn header(tag: u32, body: usize, buf: &mut Vec<u8>) {
            encode_key(tag, WireType::LengthDelimited, buf);
            encode_varint(body as u64, buf);
        }
        // ExportLogsServiceRequest { 1: ResourceLogs { 1: Resource, 2: ScopeLogs { 1: scope, 2: LogRecord* } } }
        let resource_len = self.origin.resource.encoded_len();
        let scope_len = self.origin.scope.encoded_len();
        let records_len: usize = self
            .records
            .iter()
            .map(|r| field_len(2, r.as_bytes().len()))
            .sum();
        let scope_logs_len = field_len(1, scope_len) + records_len;
        let resource_logs_len = field_len(1, resource_len) + field_len(2, scope_logs_len);
        let mut buf = Vec::with_capacity(field_len(1, resource_logs_len));
        header(1, resource_logs_len, &mut buf);
        header(1, resource_len, &mut buf);
        self.origin.resource.encode_raw(&mut buf);
        header(2, scope_logs_len, &mut buf);
        header(1, scope_len, &mut buf);
        self.origin.scope.encode_raw(&mut buf);
        for r in &self.records {
            header(2, r.as_bytes().len(), &mut buf);
            buf.extend_from_slice(r.as_bytes());
        }
        buf
    }

    /// Decodes the records into an `ExportLogsServiceRequest`.
    pub fn decode(&self) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![plogs::ResourceLogs {
                resource: Some(self.origin.resource.clone()),
                scope_logs: vec![plogs::ScopeLogs {
                    scope: Some(self.origin.scope.clone()),
                    // Our own encoding always decodes (tested in `wire`); never panic on it.
                    log_records: self
                        .records
                        .iter()
                        .filter_map(|r| plogs::LogRecord::decode(r.as_bytes()).ok())
                        .collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }
}

impl SignalRequest {
    /// Which signal this carries.
    pub fn signal(&self) -> Signal {
        match self {
            SignalRequest::Traces(_) => Signal::Traces,
            SignalRequest::Metrics(_) => Signal::Metrics,
            SignalRequest::Logs(_) | SignalRequest::EncodedLogs(_) => Signal::Logs,
        }
    }

    /// This request with encoded logs decoded into `opentelemetry-proto` structs.
    pub fn decoded(&self) -> std::borrow::Cow<'_, SignalRequest> {
        match self {
            SignalRequest::EncodedLogs(e) => {
                std::borrow::Cow::Owned(SignalRequest::Logs(e.decode()))
            }
            other => std::borrow::Cow::Borrowed(other),
        }
    }

    /// Spans, data points or log records inside.
    pub fn item_count(&self) -> usize {
        match self {
            SignalRequest::Traces(r) => r
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum(),
            SignalRequest::Logs(r) => r
                .resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .map(|sl| sl.log_records.len())
                .sum(),
            SignalRequest::EncodedLogs(e) => e.records.len(),
            SignalRequest::Metrics(r) => r
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .map(metric_point_count)
                .sum(),
        }
    }

    /// Protobuf encoding (`application/x-protobuf`).
    pub fn encode_protobuf(&self) -> Vec<u8> {
        match self {
            SignalRequest::Traces(r) => r.encode_to_vec(),
            SignalRequest::Metrics(r) => r.encode_to_vec(),
            SignalRequest::Logs(r) => r.encode_to_vec(),
            SignalRequest::EncodedLogs(e) => e.encode_protobuf(),
        }
    }

    /// Decodes a protobuf body of the given signal.
    pub fn decode_protobuf(signal: Signal, bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        Ok(match signal {
            Signal::Traces => SignalRequest::Traces(ExportTraceServiceRequest::decode(bytes)?),
            Signal::Metrics => SignalRequest::Metrics(ExportMetricsServiceRequest::decode(bytes)?),
            Signal::Logs => SignalRequest::Logs(ExportLogsServiceRequest::decode(bytes)?),
        })
    }

    /// OTLP JSON encoding (`application/json`): hex trace and span ids, 64-bit integers
    /// as strings, enums as integers, as the OTLP specification requires.
    pub fn encode_json(&self) -> Vec<u8> {
        let out = match self {
            SignalRequest::Traces(r) => serde_json::to_vec(r),
            SignalRequest::Metrics(r) => serde_json::to_vec(r),
            SignalRequest::Logs(r) => serde_json::to_vec(r),
            SignalRequest::EncodedLogs(e) => serde_json::to_vec(&e.decode()),
        };
        // Serializing these plain structs into memory cannot fail: every map key is a string.
        out.unwrap_or_default()
    }
}

fn metric_point_count(m: &pmetrics::Metric) -> usize {
    use pmetrics::metric::Data;
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// Who is sending: the OTLP resource and instrumentation scope of every request.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    /// Resource attributes (`service.name`, `service.version`, ...).
    pub resource: Resource,
    /// Instrumentation scope.
    pub scope: pcommon::InstrumentationScope,
}

impl Origin {
    /// An origin with these resource attributes and the given scope name and version.
    pub fn new(resource_attributes: &[KeyValue], scope_name: &str, scope_version: &str) -> Self {
        Origin {
            resource: Resource {
                attributes: resource_attributes.iter().map(to_proto_kv).collect(),
                ..Default::default()
            },
            scope: pcommon::InstrumentationScope {
                name: scope_name.to_string(),
                version: scope_version.to_string(),
                ..Default::default()
            },
        }
    }
}

/// Converts a value to OTLP's `AnyValue`.
pub fn to_any_value(v: &Value) -> pcommon::AnyValue {
    use pcommon::any_value::Value as V;
    let value = match v {
        Value::Str(s) => V::StringValue(s.to_string()),
        Value::Bool(b) => V::BoolValue(*b),
        Value::I64(i) => V::IntValue(*i),
        Value::F64(f) => V::DoubleValue(*f),
        Value::Bytes(b) => V::BytesValue(b.clone()),
        Value::Array(items) => V::ArrayValue(pcommon::ArrayValue {
            values: items.iter().map(to_any_value).collect(),
        }),
        Value::Map(kvs) => V::KvlistValue(pcommon::KeyValueList {
            values: kvs.iter().map(to_proto_kv).collect(),
        }),
    };
    pcommon::AnyValue { value: Some(value) }
}

/// Converts an attribute to OTLP's `KeyValue`.
pub fn to_proto_kv(kv: &KeyValue) -> pcommon::KeyValue {
    pcommon::KeyValue {
        key: kv.key.to_string(),
        value: Some(to_any_value(&kv.value)),
        ..Default::default()
    }
}

fn attrs(a: &[KeyValue]) -> Vec<pcommon::KeyValue> {
    a.iter().map(to_proto_kv).collect()
}

fn string_value(s: &str) -> pcommon::AnyValue {
    pcommon::AnyValue {
        value: Some(pcommon::any_value::Value::StringValue(s.to_string())),
    }
}

/// Maps a span record.
pub fn span_to_proto(s: &SpanRecord) -> ptrace::Span {
    let (code, message) = match &s.status {
        SpanStatus::Unset => (ptrace::status::StatusCode::Unset, String::new()),
        SpanStatus::Ok => (ptrace::status::StatusCode::Ok, String::new()),
        SpanStatus::Error(m) => (ptrace::status::StatusCode::Error, m.to_string()),
    };
    ptrace::Span {
        trace_id: s.context.trace_id.0.to_vec(),
        span_id: s.context.span_id.0.to_vec(),
        parent_span_id: s.parent_span_id.map(|p| p.0.to_vec()).unwrap_or_default(),
        // Bits 0-7 are the W3C trace flags; bit 8 says whether the parent's remoteness is known, bit 9 is it.
        flags: u32::from(s.context.trace_flags)
            | 0x100
            | if s.context.is_remote { 0x200 } else { 0 },
        name: s.name.to_string(),
        kind: s.kind as i32,
        start_time_unix_nano: s.start_time_unix_nano,
        end_time_unix_nano: s.end_time_unix_nano,
        attributes: attrs(&s.attributes),
        dropped_attributes_count: s.dropped_attributes_count,
        events: s
            .events
            .iter()
            .map(|e| ptrace::span::Event {
                time_unix_nano: e.time_unix_nano,
                name: e.name.to_string(),
                attributes: attrs(&e.attributes),
                ..Default::default()
            })
            .collect(),
        status: Some(ptrace::Status {
            message,
            code: code as i32,
        }),
        ..Default::default()
    }
}

/// Maps a log record; events carry `event.name` both as the field and as an attribute.
pub fn log_to_proto(l: &LogRecord) -> plogs::LogRecord {
    let mut attributes = attrs(&l.attributes);
    if let Some(name) = &l.event_name {
        attributes.insert(
            0,
            pcommon::KeyValue {
                key: "event.name".into(),
                value: Some(string_value(name)),
                ..Default::default()
            },
        );
    }
    let (trace_id, span_id, flags) = match l.trace {
        Some((t, s)) => (t.0.to_vec(), s.0.to_vec(), 1),
        None => (Vec::new(), Vec::new(), 0),
    };
    plogs::LogRecord {
        time_unix_nano: l.time_unix_nano,
        observed_time_unix_nano: l.time_unix_nano,
        severity_number: l.severity as i32,
        severity_text: l.severity.as_str().to_string(),
        body: l.body.as_deref().map(string_value),
        attributes,
        dropped_attributes_count: l.dropped_attributes_count,
        flags,
        trace_id,
        span_id,
        event_name: l.event_name.as_deref().unwrap_or_default().to_string(),
    }
}

#[derive(Default)]
struct Aggregate {
    attributes: Vec<KeyValue>,
    start: u64,
    end: u64,
    count: u64,
    sum: f64,
    last: f64,
    min: f64,
    max: f64,
    buckets: Vec<u64>,
}

/// Aggregates metric measurements into OTLP metrics (see the module docs).
pub fn aggregate_metrics(records: &[&MetricRecord], bounds: &[f64]) -> Vec<pmetrics::Metric> {
    // name -> kind -> canonical attributes -> aggregate; BTreeMaps keep the output stable.
    let mut by_metric: BTreeMap<(&str, MetricKind), BTreeMap<String, Aggregate>> = BTreeMap::new();
    for m in records {
        let series = by_metric.entry((m.name.as_ref(), m.kind)).or_default();
        let agg = series
            .entry(canonical_attributes(&m.attributes))
            .or_insert_with(|| Aggregate {
                attributes: m.attributes.clone(),
                start: m.time_unix_nano,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                buckets: vec![0; bounds.len() + 1],
                ..Default::default()
            });
        agg.start = agg.start.min(m.time_unix_nano);
        agg.end = agg.end.max(m.time_unix_nano);
        agg.count += 1;
        agg.sum += m.value;
        agg.last = m.value;
        agg.min = agg.min.min(m.value);
        agg.max = agg.max.max(m.value);
        if m.kind == MetricKind::Histogram {
            // Bucket i holds values in (bounds[i-1], bounds[i]].
            let idx = bounds.partition_point(|b| *b < m.value);
            agg.buckets[idx] += 1;
        }
    }
    let delta = pmetrics::AggregationTemporality::Delta as i32;
    by_metric
        .into_iter()
        .map(|((name, kind), series)| {
            let points = series.into_values();
            let data = match kind {
                MetricKind::Counter | MetricKind::Gauge => {
                    let dps: Vec<pmetrics::NumberDataPoint> = points
                        .map(|a| pmetrics::NumberDataPoint {
                            attributes: attrs(&a.attributes),
                            start_time_unix_nano: if kind == MetricKind::Counter {
                                a.start
                            } else {
                                0
                            },
                            time_unix_nano: a.end,
                            value: Some(pmetrics::number_data_point::Value::AsDouble(
                                if kind == MetricKind::Counter {
                                    a.sum
                                } else {
                                    a.last
                                },
                            )),
                            ..Default::default()
                        })
                        .collect();
                    if kind == MetricKind::Counter {
                        pmetrics::metric::Data::Sum(pmetrics::Sum {
                            data_points: dps,
                            aggregation_temporality: delta,
                            is_monotonic: true,
                        })
                    } else {
                        pmetrics::metric::Data::Gauge(pmetrics::Gauge { data_points: dps })
                    }
                }
                MetricKind::Histogram => pmetrics::metric::Data::Histogram(pmetrics::Histogram {
                    data_points: points
                        .map(|a| pmetrics::HistogramDataPoint {
                            attributes: attrs(&a.attributes),
                            start_time_unix_nano: a.start,
                            time_unix_nano: a.end,
                            count: a.count,
                            sum: Some(a.sum),
                            bucket_counts: a.buckets,
                            explicit_bounds: bounds.to_vec(),
                            min: Some(a.min),
                            max: Some(a.max),
                            ..Default::default()
                        })
                        .collect(),
                    aggregation_temporality: delta,
                }),
            };
            pmetrics::Metric {
                name: name.to_string(),
                data: Some(data),
                ..Default::default()
            }
        })
        .collect()
}

fn canonical_attributes(a: &[KeyValue]) -> String {
    let mut parts: Vec<String> = a
        .iter()
        .map(|kv| format!("{}\u{1f}{:?}", kv.key, kv.value))
        .collect();
    parts.sort_unstable();
    parts.join("\u{1e}")
}

/// Maps a batch of records to at most three requests: traces, metrics, logs (in that order,
/// each present only when it has items).
pub fn to_requests(
    origin: &Origin,
    records: Vec<Record>,
    histogram_bounds: &[f64],
) -> Vec<SignalRequest> {
    let mut spans = Vec::new();
    let mut logs: Vec<crate::record::EncodedLog> = Vec::new();
    let mut metrics = Vec::new();
    for r in records {
        match r {
            Record::Span(s) => spans.push(span_to_proto(&s)),
            Record::Log(l) => logs.push(l),
            Record::Metric(m) => metrics.push(m),
        }
    }
    let mut out = Vec::with_capacity(3);
    if !spans.is_empty() {
        out.push(SignalRequest::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ptrace::ResourceSpans {
                resource: Some(origin.resource.clone()),
                scope_spans: vec![ptrace::ScopeSpans {
                    scope: Some(origin.scope.clone()),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }));
    }
    if !metrics.is_empty() {
        out.push(SignalRequest::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![pmetrics::ResourceMetrics {
                resource: Some(origin.resource.clone()),
                scope_metrics: vec![pmetrics::ScopeMetrics {
                    scope: Some(origin.scope.clone()),
                    metrics: aggregate_metrics(
                        &metrics.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
                        histogram_bounds,
                    ),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }));
    }
    if !logs.is_empty() {
        out.push(SignalRequest::EncodedLogs(EncodedLogs {
            origin: origin.clone(),
            records: logs,
        }));
    }
    out
}

/// An OTLP `AnyValue` as JSON. Bytes become hex strings; non-finite doubles strings.
pub fn any_to_json(v: &pcommon::AnyValue) -> Json {
    use pcommon::any_value::Value as V;
    match &v.value {
        None => Json::Null,
        Some(V::StringValue(s)) => Json::String(s.clone()),
        Some(V::BoolValue(b)) => Json::Bool(*b),
        Some(V::IntValue(i)) => Json::from(*i),
        Some(V::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map_or_else(|| Json::String(d.to_string()), Json::Number),
        Some(V::ArrayValue(a)) => Json::Array(a.values.iter().map(any_to_json).collect()),
        Some(V::KvlistValue(kv)) => attributes_to_json(&kv.values),
        Some(V::BytesValue(b)) => Json::String(hex::encode(b)),
        #[allow(unreachable_patterns)]
        Some(_) => Json::Null,
    }
}

/// Attributes as one JSON object (a repeated key keeps its last value).
pub fn attributes_to_json(kvs: &[pcommon::KeyValue]) -> Json {
    let mut map = serde_json::Map::new();
    for kv in kvs {
        map.insert(
            kv.key.clone(),
            kv.value.as_ref().map_or(Json::Null, any_to_json),
        );
    }
    Json::Object(map)
}

/// The OTLP type of a log body (the variant of its `AnyValue`), kept beside the text the
/// body is stored and searched as ([`body_text`]), so that the body can be given back
/// with its type ([`BodyType::value`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BodyType {
    /// A string: the text is the body. Rows stored before body types were kept read as
    /// strings.
    #[default]
    String,
    /// A boolean (`true` or `false`).
    Bool,
    /// A 64-bit signed integer.
    Int,
    /// A double (JSON number text; `NaN`, `inf` and `-inf` as those words).
    Double,
    /// Bytes, as lowercase hex (given back as that hex string, as byte attributes are).
    Bytes,
    /// An array, as JSON array text.
    Array,
    /// A key-value list (a map), as JSON object text.
    Kvlist,
}

impl BodyType {
    /// The type of `v`; `None` for a value without one (an empty `AnyValue`, or the
    /// profiling signal's string-table reference), which is stored as no body.
    pub fn of(v: &pcommon::AnyValue) -> Option<Self> {
        use pcommon::any_value::Value as V;
        match v.value.as_ref()? {
            V::StringValue(_) => Some(BodyType::String),
            V::BoolValue(_) => Some(BodyType::Bool),
            V::IntValue(_) => Some(BodyType::Int),
            V::DoubleValue(_) => Some(BodyType::Double),
            V::BytesValue(_) => Some(BodyType::Bytes),
            V::ArrayValue(_) => Some(BodyType::Array),
            V::KvlistValue(_) => Some(BodyType::Kvlist),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// `string`, `bool`, `int`, `double`, `bytes`, `array` or `kvlist`: the name stored
    /// beside the body and shown by the query API.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::String => "string",
            BodyType::Bool => "bool",
            BodyType::Int => "int",
            BodyType::Double => "double",
            BodyType::Bytes => "bytes",
            BodyType::Array => "array",
            BodyType::Kvlist => "kvlist",
        }
    }

    /// The type named `name` by [`BodyType::as_str`]; any other name (the empty one of
    /// rows stored before types were kept) is a string.
    pub fn from_name(name: &str) -> Self {
        match name {
            "bool" => BodyType::Bool,
            "int" => BodyType::Int,
            "double" => BodyType::Double,
            "bytes" => BodyType::Bytes,
            "array" => BodyType::Array,
            "kvlist" => BodyType::Kvlist,
            _ => BodyType::String,
        }
    }

    /// The body stored as `text` given back as JSON of its type: a string stays a string,
    /// a boolean or number becomes one, an array or map becomes a JSON array or object,
    /// bytes are their hex string (as [`any_to_json`] gives them). Text that does not
    /// read as its type comes back as a string, never as an error.
    pub fn value(self, text: &str) -> Json {
        let typed = match self {
            BodyType::String | BodyType::Bytes => None,
            BodyType::Bool => text.parse::<bool>().ok().map(Json::Bool),
            BodyType::Int => text.parse::<i64>().ok().map(Json::from),
            BodyType::Double => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number),
            BodyType::Array | BodyType::Kvlist => serde_json::from_str(text).ok(),
        };
        typed.unwrap_or_else(|| Json::String(text.to_string()))
    }
}

/// A log body as every store keeps it: the text that full-text search reads (a string
/// as itself, a boolean or number as its JSON, bytes as lowercase hex, an array or map
/// as JSON text: [`any_to_json`] rendered) and its [`BodyType`]; `None` for a value
/// without a type (no body).
pub fn body_text(v: &pcommon::AnyValue) -> Option<(String, BodyType)> {
    let body_type = BodyType::of(v)?;
    let text = match any_to_json(v) {
        Json::String(s) => s,
        other => other.to_string(),
    };
    Some((text, body_type))
}

#[cfg(test)]
mod tests;
