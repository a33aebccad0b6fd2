//! The `file` and `stdout` backends: one OTLP JSON export request per line, read back by
//! an implementation no one here wrote, protobuf's own JSON parser over the official
//! Python `opentelemetry-proto` classes (`tests/python/decode_otlp_json.py`, with
//! unknown fields refused); and what happens when the file cannot be written.

use crate::isolated;
use automagik_telemetry::{
    Backend, ConfigError, MetricKind, Severity, SpanKind, SpanStatus, attrs,
};
use serde_json::{Value, json};
use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// An error of the program, with a message and no source.
#[derive(Debug)]
struct OrderFailed;

impl std::fmt::Display for OrderFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("order 17 could not be placed")
    }
}

impl std::error::Error for OrderFailed {}

/// What the official decoder made of the JSON lines in `file`: the signal of each line,
/// the resources, spans, log records and metrics (see the script for the fields).
fn decode(file: &Path) -> Value {
    let python = automagik_telemetry_testkit::test_python();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/decode_otlp_json.py"
    );
    let out = Command::new(&python)
        .arg(script)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python}: {e}; run the tests through scripts/test, which installs the Python packages")
        });
    assert!(
        out.status.success(),
        "the official decoder refused the lines of {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the decoder prints JSON")
}

/// The signals of the decoded lines, sorted.
fn signals(decoded: &Value) -> Vec<String> {
    let mut lines: Vec<String> = decoded["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l.as_str().expect("a signal name").to_string())
        .collect();
    lines.sort();
    lines
}

/// The entry of `list` (spans or metrics) named `name`.
fn named<'a>(decoded: &'a Value, list: &str, name: &str) -> &'a Value {
    decoded[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} in {decoded}"))
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {list}: {decoded}"))
}

