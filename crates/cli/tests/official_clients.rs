//! Real clients no one here wrote send to a running `serve`: the official OpenTelemetry
//! Python SDK with its OTLP/HTTP (protobuf) exporters, and the official JavaScript SDK
//! with its OTLP/HTTP JSON exporters. The tests read the data back through the query
//! API. `scripts/test` installs both (`scripts/setup-python`, `scripts/setup-node`) and
//! sets `AUTOMAGIK_TELEMETRY_TEST_PYTHON` and `AUTOMAGIK_TELEMETRY_TEST_NODE_MODULES`.

use std::process::Command;

mod common;
use common::get_json;

/// Runs an official client (`cmd BASE_URL`) against a fresh `serve`, and returns the
/// base URL, the ids and times the client printed, and the stored spans named `parent`
/// and `child` of its trace, after checking the parent link both ways.
fn round_trip(
    dir: &std::path::Path,
    mut cmd: Command,
    parent: &str,
    child: &str,
) -> (
    common::Running,
    String,
    serde_json::Value,
    serde_json::Value,
    serde_json::Value,
) {
    let port = common::free_port();
    // Without fleet snapshots: the tests count exactly what the client sent.
    let server = common::Running(common::serve(
        dir,
        port,
        "off",
        &["--fleet-interval", "off"],
    ));
    let base = format!("http://127.0.0.1:{port}");
    let out = cmd.arg(&base).output().expect("run the client");
    assert!(
        out.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ids");
    let trace_id = ids["trace_id"].as_str().expect("trace id");
    let trace = get_json(&format!("{base}/api/v1/traces/{trace_id}"), None);
    let spans = trace["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 2);
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("span {name}"))
            .clone()
    };
    let (p, c) = (find(parent), find(child));
    assert_eq!(p["span_id"], ids["parent"]);
    assert_eq!(c["span_id"], ids["child"]);
    assert_eq!(c["parent_span_id"], ids["parent"]);
    assert!(p["parent_span_id"].is_null());
    (server, base, ids, p, c)
}

#[test]
fn official_python_sdk_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let python = automagik_telemetry_testkit::test_python();
    let mut cmd = Command::new(&python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/otel_client.py"
    ));
    let (_server, base, ids, parent, child) = round_trip(dir.path(), cmd, "py-parent", "py-child");
    assert_eq!(parent["service_name"], "python-client");
    assert_eq!(parent["attributes"]["http.route"], "/py");
    assert_eq!(child["attributes"]["items"], 3);
    assert_eq!(child["events"][0]["name"], "py-event");
    assert_eq!(child["events"][0]["attributes"]["ok"], true);
    let start: u64 = parent["start_time_unix_nano"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("start");
    assert_eq!(start, ids["parent_start"].as_u64().expect("python start"));
    let end: u64 = child["end_time_unix_nano"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("end");
    assert_eq!(end, ids["child_end"].as_u64().expect("python end"));

    let stats = get_json(&format!("{base}/api/v1/stats"), None);
    assert_eq!(stats["spans"], 2);
    assert_eq!(stats["logs"], 1);
    assert_eq!(stats["metric_points"], 1);
    let services = get_json(&format!("{base}/api/v1/services"), None);
    assert_eq!(services["items"], serde_json::json!(["python-client"]));
}

#[test]
fn official_node_sdk_round_trip_over_otlp_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let modules = common::node_modules();
    let mut cmd = Command::new("node");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/node/otel_client.cjs"
    ))
    .env("NODE_PATH", &modules);
    let (_server, base, ids, parent, child) =
        round_trip(dir.path(), cmd, "node-parent", "node-child");
    let trace_id = ids["trace_id"].as_str().expect("trace id");
    assert_eq!(parent["kind"], 2, "SERVER");
    assert_eq!(parent["service_name"], "node-client");
    assert_eq!(parent["attributes"]["http.route"], "/node");
    assert_eq!(child["attributes"]["items"], 4);
    assert_eq!(child["attributes"]["ratio"], 0.5);
    assert_eq!(child["attributes"]["ok"], true);
    assert_eq!(child["events"][0]["name"], "node-event");
    assert_eq!(child["events"][0]["attributes"]["step"], "one");
    assert_eq!(
        (
            child["status_code"].as_i64(),
            child["status_message"].as_str()
        ),
        (Some(2), Some("node failure"))
    );
    assert_eq!(parent["start_time_unix_nano"], ids["parent_start"]);
    assert_eq!(child["end_time_unix_nano"], ids["child_end"]);

    let logs = get_json(&format!("{base}/api/v1/logs?trace_id={trace_id}"), None);
    let log = &logs["items"][0];
    assert_eq!(log["body"], "node says hello");
    assert_eq!(log["severity_number"], 13);
    assert_eq!(log["span_id"], ids["parent"]);
    assert_eq!(log["attributes"]["order.id"], "o-17");
    assert_eq!(log["service_name"], "node-client");

    let names = metric_names(&base);
    assert_eq!(
        names,
        [("node.latency_ms", "histogram"), ("node.requests", "sum")]
            .map(|(n, k)| (n.to_string(), k.to_string()))
    );
    let series = get_json(
        &format!("{base}/api/v1/metrics/node.requests/series?from=-1h&agg=sum"),
        None,
    );
    assert_eq!(series["series"][0]["points"][0]["value"], 7.0);
    let services = get_json(&format!("{base}/api/v1/services"), None);
    assert_eq!(services["items"], serde_json::json!(["node-client"]));
}

