//! The `clickhouse` exporter against the real ClickHouse engine (chdb behind the HTTP
//! interface): every signal read back field by field; a UUID, a map, a nanosecond
//! timestamp, NaN, non-ASCII text and an empty attribute set each round-trip; a retried
//! batch is stored once; a wrong password is a permanent error.

use automagik_telemetry::export::{ClickHouseExporter, Exporter};
use automagik_telemetry::{Backend, MetricKind, Severity};
use automagik_telemetry_core::SignalRequest;
use automagik_telemetry_testkit::build::{any_kv, log_request, string_kv, trace_request};
use automagik_telemetry_testkit::clickhouse::ClickHouse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValueList, any_value::Value as V};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A nanosecond time an hour ago (inside the raw retention, which drops older parts),
/// with every digit significant.
fn t() -> u64 {
    static T: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
        automagik_telemetry_testkit::minute_an_hour_ago() * 1_000_000_000 + 123_456_789
    });
    *T
}
const UUID: &str = "7f1c2a9e-3b4d-4e5f-8a6b-9c0d1e2f3a4b";

fn select(ch: &ClickHouse, sql: &str) -> Vec<Value> {
    let body = ureq::post(&ch.url)
        .send(format!("{sql} FORMAT JSONEachRow"))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_body()
        .read_to_string()
        .expect("body");
    body.lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect()
}

