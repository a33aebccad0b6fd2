//! Cross-check by an implementation no one here wrote: protobuf payloads of every
//! signal captured from the SDK are decoded by the official Python
//! `opentelemetry-proto` package (`scripts/test` installs it in a virtualenv and sets
//! `AUTOMAGIK_TELEMETRY_TEST_PYTHON`).

use crate::isolated;
use automagik_telemetry::{Compression, MetricKind, Severity, SpanStatus, attrs};
use automagik_telemetry_testkit::OtlpReceiver;
use std::process::Command;
use std::time::Duration;

fn python() -> String {
    automagik_telemetry_testkit::test_python()
}

#[test]
fn official_python_opentelemetry_proto_decodes_every_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = OtlpReceiver::start();
    let t = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .compression(Compression::Gzip)
        .compression_threshold(0usize)
        .build()
        .expect("build");
    t.track_event("signup", attrs! { "plan" => "pro", "seats" => 3 });
    t.track_metric("orders", 2.0, MetricKind::Counter, [("region", "eu")]);
    t.track_metric("temperature", 21.5, MetricKind::Gauge, attrs! {});
    t.track_metric("latency_ms", 12.0, MetricKind::Histogram, attrs! {});
    {
        let _parent = t.span("parent");
        let mut child = t.span("child");
        child.set_status(SpanStatus::Error("boom".into()));
        t.track_log(Severity::Warn, "inside child", attrs! {});
    }
    t.flush(Duration::from_secs(10)).expect("flush");

    let out_dir = dir.path().join("payloads");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    for (i, c) in rx.captured().iter().enumerate() {
        let name = c.path.trim_start_matches("/v1/");
        std::fs::write(out_dir.join(format!("{name}-{i}.pb")), &c.body).expect("write payload");
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/decode_otlp.py");
    let out = Command::new(python()).arg(script).arg(&out_dir).output().unwrap_or_else(|e| {
        panic!("cannot run {}: {e}; run the tests through scripts/test, which installs the Python packages", python())
    });
    assert!(
        out.status.success(),
        "the official decoder refused our payloads: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("decoder prints JSON");

    let spans = v["spans"].as_array().expect("spans");
    let find = |n: &str| {
        spans
            .iter()
            .find(|s| s["name"] == n)
            .unwrap_or_else(|| panic!("span {n}"))
    };
    let (parent, child) = (find("parent"), find("child"));
    assert_eq!(child["parent_span_id"], parent["span_id"]);
    assert_eq!(child["trace_id"], parent["trace_id"]);
    assert_eq!(child["status_code"], 2);
    assert_eq!(parent["service_name"], "it-service");
    assert_eq!(parent["sdk_name"], "automagik-telemetry");

    let logs = v["logs"].as_array().expect("logs");
    let event = logs
        .iter()
        .find(|l| l["event_name"] == "signup")
        .expect("event");
    assert_eq!(event["attributes"]["plan"], "pro");
    assert_eq!(event["attributes"]["seats"], 3);
    let warn = logs
        .iter()
        .find(|l| l["severity_number"] == 13)
        .expect("warn");
    assert_eq!(warn["body"], "inside child");
    assert_eq!(warn["span_id"], child["span_id"]);

    let metrics = &v["metrics"];
    assert_eq!(metrics["orders"]["type"], "sum");
    assert_eq!(metrics["orders"]["monotonic"], true);
    assert_eq!(metrics["orders"]["values"][0], 2.0);
    assert_eq!(metrics["temperature"]["type"], "gauge");
    assert_eq!(metrics["temperature"]["values"][0], 21.5);
    assert_eq!(metrics["latency_ms"]["type"], "histogram");
    assert_eq!(metrics["latency_ms"]["counts"][0], 1);
    assert_eq!(metrics["latency_ms"]["sums"][0], 12.0);
}