/// The names in `list` (spans or metrics), sorted.
fn names(decoded: &Value, list: &str) -> Vec<String> {
    let mut names: Vec<String> = decoded[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} in {decoded}"))
        .iter()
        .map(|e| e["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

/// `(severity_number, event_name, body)` of every decoded log record, in order.
fn log_lines(decoded: &Value) -> Vec<(i64, String, Value)> {
    decoded["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| {
            (
                l["severity_number"].as_i64().expect("severity"),
                l["event_name"].as_str().expect("event name").to_string(),
                l["body"].clone(),
            )
        })
        .collect()
}

/// A program on the file backend (chosen by `AUTOMAGIK_TELEMETRY_BACKEND=file`, the file
/// by `AUTOMAGIK_TELEMETRY_FILE_PATH`, in folders that do not exist yet) writes one
/// request a line, which protobuf's own JSON parser over the official OTLP classes reads
/// back: spans with their kind, status, events and nesting, an event, an error and logs
/// (one inside a span, carrying its ids), and a counter, a gauge and a histogram,
/// aggregated.
#[test]
fn the_file_backend_writes_otlp_json_lines_the_official_decoder_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("out/nested/telemetry.jsonl");
    let path = file.to_str().expect("a UTF-8 path");
    let t = isolated(
        dir.path(),
        &[
            ("AUTOMAGIK_TELEMETRY_BACKEND", "file"),
            ("AUTOMAGIK_TELEMETRY_FILE_PATH", path),
            // Only the explicit shutdown delivers: one batch, one line a signal.
            ("AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL", "1h"),
        ],
    )
    .histogram_boundaries(vec![10.0, 100.0])
    .build()
    .expect("build");
    assert_eq!(
        t.config().map(|c| (c.backend, c.file_path.clone())),
        Some((Backend::File, file.clone()))
    );

    {
        let mut parent = t.span_builder("checkout").kind(SpanKind::Server).start();
        parent.set_attribute("http.route", "/orders");
        let mut child = t.span("charge");
        child.add_event("card.authorized", attrs! { "amount_cents" => 4999 });
        child.set_status(SpanStatus::Error("card declined".into()));
        t.track_log(Severity::Warn, "retrying the charge", attrs! {});
    }
    t.track_event("order.placed", attrs! { "plan" => "pro", "items" => 3 });
    t.track_error(&OrderFailed, attrs! { "order.stage" => "payment" });
    t.track_metric("orders", 2.0, MetricKind::Counter, [("region", "eu")]);
    t.track_metric("orders", 3.0, MetricKind::Counter, [("region", "eu")]);
    t.track_metric("queue.depth", 7.0, MetricKind::Gauge, attrs! {});
    t.track_metric("queue.depth", 4.0, MetricKind::Gauge, attrs! {});
    for ms in [12.0, 30.0, 150.0] {
        t.track_metric("latency_ms", ms, MetricKind::Histogram, attrs! {});
    }
    t.track_log(Severity::Info, "order flow finished", attrs! {});
    t.shutdown(Duration::from_secs(10)).expect("shutdown");
    let stats = t.stats();
    assert_eq!(
        (stats.exported, stats.dropped_total()),
        (9, 0),
        "2 spans, 4 log records and 3 data points written: {stats:?}"
    );

    let text = std::fs::read_to_string(&file).expect("the file was written");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.ends_with('\n'), "every line is terminated");
    let v = decode(&file);
    assert_eq!(signals(&v), ["logs", "metrics", "traces"], "{v}");

    let install_id = t.install_id().expect("enabled");
    for resource in v["resources"].as_array().expect("resources") {
        assert_eq!(resource["service.name"], "it-service", "{resource}");
        assert_eq!(resource["service.version"], "9.9.9", "{resource}");
        assert_eq!(resource["service.instance.id"], install_id, "{resource}");
        assert_eq!(
            resource["telemetry.sdk.name"], "automagik-telemetry",
            "{resource}"
        );
        assert_eq!(resource["telemetry.sdk.language"], "rust", "{resource}");
    }

    assert_eq!(names(&v, "spans"), ["charge", "checkout"]);
    let (parent, child) = (named(&v, "spans", "checkout"), named(&v, "spans", "charge"));
    assert_eq!(parent["scope"], "automagik-telemetry");
    assert_eq!(parent["kind"], 2, "SPAN_KIND_SERVER");
    assert_eq!(parent["parent_span_id"], "", "a root span");
    assert_eq!(parent["status_code"], 0, "unset");
    assert_eq!(parent["attributes"], json!({ "http.route": "/orders" }));
    assert_eq!(child["kind"], 1, "SPAN_KIND_INTERNAL");
    assert_eq!(child["trace_id"], parent["trace_id"]);
    assert_eq!(child["parent_span_id"], parent["span_id"]);
    assert_eq!(
        (&child["status_code"], &child["status_message"]),
        (&json!(2), &json!("card declined"))
    );
    assert_eq!(
        child["events"],
        json!([{ "name": "card.authorized", "attributes": { "amount_cents": 4999 } }])
    );
    for span in [parent, child] {
        assert_eq!(span["ordered"], true, "start, then end: {span}");
    }

    assert_eq!(
        log_lines(&v),
        [
            (13, String::new(), json!("retrying the charge")),
            (9, "order.placed".to_string(), Value::Null),
            (17, String::new(), json!("order 17 could not be placed")),
            (9, String::new(), json!("order flow finished")),
        ]
    );
    let logs = v["logs"].as_array().expect("logs");
    let (inside, event, error) = (&logs[0], &logs[1], &logs[2]);
    assert_eq!(
        (&inside["trace_id"], &inside["span_id"]),
        (&child["trace_id"], &child["span_id"]),
        "a log inside a span carries its ids"
    );
    assert_eq!(
        (&event["trace_id"], &event["span_id"]),
        (&json!(""), &json!(""))
    );
    assert_eq!(
        event["attributes"],
        json!({ "event.name": "order.placed", "plan": "pro", "items": 3 })
    );
    assert_eq!(error["severity_text"], "ERROR");
    assert_eq!(
        error["attributes"]["exception.message"],
        "order 17 could not be placed"
    );
    assert!(
        error["attributes"]["exception.type"]
            .as_str()
            .is_some_and(|t| t.ends_with("::OrderFailed")),
        "{error}"
    );
    assert_eq!(error["attributes"]["order.stage"], "payment");
    for log in logs {
        assert_eq!(log["timed"], true, "{log}");
    }

    assert_eq!(
        names(&v, "metrics"),
        ["latency_ms", "orders", "queue.depth"]
    );
    let orders = named(&v, "metrics", "orders");
    assert_eq!(
        (
            &orders["type"],
            &orders["monotonic"],
            &orders["temporality"]
        ),
        (&json!("sum"), &json!(true), &json!(1)),
        "a monotonic delta sum: {orders}"
    );
    assert_eq!(orders["values"], json!([5.0]), "2 + 3");
    assert_eq!(orders["attributes"], json!([{ "region": "eu" }]));
    let depth = named(&v, "metrics", "queue.depth");
    assert_eq!(depth["type"], "gauge");
    assert_eq!(depth["values"], json!([4.0]), "the last value");
    let latency = named(&v, "metrics", "latency_ms");
    assert_eq!(latency["type"], "histogram");
    assert_eq!(latency["temporality"], 1, "delta");
    assert_eq!(latency["counts"], json!([3]));
    assert_eq!(latency["sums"], json!([192.0]));
    assert_eq!(
        (&latency["mins"], &latency["maxes"]),
        (&json!([12.0]), &json!([150.0]))
    );
    assert_eq!(latency["explicit_bounds"], json!([[10.0, 100.0]]));
    assert_eq!(
        latency["bucket_counts"],
        json!([[0, 2, 1]]),
        "(-inf, 10], (10, 100], (100, +inf)"
    );
}

