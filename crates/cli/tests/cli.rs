//! The binary as a user runs it: `serve` (on SQLite, and on the real ClickHouse engine),
//! then `send-test`, then `query` for every signal; tokens; OTLP/gRPC; consent; redact.

use automagik_telemetry_testkit::clickhouse::ClickHouse;
use automagik_telemetry_testkit::http::StaticServer;
use automagik_telemetry_testkit::kafka::Broker;
use common::{Running, command, free_port, ok, run, serve};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

mod common;

fn query_json(base: &str, args: &[&str]) -> Value {
    let mut all = vec!["query"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--endpoint", base, "--json"]);
    serde_json::from_str(&ok(&all)).expect("json")
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i[key].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn serve_then_send_test_then_query_every_signal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(dir.path(), port, "off", &[]));
    let base = format!("http://127.0.0.1:{port}");
    send_test_then_query_every_signal(&base);
    send_test_agrees_with_itself(&base);
    query_messages_speak_in_flags(&base);
}

/// The value of the first point of the series of `group` in `series` (a series answer).
fn series_value(series: &Value, group: &str) -> f64 {
    series["series"]
        .as_array()
        .expect("series")
        .iter()
        .find(|s| {
            s["group"].as_object().and_then(|g| g.values().next()) == Some(&Value::from(group))
        })
        .and_then(|s| s["points"][0]["value"].as_f64())
        .unwrap_or_else(|| panic!("{group} in {series}"))
}

/// `send-test`'s histogram values are the durations of the spans they describe, and the
/// failing payment's attempts are its spans.
fn send_test_agrees_with_itself(base: &str) {
    let traces = query_json(base, &["traces"]);
    let histogram = query_json(
        base,
        &[
            "metrics",
            "http.server.request.duration_ms",
            "--group-by",
            "http.route",
            "--agg",
            "max",
        ],
    );
    for (root, route) in [
        ("GET /checkout", "/checkout"),
        ("POST /payments", "/payments"),
    ] {
        let trace = traces["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|t| t["name"] == root)
            .unwrap_or_else(|| panic!("{root} in {traces}"));
        let span_ms = trace["duration_ms"].as_f64().expect("duration");
        let recorded = series_value(&histogram, route);
        // The same request measured twice, by its span and for its histogram.
        assert!(
            (span_ms * 0.5..=span_ms * 2.0).contains(&recorded),
            "{root}: span {span_ms} ms, histogram {recorded} ms"
        );
        if root == "POST /payments" {
            assert!(span_ms >= 80.0, "two attempts of 40 ms: {span_ms} ms");
            let detail = query_json(base, &["traces", trace["trace_id"].as_str().expect("id")]);
            let attempts: Vec<&Value> = detail["spans"]
                .as_array()
                .expect("spans")
                .iter()
                .filter(|s| s["name"] == "charge-card")
                .collect();
            assert_eq!(attempts.len(), 2, "{detail}");
            assert!(attempts.iter().all(|s| s["status_code"] == 2), "{detail}");
        }
    }
}

/// The CLI's own words: errors name its flags, an unknown metric is an error, a series
/// without `--group-by` has no GROUP column.
fn query_messages_speak_in_flags(base: &str) {
    let failed = |args: &[&str]| {
        let mut all = vec!["query"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--endpoint", base]);
        let out = run(&all);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let unknown = failed(&["metrics", "no.such.metric"]);
    assert!(
        unknown.contains("no metric named \"no.such.metric\" is stored"),
        "{unknown}"
    );
    let unknown = failed(&["metrics", "no.such.metric", "--json"]);
    assert!(unknown.contains("no.such.metric"), "{unknown}");
    let close = failed(&["metrics", "orders"]);
    assert!(close.contains("did you mean orders.placed?"), "{close}");

    let severity = failed(&["logs", "--severity", "bogus"]);
    assert!(severity.contains("--severity"), "{severity}");
    assert!(!severity.contains("severity_min"), "{severity}");
    let from = failed(&["traces", "--from", "yesterday"]);
    assert!(from.contains("--from: expected RFC 3339"), "{from}");

    let table = ok(&["query", "metrics", "orders.placed", "--endpoint", base]);
    let header = table.lines().next().expect("header");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["TIME", "VALUE"]
    );
    assert!(!table.contains("{}"), "{table}");
    let grouped = ok(&[
        "query",
        "metrics",
        "orders.placed",
        "--group-by",
        "region",
        "--endpoint",
        base,
    ]);
    let header = grouped.lines().next().expect("header");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["TIME", "GROUP", "VALUE"]
    );
    for region in ["eu", "us"] {
        assert!(
            grouped
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().any(|w| w == region)),
            "{grouped}"
        );
    }
}

