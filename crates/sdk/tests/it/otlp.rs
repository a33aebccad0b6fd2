//! Every signal, in protobuf and in JSON, decoded by the receiver with the
//! `opentelemetry-proto` types and checked field by field.

use crate::isolated;
use automagik_telemetry::Value;
use automagik_telemetry::{
    Backend, Compression, MetricKind, Severity, SpanKind, SpanStatus, Telemetry, attrs,
};
use automagik_telemetry_testkit::{Decoded, OtlpReceiver};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::time::Duration;

#[derive(Debug)]
struct Declined;
impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined for bob@example.com")
    }
}
impl std::error::Error for Declined {}

pub struct Collected {
    pub resources: Vec<Resource>,
    pub spans: Vec<Span>,
    pub logs: Vec<LogRecord>,
    pub metrics: Vec<Metric>,
}

pub fn collect(decoded: &[Decoded]) -> Collected {
    let mut c = Collected {
        resources: vec![],
        spans: vec![],
        logs: vec![],
        metrics: vec![],
    };
    for d in decoded {
        match d {
            Decoded::Traces(t) => {
                for rs in &t.resource_spans {
                    c.resources.extend(rs.resource.clone());
                    for ss in &rs.scope_spans {
                        assert_eq!(
                            ss.scope.as_ref().map(|s| s.name.as_str()),
                            Some("automagik-telemetry")
                        );
                        c.spans.extend(ss.spans.iter().cloned());
                    }
                }
            }
            Decoded::Logs(l) => {
                for rl in &l.resource_logs {
                    c.resources.extend(rl.resource.clone());
                    for sl in &rl.scope_logs {
                        c.logs.extend(sl.log_records.iter().cloned());
                    }
                }
            }
            Decoded::Metrics(m) => {
                for rm in &m.resource_metrics {
                    c.resources.extend(rm.resource.clone());
                    for sm in &rm.scope_metrics {
                        c.metrics.extend(sm.metrics.iter().cloned());
                    }
                }
            }
        }
    }
    c
}

pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

