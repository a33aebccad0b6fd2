//! Unit tests of the URL parser, the attribute encoding, error names and time literals
//! in queries.

use super::client::{Target, error_name, parse_url};
use super::decode::join_attributes;
use super::encode::attribute_columns;
use super::store::{at, at_second, at_second_ceil};
use serde_json::{Value as Json, json};

/// The two columns of attributes kept as JSON object text.
fn split_attributes(text: &str) -> (Json, Json) {
    let columns = attribute_columns(text);
    (columns.values, columns.types)
}

#[test]
fn urls_name_endpoint_credentials_database_and_cluster() {
    let t =
        parse_url("clickhouse://ingest:s%40cret@ch.internal/telemetry?cluster=prod").expect("url");
    assert_eq!(
        t,
        Target {
            endpoint: "http://ch.internal:8123/".into(),
            user: "ingest".into(),
            password: "s@cret".into(),
            database: "telemetry".into(),
            cluster: Some("prod".into()),
            async_insert: false,
        }
    );
    assert!(
        parse_url("clickhouse://h/?async_insert=1")
            .expect("url")
            .async_insert
    );
    let t = parse_url("https://ch.example:9443/?database=d&user=u&password=p").expect("url");
    assert_eq!(t.endpoint, "https://ch.example:9443/");
    assert_eq!(
        (t.database.as_str(), t.user.as_str(), t.password.as_str()),
        ("d", "u", "p")
    );
    let t = parse_url("clickhouses://[::1]").expect("url");
    assert_eq!(t.endpoint, "https://[::1]:8443/");
    assert_eq!(
        (t.database.as_str(), t.user.as_str()),
        ("automagik", "default")
    );
    assert!(parse_url("clickhouse://h/?verbose=1").is_err());
    assert!(parse_url("ftp://h").is_err());
}

#[test]
fn attributes_keep_their_types_through_the_string_map() {
    let text = r#"{"s":"x","i":-42,"big":9007199254740993,"f":0.25,"whole":2.0,"b":true,"a":[1,"y"],"m":{"k":null},"n":"NaN"}"#;
    let (values, types) = split_attributes(text);
    assert_eq!(values["i"], "-42");
    assert_eq!(values["a"], r#"[1,"y"]"#);
    assert_eq!(types.get("s"), None, "strings take no type entry");
    let Json::Object(values) = values else {
        panic!("object")
    };
    let Json::Object(types) = types else {
        panic!("object")
    };
    let back: Json = serde_json::from_str(&join_attributes(values, &types)).expect("json");
    let want: Json = serde_json::from_str(text).expect("json");
    assert_eq!(back, want);
    // Escaped keys, and a repeated key keeps its last value.
    let (values, types) = split_attributes(r#"{"a\"b":1,"k":"x","k":"y\n"}"#);
    assert_eq!(values, json!({"a\"b": "1", "k": "y\n"}));
    assert_eq!(types, json!({"a\"b": "int"}));
    // Not an object: nothing, rather than an error that loses the row.
    assert_eq!(split_attributes("[1]"), (json!({}), json!({})));
}

#[test]
fn error_texts_keep_only_the_error_name() {
    assert_eq!(
        error_name(
            "Code: 27. DB::Exception: Cannot parse input: secret@example.com: (at row 1) (CANNOT_PARSE_INPUT_ASSERTION_FAILED)"
        ),
        "CANNOT_PARSE_INPUT_ASSERTION_FAILED"
    );
    assert_eq!(error_name("no name here (row 1: x@y.z"), "error");
}

#[test]
fn times_are_exact_and_clamped() {
    assert_eq!(
        at(u64::MAX),
        format!("fromUnixTimestamp64Nano(toInt64({}))", i64::MAX)
    );
    assert_eq!(at_second_ceil(1_000_000_001), "toDateTime(2)");
    assert_eq!(at_second(1_999_999_999), "toDateTime(1)");
}

#[test]
fn batches_read_from_a_request_are_written_by_the_shared_encoder() {
    use automagik_telemetry_core::SignalRequest;
    use automagik_telemetry_testkit::build::{string_kv, trace_request};
    use opentelemetry_proto::tonic::trace::v1::Span;
    let span = |trace_id: Vec<u8>, name: &str| Span {
        trace_id,
        span_id: vec![1; 8],
        name: name.into(),
        start_time_unix_nano: 1_699_999_200_000_000_001,
        end_time_unix_nano: 1_699_999_200_000_500_000,
        attributes: vec![string_kv("http.route", "/a")],
        ..Default::default()
    };
    let kept = span(vec![7; 16], "kept");
    let refused = span(vec![7; 15], "refused: a short trace id");
    let batch = crate::rows::from_traces(&trace_request("api", vec![kept.clone(), refused]));
    assert_eq!(batch.rejected, 1);
    let want = automagik_telemetry_core::clickhouse::inserts(&SignalRequest::Traces(
        trace_request("api", vec![kept]),
    ));
    assert_eq!(super::encode::inserts(&batch), want);
}

#[test]
fn rows_the_server_builds_follow_the_same_column_rules() {
    use crate::rows::{Batch, MetricPointRow};
    let batch = Batch {
        metric_points: vec![MetricPointRow::number(
            "up",
            "automagik-telemetry",
            "gauge",
            1_699_999_200_000_000_001,
            None,
            r#"{"target":"db","latency":0.5,"note":null}"#,
        )],
        ..Default::default()
    };
    let inserts = super::encode::inserts(&batch);
    let gauges: Vec<_> = inserts.iter().filter(|i| i.count > 0).collect();
    assert_eq!(gauges.len(), 1);
    assert_eq!(gauges[0].table, "otel_metrics_gauge");
    let row: Json = serde_json::from_str(gauges[0].rows.trim()).expect("one row");
    assert_eq!(
        row["TimeUnix"], "2023-11-14T22:00:00.000000001Z",
        "ns exact"
    );
    assert_eq!(row["StartTimeUnix"], "1970-01-01T00:00:00.000000000Z");
    assert_eq!(row["Value"], "nan", "no value");
    assert_eq!(
        row["Attributes"],
        json!({"target": "db", "latency": "0.5", "note": "null"})
    );
    assert_eq!(
        row["AttributeTypes"],
        json!({"latency": "double", "note": "json"})
    );
}