#[test]
fn the_same_on_the_clickhouse_store() {
    let engine = ClickHouse::start().expect("start the ClickHouse engine");
    let storage = engine.storage_url("e2e");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(dir.path(), port, "off", &["--storage", &storage]));
    send_test_then_query_every_signal(&format!("http://127.0.0.1:{port}"));
    let ready = ureq::get(format!("http://127.0.0.1:{port}/readyz"))
        .call()
        .expect("readyz")
        .into_body()
        .read_to_string()
        .expect("body");
    assert_eq!(ready, "ready");
    assert!(
        std::fs::read_dir(dir.path())
            .expect("data dir")
            .next()
            .is_none(),
        "nothing written to the SQLite data directory"
    );
}

fn send_test_then_query_every_signal(base: &str) {
    let base = base.to_string();
    let sent = ok(&["send-test", "--endpoint", &base]);
    assert!(sent.starts_with("sent "), "{sent}");

    let traces = query_json(&base, &["traces"]);
    let mut roots = names(&traces, "name");
    roots.sort();
    assert_eq!(
        roots,
        ["GET /checkout", "POST /payments", "invoke_agent planner"]
    );
    let checkout = traces["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["name"] == "GET /checkout")
        .expect("checkout trace");
    assert_eq!(checkout["span_count"], 3);
    assert_eq!(checkout["service_name"], "send-test");
    let trace = query_json(
        &base,
        &["traces", checkout["trace_id"].as_str().expect("id")],
    );
    let spans = trace["spans"].as_array().expect("spans");
    let root_id = spans[0]["span_id"].clone();
    assert!(spans[1..].iter().all(|s| s["parent_span_id"] == root_id));
    assert_eq!(
        spans[0]["attributes"]["user.email"], "[REDACTED:email]",
        "PII never leaves the process"
    );

    let logs = query_json(&base, &["logs"]);
    let severities: Vec<&str> = logs["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|l| l["severity_text"].as_str())
        .collect();
    for s in ["INFO", "WARN", "ERROR"] {
        assert!(severities.contains(&s), "{s} in {severities:?}");
    }
    let events = query_json(&base, &["events"]);
    let events = names(&events, "event_name");
    for e in [
        "user.signup",
        "feature.used",
        "agent.decision",
        "agent.error",
        "agent.success",
    ] {
        assert!(events.iter().any(|n| n == e), "{e} in {events:?}");
    }
    let metrics = query_json(&base, &["metrics"]);
    // Besides the server's own fleet gauges (`fleet.*`), collected at start.
    let sent: Vec<String> = names(&metrics, "name")
        .into_iter()
        .filter(|n| !n.starts_with("fleet."))
        .collect();
    assert_eq!(
        sent,
        [
            "http.server.request.duration_ms",
            "orders.placed",
            "queue.depth"
        ]
    );
    let series = query_json(&base, &["metrics", "orders.placed", "--from", "-1h"]);
    let total: f64 = series["series"][0]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["value"].as_f64().expect("value"))
        .sum();
    assert_eq!(total, 3.0, "three orders, counted as a sum");

    let runs = query_json(&base, &["runs"]);
    assert_eq!(names(&runs, "agent_name"), ["planner"]);
    let run = &runs["items"][0];
    assert_eq!(run["status"], "completed");
    assert_eq!(run["quality_score"], 0.92);
    let detail = query_json(
        &base,
        &["runs", run["correlation_id"].as_str().expect("id")],
    );
    let kinds: Vec<&str> = detail["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["action_type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        kinds,
        [
            "tool_call",
            "tool_call",
            "error",
            "tool_call",
            "decision",
            "success"
        ]
    );

    let ops = query_json(&base, &["operations"]);
    assert!(names(&ops, "operation").contains(&"charge-card".to_string()));

    // Filters reach the API.
    let errors = query_json(&base, &["logs", "--severity", "error"]);
    assert!(
        errors["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|l| l["severity_number"].as_i64() >= Some(17))
    );
    let failed = query_json(&base, &["traces", "--status", "error"]);
    assert_eq!(names(&failed, "name"), ["POST /payments"]);
    let signups = query_json(&base, &["events", "--name", "user.signup"]);
    assert_eq!(signups["items"].as_array().expect("items").len(), 1);
    let found = query_json(&base, &["logs", "--search", "attempts"]);
    assert_eq!(names(&found, "body"), ["payment failed after 2 attempts"]);

    // The table form, as a person reads it.
    let table = ok(&["query", "runs", "--endpoint", &base]);
    assert!(table.starts_with("START"), "{table}");
    assert!(
        table.contains("planner") && table.contains("completed"),
        "{table}"
    );
}

#[test]
fn tokens_on_the_real_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A non-loopback address without a token: refused before anything listens.
    let out = command()
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--http-addr", "0.0.0.0:0", "--grpc-addr", "off"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without access tokens"));

    let port = free_port();
    let token = "cli-token-0123456789abcdef";
    let _server = Running(serve(dir.path(), port, "off", &["--token", token]));
    let base = format!("http://127.0.0.1:{port}");
    let refused = run(&["send-test", "--endpoint", &base]);
    assert!(!refused.status.success(), "no token: nothing accepted");
    let wrong = run(&[
        "query",
        "traces",
        "--endpoint",
        &base,
        "--token",
        "not-the-token-123456",
    ]);
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("HTTP 401"));
    ok(&["send-test", "--endpoint", &base, "--token", token]);
    let traces = query_json(&base, &["traces", "--token", token]);
    assert_eq!(traces["items"].as_array().expect("items").len(), 3);
    // The token is never printed.
    let help = ok(&["serve", "--help"]);
    assert!(!help.contains(token));
}

