//! The OTLP messages as the cost scans see them: for each, the fields that allocate once
//! decoded (embedded messages, strings and bytes, repeated numbers), with their protobuf
//! number and their OTLP JSON name, and the size of its decoded struct. Numbers and
//! booleans live inside their struct and are not listed; a field not listed is one the
//! decoders skip or keep inline.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as common;
use opentelemetry_proto::tonic::logs::v1 as logs;
use opentelemetry_proto::tonic::metrics::v1 as metrics;
use opentelemetry_proto::tonic::resource::v1 as resource;
use opentelemetry_proto::tonic::trace::v1 as trace;
use std::mem::size_of;

/// An OTLP message type of the export requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Msg {
    /// `ExportTraceServiceRequest`.
    TracesRequest,
    /// `ExportLogsServiceRequest`.
    LogsRequest,
    /// `ExportMetricsServiceRequest`.
    MetricsRequest,
    /// `ResourceSpans`.
    ResourceSpans,
    /// `ScopeSpans`.
    ScopeSpans,
    /// `Span`.
    Span,
    /// `Span.Event`.
    SpanEvent,
    /// `Span.Link`.
    SpanLink,
    /// `Status`.
    SpanStatus,
    /// `ResourceLogs`.
    ResourceLogs,
    /// `ScopeLogs`.
    ScopeLogs,
    /// `LogRecord`.
    LogRecord,
    /// `ResourceMetrics`.
    ResourceMetrics,
    /// `ScopeMetrics`.
    ScopeMetrics,
    /// `Metric`.
    Metric,
    /// `Gauge`.
    Gauge,
    /// `Sum`.
    Sum,
    /// `Histogram`.
    Histogram,
    /// `ExponentialHistogram`.
    ExponentialHistogram,
    /// `Summary`.
    Summary,
    /// `NumberDataPoint`.
    NumberDataPoint,
    /// `HistogramDataPoint`.
    HistogramDataPoint,
    /// `ExponentialHistogramDataPoint`.
    ExponentialHistogramDataPoint,
    /// `ExponentialHistogramDataPoint.Buckets`.
    Buckets,
    /// `SummaryDataPoint`.
    SummaryDataPoint,
    /// `SummaryDataPoint.ValueAtQuantile`.
    ValueAtQuantile,
    /// `Exemplar`.
    Exemplar,
    /// `Resource`.
    Resource,
    /// `InstrumentationScope`.
    Scope,
    /// `EntityRef`.
    EntityRef,
    /// `KeyValue`.
    KeyValue,
    /// `AnyValue`.
    AnyValue,
    /// `ArrayValue`.
    ArrayValue,
    /// `KeyValueList`.
    KeyValueList,
}

/// What a field holds once decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One embedded message, inside its parent's struct (no allocation of its own).
    Message(Msg),
    /// Embedded messages, each an element of a `Vec`.
    Messages(Msg),
    /// A string or bytes, its own allocation.
    Text,
    /// Strings, each an element of a `Vec` and its own allocation.
    Texts,
    /// Numbers (8 bytes each decoded), elements of a `Vec`; the value is the width of one
    /// packed number on the wire (8 for `fixed64` and `double`, 0 for a varint).
    Numbers(usize),
}

/// A field that allocates once decoded.
#[derive(Debug)]
pub(crate) struct Field {
    /// Its protobuf field number.
    pub(crate) number: u32,
    /// Its OTLP JSON name.
    pub(crate) json: &'static str,
    /// What it holds.
    pub(crate) kind: Kind,
    /// Whether its elements are items of the request (spans, span events, span links,
    /// log records, metric data points).
    pub(crate) item: bool,
}

const fn field(number: u32, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json,
        kind,
        item: false,
    }
}

const fn items(number: u32, json: &'static str, msg: Msg) -> Field {
    Field {
        number,
        json,
        kind: Kind::Messages(msg),
        item: true,
    }
}

use self::Kind::{Message, Messages, Numbers, Text, Texts};

