use super::schema::Msg;
use super::{Refused, json, protobuf};
use crate::ingest::Limits;
use automagik_telemetry_testkit::build::{any_kv, empty_spans, string_kv, trace_request};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span};
use prost::Message;

/// Embedded messages of an attribute: the `KeyValue`, its `AnyValue` and what is inside.
fn kv_messages(kv: &KeyValue) -> u64 {
    1 + kv.value.as_ref().map_or(0, any_messages)
}

fn any_messages(v: &AnyValue) -> u64 {
    1 + match &v.value {
        Some(any_value::Value::ArrayValue(a)) => 1 + a.values.iter().map(any_messages).sum::<u64>(),
        Some(any_value::Value::KvlistValue(l)) => 1 + l.values.iter().map(kv_messages).sum::<u64>(),
        _ => 0,
    }
}

fn kvs_messages(kvs: &[KeyValue]) -> u64 {
    kvs.iter().map(kv_messages).sum()
}

/// Items and embedded messages of a decoded traces request, counted on its structs.
fn traces_counts(req: &ExportTraceServiceRequest) -> (u64, u64) {
    let (mut items, mut messages) = (0, 0);
    for rs in &req.resource_spans {
        messages += 1;
        if let Some(r) = &rs.resource {
            messages += 1 + kvs_messages(&r.attributes);
        }
        for ss in &rs.scope_spans {
            messages += 1;
            if let Some(s) = &ss.scope {
                messages += 1 + kvs_messages(&s.attributes);
            }
            for span in &ss.spans {
                items += 1 + span.events.len() as u64 + span.links.len() as u64;
                messages += 1 + kvs_messages(&span.attributes);
                messages += u64::from(span.status.is_some());
                for e in &span.events {
                    messages += 1 + kvs_messages(&e.attributes);
                }
                for l in &span.links {
                    messages += 1 + kvs_messages(&l.attributes);
                }
            }
        }
    }
    (items, messages)
}

fn nested() -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: vec![
                string_kv("inner", "x"),
                any_kv(
                    "list",
                    any_value::Value::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue {
                                value: Some(any_value::Value::IntValue(7)),
                            },
                            AnyValue {
                                value: Some(any_value::Value::BytesValue(vec![1, 2, 3])),
                            },
                        ],
                    }),
                ),
            ],
        })),
    }
}

fn varied_traces() -> ExportTraceServiceRequest {
    let make_span = |n: u8| Span {
        trace_id: vec![n; 16],
        span_id: vec![n; 8],
        name: format!("span-{n}"),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        attributes: vec![
            string_kv("k", "v"),
            KeyValue {
                key: "nested".into(),
                value: Some(nested()),
                ..Default::default()
            },
        ],
        events: (0..n)
            .map(|i| span::Event {
                name: format!("event-{i}"),
                attributes: vec![string_kv("e", "1")],
                ..Default::default()
            })
            .collect(),
        links: vec![span::Link {
            trace_id: vec![9; 16],
            span_id: vec![9; 8],
            attributes: vec![string_kv("l", "1")],
            ..Default::default()
        }],
        status: n.is_multiple_of(2).then(|| Status {
            message: "failed".into(),
            code: 2,
        }),
        ..Default::default()
    };
    let mut req = trace_request("svc", (1..=3).map(make_span).collect());
    let mut second = req.resource_spans[0].clone();
    if let Some(scope_spans) = second.scope_spans.first_mut() {
        scope_spans.scope = Some(InstrumentationScope {
            name: "scope".into(),
            attributes: vec![string_kv("s", "1")],
            ..Default::default()
        });
    }
    req.resource_spans.push(second);
    req
}

#[test]
fn protobuf_counts_are_those_of_the_decoded_request() {
    let req = varied_traces();
    let bytes = req.encode_to_vec();
    let cost = protobuf("traces", &bytes, &Limits::default()).expect("within the limits");
    let decoded = ExportTraceServiceRequest::decode(&bytes[..]).expect("decode");
    assert_eq!(decoded, req);
    let (items, messages) = traces_counts(&decoded);
    // 2 resources x 3 spans with 1 + 2 + 3 events and one link each.
    assert_eq!(items, 2 * (3 + 6 + 3));
    assert_eq!((cost.items, cost.messages), (items, messages));
    assert!(cost.decoded_bytes > bytes.len() as u64);
}