#[test]
fn otlp_grpc_with_gzip_and_tokens() {
    use automagik_telemetry_testkit::build::{string_kv, trace_request};
    use opentelemetry_proto::tonic::trace::v1::Span;
    let dir = tempfile::tempdir().expect("tempdir");
    let (http, grpc) = (free_port(), free_port());
    let token = "grpc-token-0123456789abcdef";
    let _server = Running(serve(
        dir.path(),
        http,
        &format!("127.0.0.1:{grpc}"),
        &["--token", token],
    ));
    let start = automagik_telemetry_testkit::now_ns();
    let request = || {
        trace_request(
            "grpc-client",
            vec![Span {
                trace_id: vec![0x42; 16],
                span_id: vec![0x24; 8],
                name: "over-grpc".into(),
                start_time_unix_nano: start,
                end_time_unix_nano: start + 250_000_000,
                attributes: vec![string_kv("transport", "grpc")],
                ..Default::default()
            }],
        )
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut client = TraceServiceClient::connect(format!("http://127.0.0.1:{grpc}"))
            .await
            .expect("connect")
            .send_compressed(tonic::codec::CompressionEncoding::Gzip);
        let denied = client.export(request()).await.expect_err("no token");
        assert_eq!(denied.code(), tonic::Code::Unauthenticated);
        let mut req = tonic::Request::new(request());
        req.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("metadata"),
        );
        let resp = client.export(req).await.expect("export").into_inner();
        assert!(resp.partial_success.is_none());
    });
    let base = format!("http://127.0.0.1:{http}");
    let trace = query_json(&base, &["traces", &"42".repeat(16), "--token", token]);
    assert_eq!(trace["spans"][0]["name"], "over-grpc");
    assert_eq!(trace["spans"][0]["service_name"], "grpc-client");
    assert_eq!(trace["spans"][0]["attributes"]["transport"], "grpc");
    assert_eq!(trace["spans"][0]["start_time_unix_nano"], start.to_string());
}

#[test]
fn consent_changes_the_opt_out_file_and_send_test_respects_it() {
    let home = tempfile::tempdir().expect("home");
    let with_home = |args: &[&str]| {
        command()
            .env("HOME", home.path())
            .args(args)
            .output()
            .expect("run")
    };
    let file = home.path().join(".automagik-no-telemetry");
    let out = with_home(&["consent", "revoke"]);
    assert!(out.status.success());
    assert!(file.exists());
    let status = String::from_utf8(with_home(&["consent", "status"]).stdout).expect("utf-8");
    assert!(
        status.contains("present") && status.contains("disabled"),
        "{status}"
    );
    let refused = with_home(&["send-test", "--endpoint", "http://127.0.0.1:9"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("opt-out file"));
    assert!(with_home(&["consent", "grant"]).status.success());
    assert!(!file.exists());
    let status = String::from_utf8(with_home(&["consent", "status"]).stdout).expect("utf-8");
    assert!(status.contains("absent"), "{status}");
}

#[test]
fn redact_reads_stdin() {
    let mut child = command()
        .arg("redact")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"contact jane.doe@example.com\nnothing here\n")
        .expect("write");
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text, "contact [REDACTED:email]\nnothing here\n");
}

/// `automagik-telemetry <args>` with `input` on standard input, to its end.
fn with_stdin(args: &[&str], input: &str) -> std::process::Output {
    let mut child = command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("output")
}

#[test]
fn redact_replaces_whole_pem_keys_and_short_basic_values_and_explains_its_rules() {
    let input = "deploy key:\n\
        -----BEGIN RSA PRIVATE KEY-----\n\
        MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MaGBir/JXHFOqX3P\n\
        q9Hh3IwdRzBkbo8sTPR1bD3QMNPPEmE0ZiLxrKDEOGOzSmO8Ay5VO5ZDWkSvsZuD\n\
        -----END RSA PRIVATE KEY-----\n\
        Authorization: Basic dXNlcjpwYXNz\n\
        login failed password=hunter2\n\
        -----BEGIN PRIVATE KEY-----\n\
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n\
        upload done\n";
    let out = with_stdin(&["redact", "--explain"], input);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    // The whole key (BEGIN line, body, END line) is one marker; a key whose END line is
    // missing ends at the first line that is not a key's.
    assert_eq!(
        text,
        "deploy key:\n\
         [REDACTED:private_key]\n\
         Authorization: Basic [REDACTED:bearer]\n\
         login failed password=[REDACTED:secret]\n\
         [REDACTED:private_key]\n\
         upload done\n"
    );
    let explained = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(
        explained.lines().collect::<Vec<_>>(),
        [
            "rule=private_key kind=private_key at=2:1 chars=191",
            "rule=basic kind=bearer at=6:22 chars=12",
            "rule=key_value kind=secret at=7:23 chars=7",
            "rule=private_key kind=private_key at=8:1 chars=60",
        ]
    );
    for secret in ["MIIE", "dXNlcjpwYXNz", "hunter2"] {
        assert!(
            !explained.contains(secret),
            "{secret} explained: {explained}"
        );
    }
}

