//! Metric values sent by the official OpenTelemetry SDKs, at their default (cumulative)
//! temporality and again with delta, read back exactly through the series API: counter
//! totals per attribute, up-down counters and gauges as current values, histogram and
//! exponential histogram percentiles within their bucket error, observable counters,
//! and a restart of the sending SDK (a new start time) counted as a reset. The Python
//! SDK sends over OTLP/HTTP and over OTLP/gRPC, the JavaScript SDK over OTLP/HTTP JSON.

use std::process::Command;

mod common;
use common::get_json;

#[derive(Clone, Copy)]
enum Client {
    PythonHttp,
    PythonGrpc,
    Node,
}

fn send(client: Client, base: &str, grpc: &str, mode: &str, delta: bool) {
    let mut cmd = match client {
        Client::PythonHttp | Client::PythonGrpc => {
            let mut c = Command::new(automagik_telemetry_testkit::test_python());
            c.arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/python/otel_metrics.py"
            ));
            if matches!(client, Client::PythonGrpc) {
                c.args(["grpc", &format!("http://{grpc}")]);
            } else {
                c.args(["http", base]);
            }
            c.arg(mode);
            c
        }
        Client::Node => {
            let mut c = Command::new("node");
            c.arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/node/otel_metrics.cjs"
            ))
            .args([base, mode])
            .env("NODE_PATH", common::node_modules());
            c
        }
    };
    cmd.env_remove("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE");
    if delta {
        cmd.env("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta");
    }
    let out = cmd.output().expect("run the client");
    assert!(
        out.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every series of `metric` over the last 30 minutes with `agg` (`step` seconds per
/// point), as (group, values of its steps).
fn series(
    base: &str,
    metric: &str,
    agg: &str,
    step: u32,
    group_by: Option<&str>,
) -> Vec<(String, Vec<f64>)> {
    let mut url = format!("{base}/api/v1/metrics/{metric}/series?from=-30m&step={step}s&agg={agg}");
    if let Some(g) = group_by {
        url.push_str(&format!("&group_by={g}"));
    }
    let body = get_json(&url, None);
    body["series"]
        .as_array()
        .unwrap_or_else(|| panic!("{metric}: {body}"))
        .iter()
        .map(|s| {
            let group = group_by
                .map(|g| s["group"][g].as_str().unwrap_or("null").to_string())
                .unwrap_or_default();
            let values: Vec<f64> = s["points"]
                .as_array()
                .expect("points")
                .iter()
                .map(|p| p["value"].as_f64().expect("a number"))
                .collect();
            (group, values)
        })
        .collect()
}

/// Totals per group of an aggregation that adds up across steps (sum, count), sorted.
fn totals(base: &str, metric: &str, agg: &str, group_by: Option<&str>) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = series(base, metric, agg, 60, group_by)
        .into_iter()
        .map(|(g, values)| (g, values.iter().sum()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn total(base: &str, metric: &str, agg: &str) -> f64 {
    let all = totals(base, metric, agg, None);
    assert_eq!(all.len(), 1, "{metric}: {all:?}");
    all[0].1
}

/// The value of an aggregation over the whole range, in one step (a day: from the hourly
/// rollups, whose steps start on the hour, or from the raw points).
fn whole(base: &str, metric: &str, agg: &str) -> f64 {
    let all = series(base, metric, agg, 86_400, None);
    assert_eq!(all.len(), 1, "{metric}: {all:?}");
    assert_eq!(all[0].1.len(), 1, "{metric} {agg}: one step: {all:?}");
    all[0].1[0]
}

fn check(client: Client, delta: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let grpc = format!("127.0.0.1:{}", common::free_port());
    let _server = common::Running(common::serve(
        dir.path(),
        port,
        &grpc,
        &["--fleet-interval", "off"],
    ));
    let base = format!("http://127.0.0.1:{port}");
    send(client, &base, &grpc, "first", delta);

    assert_eq!(
        totals(&base, "fid.counter", "sum", Some("route")),
        [("/a".to_string(), 16.0), ("/b".to_string(), 1.0)],
        "5 + 7 + 4 and 1"
    );
    // The default aggregation of a counter is its total.
    assert_eq!(total(&base, "fid.counter", ""), 17.0);
    assert_eq!(total(&base, "fid.obs_counter", "sum"), 300.0);
    // Current values: the default, and `last`.
    assert_eq!(whole(&base, "fid.updown", ""), 12.0, "+10 +5 -3");
    assert_eq!(whole(&base, "fid.updown", "last"), 12.0);
    assert_eq!(whole(&base, "fid.gauge", "last"), 43.0);

    // 1..=100 once each in the SDK's default buckets (.., 25, 50, 75, 100, ..).
    assert_eq!(total(&base, "fid.latency", "count"), 100.0);
    assert_eq!(total(&base, "fid.latency", "sum"), 5050.0);
    for (agg, want) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0)] {
        let got = whole(&base, "fid.latency", agg);
        assert!((got - want).abs() <= 25.0, "{agg}: {got} (bucket width 25)");
        // The same from the raw points (grouped by service: one group).
        let raw = series(&base, "fid.latency", agg, 86_400, Some("service.name"));
        assert!((raw[0].1[0] - want).abs() <= 25.0, "{agg} raw: {raw:?}");
    }
    let source = get_json(
        &format!("{base}/api/v1/metrics/fid.latency/series?from=-30m&step=86400s&agg=p95"),
        None,
    );
    assert_eq!(
        source["source"], "rollup_1h",
        "percentiles of histograms from rollups"
    );
    if !matches!(client, Client::Node) {
        // The Python SDK keeps exemplars of measurements made in a sampled span (the
        // JavaScript SDK records none): they come back with the series, with their ids.
        let body = get_json(
            &format!("{base}/api/v1/metrics/fid.latency/series?from=-30m&step=86400s&agg=p50"),
            None,
        );
        let exemplars = body["series"][0]["points"][0]["exemplars"]
            .as_array()
            .unwrap_or_else(|| panic!("exemplars: {body}"))
            .clone();
        assert!(!exemplars.is_empty());
        for e in &exemplars {
            assert_eq!(e["trace_id"].as_str().map(str::len), Some(32), "{e}");
            assert_eq!(e["span_id"].as_str().map(str::len), Some(16), "{e}");
            assert!(
                e["value"]
                    .as_f64()
                    .is_some_and(|v| (1.0..=100.0).contains(&v)),
                "{e}"
            );
        }
    }
    // 1..=1000 once each in an exponential histogram: within the bucket error, under
    // 10 % at the scales the SDKs pick for this range.
    assert_eq!(total(&base, "fid.exp", "count"), 1000.0);
    for (agg, want) in [("p50", 500.0), ("p95", 950.0), ("p99", 990.0)] {
        let got = whole(&base, "fid.exp", agg);
        assert!((got / want - 1.0).abs() < 0.1, "{agg}: {got} vs {want}");
    }

    // The sending SDK restarts (a new start time): a reset, not a negative increase.
    send(client, &base, &grpc, "restart", delta);
    let counter = totals(&base, "fid.counter", "sum", Some("route"));
    assert_eq!(counter[0], ("/a".to_string(), 19.0));
}

#[test]
fn python_sdk_over_http_cumulative() {
    check(Client::PythonHttp, false);
}

#[test]
fn python_sdk_over_http_delta() {
    check(Client::PythonHttp, true);
}

#[test]
fn python_sdk_over_grpc_cumulative() {
    check(Client::PythonGrpc, false);
}

#[test]
fn python_sdk_over_grpc_delta() {
    check(Client::PythonGrpc, true);
}

#[test]
fn javascript_sdk_cumulative() {
    check(Client::Node, false);
}

#[test]
fn javascript_sdk_delta() {
    check(Client::Node, true);
}
