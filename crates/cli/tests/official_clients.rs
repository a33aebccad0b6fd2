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

    let metrics = get_json(&format!("{base}/api/v1/metrics"), None);
    let names: Vec<(&str, &str)> = metrics["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or(""),
                m["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        names,
        [("node.latency_ms", "histogram"), ("node.requests", "sum")]
    );
    let series = get_json(
        &format!("{base}/api/v1/metrics/node.requests/series?from=-1h&agg=sum"),
        None,
    );
    assert_eq!(series["series"][0]["points"][0]["value"], 7.0);
    let services = get_json(&format!("{base}/api/v1/services"), None);
    assert_eq!(services["items"], serde_json::json!(["node-client"]));
}