/// The file backend appends: a program run twice on the same file keeps the first run's
/// line, and the second run's follows it.
#[test]
fn the_file_backend_appends_to_what_earlier_runs_wrote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("telemetry.jsonl");
    let path = file.to_str().expect("a UTF-8 path");
    for run in ["first-run", "second-run"] {
        let t = isolated(
            dir.path(),
            &[
                ("AUTOMAGIK_TELEMETRY_BACKEND", "file"),
                ("AUTOMAGIK_TELEMETRY_FILE_PATH", path),
            ],
        )
        .build()
        .expect("build");
        t.track_event(run, attrs! { "run" => run });
        t.shutdown(Duration::from_secs(10)).expect("shutdown");
    }
    let v = decode(&file);
    assert_eq!(signals(&v), ["logs", "logs"], "{v}");
    assert_eq!(
        log_lines(&v),
        [
            (9, "first-run".to_string(), Value::Null),
            (9, "second-run".to_string(), Value::Null),
        ]
    );
}

/// A file the backend cannot open is a build error that names the file and says why,
/// never a panic or a client that silently drops everything: a path under a regular
/// file (its folder cannot be made), and a path that is a folder.
#[test]
fn a_file_backend_path_that_cannot_be_opened_is_a_build_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a folder").expect("write");
    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).expect("mkdir");
    for (file, kind) in [
        (
            blocker.join("sub/telemetry.jsonl"),
            ErrorKind::NotADirectory,
        ),
        (folder, ErrorKind::IsADirectory),
    ] {
        let path = file.to_str().expect("a UTF-8 path");
        let err = isolated(
            dir.path(),
            &[
                ("AUTOMAGIK_TELEMETRY_BACKEND", "file"),
                ("AUTOMAGIK_TELEMETRY_FILE_PATH", path),
            ],
        )
        .build()
        .expect_err("the file cannot be opened");
        let ConfigError::Output {
            path: reported,
            source,
        } = &err
        else {
            panic!("{path}: expected an output error, got {err:?}");
        };
        assert_eq!(reported, &file);
        assert_eq!(source.kind(), kind, "{path}: {source}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot open telemetry output file {path}: ")),
            "{text}"
        );
    }
}