#[test]
fn redact_disable_turns_rules_off_by_name() {
    let input = "mac 00:1a:2b:3c:4d:5e\nBasic dXNlcjpwYXNz\n";
    let out = with_stdin(&["redact", "--disable", "mac", "--disable", "basic"], input);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).expect("utf-8"), input);
    let unknown = run(&["redact", "--disable", "no_such_rule"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no_such_rule"),
        "{unknown:?}"
    );
}

#[test]
fn retention_removes_expired_raw_rows_and_keeps_rollups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(
        dir.path(),
        port,
        "off",
        &["--retention-raw", "2s", "--retention-interval", "250ms"],
    ));
    let base = format!("http://127.0.0.1:{port}");
    // send-test succeeds only once the server has committed the sample.
    ok(&["send-test", "--endpoint", &base]);
    // Its timestamps pass the 2 s raw retention; the next passes remove the rows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let stats = query_json_raw(&base, "/api/v1/stats");
        if stats["spans"] == 0 && stats["logs"] == 0 && stats["metric_points"] == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "retention did not run: {stats}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let ops = query_json(&base, &["operations", "--from", "-1h"]);
    assert!(
        !ops["items"].as_array().expect("items").is_empty(),
        "rollups outlive raw rows"
    );
    let metrics_text = ureq::get(format!("{base}/metrics"))
        .call()
        .expect("metrics")
        .into_body()
        .read_to_string()
        .expect("text");
    assert!(metrics_text.contains("automagik_telemetry_retention_purged_rows_total{kind=\"raw\"}"));
}

/// The report of the target `name` in `health --json` output.
fn health_report(reports: &Value, name: &str) -> Value {
    reports
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {reports}"))
        .clone()
}

fn query_json_raw(base: &str, path: &str) -> Value {
    ureq::get(format!("{base}{path}"))
        .call()
        .expect("GET")
        .into_body()
        .read_json()
        .expect("json")
}

#[test]
fn health_probes_real_services_and_reports_blocked_targets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(dir.path(), port, "off", &[]));
    let closed = free_port();
    let pg = std::env::var("AUTOMAGIK_TELEMETRY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let config = dir.path().join("health.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[target]]
name = "db"
url = "{pg}"

[[target]]
name = "cache"
url = "redis://127.0.0.1:6379"

[[target]]
name = "telemetry"
url = "http://127.0.0.1:{port}/api/v1/stats"
json_field = "spans"
json_value = 0
depends_on = ["db"]

[[target]]
name = "queue"
url = "tcp://127.0.0.1:{closed}"
critical = false

