//! Redaction on ingest with a client no one here wrote: the official OpenTelemetry
//! Python SDK (`tests/python/otel_pii.py`, its default OTLP/HTTP exporters) sends a span
//! and a log record holding an e-mail address, a token in `http.url`, a card number and
//! a bearer JWT. A default `serve` stores them redacted with typed markers and counts the
//! replacements on `/metrics`; `serve --redact off` stores them as sent. `scripts/test`
//! installs the SDK (`scripts/setup-python`) and sets `AUTOMAGIK_TELEMETRY_TEST_PYTHON`.

use std::process::Command;

mod common;
use common::get_json;

/// What the client sent, and what the query API and `/metrics` of a fresh `serve`
/// started with `extra` flags returned: the span, its log record, the metrics text.
struct RoundTrip {
    sent: serde_json::Value,
    span: serde_json::Value,
    log: serde_json::Value,
    metrics: String,
}

fn round_trip(extra: &[&str]) -> RoundTrip {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let flags: Vec<&str> = ["--fleet-interval", "off"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let _server = common::Running(common::serve(dir.path(), port, "off", &flags));
    let base = format!("http://127.0.0.1:{port}");
    let out = Command::new(automagik_telemetry_testkit::test_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/otel_pii.py"
        ))
        .arg(&base)
        .output()
        .expect("run the client");
    assert!(
        out.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sent");
    let trace_id = sent["trace_id"].as_str().expect("trace id");
    let trace = get_json(&format!("{base}/api/v1/traces/{trace_id}"), None);
    let spans = trace["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 1, "{trace}");
    let logs = get_json(&format!("{base}/api/v1/logs?trace_id={trace_id}"), None);
    let items = logs["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{logs}");
    let metrics = ureq::get(format!("{base}/metrics"))
        .call()
        .expect("metrics")
        .into_body()
        .read_to_string()
        .expect("text");
    RoundTrip {
        span: spans[0].clone(),
        log: items[0].clone(),
        sent,
        metrics,
    }
}

/// The message of the span's `exception` event.
fn exception_message(span: &serde_json::Value) -> &str {
    span["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["name"] == "exception")
        .and_then(|e| e["attributes"]["exception.message"].as_str())
        .unwrap_or_else(|| panic!("no exception event: {span}"))
}

#[test]
fn official_python_sdk_data_is_redacted_on_ingest_by_default() {
    let RoundTrip {
        sent,
        span,
        log,
        metrics,
    } = round_trip(&[]);
    let a = &span["attributes"];
    assert_eq!(a["user.email"], "[REDACTED:email]");
    assert_eq!(
        a["http.url"],
        "https://api.example.com/v1/items?access_token=[REDACTED:token]"
    );
    assert_eq!(a["card"], "[REDACTED:card]");
    assert_eq!(span["status_message"], "card [REDACTED:card] declined");
    assert_eq!(exception_message(&span), "no user [REDACTED:email]");
    assert_eq!(
        log["body"],
        "login failed for [REDACTED:email] password=[REDACTED:secret]; Authorization: Bearer [REDACTED:jwt]"
    );
    // Identity stays readable.
    assert_eq!(span["name"], "pii-span");
    assert_eq!(span["service_name"], "pii-client");
    assert_eq!(log["service_name"], "pii-client");

    // None of the secrets is stored anywhere in the span or the log record.
    let stored = format!("{span}{log}");
    for key in ["email", "card", "jwt", "password"] {
        let secret = sent[key].as_str().expect("secret");
        assert!(!stored.contains(secret), "{key} stored: {stored}");
    }
    assert!(!stored.contains("abcdef1234567890abcdef"), "{stored}");

    for line in [
        "automagik_telemetry_redactions_total{rule=\"token\"} 1",
        "automagik_telemetry_redactions_total{rule=\"jwt\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
    for rule in ["email", "card"] {
        let prefix = format!("automagik_telemetry_redactions_total{{rule=\"{rule}\"}} ");
        let n: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{rule} not counted:\n{metrics}"));
        assert!(n >= 2, "{rule}: {n}");
    }
}

#[test]
fn with_redact_off_official_python_sdk_data_comes_back_as_sent() {
    let RoundTrip {
        sent,
        span,
        log,
        metrics,
    } = round_trip(&["--redact", "off"]);
    let a = &span["attributes"];
    assert_eq!(a["user.email"], sent["email"]);
    assert_eq!(a["http.url"], sent["url"]);
    assert_eq!(a["card"], sent["card"]);
    assert_eq!(span["status_message"], sent["status"]);
    assert_eq!(
        exception_message(&span),
        sent["exception"].as_str().expect("sent")
    );
    assert_eq!(log["body"], sent["body"]);
    assert!(
        !metrics.contains("automagik_telemetry_redactions_total{"),
        "{metrics}"
    );
}
