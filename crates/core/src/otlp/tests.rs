use super::*;
use crate::record::{EncodedLog, Severity, SpanKind};
use crate::trace_context::{SpanContext, SpanId, TraceId};
use std::borrow::Cow;

fn origin() -> Origin {
    Origin::new(&[KeyValue::new("service.name", "svc")], "scope", "1.0")
}

fn metric(name: &'static str, kind: MetricKind, value: f64, t: u64, route: &'static str) -> Record {
    Record::Metric(Box::new(MetricRecord {
        name: Cow::Borrowed(name),
        kind,
        value,
        time_unix_nano: t,
        attributes: vec![KeyValue::new("route", route)],
    }))
}

fn metrics_of(reqs: &[SignalRequest]) -> Vec<pmetrics::Metric> {
    reqs.iter()
        .find_map(|r| match r {
            SignalRequest::Metrics(m) => {
                Some(m.resource_metrics[0].scope_metrics[0].metrics.clone())
            }
            _ => None,
        })
        .expect("a metrics request")
}

#[test]
fn counters_sum_per_attribute_set() {
    let records = vec![
        metric("hits", MetricKind::Counter, 1.0, 10, "/a"),
        metric("hits", MetricKind::Counter, 2.0, 30, "/a"),
        metric("hits", MetricKind::Counter, 5.0, 20, "/b"),
    ];
    let reqs = to_requests(&origin(), records, DEFAULT_HISTOGRAM_BOUNDS);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].item_count(), 2);
    let m = &metrics_of(&reqs)[0];
    let Some(pmetrics::metric::Data::Sum(sum)) = &m.data else {
        panic!("sum expected")
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        pmetrics::AggregationTemporality::Delta as i32
    );
    let a = &sum.data_points[0];
    assert_eq!(
        a.value,
        Some(pmetrics::number_data_point::Value::AsDouble(3.0))
    );
    assert_eq!((a.start_time_unix_nano, a.time_unix_nano), (10, 30));
    assert_eq!(
        sum.data_points[1].value,
        Some(pmetrics::number_data_point::Value::AsDouble(5.0))
    );
}

#[test]
fn gauge_keeps_last_and_histogram_buckets() {
    let records = vec![
        metric("temp", MetricKind::Gauge, 20.0, 1, "x"),
        metric("temp", MetricKind::Gauge, 21.5, 2, "x"),
        metric("lat", MetricKind::Histogram, 0.0, 1, "x"),
        metric("lat", MetricKind::Histogram, 5.0, 2, "x"),
        metric("lat", MetricKind::Histogram, 7.0, 3, "x"),
        metric("lat", MetricKind::Histogram, 20000.0, 4, "x"),
    ];
    let ms = metrics_of(&to_requests(&origin(), records, DEFAULT_HISTOGRAM_BOUNDS));
    let lat = ms.iter().find(|m| m.name == "lat").expect("lat");
    let Some(pmetrics::metric::Data::Histogram(h)) = &lat.data else {
        panic!("histogram")
    };
    let p = &h.data_points[0];
    assert_eq!(p.count, 4);
    assert_eq!(p.sum, Some(20012.0));
    assert_eq!((p.min, p.max), (Some(0.0), Some(20000.0)));
    assert_eq!(p.bucket_counts.len(), DEFAULT_HISTOGRAM_BOUNDS.len() + 1);
    // 0 -> (-inf,0], 5 -> (0,5], 7 -> (5,10], 20000 -> overflow.
    assert_eq!(&p.bucket_counts[..3], &[1, 1, 1]);
    assert_eq!(p.bucket_counts[DEFAULT_HISTOGRAM_BOUNDS.len()], 1);
    let temp = ms.iter().find(|m| m.name == "temp").expect("temp");
    let Some(pmetrics::metric::Data::Gauge(g)) = &temp.data else {
        panic!("gauge")
    };
    assert_eq!(
        g.data_points[0].value,
        Some(pmetrics::number_data_point::Value::AsDouble(21.5))
    );
}

fn span() -> Record {
    Record::Span(Box::new(SpanRecord {
        context: SpanContext {
            trace_id: TraceId([0xab; 16]),
            span_id: SpanId([0x01, 2, 3, 4, 5, 6, 7, 8]),
            trace_flags: 1,
            is_remote: false,
        },
        parent_span_id: Some(SpanId([9; 8])),
        name: Cow::Borrowed("GET /"),
        kind: SpanKind::Server,
        start_time_unix_nano: 1_700_000_000_000_000_001,
        end_time_unix_nano: 1_700_000_000_000_000_999,
        attributes: vec![KeyValue::new("big", i64::MAX)],
        dropped_attributes_count: 0,
        events: vec![],
        status: SpanStatus::Error(Cow::Borrowed("boom")),
    }))
}