[[target]]
name = "worker"
url = "http://127.0.0.1:{port}/healthz"
depends_on = ["queue"]
critical = false
"#
        ),
    )
    .expect("write");
    let out = run(&[
        "health",
        "--config",
        config.to_str().expect("utf-8"),
        "--json",
    ]);
    assert!(out.status.success(), "only non-critical targets are down");
    let reports: Value = serde_json::from_slice(&out.stdout).expect("json");
    let reports = reports.as_array().expect("array");
    let state = |name: &str| {
        reports
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    for up in ["db", "cache", "telemetry"] {
        assert_eq!(state(up)["state"], "up", "{up}");
    }
    assert_eq!(state("queue")["state"], "down");
    assert!(
        state("queue")["reason"]
            .as_str()
            .expect("reason")
            .contains("refused")
    );
    assert_eq!(state("worker")["state"], "blocked");
    assert_eq!(state("worker")["reason"], "blocked by queue");
    assert_eq!(reports[0]["name"], "queue", "root cause first");

    // A critical target down: non-zero exit, and a password never printed.
    let out = run(&[
        "health",
        &format!("tcp://127.0.0.1:{closed}"),
        "postgres://nobody:hunter2-secret@127.0.0.1:5432/nodb",
    ]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DOWN"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn targets_of_a_stopped_postgresql_are_blocked_by_it() {
    let pg = automagik_telemetry_testkit::pg::Instance::start().expect("a PostgreSQL instance");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(dir.path(), port, "off", &[]));
    let config = dir.path().join("health.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[target]]
name = "orders-api"
url = "http://127.0.0.1:{port}/healthz"
depends_on = ["orders-db"]

[[target]]
name = "orders-db"
url = "{}"

[[target]]
name = "reports"
url = "http://127.0.0.1:{port}/readyz"
depends_on = ["orders-api"]
"#,
            pg.url
        ),
    )
    .expect("write");
    let check = || {
        let out = run(&[
            "health",
            "--config",
            config.to_str().expect("utf-8"),
            "--json",
            "--timeout",
            "5s",
        ]);
        let reports: Value = serde_json::from_slice(&out.stdout).expect("json");
        (out.status.success(), reports)
    };
    let (ok, reports) = check();
    assert!(ok, "{reports}");
    for name in ["orders-db", "orders-api", "reports"] {
        assert_eq!(health_report(&reports, name)["state"], "up", "{reports}");
    }

    pg.stop().expect("stop PostgreSQL");
    let (ok, reports) = check();
    assert!(!ok, "a critical target is down: {reports}");
    let db = health_report(&reports, "orders-db");
    assert_eq!(db["state"], "down", "{reports}");
    assert!(
        db["reason"]
            .as_str()
            .expect("reason")
            .to_lowercase()
            .contains("refused"),
        "{reports}"
    );
    assert_eq!(health_report(&reports, "orders-api")["state"], "blocked");
    assert_eq!(
        health_report(&reports, "orders-api")["reason"],
        "blocked by orders-db"
    );
    assert_eq!(health_report(&reports, "reports")["state"], "blocked");
    assert_eq!(
        reports[0]["name"], "orders-db",
        "root cause first: {reports}"
    );

    // Started again, everything is up again.
    pg.start_again().expect("restart PostgreSQL");
    let (ok, reports) = check();
    assert!(ok, "{reports}");
}

#[test]
fn health_probes_nats_rabbitmq_kafka_and_clickhouse() {
    let engine = ClickHouse::start_with_password("ch-secret").expect("start the ClickHouse engine");
    let kafka = Broker::start().expect("start the Kafka broker");
    let ch = engine.url.trim_start_matches("http://");
    let closed = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("health.toml");
    let targets = [
        ("nats", "nats://127.0.0.1:4222".to_string()),
        (
            "rabbitmq",
            "amqp://guest:guest@127.0.0.1:5672/%2f".to_string(),
        ),
        (
            "clickhouse",
            format!("clickhouse://default:ch-secret@{ch}/default"),
        ),
        (
            "rabbitmq-wrong-password",
            "amqp://guest:wrong-secret@127.0.0.1:5672/%2f".to_string(),
        ),
        (
            "clickhouse-wrong-password",
            format!("clickhouse://default:wrong-secret@{ch}"),
        ),
        ("kafka", kafka.url.clone()),
        ("nats-closed", format!("nats://127.0.0.1:{closed}")),
        ("kafka-closed", format!("kafka://127.0.0.1:{closed}")),
        (
            "rabbitmq-closed",
            format!("amqp://guest:guest@127.0.0.1:{closed}/%2f"),
        ),
        (
            "clickhouse-closed",
            format!("clickhouse://127.0.0.1:{closed}"),
        ),
    ];
    let toml: String = targets
        .iter()
        .map(|(name, url)| format!("[[target]]\nname = \"{name}\"\nurl = \"{url}\"\n\n"))
        .collect();
    std::fs::write(&config, toml).expect("write");
    let out = run(&[
        "health",
        "--json",
        "--timeout",
        "10s",
        "--config",
        config.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success(), "critical targets are down");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("wrong-secret") && !text.contains("ch-secret"),
        "{text}"
    );
    let reports: Value = serde_json::from_slice(&out.stdout).expect("json");
    let report = |name: &str| health_report(&reports, name);
    for up in ["nats", "rabbitmq", "kafka", "clickhouse"] {
        assert_eq!(report(up)["state"], "up", "{up}: {text}");
    }
    let reason = |name: &str| {
        let r = report(name);
        assert_eq!(r["state"], "down", "{name}: {text}");
        r["reason"].as_str().expect("reason").to_lowercase()
    };
    assert!(
        reason("clickhouse-wrong-password").contains("authentication"),
        "{text}"
    );
    assert!(
        reason("rabbitmq-wrong-password").contains("access"),
        "a wrong password is refused by the broker: {text}"
    );
    for name in [
        "nats-closed",
        "rabbitmq-closed",
        "kafka-closed",
        "clickhouse-closed",
    ] {
        let why = reason(name);
        assert!(
            why.contains("refused") || why.contains("connect"),
            "{name}: {why}"
        );
    }
}