const TRACES_REQUEST: &[Field] = &[field(1, "resourceSpans", Messages(Msg::ResourceSpans))];
const LOGS_REQUEST: &[Field] = &[field(1, "resourceLogs", Messages(Msg::ResourceLogs))];
const METRICS_REQUEST: &[Field] = &[field(1, "resourceMetrics", Messages(Msg::ResourceMetrics))];
const RESOURCE_SPANS: &[Field] = &[
    field(1, "resource", Message(Msg::Resource)),
    field(2, "scopeSpans", Messages(Msg::ScopeSpans)),
    field(3, "schemaUrl", Text),
];
const SCOPE_SPANS: &[Field] = &[
    field(1, "scope", Message(Msg::Scope)),
    items(2, "spans", Msg::Span),
    field(3, "schemaUrl", Text),
];
const SPAN: &[Field] = &[
    field(1, "traceId", Text),
    field(2, "spanId", Text),
    field(3, "traceState", Text),
    field(4, "parentSpanId", Text),
    field(5, "name", Text),
    field(9, "attributes", Messages(Msg::KeyValue)),
    items(11, "events", Msg::SpanEvent),
    items(13, "links", Msg::SpanLink),
    field(15, "status", Message(Msg::SpanStatus)),
];
const SPAN_EVENT: &[Field] = &[
    field(2, "name", Text),
    field(3, "attributes", Messages(Msg::KeyValue)),
];
const SPAN_LINK: &[Field] = &[
    field(1, "traceId", Text),
    field(2, "spanId", Text),
    field(3, "traceState", Text),
    field(4, "attributes", Messages(Msg::KeyValue)),
];
const SPAN_STATUS: &[Field] = &[field(2, "message", Text)];
const RESOURCE_LOGS: &[Field] = &[
    field(1, "resource", Message(Msg::Resource)),
    field(2, "scopeLogs", Messages(Msg::ScopeLogs)),
    field(3, "schemaUrl", Text),
];
const SCOPE_LOGS: &[Field] = &[
    field(1, "scope", Message(Msg::Scope)),
    items(2, "logRecords", Msg::LogRecord),
    field(3, "schemaUrl", Text),
];
const LOG_RECORD: &[Field] = &[
    field(3, "severityText", Text),
    field(5, "body", Message(Msg::AnyValue)),
    field(6, "attributes", Messages(Msg::KeyValue)),
    field(9, "traceId", Text),
    field(10, "spanId", Text),
    field(12, "eventName", Text),
];
const RESOURCE_METRICS: &[Field] = &[
    field(1, "resource", Message(Msg::Resource)),
    field(2, "scopeMetrics", Messages(Msg::ScopeMetrics)),
    field(3, "schemaUrl", Text),
];
const SCOPE_METRICS: &[Field] = &[
    field(1, "scope", Message(Msg::Scope)),
    field(2, "metrics", Messages(Msg::Metric)),
    field(3, "schemaUrl", Text),
];
const METRIC: &[Field] = &[
    field(1, "name", Text),
    field(2, "description", Text),
    field(3, "unit", Text),
    field(5, "gauge", Message(Msg::Gauge)),
    field(7, "sum", Message(Msg::Sum)),
    field(9, "histogram", Message(Msg::Histogram)),
    field(
        10,
        "exponentialHistogram",
        Message(Msg::ExponentialHistogram),
    ),
    field(11, "summary", Message(Msg::Summary)),
    field(12, "metadata", Messages(Msg::KeyValue)),
];
const GAUGE: &[Field] = &[items(1, "dataPoints", Msg::NumberDataPoint)];
const SUM: &[Field] = &[items(1, "dataPoints", Msg::NumberDataPoint)];
const HISTOGRAM: &[Field] = &[items(1, "dataPoints", Msg::HistogramDataPoint)];
const EXPONENTIAL_HISTOGRAM: &[Field] =
    &[items(1, "dataPoints", Msg::ExponentialHistogramDataPoint)];