/// Starts a fresh `serve` (redaction in its default mode), runs an official client
/// (`cmd BASE_URL`) against it, and returns the server, its base URL and what the
/// client printed.
fn run_client(
    dir: &std::path::Path,
    mut cmd: Command,
) -> (common::Running, String, serde_json::Value) {
    let port = common::free_port();
    let server = common::Running(common::serve(
        dir,
        port,
        "off",
        &["--fleet-interval", "off"],
    ));
    let base = format!("http://127.0.0.1:{port}");
    let out = cmd.arg(&base).output().expect("run the client");
    assert!(
        out.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = serde_json::from_slice(&out.stdout).expect("what the client sent");
    (server, base, sent)
}

/// The official Python SDK's span link (with its attributes and flags), the span's trace
/// state, flags, scope, resource and dropped count, and log records with map bodies
/// (through the logs API and through the standard library's logging) come back through
/// the query API, structured; link attributes and structured bodies are redacted like
/// every other value.
#[test]
fn official_python_sdk_links_and_structured_log_bodies_round_trip() {
    use serde_json::json;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(automagik_telemetry_testkit::test_python());
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/otel_links_bodies.py"
    ));
    let (_server, base, sent) = run_client(dir.path(), cmd);
    let trace_id = sent["trace_id"].as_str().expect("trace id");
    let trace = get_json(&format!("{base}/api/v1/traces/{trace_id}"), None);
    let span = &trace["spans"][0];
    assert_eq!(span["name"], "py-consume");
    assert_eq!(span["span_id"], sent["span_id"]);
    assert_eq!(span["parent_span_id"], sent["parent_span_id"]);
    assert_eq!(span["trace_state"], "vendor=v1,other=x");
    assert_eq!(span["flags"], 0x300, "the parent is known to be remote");
    assert_eq!(
        (&span["scope_name"], &span["scope_version"]),
        (&json!("links-check"), &json!("1.4.2"))
    );
    assert_eq!(span["dropped_attributes_count"], 1, "over the span limit");
    assert_eq!(span["attributes"], json!({"b": 2, "c": 3}));
    assert_eq!(span["resource"]["service.name"], "python-links");
    assert_eq!(span["resource"]["deployment.environment.name"], "test");
    assert_eq!(
        span["links"],
        json!([{
            "trace_id": sent["link_trace_id"],
            "span_id": sent["link_span_id"],
            // The Python SDK sends no trace state for links.
            "trace_state": "",
            "attributes": {
                "link.kind": "follows_from",
                "messaging.batch.size": 3,
                "peer.email": "[REDACTED:email]",
            },
            "flags": 0x300,
            "dropped_attributes_count": 0,
        }])
    );

    let logs = get_json(&format!("{base}/api/v1/logs?trace_id={trace_id}"), None);
    let items = logs["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{logs}");
    let event = items
        .iter()
        .find(|l| l["event_name"] == "order.placed")
        .expect("the record sent through the logs API");
    assert_eq!(
        event["body"],
        json!({
            "order": {"id": "o-17", "items": [1, 2]},
            "user": "[REDACTED:email]",
            "ok": true,
            "ratio": 0.5,
        })
    );
    assert_eq!(event["body_type"], "kvlist");
    assert_eq!(
        (&event["severity_text"], &event["severity_number"]),
        (&json!("WARN"), &json!(13))
    );
    assert_eq!(event["time_unix_nano"], sent["log_time"]);
    assert_eq!(event["observed_time_unix_nano"], sent["log_observed_time"]);
    assert_eq!(
        (&event["scope_name"], &event["scope_version"]),
        (&json!("orders"), &json!("2.0.1"))
    );
    assert_eq!(event["flags"], 1, "sampled");
    assert_eq!(event["span_id"], sent["span_id"]);
    assert_eq!(event["attributes"]["order.channel"], "web");
    assert_eq!(event["resource"]["service.name"], "python-links");
    let logged = items
        .iter()
        .find(|l| l["event_name"].is_null())
        .expect("the record sent through logging");
    assert_eq!(logged["body"], json!({"step": "charged", "amount": 12}));
    assert_eq!(logged["scope_name"], "links-check.stdlib");
    // Search reads structured bodies.
    let found = get_json(&format!("{base}/api/v1/logs?q=charged"), None);
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
    let none = get_json(&format!("{base}/api/v1/logs?q=ada%40example.com"), None);
    assert_eq!(none["items"], json!([]), "the e-mail address was redacted");
}