#[test]
fn health_presets_and_watch() {
    let server = StaticServer::start(&[
        (
            "api/health",
            r#"{"database": "ok", "version": "11.0.0"}"#.into(),
        ),
        (
            "grafana-down/api/health",
            r#"{"database": "failing"}"#.into(),
        ),
        ("-/healthy", "Prometheus Server is Healthy.\n".into()),
        ("v1/status/leader", r#""""#.into()),
    ])
    .expect("start http.server");
    let port = server.port;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("health.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[target]]
name = "grafana"
url = "grafana://127.0.0.1:{port}"

[[target]]
name = "prometheus"
url = "prometheus://127.0.0.1:{port}"

[[target]]
name = "grafana-db-failing"
url = "http://127.0.0.1:{port}/grafana-down/api/health"
preset = "grafana"

[[target]]
name = "consul-without-leader"
url = "consul://127.0.0.1:{port}"
"#
        ),
    )
    .expect("write");
    let out = run(&[
        "health",
        "--json",
        "--config",
        config.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    let reports: Value = serde_json::from_slice(&out.stdout).expect("json");
    let report = |name: &str| health_report(&reports, name);
    assert_eq!(report("grafana")["state"], "up");
    assert_eq!(
        report("grafana")["url"],
        format!("http://127.0.0.1:{port}/api/health")
    );
    assert_eq!(report("prometheus")["state"], "up");
    assert_eq!(report("grafana-db-failing")["state"], "down");
    assert!(
        report("grafana-db-failing")["reason"]
            .as_str()
            .expect("reason")
            .contains("failing")
    );
    assert_eq!(report("consul-without-leader")["reason"], "no leader");

    // --watch probes again every interval until stopped.
    let mut watch = Running(
        command()
            .args([
                "health",
                "--watch=200ms",
                &format!("prometheus://127.0.0.1:{port}"),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("watch"),
    );
    let stdout = watch.0.stdout.take().expect("stdout");
    // Bounded: if the rounds never come, the watcher is stopped and the test fails.
    let pid = watch.0.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(30));
        let _ = std::process::Command::new("kill").arg(pid).status();
    });
    let mut rounds = 0;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.expect("line");
        if line.starts_with("== ") {
            rounds += 1;
        }
        if line.contains("/-/healthy") {
            assert!(line.contains(" up "), "{line}");
            if rounds == 3 {
                break;
            }
        }
    }
    assert_eq!(rounds, 3, "three rounds, then stopped by the test");
}

/// A webhook receiver on loopback: answers 200 to every request and keeps the JSON
/// bodies.
fn webhook_receiver() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::io::{BufRead, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let bodies = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut reader = std::io::BufReader::new(clone);
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(v) = serde_json::from_slice(&body)
            {
                bodies.lock().expect("lock").push(v);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (port, got)
}

#[test]
fn serve_probes_targets_stores_up_and_posts_state_changes() {
    let (hook, got) = webhook_receiver();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let closed = free_port();
    let down = format!("tcp://127.0.0.1:{closed}");
    let _server = Running(serve(
        dir.path(),
        port,
        "off",
        &[
            "--probe",
            &down,
            "--probe",
            &format!("http://127.0.0.1:{port}/healthz"),
            "--probe-interval",
            "200ms",
            "--probe-webhook",
            &format!("http://127.0.0.1:{hook}/alerts"),
        ],
    ));
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let metrics = query_json_raw(&base, "/api/v1/metrics");
        let stored = names(&metrics, "name");
        let rounds = metrics["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|m| m["name"] == "up")
            .and_then(|m| m["points"].as_u64())
            .unwrap_or(0);
        if stored.contains(&"probe_latency_ms".to_string()) && rounds >= 8 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "probe results not stored: {metrics}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let series = query_json_raw(
        &base,
        "/api/v1/metrics/up/series?from=-10m&step=10m&agg=max&group_by=target",
    );
    let up_of = |target: &str| {
        series["series"]
            .as_array()
            .expect("series")
            .iter()
            .find(|s| s["group"]["target"] == target)
            .and_then(|s| s["points"].as_array()?.last()?["value"].as_f64())
            .unwrap_or_else(|| panic!("{target} in {series}"))
    };
    assert_eq!(up_of(&down), 0.0);
    assert_eq!(up_of(&format!("http://127.0.0.1:{port}/healthz")), 1.0);
    // Four rounds or more, one state change: one notification.
    let hooks = got.lock().expect("lock").clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0]["target"], down);
    assert_eq!(
        (hooks[0]["state"].as_str(), hooks[0]["previous"].as_str()),
        (Some("down"), Some("up"))
    );
    assert!(
        hooks[0]["reason"]
            .as_str()
            .expect("reason")
            .contains("refused")
    );
}