const SUMMARY: &[Field] = &[items(1, "dataPoints", Msg::SummaryDataPoint)];
const NUMBER_DATA_POINT: &[Field] = &[
    field(5, "exemplars", Messages(Msg::Exemplar)),
    field(7, "attributes", Messages(Msg::KeyValue)),
];
const HISTOGRAM_DATA_POINT: &[Field] = &[
    field(6, "bucketCounts", Numbers(8)),
    field(7, "explicitBounds", Numbers(8)),
    field(8, "exemplars", Messages(Msg::Exemplar)),
    field(9, "attributes", Messages(Msg::KeyValue)),
];
const EXPONENTIAL_HISTOGRAM_DATA_POINT: &[Field] = &[
    field(1, "attributes", Messages(Msg::KeyValue)),
    field(8, "positive", Message(Msg::Buckets)),
    field(9, "negative", Message(Msg::Buckets)),
    field(11, "exemplars", Messages(Msg::Exemplar)),
];
const BUCKETS: &[Field] = &[field(2, "bucketCounts", Numbers(0))];
const SUMMARY_DATA_POINT: &[Field] = &[
    field(6, "quantileValues", Messages(Msg::ValueAtQuantile)),
    field(7, "attributes", Messages(Msg::KeyValue)),
];
const EXEMPLAR: &[Field] = &[
    field(4, "spanId", Text),
    field(5, "traceId", Text),
    field(7, "filteredAttributes", Messages(Msg::KeyValue)),
];
const RESOURCE: &[Field] = &[
    field(1, "attributes", Messages(Msg::KeyValue)),
    field(3, "entityRefs", Messages(Msg::EntityRef)),
];
const SCOPE: &[Field] = &[
    field(1, "name", Text),
    field(2, "version", Text),
    field(3, "attributes", Messages(Msg::KeyValue)),
];
const ENTITY_REF: &[Field] = &[
    field(1, "schemaUrl", Text),
    field(2, "type", Text),
    field(3, "idKeys", Texts),
    field(4, "descriptionKeys", Texts),
];
const KEY_VALUE: &[Field] = &[
    field(1, "key", Text),
    field(2, "value", Message(Msg::AnyValue)),
];
const ANY_VALUE: &[Field] = &[
    field(1, "stringValue", Text),
    field(5, "arrayValue", Message(Msg::ArrayValue)),
    field(6, "kvlistValue", Message(Msg::KeyValueList)),
    field(7, "bytesValue", Text),
];
const ARRAY_VALUE: &[Field] = &[field(1, "values", Messages(Msg::AnyValue))];
const KEY_VALUE_LIST: &[Field] = &[field(1, "values", Messages(Msg::KeyValue))];

impl Msg {
    /// The request of a signal (`traces`, `metrics`, `logs`).
    pub(crate) fn request(signal: &str) -> Option<Msg> {
        match signal {
            "traces" => Some(Msg::TracesRequest),
            "logs" => Some(Msg::LogsRequest),
            "metrics" => Some(Msg::MetricsRequest),
            _ => None,
        }
    }