/// A file whose writes fail (a full disk: `/dev/full` opens but refuses every write)
/// neither panics nor blocks the program: each batch is retried, then dropped and
/// counted, and shutdown returns.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_drops_and_counts_batches_and_shutdown_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = isolated(
        dir.path(),
        &[
            ("AUTOMAGIK_TELEMETRY_BACKEND", "file"),
            ("AUTOMAGIK_TELEMETRY_FILE_PATH", "/dev/full"),
            ("AUTOMAGIK_TELEMETRY_MAX_RETRIES", "1"),
            ("AUTOMAGIK_TELEMETRY_RETRY_BACKOFF", "10ms"),
            ("AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL", "1h"),
        ],
    )
    .build()
    .expect("/dev/full opens");
    t.track_event("first", attrs! {});
    t.track_event("second", attrs! {});
    t.track_metric("orders", 1.0, MetricKind::Counter, attrs! {});
    t.shutdown(Duration::from_secs(10))
        .expect("shutdown returns within its deadline");
    let stats = t.stats();
    assert_eq!(stats.queued, 3, "{stats:?}");
    assert_eq!(stats.exported, 0, "{stats:?}");
    assert_eq!(
        stats.dropped(automagik_telemetry::DropReason::RetriesExhausted),
        3,
        "2 log records and 1 data point: {stats:?}"
    );
}

/// The stdout backend, as a user runs it: the quickstart example with
/// `AUTOMAGIK_TELEMETRY_BACKEND=stdout` prints its own three lines and, between them,
/// one OTLP JSON request a line, which the official decoder reads: every signal the
/// example sends, the e-mail address in its error redacted.
#[test]
fn the_stdout_backend_prints_otlp_json_lines_beside_the_programs_own() {
    let example = crate::quickstart::example("quickstart");
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(&example);
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTOMAGIK_TELEMETRY_") || k.starts_with("OTEL_") || k == "DO_NOT_TRACK" {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        // Consent is also given in code; this keeps a CI machine from disabling it.
        .env("AUTOMAGIK_TELEMETRY_ENABLED", "true")
        .env("AUTOMAGIK_TELEMETRY_BACKEND", "stdout")
        .output()
        .expect("run quickstart");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(
        out.status.success(),
        "quickstart failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (requests, own): (Vec<&str>, Vec<&str>) = stdout.lines().partition(|l| l.starts_with('{'));
    assert_eq!(own.len(), 3, "{stdout}");
    assert!(own[0].starts_with("telemetry enabled: "), "{stdout}");
    assert_eq!(own[1], "sending to http://127.0.0.1:4318 (Stdout)");
    assert_eq!(own[2], "queued 7, exported 7, spooled 0, dropped 0");

    let file = home.path().join("stdout.jsonl");
    let mut lines = requests.join("\n");
    lines.push('\n');
    std::fs::write(&file, lines).expect("write");
    let v = decode(&file);
    assert_eq!(signals(&v), ["logs", "metrics", "traces"], "{v}");
    for resource in v["resources"].as_array().expect("resources") {
        assert_eq!(resource["service.name"], "quickstart", "{resource}");
    }
    assert_eq!(names(&v, "spans"), ["charge-card", "checkout"]);
    let (parent, child) = (
        named(&v, "spans", "checkout"),
        named(&v, "spans", "charge-card"),
    );
    assert_eq!(child["parent_span_id"], parent["span_id"]);
    assert_eq!(parent["kind"], 2, "SPAN_KIND_SERVER");
    assert_eq!(parent["attributes"], json!({ "http.route": "/checkout" }));
    assert_eq!(
        child["events"],
        json!([{ "name": "card.authorized", "attributes": { "amount_cents": 4999 } }])
    );
    assert_eq!(
        log_lines(&v),
        [
            (9, "signup".to_string(), Value::Null),
            (
                17,
                String::new(),
                json!("payment declined for customer [REDACTED:email]")
            ),
            (9, String::new(), json!("quickstart finished its work")),
        ]
    );
    assert_eq!(
        names(&v, "metrics"),
        ["checkout.duration_ms", "orders.placed"]
    );
    let orders = named(&v, "metrics", "orders.placed");
    assert_eq!(
        (&orders["type"], &orders["values"]),
        (&json!("sum"), &json!([1.0]))
    );
    let duration = named(&v, "metrics", "checkout.duration_ms");
    assert_eq!(
        (&duration["type"], &duration["counts"], &duration["sums"]),
        (&json!("histogram"), &json!([1]), &json!([182.0]))
    );
}