#[test]
fn an_alert_rule_fires_once_and_resolves() {
    let (hook, got) = webhook_receiver();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let flaky = free_port();
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            r#"
probe_interval = "200ms"
alert_interval = "200ms"
alert_webhook = "http://127.0.0.1:{hook}/alerts"

[[probe]]
name = "flaky"
url = "tcp://127.0.0.1:{flaky}"

[[alert]]
name = "flaky is down"
metric = "up"
where = "target=flaky"
reduce = "last"
condition = "< 1"
window = "2s"
for = "600ms"
severity = "critical"
"#
        ),
    )
    .expect("write");
    let _server = Running(serve(
        dir.path(),
        port,
        "off",
        &["--config", config.to_str().expect("utf-8")],
    ));
    let base = format!("http://127.0.0.1:{port}");
    let wait_for = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while got.lock().expect("lock").len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "{n} notifications: {:?}",
                got.lock().expect("lock")
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait_for(1);
    let alerts = query_json_raw(&base, "/api/v1/alerts");
    assert_eq!(alerts["items"][0]["name"], "flaky is down");
    assert_eq!(alerts["items"][0]["state"], "firing");
    assert_eq!(alerts["items"][0]["value"], 0.0);
    // Still down for a while: no second notification.
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(got.lock().expect("lock").len(), 1);
    // The target comes up: the rule resolves.
    let _listener = std::net::TcpListener::bind(("127.0.0.1", flaky)).expect("bind the target");
    wait_for(2);
    let notes = got.lock().expect("lock").clone();
    let statuses: Vec<&str> = notes.iter().filter_map(|n| n["status"].as_str()).collect();
    assert_eq!(statuses, ["firing", "resolved"]);
    assert_eq!(notes[0]["rule"], "flaky is down");
    assert_eq!(notes[0]["severity"], "critical");
    assert_eq!(notes[0]["condition"], "< 1");
    assert_eq!(notes[1]["value"], 1.0);
    assert_eq!(
        query_json_raw(&base, "/api/v1/alerts")["items"][0]["state"],
        "inactive"
    );
}