fn exporter(ch: &ClickHouse, dir: &std::path::Path) -> ClickHouseExporter {
    let telemetry_config = crate::isolated(dir, &[])
        .backend(Backend::ClickHouse)
        .clickhouse_endpoint(ch.url.clone())
        .build()
        .expect("client");
    let config = telemetry_config.config().expect("enabled").clone();
    ClickHouseExporter::new(&config)
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

#[test]
fn every_signal_round_trips_field_by_field() {
    let ch = ClickHouse::start().expect("start the ClickHouse engine");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut exporter = exporter(&ch, dir.path());

    let root = Span {
        trace_id: vec![0xab; 16],
        span_id: vec![0x01; 8],
        name: "GET /ünïcødé".into(),
        kind: 2,
        start_time_unix_nano: t(),
        end_time_unix_nano: t() + 42_000_001,
        attributes: vec![
            string_kv("request.id", UUID),
            any_kv("ratio", V::DoubleValue(f64::NAN)),
            any_kv("count", V::IntValue(-7)),
            any_kv("ok", V::BoolValue(true)),
            any_kv(
                "nested",
                V::KvlistValue(KeyValueList {
                    values: vec![string_kv("a", "b")],
                }),
            ),
            string_kv("greeting", "こんにちは ✓"),
        ],
        status: Some(Status {
            code: 2,
            message: "boom".into(),
        }),
        events: vec![span::Event {
            time_unix_nano: t() + 5,
            name: "exception".into(),
            attributes: vec![string_kv("exception.type", "Timeout")],
            ..Default::default()
        }],
        ..Default::default()
    };
    let child = Span {
        trace_id: vec![0xab; 16],
        span_id: vec![0x02; 8],
        parent_span_id: vec![0x01; 8],
        name: "execute_tool search".into(),
        kind: 1,
        start_time_unix_nano: t() + 1,
        end_time_unix_nano: t() + 1_000_001,
        attributes: vec![
            string_kv("gen_ai.operation.name", "execute_tool"),
            string_kv("gen_ai.tool.name", "search"),
            string_kv("gen_ai.agent.name", "planner"),
            string_kv("correlation_id", UUID),
        ],
        ..Default::default()
    };
    let traces = SignalRequest::Traces(trace_request("svc-ch", vec![root, child]));
    exporter.export(&traces, deadline()).expect("export traces");

    let spans = select(
        &ch,
        "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, SpanAttributes, \
         ResourceAttributes, toString(toUnixTimestamp64Nano(Timestamp)) AS ts, Duration, StatusCode, \
         StatusMessage, Events.Name AS en, toString(toUnixTimestamp64Nano(Events.Timestamp[1])) AS et, \
         Events.Attributes AS ea FROM automagik.otel_traces ORDER BY Timestamp",
    );
    assert_eq!(spans.len(), 2);
    let r = &spans[0];
    assert_eq!(r["TraceId"], "ab".repeat(16));
    assert_eq!(r["SpanId"], "01".repeat(8));
    assert_eq!(r["ParentSpanId"], "");
    assert_eq!(r["SpanName"], "GET /ünïcødé");
    assert_eq!(r["SpanKind"], "Server");
    assert_eq!(r["ServiceName"], "svc-ch");
    assert_eq!(r["ts"], t().to_string(), "nanosecond timestamp");
    assert_eq!(r["Duration"].to_string().trim_matches('"'), "42000001");
    assert_eq!(
        (r["StatusCode"].as_str(), r["StatusMessage"].as_str()),
        (Some("Error"), Some("boom"))
    );
    let attrs = &r["SpanAttributes"];
    assert_eq!(attrs["request.id"], UUID);
    assert_eq!(attrs["ratio"], "NaN");
    assert_eq!(attrs["count"], "-7");
    assert_eq!(attrs["ok"], "true");
    assert_eq!(attrs["nested"], r#"{"a":"b"}"#);
    assert_eq!(attrs["greeting"], "こんにちは ✓");
    assert_eq!(r["ResourceAttributes"]["service.name"], "svc-ch");
    assert_eq!(r["en"][0], "exception");
    assert_eq!(r["et"], (t() + 5).to_string());
    assert_eq!(r["ea"][0]["exception.type"], "Timeout");
    assert_eq!(spans[1]["ParentSpanId"], "01".repeat(8));
    let actions = select(
        &ch,
        "SELECT CorrelationId, ActionType, Name, AgentName FROM automagik.automagik_agent_actions",
    );
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["CorrelationId"], UUID);
    assert_eq!(
        (
            actions[0]["ActionType"].as_str(),
            actions[0]["Name"].as_str()
        ),
        (Some("tool_call"), Some("search"))
    );

    // Logs: an event with an empty attribute set, and a plain log.
    let logs = SignalRequest::Logs(log_request(
        "svc-ch",
        vec![
            LogRecord {
                time_unix_nano: t(),
                event_name: "user.signup".into(),
                severity_number: 9,
                ..Default::default()
            },
            LogRecord {
                time_unix_nano: t() + 7,
                severity_number: 17,
                severity_text: "ERROR".into(),
                body: Some(AnyValue {
                    value: Some(V::StringValue("disk fülL".into())),
                }),
                trace_id: vec![0xab; 16],
                span_id: vec![0x01; 8],
                attributes: vec![string_kv("disk", "/dev/sda")],
                ..Default::default()
            },
        ],
    ));
    exporter.export(&logs, deadline()).expect("export logs");
    let rows = select(
        &ch,
        "SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ts, SeverityNumber, SeverityText, Body, \
         EventName, LogAttributes, TraceId, SpanId FROM automagik.otel_logs ORDER BY Timestamp",
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["EventName"], "user.signup");
    assert_eq!(
        rows[0]["LogAttributes"],
        serde_json::json!({}),
        "empty attribute set"
    );
    assert_eq!(rows[1]["ts"], (t() + 7).to_string());
    assert_eq!(rows[1]["Body"], "disk fülL");
    assert_eq!(
        (
            rows[1]["SeverityNumber"].as_i64(),
            rows[1]["SeverityText"].as_str()
        ),
        (Some(17), Some("ERROR"))
    );
    assert_eq!(rows[1]["TraceId"], "ab".repeat(16));
    assert_eq!(rows[1]["LogAttributes"]["disk"], "/dev/sda");
    let events = select(&ch, "SELECT EventName FROM automagik.automagik_events");
    assert_eq!(events.len(), 1, "the events view took the event");

    // Metrics: a NaN gauge, a counter, a histogram.
    let point = |v: f64| NumberDataPoint {
        time_unix_nano: t(),
        start_time_unix_nano: t() - 1_000,
        attributes: vec![string_kv("queue", "emails")],
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let metrics = SignalRequest::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", "svc-ch")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "queue.depth".into(),
                        unit: "{item}".into(),
                        data: Some(Data::Gauge(Gauge {
                            data_points: vec![point(f64::NAN), point(3.5)],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "latency".into(),
                        unit: "ms".into(),
                        data: Some(Data::Histogram(Histogram {
                            aggregation_temporality: 1,
                            data_points: vec![HistogramDataPoint {
                                time_unix_nano: t(),
                                count: 3,
                                sum: Some(12.0),
                                min: Some(1.0),
                                max: Some(8.0),
                                bucket_counts: vec![1, 2, 0],
                                explicit_bounds: vec![2.0, 10.0],
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    exporter
        .export(&metrics, deadline())
        .expect("export metrics");
    let gauges = select(
        &ch,
        "SELECT isNaN(Value) AS nan, Value, MetricUnit, Attributes, toString(toUnixTimestamp64Nano(TimeUnix)) AS t \
         FROM automagik.otel_metrics_gauge ORDER BY nan DESC",
    );
    assert_eq!(gauges.len(), 2);
    assert_eq!(gauges[0]["nan"], 1, "NaN round-trips");
    assert_eq!(gauges[1]["Value"], 3.5);
    assert_eq!(gauges[1]["MetricUnit"], "{item}");
    assert_eq!(gauges[1]["Attributes"]["queue"], "emails");
    assert_eq!(gauges[1]["t"], t().to_string());
    let hist = select(
        &ch,
        "SELECT Count, Sum, Min, Max, BucketCounts, ExplicitBounds FROM automagik.otel_metrics_histogram",
    );
    assert_eq!(hist[0]["Sum"], 12.0);
    let bounds: Vec<f64> = hist[0]["ExplicitBounds"]
        .as_array()
        .expect("bounds")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(bounds, [2.0, 10.0]);
    assert_eq!(hist[0]["BucketCounts"].as_array().map(Vec::len), Some(3));

    // A batch retried (same rows) is stored once.
    exporter.export(&logs, deadline()).expect("retry");
    assert_eq!(
        select(&ch, "SELECT count() AS n FROM automagik.otel_logs")[0]["n"]
            .to_string()
            .trim_matches('"'),
        "2"
    );
}

#[test]
fn the_sdk_sends_to_clickhouse_and_bad_credentials_are_permanent() {
    let ch = ClickHouse::start_with_password("s3cret-pass").expect("start the ClickHouse engine");
    let dir = tempfile::tempdir().expect("tempdir");
    let telemetry = crate::isolated(dir.path(), &[])
        .backend(Backend::ClickHouse)
        .clickhouse_endpoint(ch.url.clone())
        .clickhouse_password("s3cret-pass")
        .project_name("sdk-ch")
        .build()
        .expect("client");
    {
        let mut span = telemetry.span("work");
        span.set_attribute("user.email", "jane@example.com");
        telemetry.track_event("signup", [("plan", "pro")]);
        telemetry.track_log(Severity::Warn, "slow", [("ms", 250)]);
    }
    telemetry.track_metric("orders", 2.0, MetricKind::Counter, [("region", "eu")]);
    telemetry.flush(Duration::from_secs(20)).expect("flush");
    assert_eq!(telemetry.stats().exported, 4);
    let count = |sql: &str| {
        let body = ureq::post(&ch.url)
            .header("X-ClickHouse-Key", "s3cret-pass")
            .send(sql)
            .expect("query")
            .into_body()
            .read_to_string()
            .expect("body");
        body.trim().to_string()
    };
    assert_eq!(
        count("SELECT count() FROM automagik.otel_traces WHERE ServiceName = 'sdk-ch'"),
        "1"
    );
    assert_eq!(
        count("SELECT SpanAttributes['user.email'] FROM automagik.otel_traces"),
        "[REDACTED:email]"
    );
    assert_eq!(count("SELECT count() FROM automagik.otel_logs"), "2");
    assert_eq!(
        count("SELECT sum(Value) FROM automagik.otel_metrics_sum WHERE MetricName = 'orders'"),
        "2"
    );

    // A wrong password: the export fails at once, not retried.
    let bad = crate::isolated(dir.path(), &[])
        .backend(Backend::ClickHouse)
        .clickhouse_endpoint(ch.url.clone())
        .clickhouse_password("wrong")
        .build()
        .expect("client");
    let config = bad.config().expect("enabled").clone();
    let mut exporter = ClickHouseExporter::new(&config);
    let err = exporter
        .export(
            &SignalRequest::Logs(log_request("x", vec![LogRecord::default()])),
            deadline(),
        )
        .expect_err("authentication fails");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("516"), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "the password never shows: {err}"
    );
}