    /// The fields that allocate once decoded.
    pub(crate) fn fields(self) -> &'static [Field] {
        match self {
            Msg::TracesRequest => TRACES_REQUEST,
            Msg::LogsRequest => LOGS_REQUEST,
            Msg::MetricsRequest => METRICS_REQUEST,
            Msg::ResourceSpans => RESOURCE_SPANS,
            Msg::ScopeSpans => SCOPE_SPANS,
            Msg::Span => SPAN,
            Msg::SpanEvent => SPAN_EVENT,
            Msg::SpanLink => SPAN_LINK,
            Msg::SpanStatus => SPAN_STATUS,
            Msg::ResourceLogs => RESOURCE_LOGS,
            Msg::ScopeLogs => SCOPE_LOGS,
            Msg::LogRecord => LOG_RECORD,
            Msg::ResourceMetrics => RESOURCE_METRICS,
            Msg::ScopeMetrics => SCOPE_METRICS,
            Msg::Metric => METRIC,
            Msg::Gauge => GAUGE,
            Msg::Sum => SUM,
            Msg::Histogram => HISTOGRAM,
            Msg::ExponentialHistogram => EXPONENTIAL_HISTOGRAM,
            Msg::Summary => SUMMARY,
            Msg::NumberDataPoint => NUMBER_DATA_POINT,
            Msg::HistogramDataPoint => HISTOGRAM_DATA_POINT,
            Msg::ExponentialHistogramDataPoint => EXPONENTIAL_HISTOGRAM_DATA_POINT,
            Msg::Buckets => BUCKETS,
            Msg::SummaryDataPoint => SUMMARY_DATA_POINT,
            Msg::ValueAtQuantile => &[],
            Msg::Exemplar => EXEMPLAR,
            Msg::Resource => RESOURCE,
            Msg::Scope => SCOPE,
            Msg::EntityRef => ENTITY_REF,
            Msg::KeyValue => KEY_VALUE,
            Msg::AnyValue => ANY_VALUE,
            Msg::ArrayValue => ARRAY_VALUE,
            Msg::KeyValueList => KEY_VALUE_LIST,
        }
    }

    /// The field with this protobuf number, if it allocates.
    pub(crate) fn by_number(self, number: u32) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.number == number)
    }

    /// The size of the decoded struct, in bytes.
    pub(crate) fn size(self) -> usize {
        match self {
            Msg::TracesRequest => size_of::<ExportTraceServiceRequest>(),
            Msg::LogsRequest => size_of::<ExportLogsServiceRequest>(),
            Msg::MetricsRequest => size_of::<ExportMetricsServiceRequest>(),
            Msg::ResourceSpans => size_of::<trace::ResourceSpans>(),
            Msg::ScopeSpans => size_of::<trace::ScopeSpans>(),
            Msg::Span => size_of::<trace::Span>(),
            Msg::SpanEvent => size_of::<trace::span::Event>(),
            Msg::SpanLink => size_of::<trace::span::Link>(),
            Msg::SpanStatus => size_of::<trace::Status>(),
            Msg::ResourceLogs => size_of::<logs::ResourceLogs>(),
            Msg::ScopeLogs => size_of::<logs::ScopeLogs>(),
            Msg::LogRecord => size_of::<logs::LogRecord>(),
            Msg::ResourceMetrics => size_of::<metrics::ResourceMetrics>(),
            Msg::ScopeMetrics => size_of::<metrics::ScopeMetrics>(),
            Msg::Metric => size_of::<metrics::Metric>(),
            Msg::Gauge => size_of::<metrics::Gauge>(),
            Msg::Sum => size_of::<metrics::Sum>(),
            Msg::Histogram => size_of::<metrics::Histogram>(),
            Msg::ExponentialHistogram => size_of::<metrics::ExponentialHistogram>(),
            Msg::Summary => size_of::<metrics::Summary>(),
            Msg::NumberDataPoint => size_of::<metrics::NumberDataPoint>(),
            Msg::HistogramDataPoint => size_of::<metrics::HistogramDataPoint>(),
            Msg::ExponentialHistogramDataPoint => {
                size_of::<metrics::ExponentialHistogramDataPoint>()
            }
            Msg::Buckets => size_of::<metrics::exponential_histogram_data_point::Buckets>(),
            Msg::SummaryDataPoint => size_of::<metrics::SummaryDataPoint>(),
            Msg::ValueAtQuantile => size_of::<metrics::summary_data_point::ValueAtQuantile>(),
            Msg::Exemplar => size_of::<metrics::Exemplar>(),
            Msg::Resource => size_of::<resource::Resource>(),
            Msg::Scope => size_of::<common::InstrumentationScope>(),
            Msg::EntityRef => size_of::<common::EntityRef>(),
            Msg::KeyValue => size_of::<common::KeyValue>(),
            Msg::AnyValue => size_of::<common::AnyValue>(),
            Msg::ArrayValue => size_of::<common::ArrayValue>(),
            Msg::KeyValueList => size_of::<common::KeyValueList>(),
        }
    }

    /// Whether serde buffers the whole content of this message's JSON object before
    /// decoding it (a flattened one-of field: `AnyValue.value`, `Metric.data`,
    /// `NumberDataPoint.value`, `Exemplar.value`).
    pub(crate) fn buffered_in_json(self) -> bool {
        matches!(
            self,
            Msg::AnyValue | Msg::Metric | Msg::NumberDataPoint | Msg::Exemplar
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message the three requests reach, each once, in the order first reached.
    fn reachable() -> Vec<Msg> {
        let mut seen: Vec<Msg> = ["traces", "logs", "metrics"]
            .into_iter()
            .map(|s| Msg::request(s).expect("a request"))
            .collect();
        let mut i = 0;
        while i < seen.len() {
            for f in seen[i].fields() {
                if let Message(m) | Messages(m) = f.kind
                    && !seen.contains(&m)
                {
                    seen.push(m);
                }
            }
            i += 1;
        }
        seen
    }

    #[test]
    fn the_table_reaches_every_message_and_names_each_field_once() {
        assert_eq!(Msg::request("profiles"), None);
        let all = reachable();
        // Every message of the enum is reached from a request (a message left out of
        // the walk would never be costed).
        assert_eq!(all.len(), 34, "{all:?}");
        for m in all {
            assert!(m.size() > 0, "{m:?} has a size");
            let fields = m.fields();
            for (i, f) in fields.iter().enumerate() {
                assert!(
                    fields[..i]
                        .iter()
                        .all(|g| g.number != f.number && g.json != f.json),
                    "{m:?} lists field {} twice",
                    f.number
                );
                assert_eq!(m.by_number(f.number).map(|g| g.json), Some(f.json));
                // Items are repeated messages.
                assert!(!f.item || matches!(f.kind, Messages(_)), "{m:?}.{}", f.json);
            }
            assert!(m.by_number(999).is_none());
        }
        // The items of the requests: spans, span events and links, log records, points.
        let items: Vec<&str> = reachable()
            .into_iter()
            .flat_map(|m| m.fields().iter().filter(|f| f.item).map(|f| f.json))
            .collect();
        assert!(
            items.contains(&"spans") && items.contains(&"logRecords"),
            "{items:?}"
        );
        assert!(Msg::AnyValue.buffered_in_json() && !Msg::Span.buffered_in_json());
    }
}