/// `serve` with its log (standard error) read line by line.
struct Logged {
    server: Running,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Logged {
    /// Starts `serve` on `127.0.0.1:<port>` without gRPC; returns once its banner says
    /// where the dashboard is and `/healthz` answers.
    fn start(data_dir: &std::path::Path, port: u16, extra: &[&str]) -> Logged {
        let mut child = command()
            .env_remove("RUST_LOG")
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args([
                "--http-addr",
                &format!("127.0.0.1:{port}"),
                "--grpc-addr",
                "off",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut logged = Logged {
            server: Running(child),
            lines,
            seen: Vec::new(),
        };
        logged.wait_for("dashboard: ");
        // Serving, its signal handlers in place.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while ureq::get(format!("http://127.0.0.1:{port}/healthz"))
            .call()
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the server does not answer"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        logged
    }

    /// The first line holding `text`, waiting for it (at most 20 s).
    fn wait_for(&mut self, text: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?} in the log:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends SIGTERM and reads the log to its end; the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.server.0.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = self.server.0.wait().expect("wait");
        while let Ok(line) = self.lines.recv_timeout(std::time::Duration::from_secs(20)) {
            self.seen.push(line);
        }
        status
    }
}

#[test]
fn serve_logs_a_banner_and_its_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let closed = free_port();
    let token = "banner-token-0123456789";
    let mut server = Logged::start(
        dir.path(),
        port,
        &[
            "--token",
            token,
            "--probe",
            &format!("tcp://127.0.0.1:{closed}"),
            "--probe-interval",
            "30s",
            "--fleet-interval",
            "2m",
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        server
            .wait_for("OTLP/HTTP: ")
            .contains(&format!("{base}/v1/traces"))
    );
    server.wait_for("OTLP/gRPC: off");
    server.wait_for(&format!("dashboard: {base}/"));
    let storage = server.wait_for("storage: SQLite, ");
    assert!(storage.contains("telemetry.sqlite3"), "{storage}");
    let data_dir = std::fs::canonicalize(dir.path()).expect("data dir");
    assert!(
        storage.contains(&*data_dir.to_string_lossy())
            || storage.contains(&*dir.path().to_string_lossy()),
        "{storage}"
    );
    server.wait_for("access: 1 token;");
    server.wait_for("redaction on ingest: standard");
    server.wait_for("limits: a request at most 16.0 MiB as sent");
    server.wait_for("retention: every 60 s; raw data kept 7 d, rollups 30 d");
    server.wait_for("probes: 1 target every 30 s");
    server.wait_for("fleet collection: every 2 min");
    server.wait_for("alert rules: none");
    let banner = server.seen.join("\n");
    assert!(
        !banner.contains(token),
        "the token is never logged:\n{banner}"
    );
    assert!(!banner.contains("grpc=off"), "{banner}");

    // Ctrl-C or SIGTERM: said, then how the requests and their writes finished.
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let log = server.seen.join("\n");
    assert!(log.contains("shutting down (SIGTERM)"), "{log}");
    assert!(
        log.contains("stopped ") && log.contains(" after the signal"),
        "{log}"
    );
    assert!(
        log.contains("every acknowledged write is committed"),
        "{log}"
    );
}

#[test]
fn refusals_are_logged_and_counted_by_reason() {
    use automagik_telemetry_testkit::build::trace_request;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use opentelemetry_proto::tonic::trace::v1::Span;
    use prost::Message;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let token = "refusal-token-0123456789";
    let mut server = Logged::start(dir.path(), port, &["--token", token]);
    let base = format!("http://127.0.0.1:{port}");
    let now = automagik_telemetry_testkit::now_ns();
    let span = |name: &str, trace_id: Vec<u8>| Span {
        trace_id,
        span_id: vec![0x31; 8],
        name: name.into(),
        start_time_unix_nano: now,
        end_time_unix_nano: now + 1_000_000,
        ..Default::default()
    };
    let body = trace_request(
        "refusals",
        vec![
            span("kept-span", vec![0x51; 16]),
            span("private-span-name", vec![0x52; 3]),
        ],
    )
    .encode_to_vec();
    let post = |token: Option<&str>| {
        let mut req = ureq::post(format!("{base}/v1/traces"))
            .header("content-type", "application/x-protobuf");
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        let mut resp = req
            .config()
            .http_status_as_error(false)
            .build()
            .send(&body[..])
            .expect("an answer");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_vec().expect("body"))
    };

    // Refused whole: no token.
    assert_eq!(post(None).0, 401);
    let line = server.wait_for("traces: refused 1 request (unauthorized)");
    assert!(line.contains("from 127.0.0.1:"), "{line}");

    // One span of two refused, as OTLP partial success.
    let (status, answer) = post(Some(token));
    assert_eq!(status, 200);
    let answer = ExportTraceServiceResponse::decode(&answer[..]).expect("protobuf");
    assert_eq!(
        answer
            .partial_success
            .expect("partial success")
            .rejected_spans,
        1
    );
    server.wait_for("traces: refused 1 span (invalid_trace_id)");

    let overview = common::get_json(&format!("{base}/api/v1/overview"), Some(token));
    let ingest = &overview["ingest"];
    assert_eq!(
        ingest["rejected_records"]["traces"]["invalid_trace_id"], 1,
        "{ingest}"
    );
    assert_eq!(
        ingest["rejected_requests"]["traces"]["unauthorized"], 1,
        "{ingest}"
    );
    assert_eq!(ingest["rejected_records_total"], 1, "{ingest}");
    assert_eq!(ingest["rejected_requests_total"], 1, "{ingest}");
    let metrics = ureq::get(format!("{base}/metrics"))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .expect("metrics")
        .into_body()
        .read_to_string()
        .expect("text");
    assert!(
        metrics.contains(
            "automagik_telemetry_ingest_rejected_records_total{signal=\"traces\",reason=\"invalid_trace_id\"} 1"
        ),
        "{metrics}"
    );

    // Never the telemetry itself.
    assert!(server.terminate().success());
    let log = server.seen.join("\n");
    assert!(
        !log.contains("private-span-name") && !log.contains("kept-span"),
        "{log}"
    );
}

#[test]
fn health_suggests_a_scheme_and_rounds_latencies() {
    let out = run(&["health", "127.0.0.1:5432"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1:5432 has no scheme"), "{err}");
    assert!(err.contains("try postgres://127.0.0.1:5432"), "{err}");
    assert!(err.contains("tcp://127.0.0.1:5432"), "{err}");
    assert!(!err.contains(":5432://"), "{err}");
    let out = run(&["health", "broker:9092"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("try kafka://broker:9092"));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let out = run(&["health", "--json", &format!("tcp://127.0.0.1:{port}")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let latency = regex::Regex::new(r#""latency_ms": ([0-9.]+)"#)
        .expect("regex")
        .captures(&text)
        .unwrap_or_else(|| panic!("a latency in {text}"))[1]
        .to_string();
    let decimals = latency.split_once('.').map_or(0, |(_, f)| f.len());
    assert!(decimals <= 3, "{latency} in {text}");
}

#[test]
fn consent_status_says_what_decides() {
    let home = tempfile::tempdir().expect("home");
    let status = |vars: &[(&str, &str)]| {
        let mut cmd = command();
        cmd.env("HOME", home.path());
        for k in ["CI", "ENVIRONMENT", "OTEL_SDK_DISABLED"] {
            cmd.env_remove(k);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.args(["consent", "status"]).output().expect("run");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let nothing = status(&[]);
    assert!(nothing.contains("environment: nothing set"), "{nothing}");
    assert!(
        nothing.contains("decision: nothing set, so each program decides"),
        "{nothing}"
    );
    assert!(!nothing.contains("granted by the program"), "{nothing}");
    let opted_out = status(&[("DO_NOT_TRACK", "1")]);
    assert!(
        opted_out.contains("every program is disabled: opted out by DO_NOT_TRACK"),
        "{opted_out}"
    );
}