#[test]
fn json_counts_are_those_of_the_same_request_in_protobuf() {
    let req = varied_traces();
    let body = serde_json::to_vec(&req).expect("json");
    let decoded: ExportTraceServiceRequest = serde_json::from_slice(&body).expect("decode");
    assert_eq!(decoded, req);
    let cost = json("traces", &body, &Limits::default()).expect("within the limits");
    let wire = protobuf("traces", &req.encode_to_vec(), &Limits::default()).expect("protobuf");
    assert_eq!((cost.items, cost.messages), (wire.items, wire.messages));
    assert_eq!((cost.items, cost.messages), traces_counts(&req));
}

#[test]
fn metric_points_are_the_items_of_a_metrics_request() {
    let point = |v: f64| NumberDataPoint {
        attributes: vec![string_kv("host", "a")],
        time_unix_nano: 1,
        value: Some(number_data_point::Value::AsDouble(v)),
        exemplars: vec![Exemplar {
            filtered_attributes: vec![string_kv("f", "1")],
            ..Default::default()
        }],
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "requests".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![point(1.0), point(2.0)],
                            ..Default::default()
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "latency".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                bucket_counts: vec![1, 2, 3, 4],
                                explicit_bounds: vec![1.0, 2.0, 3.0],
                                ..Default::default()
                            }],
                            ..Default::default()
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let wire = protobuf("metrics", &req.encode_to_vec(), &Limits::default()).expect("protobuf");
    let body = serde_json::to_vec(&req).expect("json");
    let text = json("metrics", &body, &Limits::default()).expect("json");
    assert_eq!(wire.items, 3);
    assert_eq!(text.items, 3);
    // Resource metrics, scope metrics, 2 metrics, a sum and a histogram, 3 points, 2
    // exemplars, 4 attributes with their values.
    assert_eq!(wire.messages, 1 + 1 + 2 + 2 + 3 + 2 + 2 * 4);
    assert_eq!(text.messages, wire.messages);
}

#[test]
fn thirty_three_million_empty_spans_are_refused_before_decoding() {
    // 66 MB of protobuf (64 KB of gzip) that would decode into 8 GB.
    let body = empty_spans(33_000_000);
    match protobuf("traces", &body, &Limits::default()) {
        Err(Refused::OverLimit(message)) => assert!(message.contains("100000 items"), "{message}"),
        other => panic!("refused over the item limit, got {other:?}"),
    }
    // Without an item limit, the memory bound refuses them as well.
    let limits = Limits {
        max_items: usize::MAX,
        ..Limits::default()
    };
    match protobuf("traces", &body, &limits) {
        Err(Refused::OverLimit(message)) => {
            assert!(message.contains("bytes of memory"), "{message}")
        }
        other => panic!("refused over the memory limit, got {other:?}"),
    }
    // The same through the decoding entry point: refused, never decoded.
    let refused = crate::ingest::decode_within::<ExportTraceServiceRequest>(
        crate::ingest::Encoding::Protobuf,
        &body,
        &Limits::default(),
    );
    assert!(matches!(
        refused,
        Err(crate::ingest::IngestError::TooLarge(_))
    ));
}

#[test]
fn empty_json_spans_are_refused_over_the_item_limit() {
    let spans = vec!["{}"; 200_001].join(",");
    let body = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{spans}]}}]}}]}}"#);
    assert!(matches!(
        json("traces", body.as_bytes(), &Limits::default()),
        Err(Refused::OverLimit(_))
    ));
    // A key written with escapes is the same key to the decoder.
    let escaped = r#"{"resourceSpans":[{"scopeSpans":[{"sp\u0061ns":[{},{},{}]}]}]}"#;
    let decoded: ExportTraceServiceRequest = serde_json::from_str(escaped).expect("decode");
    assert_eq!(decoded.resource_spans[0].scope_spans[0].spans.len(), 3);
    let cost = json("traces", escaped.as_bytes(), &Limits::default()).expect("cost");
    assert_eq!(cost.items, 3);
}