/// The official JavaScript SDK's span link (with the producer's trace state) and a log
/// record with a map body, sent as OTLP/HTTP JSON, come back through the query API.
#[test]
fn official_node_sdk_links_and_structured_log_bodies_round_trip_over_otlp_json() {
    use serde_json::json;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new("node");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/node/otel_links_bodies.cjs"
    ))
    .env("NODE_PATH", common::node_modules());
    let (_server, base, sent) = run_client(dir.path(), cmd);
    let trace_id = sent["trace_id"].as_str().expect("trace id");
    let trace = get_json(&format!("{base}/api/v1/traces/{trace_id}"), None);
    let span = &trace["spans"][0];
    assert_eq!(span["name"], "node-handle");
    assert_eq!(
        span["flags"], 0x101,
        "sampled, the parent known not to be remote"
    );
    assert_eq!(
        (&span["scope_name"], &span["scope_version"]),
        (&json!("node-links-check"), &json!("3.0.0"))
    );
    assert_eq!(
        span["links"],
        json!([{
            "trace_id": sent["link_trace_id"],
            "span_id": sent["link_span_id"],
            "trace_state": "producer=p1",
            "attributes": {"link.kind": "follows_from", "attempt": 2},
            "flags": 0x301,
            "dropped_attributes_count": 0,
        }])
    );
    let logs = get_json(&format!("{base}/api/v1/logs?trace_id={trace_id}"), None);
    let log = &logs["items"][0];
    assert_eq!(
        log["body"],
        json!({"order": {"id": "o-9", "lines": [3, "gift"]}, "paid": true})
    );
    assert_eq!(log["body_type"], "kvlist");
    assert_eq!(log["event_name"], "order.paid");
    assert_eq!(
        (&log["scope_name"], &log["scope_version"]),
        (&json!("node-orders"), &json!("1.1.0"))
    );
    assert_eq!(log["flags"], 1);
    assert_eq!(log["span_id"], sent["span_id"]);
}

