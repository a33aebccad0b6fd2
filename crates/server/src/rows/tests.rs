use super::*;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

#[test]
fn direct_json_equals_serde_json() {
    use any_value::Value as V;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    let attrs = vec![
        kv("plain", V::StringValue("hello".into())),
        kv(
            "escapes \" \\ \n",
            V::StringValue("tab\tquote\"back\\slash\u{1}ünï ✓".into()),
        ),
        kv("int", V::IntValue(i64::MIN)),
        kv("double", V::DoubleValue(0.1)),
        kv("big double", V::DoubleValue(1e300)),
        kv("nan", V::DoubleValue(f64::NAN)),
        kv("bool", V::BoolValue(false)),
        kv("bytes", V::BytesValue(vec![0, 255])),
        kv(
            "array",
            V::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(V::IntValue(1)),
                    },
                    AnyValue { value: None },
                ],
            }),
        ),
        kv(
            "map",
            V::KvlistValue(KeyValueList {
                values: vec![
                    kv("inner", V::StringValue("x".into())),
                    kv("", V::BoolValue(true)),
                ],
            }),
        ),
        KeyValue {
            key: "missing".into(),
            value: None,
            ..Default::default()
        },
        kv("plain", V::StringValue("last one wins".into())),
    ];
    let direct: Json = serde_json::from_str(&attributes_json(&attrs)).expect("valid JSON");
    assert_eq!(direct, attributes_to_json(&attrs));
    assert_eq!(direct["plain"], "last one wins");
    assert_eq!(attributes_json(&[]), "{}");
}

#[test]
fn spans_keep_links_trace_state_flags_scope_and_dropped_counts() {
    use any_value::Value as V;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        trace_state: "vendor=v1".into(),
        flags: 0x301,
        name: "op".into(),
        dropped_attributes_count: 3,
        events: vec![span::Event {
            name: "retry".into(),
            dropped_attributes_count: 1,
            ..Default::default()
        }],
        dropped_events_count: 4,
        links: vec![span::Link {
            trace_id: vec![0xab; 16],
            span_id: vec![0xcd; 8],
            trace_state: "other=x".into(),
            attributes: vec![kv("batch", V::IntValue(7))],
            dropped_attributes_count: 2,
            flags: 0x101,
        }],
        dropped_links_count: 5,
        ..Default::default()
    };
    let batch = from_traces(&ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "checkout-lib".into(),
                    version: "2.1.0".into(),
                    ..Default::default()
                }),
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    let row = &batch.spans[0];
    assert_eq!((row.trace_state.as_str(), row.flags), ("vendor=v1", 0x301));
    assert_eq!(
        (row.scope_name.as_str(), row.scope_version.as_str()),
        ("checkout-lib", "2.1.0")
    );
    assert_eq!(
        (
            row.dropped_attributes_count,
            row.dropped_events_count,
            row.dropped_links_count
        ),
        (3, 4, 5)
    );
    let links: Json = serde_json::from_str(&row.links).expect("links JSON");
    assert_eq!(
        links,
        serde_json::json!([{
            "trace_id": "ab".repeat(16),
            "span_id": "cd".repeat(8),
            "trace_state": "other=x",
            "attributes": {"batch": 7},
            "flags": 0x101,
            "dropped_attributes_count": 2,
        }])
    );
    let events: Json = serde_json::from_str(&row.events).expect("events JSON");
    assert_eq!(events[0]["dropped_attributes_count"], 1);
    // A span without links or events has empty lists, valid JSON.
    assert_eq!(links_json(&[]), "[]");
    assert_eq!(SpanRow::default().links, "[]");
}

#[test]
fn log_bodies_of_every_type_are_kept_with_their_type_and_come_back_structured() {
    use any_value::Value as V;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let any = |v: V| AnyValue { value: Some(v) };
    let bodies = vec![
        Some(any(V::StringValue("plain text".into()))),
        Some(any(V::KvlistValue(KeyValueList {
            values: vec![
                kv("user", V::StringValue("ada".into())),
                kv("n", V::IntValue(3)),
                kv(
                    "nested",
                    V::KvlistValue(KeyValueList {
                        values: vec![kv("ok", V::BoolValue(true))],
                    }),
                ),
            ],
        }))),
        Some(any(V::ArrayValue(ArrayValue {
            values: vec![any(V::StringValue("a".into())), any(V::DoubleValue(1.5))],
        }))),
        Some(any(V::IntValue(-7))),
        Some(any(V::DoubleValue(0.25))),
        Some(any(V::BoolValue(false))),
        Some(any(V::BytesValue(vec![0xbe, 0xef]))),
        Some(AnyValue { value: None }),
        None,
    ];
    let records: Vec<LogRecord> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| LogRecord {
            time_unix_nano: if i == 0 { 0 } else { 100 + i as u64 },
            observed_time_unix_nano: 50 + i as u64,
            flags: 0x1ff,
            body,
            dropped_attributes_count: 2,
            ..Default::default()
        })
        .collect();
    let batch = from_logs(&ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    let got: Vec<(BodyType, Option<&str>, Json)> = batch
        .logs
        .iter()
        .map(|l| (l.body_type, l.body.as_deref(), l.body_value()))
        .collect();
    let nested = serde_json::json!({"user": "ada", "n": 3, "nested": {"ok": true}});
    assert_eq!(
        got[0],
        (
            BodyType::String,
            Some("plain text"),
            Json::from("plain text")
        )
    );
    assert_eq!((got[1].0, &got[1].2), (BodyType::Kvlist, &nested));
    assert!(
        got[1].1.is_some_and(|t| t.contains("\"user\":\"ada\"")),
        "searchable text"
    );
    assert_eq!(
        (got[2].0, &got[2].2),
        (BodyType::Array, &serde_json::json!(["a", 1.5]))
    );
    assert_eq!(got[3], (BodyType::Int, Some("-7"), Json::from(-7)));
    assert_eq!(got[4], (BodyType::Double, Some("0.25"), Json::from(0.25)));
    assert_eq!(got[5], (BodyType::Bool, Some("false"), Json::Bool(false)));
    assert_eq!(got[6], (BodyType::Bytes, Some("beef"), Json::from("beef")));
    assert_eq!(
        got[7],
        (BodyType::String, None, Json::Null),
        "an empty value"
    );
    assert_eq!(got[8], (BodyType::String, None, Json::Null), "no body");
    let first = &batch.logs[0];
    assert_eq!(
        (first.time_unix_nano, first.observed_time_unix_nano),
        (50, 50),
        "no time: the observed one, kept on its own too"
    );
    assert_eq!(
        (
            batch.logs[1].time_unix_nano,
            batch.logs[1].observed_time_unix_nano
        ),
        (101, 51)
    );
    assert_eq!(first.flags, 0xff, "W3C trace flags only");
    assert_eq!(first.dropped_attributes_count, 2);
}

#[test]
fn json_strings_are_escaped_as_one_character_at_a_time_would() {
    fn by_char(s: &str) -> String {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
    let cases = [
        "",
        "plain",
        "quote \" and backslash \\",
        "lines\nand\r\ttabs",
        "\u{0}\u{1}\u{1f}\u{7f}",
        "ünïcödé — 日本語 🦀",
        "\"",
        "é\n",
        "\\u0041",
    ];
    for s in cases {
        let mut out = String::new();
        super::write_json_str(s, &mut out);
        assert_eq!(out, by_char(s), "{s:?}");
        assert_eq!(serde_json::from_str::<String>(&out).expect("JSON"), s);
    }
}