#[test]
fn messages_written_as_json_arrays_are_refused_not_left_uncounted() {
    // serde decodes a struct from an array of its fields: this body is two spans that an
    // object-only count would see as none, and `[],` repeated is millions of spans.
    let array_form = r#"[[[null,[[null,[[],[]]]]]]]"#;
    let decoded: ExportTraceServiceRequest =
        serde_json::from_str(array_form).expect("serde accepts the array form");
    assert_eq!(decoded.resource_spans[0].scope_spans[0].spans.len(), 2);
    assert!(matches!(
        json("traces", array_form.as_bytes(), &Limits::default()),
        Err(Refused::Malformed(_))
    ));
    let many = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}[]]}}]}}]}}"#,
        "[],".repeat(300_000)
    );
    assert!(matches!(
        json("traces", many.as_bytes(), &Limits::default()),
        Err(Refused::Malformed(_))
    ));
    // A message field holding an array, and the request itself as an array.
    let scope = r#"{"resourceSpans":[{"resource":[[]],"scopeSpans":[]}]}"#;
    assert!(matches!(
        json("traces", scope.as_bytes(), &Limits::default()),
        Err(Refused::Malformed(_))
    ));
    assert!(matches!(
        json("traces", b"[]", &Limits::default()),
        Err(Refused::Malformed(_))
    ));
}

#[test]
fn an_ordinary_large_batch_is_far_within_the_limits() {
    let spans = (0..10_000u32)
        .map(|i| Span {
            trace_id: [i.to_be_bytes().as_slice(), &[1; 12]].concat(),
            span_id: [i.to_be_bytes().as_slice(), &[2; 4]].concat(),
            name: format!("GET /api/items/{i}"),
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_500_000_000,
            attributes: (0..20)
                .map(|a| string_kv(&format!("attribute.key.{a:02}"), format!("value {i:>14}")))
                .collect(),
            ..Default::default()
        })
        .collect();
    let req = trace_request("svc", spans);
    let limits = Limits::default();
    let wire = protobuf("traces", &req.encode_to_vec(), &limits).expect("protobuf");
    assert_eq!(wire.items, 10_000);
    assert!(
        wire.decoded_bytes < limits.max_decoded_bytes as u64 * 2 / 3,
        "{wire:?}"
    );
    let text = json("traces", &serde_json::to_vec(&req).expect("json"), &limits).expect("json");
    assert!(
        text.decoded_bytes < limits.max_decoded_bytes as u64 * 2 / 3,
        "{text:?}"
    );
}

#[test]
fn json_buffers_of_nested_values_are_charged_for_each_level() {
    let array = AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue {
            values: (0..1000)
                .map(|_| AnyValue {
                    value: Some(any_value::Value::StringValue("x".into())),
                })
                .collect(),
        })),
    };
    let mut deep = array.clone();
    for _ in 0..5 {
        deep = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(deep),
                    ..Default::default()
                }],
            })),
        };
    }
    let cost = |value: AnyValue| {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![1; 8],
            attributes: vec![KeyValue {
                key: "a".into(),
                value: Some(value),
                ..Default::default()
            }],
            ..Default::default()
        };
        let body = serde_json::to_vec(&trace_request("svc", vec![span])).expect("json");
        json("traces", &body, &Limits::default())
            .expect("cost")
            .decoded_bytes
    };
    let (shallow, deep) = (cost(array), cost(deep));
    assert!(deep > 3 * shallow, "{deep} vs {shallow}");
}

#[test]
fn malformed_bytes_are_refused_as_the_decoder_would() {
    let bytes = varied_traces().encode_to_vec();
    assert!(matches!(
        protobuf("traces", &bytes[..bytes.len() - 3], &Limits::default()),
        Err(Refused::Malformed(_))
    ));
    for bad in [
        r#"{"resourceSpans": ["#,
        r#"{"resourceSpans": [}"#,
        r#"{"resourceSpans": "no end"#,
    ] {
        assert!(
            matches!(
                json("traces", bad.as_bytes(), &Limits::default()),
                Err(Refused::Malformed(_))
            ),
            "{bad}"
        );
    }
}

#[cfg(target_pointer_width = "64")]
#[test]
fn struct_sizes_are_those_the_limits_document() {
    assert_eq!(Msg::Span.size(), 264);
    assert_eq!(Msg::KeyValue.size(), 64);
    assert_eq!(Msg::AnyValue.size(), 32);
}