/// OTLP/JSON as a protobuf library's JSON printer writes it (the official Python SDK's
/// requests, printed by protobuf's `json_format`): enum values by name
/// (`"kind": "SPAN_KIND_SERVER"`, `"code": "STATUS_CODE_ERROR"`,
/// `"severityNumber": "SEVERITY_NUMBER_WARN"`, `"aggregationTemporality":
/// "AGGREGATION_TEMPORALITY_CUMULATIVE"`), once with lowerCamelCase field names and once
/// with the proto field names (`resource_spans`, `start_time_unix_nano`). The Collector
/// accepts both, and so does `serve`: every span, log record and metric point is stored
/// with its enum values.
#[test]
fn otlp_json_with_enum_names_and_proto_field_names_is_accepted() {
    use serde_json::json;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(automagik_telemetry_testkit::test_python());
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/protobuf_json_names.py"
    ));
    let (_server, base, sent) = run_client(dir.path(), cmd);
    for style in ["camel", "snake"] {
        let trace_id = sent[style]["trace_id"].as_str().expect("trace id");
        let service = sent[style]["service"].as_str().expect("service");
        let trace = get_json(&format!("{base}/api/v1/traces/{trace_id}"), None);
        let spans = trace["spans"].as_array().expect("spans");
        let find = |name: &str| {
            spans
                .iter()
                .find(|s| s["name"] == name)
                .unwrap_or_else(|| panic!("{style}: span {name} in {trace}"))
        };
        let (handle, call) = (find("handle"), find("call"));
        assert_eq!(handle["kind"], 2, "{style}: SPAN_KIND_SERVER");
        assert_eq!(handle["service_name"], service);
        assert_eq!(call["kind"], 3, "{style}: SPAN_KIND_CLIENT");
        assert_eq!(call["parent_span_id"], handle["span_id"], "{style}");
        assert_eq!(
            (&call["status_code"], &call["status_message"]),
            (&json!(2), &json!("upstream refused")),
            "{style}: STATUS_CODE_ERROR"
        );
        // Times past 2^53 come back as strings.
        let start: u64 = handle["start_time_unix_nano"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        assert!(start > 1_700_000_000_000_000_000, "{style}: {handle}");

        let logs = get_json(&format!("{base}/api/v1/logs?service={service}"), None);
        let items = logs["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{style}: {logs}");
        assert_eq!(items[0]["body"], "disk nearly full");
        assert_eq!(
            items[0]["severity_number"], 13,
            "{style}: SEVERITY_NUMBER_WARN"
        );
    }
    let names = metric_names(&base);
    assert_eq!(
        names,
        [("names.latency", "histogram"), ("names.requests", "sum")]
            .map(|(n, k)| (n.to_string(), k.to_string()))
    );
    // One cumulative point of 5 from each style, counted in full (the counters started
    // while the server ran).
    let series = get_json(
        &format!("{base}/api/v1/metrics/names.requests/series?from=-1h&agg=sum"),
        None,
    );
    let total: f64 = series["series"]
        .as_array()
        .expect("series")
        .iter()
        .flat_map(|s| s["points"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["value"].as_f64())
        .sum();
    assert_eq!(total, 10.0, "{series}");
}

/// The metrics the API lists, as `(name, kind)`.
fn metric_names(base: &str) -> Vec<(String, String)> {
    let metrics = get_json(&format!("{base}/api/v1/metrics"), None);
    metrics["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| {
            let text = |k: &str| m[k].as_str().unwrap_or("").to_string();
            (text("name"), text("kind"))
        })
        .collect()
}