#[test]
fn json_follows_the_otlp_json_encoding() {
    let reqs = to_requests(&origin(), vec![span()], DEFAULT_HISTOGRAM_BOUNDS);
    let json: serde_json::Value =
        serde_json::from_slice(&reqs[0].encode_json()).expect("valid JSON");
    let s = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(s["traceId"], "abababababababababababababababab");
    assert_eq!(s["spanId"], "0102030405060708");
    assert_eq!(s["parentSpanId"], "0909090909090909");
    assert_eq!(s["startTimeUnixNano"], "1700000000000000001");
    assert_eq!(s["kind"], 2);
    assert_eq!(s["status"]["code"], 2);
    assert_eq!(
        s["attributes"][0]["value"]["intValue"],
        i64::MAX.to_string()
    );
    assert_eq!(
        json["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
        "svc"
    );
}

#[test]
fn protobuf_round_trips() {
    let log = Record::Log(EncodedLog::new(&LogRecord {
        time_unix_nano: 5,
        severity: Severity::Warn,
        body: Some(Cow::Borrowed("disk almost full")),
        event_name: Some(Cow::Borrowed("disk.warning")),
        attributes: vec![KeyValue::new("pct", 91.5)],
        dropped_attributes_count: 0,
        trace: Some((TraceId([1; 16]), SpanId([2; 8]))),
    }));
    let reqs = to_requests(&origin(), vec![span(), log], DEFAULT_HISTOGRAM_BOUNDS);
    assert_eq!(
        reqs.iter().map(SignalRequest::signal).collect::<Vec<_>>(),
        vec![Signal::Traces, Signal::Logs]
    );
    for r in &reqs {
        let back =
            SignalRequest::decode_protobuf(r.signal(), &r.encode_protobuf()).expect("decodes");
        assert_eq!(back, *r.decoded());
    }
    // Concatenated encoded logs are byte for byte what prost writes for the decoded request.
    let decoded = reqs[1].decoded();
    assert_eq!(reqs[1].encode_protobuf(), decoded.encode_protobuf());
    let SignalRequest::Logs(l) = decoded.as_ref() else {
        panic!("logs")
    };
    let rec = &l.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(rec.event_name, "disk.warning");
    assert_eq!(rec.attributes[0].key, "event.name");
    assert_eq!(rec.severity_number, 13);
    assert_eq!(rec.trace_id, vec![1; 16]);
}

#[test]
fn bodies_of_every_type_come_back_from_their_text_with_their_type() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, ArrayValue, KeyValue as Kv, KeyValueList,
    };
    let any = |v: V| AnyValue { value: Some(v) };
    let map = V::KvlistValue(KeyValueList {
        values: vec![
            Kv {
                key: "user".into(),
                value: Some(any(V::StringValue("ada".into()))),
                ..Default::default()
            },
            Kv {
                key: "tags".into(),
                value: Some(any(V::ArrayValue(ArrayValue {
                    values: vec![any(V::IntValue(1)), any(V::BoolValue(false))],
                }))),
                ..Default::default()
            },
        ],
    });
    let cases = [
        (
            any(V::StringValue("{\"not\": \"a map\"}".into())),
            BodyType::String,
            "{\"not\": \"a map\"}",
            Json::String("{\"not\": \"a map\"}".into()),
        ),
        (
            any(V::BoolValue(true)),
            BodyType::Bool,
            "true",
            Json::Bool(true),
        ),
        (
            any(V::IntValue(i64::MIN)),
            BodyType::Int,
            "-9223372036854775808",
            Json::from(i64::MIN),
        ),
        (
            any(V::DoubleValue(0.25)),
            BodyType::Double,
            "0.25",
            Json::from(0.25),
        ),
        (
            any(V::DoubleValue(f64::NAN)),
            BodyType::Double,
            "NaN",
            Json::String("NaN".into()),
        ),
        (
            any(V::BytesValue(vec![0xde, 0xad])),
            BodyType::Bytes,
            "dead",
            Json::String("dead".into()),
        ),
        (
            any(map),
            BodyType::Kvlist,
            r#"{"tags":[1,false],"user":"ada"}"#,
            serde_json::json!({"user": "ada", "tags": [1, false]}),
        ),
    ];
    for (value, body_type, text, json) in cases {
        let (got_text, got_type) = body_text(&value).expect("a body");
        assert_eq!(got_type, body_type);
        if body_type == BodyType::Kvlist {
            // (Key order is the JSON map's.)
            let parsed: Json = serde_json::from_str(&got_text).expect("JSON text");
            assert_eq!(parsed, serde_json::from_str::<Json>(text).expect("JSON"));
        } else {
            assert_eq!(got_text, text);
        }
        assert_eq!(body_type.value(&got_text), json, "{text}");
        assert_eq!(BodyType::from_name(body_type.as_str()), body_type);
    }
    assert_eq!(body_text(&AnyValue { value: None }), None);
    // Rows stored before types were kept, and text that is not of its type.
    assert_eq!(BodyType::from_name(""), BodyType::String);
    assert_eq!(BodyType::Int.value("12x"), Json::String("12x".into()));
    assert_eq!(BodyType::Array.value("[1, 2]"), serde_json::json!([1, 2]));
}