pub fn str_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    match attr(attrs, key) {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn body(l: &LogRecord) -> Option<String> {
    match l.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

const REMOTE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Sends one of everything: an event, an error, metrics of each kind, a log inside a
/// span, a parent/child span pair and a span under a remote parent.
fn send_everything(t: &Telemetry) {
    t.track_event(
        "signup",
        attrs! {
            "plan" => "pro",
            "seats" => 3,
            "ratio" => 0.25,
            "trial" => false,
            "tags" => vec![Value::from("a"), Value::from(2)],
            "owner" => vec![automagik_telemetry::KeyValue::new("email", "eve@example.com")],
            "password" => "hunter2",
        },
    );
    t.track_error(&Declined, [("payment.provider", "stripe")]);
    t.track_metric("orders", 1.0, MetricKind::Counter, [("region", "eu")]);
    t.track_metric("orders", 2.0, MetricKind::Counter, [("region", "eu")]);
    t.track_metric("temperature", 21.5, MetricKind::Gauge, [("room", "lab")]);
    t.track_metric("latency_ms", 7.0, MetricKind::Histogram, [("route", "/a")]);
    t.track_metric(
        "latency_ms",
        700.0,
        MetricKind::Histogram,
        [("route", "/a")],
    );
    {
        let mut parent = t
            .span_builder("GET /checkout")
            .kind(SpanKind::Server)
            .attribute("http.method", "GET")
            .start();
        parent.set_attribute("client.address", "203.0.113.9");
        {
            let mut child = t.span("charge");
            child.add_event("authorized", [("amount", 42)]);
            child.set_status(SpanStatus::Error("gateway timeout".into()));
            t.track_log(Severity::Warn, "retrying charge", [("attempt", 2)]);
        }
    }
    let remote = Telemetry::extract_traceparent(REMOTE).expect("valid traceparent");
    let _handler = t
        .span_builder("handle-remote")
        .parent(remote)
        .kind(SpanKind::Consumer)
        .start();
}

fn check_everything(t: &Telemetry, c: &Collected) {
    // Resource on every request.
    assert_eq!(c.resources.len(), 3, "one resource per signal request");
    for r in &c.resources {
        assert_eq!(
            str_attr(&r.attributes, "service.name").as_deref(),
            Some("it-service")
        );
        assert_eq!(
            str_attr(&r.attributes, "service.version").as_deref(),
            Some("9.9.9")
        );
        assert_eq!(
            str_attr(&r.attributes, "telemetry.sdk.name").as_deref(),
            Some("automagik-telemetry")
        );
        assert_eq!(
            str_attr(&r.attributes, "telemetry.sdk.language").as_deref(),
            Some("rust")
        );
        assert_eq!(
            str_attr(&r.attributes, "os.type").as_deref(),
            Some(std::env::consts::OS)
        );
        assert_eq!(
            str_attr(&r.attributes, "service.instance.id").as_deref(),
            t.install_id()
        );
        assert!(
            str_attr(&r.attributes, "host.name").is_none(),
            "host name is never sent"
        );
    }

    // Spans.
    assert_eq!(c.spans.len(), 3);
    let by_name = |n: &str| {
        c.spans
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("span {n}"))
    };
    let parent = by_name("GET /checkout");
    let child = by_name("charge");
    let remote = by_name("handle-remote");
    assert_eq!(parent.trace_id.len(), 16);
    assert_eq!(parent.span_id.len(), 8);
    assert!(parent.parent_span_id.is_empty());
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(child.parent_span_id, parent.span_id);
    assert_eq!(parent.kind, 2, "server");
    assert_eq!(child.kind, 1, "internal");
    assert_eq!(
        str_attr(&parent.attributes, "http.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        str_attr(&parent.attributes, "client.address").as_deref(),
        Some("[REDACTED:ipv4]")
    );
    assert!(parent.start_time_unix_nano > 1_600_000_000_000_000_000);
    assert!(parent.start_time_unix_nano <= child.start_time_unix_nano);
    assert!(child.end_time_unix_nano <= parent.end_time_unix_nano);
    assert_eq!(child.events.len(), 1);
    assert_eq!(child.events[0].name, "authorized");
    assert_eq!(
        attr(&child.events[0].attributes, "amount"),
        Some(&any_value::Value::IntValue(42))
    );
    let status = child.status.as_ref().expect("status");
    assert_eq!(
        (status.code, status.message.as_str()),
        (2, "gateway timeout")
    );
    assert_eq!(hex(&remote.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&remote.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(remote.kind, 5);

    // Logs: the event, the error, the log inside the child span.
    assert_eq!(c.logs.len(), 3);
    let event = c
        .logs
        .iter()
        .find(|l| l.event_name == "signup")
        .expect("event");
    assert_eq!(
        str_attr(&event.attributes, "event.name").as_deref(),
        Some("signup")
    );
    assert_eq!(str_attr(&event.attributes, "plan").as_deref(), Some("pro"));
    assert_eq!(
        attr(&event.attributes, "seats"),
        Some(&any_value::Value::IntValue(3))
    );
    assert_eq!(
        attr(&event.attributes, "ratio"),
        Some(&any_value::Value::DoubleValue(0.25))
    );
    assert_eq!(
        attr(&event.attributes, "trial"),
        Some(&any_value::Value::BoolValue(false))
    );
    assert_eq!(
        str_attr(&event.attributes, "password").as_deref(),
        Some("[REDACTED:secret]")
    );
    match attr(&event.attributes, "tags") {
        Some(any_value::Value::ArrayValue(a)) => assert_eq!(a.values.len(), 2),
        other => panic!("tags: {other:?}"),
    }
    match attr(&event.attributes, "owner") {
        Some(any_value::Value::KvlistValue(kv)) => {
            assert_eq!(
                str_attr(&kv.values, "email").as_deref(),
                Some("[REDACTED:email]")
            )
        }
        other => panic!("owner: {other:?}"),
    }
    assert_eq!(event.severity_number, 9);
    assert!(event.trace_id.is_empty(), "tracked outside any span");

    let error = c
        .logs
        .iter()
        .find(|l| l.severity_number == 17)
        .expect("error log");
    assert_eq!(error.severity_text, "ERROR");
    assert_eq!(
        body(error).as_deref(),
        Some("card declined for [REDACTED:email]")
    );
    assert!(
        str_attr(&error.attributes, "exception.type")
            .expect("type")
            .ends_with("Declined")
    );
    assert_eq!(
        str_attr(&error.attributes, "exception.message").as_deref(),
        Some("card declined for [REDACTED:email]")
    );
    assert_eq!(
        str_attr(&error.attributes, "payment.provider").as_deref(),
        Some("stripe")
    );

    let warn = c
        .logs
        .iter()
        .find(|l| l.severity_number == 13)
        .expect("warn log");
    assert_eq!(body(warn).as_deref(), Some("retrying charge"));
    assert_eq!(
        warn.trace_id, child.trace_id,
        "log carries the current span's trace"
    );
    assert_eq!(warn.span_id, child.span_id);

    // Metrics.
    let metric = |n: &str| {
        c.metrics
            .iter()
            .find(|m| m.name == n)
            .unwrap_or_else(|| panic!("metric {n}"))
    };
    match &metric("orders").data {
        Some(Data::Sum(s)) => {
            assert!(s.is_monotonic);
            assert_eq!(s.aggregation_temporality, 1, "delta");
            assert_eq!(s.data_points.len(), 1);
            assert_eq!(
                s.data_points[0].value,
                Some(number_data_point::Value::AsDouble(3.0))
            );
            assert_eq!(
                str_attr(&s.data_points[0].attributes, "region").as_deref(),
                Some("eu")
            );
        }
        other => panic!("orders: {other:?}"),
    }
    match &metric("temperature").data {
        Some(Data::Gauge(g)) => assert_eq!(
            g.data_points[0].value,
            Some(number_data_point::Value::AsDouble(21.5))
        ),
        other => panic!("temperature: {other:?}"),
    }
    match &metric("latency_ms").data {
        Some(Data::Histogram(h)) => {
            let p = &h.data_points[0];
            assert_eq!(
                (p.count, p.sum, p.min, p.max),
                (2, Some(707.0), Some(7.0), Some(700.0))
            );
            assert_eq!(p.bucket_counts.iter().sum::<u64>(), 2);
            assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
        }
        other => panic!("latency_ms: {other:?}"),
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn round_trip(
    backend: Backend,
    compression: Compression,
    want_type: &str,
    want_encoding: Option<&str>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = OtlpReceiver::start();
    let t = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .backend(backend)
        .compression(compression)
        .compression_threshold(0usize)
        .flush_interval(Duration::from_secs(3600))
        .build()
        .expect("build");
    assert!(t.is_enabled());
    send_everything(&t);
    t.flush(Duration::from_secs(10)).expect("flush");
    let captured = rx.captured();
    assert_eq!(captured.len(), 3, "one request per signal");
    for c in &captured {
        assert_eq!(c.content_type, want_type);
        assert_eq!(c.content_encoding.as_deref(), want_encoding);
        assert!(c.decoded.is_ok(), "{:?}", c.decoded);
        assert!(
            c.headers
                .iter()
                .any(|(k, v)| k == "user-agent" && v.starts_with("automagik-telemetry-rust/"))
        );
    }
    check_everything(&t, &collect(&rx.accepted()));
    let stats = t.stats();
    assert_eq!(stats.dropped_total(), 0);
    assert_eq!(
        stats.queued, 11,
        "1 event, 1 error, 5 metric measurements, 3 spans, 1 log"
    );
    t.shutdown(Duration::from_secs(5)).expect("shutdown");
}

#[test]
fn every_signal_protobuf_gzip() {
    round_trip(
        Backend::Otlp,
        Compression::Gzip,
        "application/x-protobuf",
        Some("gzip"),
    );
}

#[test]
fn every_signal_json_zstd() {
    round_trip(
        Backend::OtlpJson,
        Compression::Zstd,
        "application/json",
        Some("zstd"),
    );
}

#[test]
fn every_signal_json_plain() {
    round_trip(
        Backend::OtlpJson,
        Compression::None,
        "application/json",
        None,
    );
}

#[test]
fn json_body_uses_otlp_json_conventions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = OtlpReceiver::start();
    let t = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .backend(Backend::OtlpJson)
        .compression(Compression::None)
        .build()
        .expect("build");
    {
        let _s = t.span("json-span");
    }
    t.track_metric("big", 1.0, MetricKind::Counter, [("n", i64::MAX)]);
    t.flush(Duration::from_secs(10)).expect("flush");
    for c in rx.captured() {
        let v: serde_json::Value = serde_json::from_slice(&c.body).expect("json body");
        if c.path == "/v1/traces" {
            let s = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
            assert!(
                s["traceId"]
                    .as_str()
                    .is_some_and(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()))
            );
            assert!(s["startTimeUnixNano"].is_string(), "int64 as string");
            assert!(s["kind"].is_number(), "enums as integers");
        } else {
            let p =
                &v["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0];
            assert_eq!(
                p["attributes"][0]["value"]["intValue"],
                i64::MAX.to_string()
            );
        }
    }
}

#[test]
fn environment_configuration_reaches_the_wire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = OtlpReceiver::start();
    let endpoint = rx.endpoint();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-tenant=acme,authorization=Bearer%20abc",
        ),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging"),
        ("AUTOMAGIK_TELEMETRY_COMPRESSION", "none"),
    ];
    let t = crate::isolated(dir.path(), &env).build().expect("build");
    t.track_event("configured", attrs! {});
    t.flush(Duration::from_secs(10)).expect("flush");
    let c = &rx.captured()[0];
    assert!(c.headers.contains(&("x-tenant".into(), "acme".into())));
    assert!(
        c.headers
            .contains(&("authorization".into(), "Bearer abc".into()))
    );
    assert_eq!(c.content_encoding, None);
    let got = collect(&rx.accepted());
    assert_eq!(
        str_attr(&got.resources[0].attributes, "deployment.environment").as_deref(),
        Some("staging")
    );
}
