//! `query` as a user runs it against a real `serve` holding records sent over OTLP/HTTP
//! at known times: each kind it reads (traces, one trace, logs, events, metric names, a
//! metric's series, agent runs, one run, operations), each of its flags, the tables as
//! printed and `--json` as the query API answers, and the errors a user meets: a flag
//! value the server refuses (named by the flag), an unknown metric, an id that is not
//! stored, no server at the endpoint, an answer that is not JSON, a wrong token and a
//! token without the read scope.

use automagik_telemetry_core::latency::{bucket_of, bucket_value_ns};
use automagik_telemetry_core::time::rfc3339;
use automagik_telemetry_testkit::build::{any_kv, log_request, string_kv, trace_request};
use common::{Running, command, free_port, ok, run, serve};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;
use serde_json::{Value, json};

mod common;

const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000 * MS;
const MINUTE: u64 = 60 * SECOND;

/// The headers of `query traces`.
const TRACE_HEADERS: [&str; 7] = [
    "START", "DURATION", "SPANS", "STATUS", "SERVICE", "NAME", "TRACE ID",
];
/// The headers of `query logs`.
const LOG_HEADERS: [&str; 4] = ["TIME", "SEVERITY", "SERVICE", "BODY"];
/// The headers of `query events`.
const EVENT_HEADERS: [&str; 4] = ["TIME", "SERVICE", "EVENT", "ATTRIBUTES"];
/// The headers of `query metrics`.
const METRIC_HEADERS: [&str; 4] = ["NAME", "KIND", "POINTS", "LAST"];
/// The headers of `query runs`.
const RUN_HEADERS: [&str; 7] = [
    "START",
    "AGENT",
    "STATUS",
    "DURATION",
    "ACTIONS",
    "QUALITY",
    "CORRELATION ID",
];
/// The headers of `query runs ID`, under its summary line.
const ACTION_HEADERS: [&str; 5] = ["TIME", "TYPE", "NAME", "DURATION", "ERROR"];
/// The headers of `query operations`.
const OPERATION_HEADERS: [&str; 7] = [
    "SERVICE",
    "OPERATION",
    "SPANS",
    "ERRORS",
    "P50",
    "P95",
    "P99",
];

/// A `serve` on loopback without gRPC, fleet collection or redaction, so that it holds
/// exactly what a test sends, and the time the test's records are sent at.
struct Server {
    base: String,
    /// The bearer token the records are sent with, when the server wants one.
    token: Option<String>,
    /// A whole minute 50 minutes ago: recent (inside the default hour of the series and
    /// every retention) and on the rollups' minute boundaries.
    t0: u64,
    _server: Running,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `serve` with `extra` flags; records are sent with `token`.
    fn start(extra: &[&str], token: Option<&str>) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut flags = vec!["--fleet-interval", "off", "--redact", "off"];
        flags.extend_from_slice(extra);
        let server = Running(serve(dir.path(), port, "off", &flags));
        Server {
            base: format!("http://127.0.0.1:{port}"),
            token: token.map(str::to_string),
            t0: (automagik_telemetry_testkit::minute_an_hour_ago() + 600) * SECOND,
            _server: server,
            _dir: dir,
        }
    }

    /// `offset_ms` milliseconds after `t0`.
    fn at(&self, offset_ms: u64) -> u64 {
        self.t0 + offset_ms * MS
    }

    /// POSTs a protobuf OTLP request to `path`, which must be accepted.
    fn send(&self, path: &str, body: Vec<u8>) {
        let mut req = ureq::post(format!("{}{path}", self.base))
            .header("content-type", "application/x-protobuf");
        if let Some(t) = &self.token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        let status = req
            .config()
            .http_status_as_error(false)
            .build()
            .send(&body[..])
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
            .status()
            .as_u16();
        assert_eq!(status, 200, "POST {path}");
    }

    /// Three traces. `a1…` of `checkout`: the root `GET /cart` (span `11…`, 120 ms, ok)
    /// at `t0` + 1 s with its child `SELECT cart` (span `12…`, 30 ms). `b2…` of
    /// `billing`: `POST /charge` (span `21…`, 250 ms, error) at `t0` + 2 s. `c3…` of
    /// `checkout`: `GET /cart` (span `31…`, 80 ms, no status) at `t0` + 3 s.
    fn send_traces(&self) {
        let checkout = vec![
            Span {
                status: Some(Status {
                    code: 1,
                    message: String::new(),
                }),
                ..span(0xa1, 0x11, "GET /cart", self.at(1_000), 120)
            },
            Span {
                parent_span_id: vec![0x11; 8],
                ..span(0xa1, 0x12, "SELECT cart", self.at(1_010), 30)
            },
            span(0xc3, 0x31, "GET /cart", self.at(3_000), 80),
        ];
        let billing = vec![Span {
            status: Some(Status {
                code: 2,
                message: "card declined".into(),
            }),
            ..span(0xb2, 0x21, "POST /charge", self.at(2_000), 250)
        }];
        self.send(
            "/v1/traces",
            trace_request("checkout", checkout).encode_to_vec(),
        );
        self.send(
            "/v1/traces",
            trace_request("billing", billing).encode_to_vec(),
        );
    }

    /// Four log records and two events. `checkout`: INFO `cart loaded` (of trace `a1…`)
    /// at +1 s, WARN `cart slow to load` at +2 s, the event `user.signup` (`plan=pro`) at
    /// +5 s. `billing`: ERROR `card declined for order 42` at +3 s, severity 9 without a
    /// text `retry scheduled` at +4 s, the event `invoice.sent` (`invoice=INV-7`) at +6 s.
    fn send_logs(&self) {
        let checkout = vec![
            LogRecord {
                trace_id: vec![0xa1; 16],
                span_id: vec![0x11; 8],
                ..log(self.at(1_000), 9, "INFO", "cart loaded")
            },
            log(self.at(2_000), 13, "WARN", "cart slow to load"),
            event(self.at(5_000), "user.signup", "plan", "pro"),
        ];
        let billing = vec![
            log(self.at(3_000), 17, "ERROR", "card declined for order 42"),
            log(self.at(4_000), 9, "", "retry scheduled"),
            event(self.at(6_000), "invoice.sent", "invoice", "INV-7"),
        ];
        self.send(
            "/v1/logs",
            log_request("checkout", checkout).encode_to_vec(),
        );
        self.send("/v1/logs", log_request("billing", billing).encode_to_vec());
    }

    /// Two metrics. `orders.placed` of `checkout`, a monotonic delta sum: 2 (`region=eu`)
    /// at +10 s, 3 (`us`) at +20 s, 4 (`eu`) at +70 s. `queue.depth` of `billing`, a
    /// gauge (`queue=emails`): 7 at +5 s, 3.5 at +65 s.
    fn send_metrics(&self) {
        use number_data_point::Value::{AsDouble, AsInt};
        let point =
            |offset_ms: u64, value: number_data_point::Value, key: &str, v: &str| NumberDataPoint {
                attributes: vec![string_kv(key, v)],
                time_unix_nano: self.at(offset_ms),
                value: Some(value),
                ..Default::default()
            };
        let orders = Metric {
            name: "orders.placed".into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![
                    point(10_000, AsInt(2), "region", "eu"),
                    point(20_000, AsInt(3), "region", "us"),
                    point(70_000, AsInt(4), "region", "eu"),
                ],
                aggregation_temporality: AggregationTemporality::Delta as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let depth = Metric {
            name: "queue.depth".into(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![
                    point(5_000, AsDouble(7.0), "queue", "emails"),
                    point(65_000, AsDouble(3.5), "queue", "emails"),
                ],
            })),
            ..Default::default()
        };
        self.send(
            "/v1/metrics",
            metrics_request("checkout", vec![orders]).encode_to_vec(),
        );
        self.send(
            "/v1/metrics",
            metrics_request("billing", vec![depth]).encode_to_vec(),
        );
    }

    /// Two agent runs of `agents`. `run-planner-1` (agent `planner`, quality 0.75): its
    /// span (trace `d4…`) at +4 s for 500 ms, a tool call `search` at +4.1 s for 40 ms,
    /// a decision `answer_from_docs` at +4.2 s. `run-reviewer-1` (agent `reviewer`): its
    /// span (trace `e5…`) at +5 s for 300 ms with an error status, no action.
    fn send_runs(&self) {
        let planner = Span {
            attributes: vec![
                string_kv("gen_ai.operation.name", "invoke_agent"),
                string_kv("gen_ai.agent.name", "planner"),
                string_kv("correlation_id", "run-planner-1"),
                any_kv("agent.quality_score", any_value::Value::DoubleValue(0.75)),
            ],
            ..span(0xd4, 0x41, "invoke_agent planner", self.at(4_000), 500)
        };
        let search = Span {
            parent_span_id: vec![0x41; 8],
            status: Some(Status {
                code: 1,
                message: String::new(),
            }),
            attributes: vec![
                string_kv("gen_ai.operation.name", "execute_tool"),
                string_kv("gen_ai.tool.name", "search"),
                string_kv("correlation_id", "run-planner-1"),
            ],
            ..span(0xd4, 0x42, "execute_tool search", self.at(4_100), 40)
        };
        let reviewer = Span {
            status: Some(Status {
                code: 2,
                message: "timed out".into(),
            }),
            attributes: vec![
                string_kv("gen_ai.operation.name", "invoke_agent"),
                string_kv("gen_ai.agent.name", "reviewer"),
                string_kv("correlation_id", "run-reviewer-1"),
            ],
            ..span(0xe5, 0x51, "invoke_agent reviewer", self.at(5_000), 300)
        };
        self.send(
            "/v1/traces",
            trace_request("agents", vec![planner, search, reviewer]).encode_to_vec(),
        );
        let decision = LogRecord {
            time_unix_nano: self.at(4_200),
            event_name: "agent.decision".into(),
            attributes: vec![
                string_kv("correlation_id", "run-planner-1"),
                string_kv("agent.choice", "answer_from_docs"),
            ],
            ..Default::default()
        };
        self.send(
            "/v1/logs",
            log_request("agents", vec![decision]).encode_to_vec(),
        );
    }

    /// `query ARGS --endpoint BASE`, which must succeed: what it printed.
    fn query(&self, args: &[&str]) -> String {
        let mut all = vec!["query"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--endpoint", self.base.as_str()]);
        ok(&all)
    }

    /// `query ARGS --json`, parsed.
    fn query_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.query(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} --json: {e}: {out}"))
    }

    /// `query ARGS --endpoint BASE`, which must fail with exit code 1 and print nothing
    /// on standard output: what it wrote on standard error.
    fn query_error(&self, args: &[&str]) -> String {
        let mut all = vec!["query"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--endpoint", self.base.as_str()]);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        String::from_utf8(out.stderr).expect("utf-8")
    }

    /// `GET path` of the query API with `params` (and the token, if any), as JSON.
    fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let mut req = ureq::get(format!("{}{path}", self.base));
        for (k, v) in params {
            req = req.query(*k, *v);
        }
        if let Some(t) = &self.token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        req.call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .into_body()
            .read_json()
            .expect("json")
    }

    /// `query traces` of [`Server::send_traces`], as printed.
    fn traces_table(&self) -> String {
        table(
            &TRACE_HEADERS,
            &[
                row(&[
                    &shown(self.at(3_000)),
                    "80.0 ms",
                    "1",
                    "unset",
                    "checkout",
                    "GET /cart",
                    &hex(0xc3, 16),
                ]),
                row(&[
                    &shown(self.at(2_000)),
                    "250.0 ms",
                    "1",
                    "error",
                    "billing",
                    "POST /charge",
                    &hex(0xb2, 16),
                ]),
                row(&[
                    &shown(self.at(1_000)),
                    "120.0 ms",
                    "2",
                    "ok",
                    "checkout",
                    "GET /cart",
                    &hex(0xa1, 16),
                ]),
            ],
        )
    }
}

/// A span of the trace `trace` (16 times that byte) with the id `id` (8 times that
/// byte), starting at `start` and lasting `ms` milliseconds.
fn span(trace: u8, id: u8, name: &str, start: u64, ms: u64) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        name: name.into(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + ms * MS,
        ..Default::default()
    }
}

/// A log record with a string body.
fn log(time: u64, severity: i32, severity_text: &str, body: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: time,
        severity_number: severity,
        severity_text: severity_text.into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        ..Default::default()
    }
}

/// An event named `name` with one string attribute.
fn event(time: u64, name: &str, key: &str, value: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: time,
        event_name: name.into(),
        attributes: vec![string_kv(key, value)],
        ..Default::default()
    }
}

/// A metrics request: these metrics under one resource whose `service.name` is `service`.
fn metrics_request(service: &str, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", service)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `n` times `byte` in lowercase hex: an id as the API shows it.
fn hex(byte: u8, n: usize) -> String {
    format!("{byte:02x}").repeat(n)
}

/// `ns` as the tables show a time: `2026-11-22 05:01:02.123`.
fn shown(ns: u64) -> String {
    let t = rfc3339(ns);
    format!("{} {}", &t[..10], &t[11..23])
}

/// A duration as the operations table shows a percentile of one latency bucket: the
/// bucket's middle in ms, rounded to 0.01 ms by the server and to 0.1 ms by the table.
fn percentile(duration_ms: u64) -> String {
    let ns = bucket_value_ns(bucket_of(duration_ms * MS));
    format!("{:.1} ms", (ns / 1e4).round() / 100.0)
}

/// One table row.
fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// `rows` picked by name from `all`, in the order of `names`.
fn pick(all: &[(&str, Vec<String>)], names: &[&str]) -> Vec<Vec<String>> {
    names
        .iter()
        .map(|n| {
            all.iter()
                .find(|(name, _)| name == n)
                .map(|(_, r)| r.clone())
                .unwrap_or_else(|| panic!("no row {n}"))
        })
        .collect()
}

/// A table as `query` prints it: every column but the last padded to its widest cell,
/// two spaces apart, trailing spaces cut; `(nothing yet)` under the headers when there
/// is no row.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let last = cells.len() - 1;
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.to_string()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers);
    for r in rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        out.push_str(&line(cells.as_slice()));
    }
    if rows.is_empty() {
        out.push_str("(nothing yet)\n");
    }
    out
}

/// The trace ids of a traces listing, in its order.
fn trace_ids(listing: &Value) -> Vec<String> {
    listing["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["trace_id"].as_str().expect("trace_id").to_string())
        .collect()
}

/// `query traces` prints one line per trace, newest first: its root span's start,
/// duration, span count, status, service and name, and the trace id; `--json` prints the
/// API's answer as it came.
#[test]
fn traces_are_listed_newest_first_by_their_root_spans() {
    let s = Server::start(&[], None);
    s.send_traces();
    assert_eq!(s.query(&["traces"]), s.traces_table());

    // The layout, spelled out: the columns as wide as their widest cell.
    let billing = s.query(&["traces", "--service", "billing"]);
    assert_eq!(
        billing,
        format!(
            "START{}DURATION  SPANS  STATUS  SERVICE  NAME{}TRACE ID\n\
             {}  250.0 ms  1      error   billing  POST /charge  {}\n",
            " ".repeat(20),
            " ".repeat(10),
            shown(s.at(2_000)),
            hex(0xb2, 16)
        )
    );

    let listed = s.query_json(&["traces"]);
    assert_eq!(listed, s.api("/api/v1/traces", &[("limit", "20")]));
    assert_eq!(
        trace_ids(&listed),
        [hex(0xc3, 16), hex(0xb2, 16), hex(0xa1, 16)]
    );
    let a = &listed["items"][2];
    assert_eq!(a["root_span_id"], hex(0x11, 8), "{a}");
    assert_eq!(a["name"], "GET /cart", "{a}");
    assert_eq!(a["service_name"], "checkout", "{a}");
    assert_eq!(a["span_count"], 2, "{a}");
    assert_eq!(a["status_code"], 1, "{a}");
    assert_eq!(a["duration_ms"], 120.0, "{a}");
    assert_eq!(a["start_time"], rfc3339(s.at(1_000)), "{a}");
    assert_eq!(
        a["start_time_unix_nano"],
        s.at(1_000).to_string(),
        "nanoseconds as a string: {a}"
    );
    assert_eq!(listed["next_cursor"], Value::Null, "one page holds all");
}

/// `--service`, `--name`, `--status`, `--from`, `--to` and `--limit` narrow `query
/// traces` as their names say; a time is RFC 3339 or relative (`-2h`, `now`).
#[test]
fn traces_are_filtered_by_each_flag() {
    let s = Server::start(&[], None);
    s.send_traces();
    let a: &str = &hex(0xa1, 16);
    let b: &str = &hex(0xb2, 16);
    let c: &str = &hex(0xc3, 16);
    let t1500: &str = &rfc3339(s.at(1_500));
    let t2000: &str = &rfc3339(s.at(2_000));
    let t3000: &str = &rfc3339(s.at(3_000));
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--service", "checkout"], vec![c, a]),
        (vec!["--service", "nobody"], vec![]),
        (vec!["--name", "POST /charge"], vec![b]),
        (
            vec!["--name", "GET /cart", "--service", "checkout"],
            vec![c, a],
        ),
        (vec!["--name", "SELECT cart"], vec![]),
        (vec!["--status", "ok"], vec![a]),
        (vec!["--status", "error"], vec![b]),
        (vec!["--status", "unset"], vec![c]),
        (vec!["--status", "ERROR"], vec![b]),
        (vec!["--from", t2000, "--to", t3000], vec![c, b]),
        (vec!["--from", t1500], vec![c, b]),
        (vec!["--to", t1500], vec![a]),
        (vec!["--from", "-2h"], vec![c, b, a]),
        (vec!["--from", "-2h", "--to", "now"], vec![c, b, a]),
        (vec!["--to", "-2h"], vec![]),
        (vec!["--limit", "2"], vec![c, b]),
    ];
    for (flags, want) in cases {
        let mut args = vec!["traces"];
        args.extend_from_slice(&flags);
        assert_eq!(trace_ids(&s.query_json(&args)), want, "{flags:?}");
    }
    // A page shorter than what is stored says where the next one starts.
    let page = s.query_json(&["traces", "--limit", "1"]);
    assert_eq!(trace_ids(&page), [c]);
    assert!(page["next_cursor"].is_string(), "{page}");
    assert_eq!(
        page,
        s.api("/api/v1/traces", &[("limit", "1")]),
        "--limit reaches the API"
    );
    // Nothing matches: the headers, and a word saying so.
    assert_eq!(
        s.query(&["traces", "--to", "-2h"]),
        table(&TRACE_HEADERS, &[])
    );
    assert_eq!(
        s.query(&["traces", "--from", "-2h"]),
        s.traces_table(),
        "a relative --from"
    );
}

/// `query traces ID` prints the spans of one trace by start time, with their parents;
/// an id in capitals is the same trace; one that is not stored, or not an id, is an
/// error saying so.
#[test]
fn a_trace_by_id_lists_its_spans() {
    let s = Server::start(&[], None);
    s.send_traces();
    let a = hex(0xa1, 16);
    let want = table(
        &["SPAN ID", "PARENT", "DURATION", "STATUS", "SERVICE", "NAME"],
        &[
            row(&[
                &hex(0x11, 8),
                "-",
                "120.0 ms",
                "ok",
                "checkout",
                "GET /cart",
            ]),
            row(&[
                &hex(0x12, 8),
                &hex(0x11, 8),
                "30.0 ms",
                "unset",
                "checkout",
                "SELECT cart",
            ]),
        ],
    );
    assert_eq!(s.query(&["traces", &a]), want);
    assert_eq!(s.query(&["traces", &a.to_uppercase()]), want);

    let trace = s.query_json(&["traces", &a]);
    assert_eq!(trace, s.api(&format!("/api/v1/traces/{a}"), &[]));
    assert_eq!(trace["trace_id"], a);
    let spans = trace["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 2, "{trace}");
    assert_eq!(spans[0]["parent_span_id"], Value::Null, "{trace}");
    assert_eq!(spans[1]["parent_span_id"], hex(0x11, 8), "{trace}");
    assert_eq!(spans[1]["start_time_unix_nano"], s.at(1_010).to_string());
    assert_eq!(spans[1]["end_time_unix_nano"], s.at(1_040).to_string());

    let billing = s.query(&["traces", &hex(0xb2, 16)]);
    assert_eq!(
        billing,
        table(
            &["SPAN ID", "PARENT", "DURATION", "STATUS", "SERVICE", "NAME"],
            &[row(&[
                &hex(0x21, 8),
                "-",
                "250.0 ms",
                "error",
                "billing",
                "POST /charge"
            ])],
        )
    );

    let missing = hex(0xff, 16);
    assert_eq!(
        s.query_error(&["traces", &missing]),
        format!("error: /api/v1/traces/{missing}: HTTP 404: trace not found\n")
    );
    // The id came from no flag: the message names no flag.
    assert_eq!(
        s.query_error(&["traces", "not-a-trace-id"]),
        "error: trace_id must be 32 hexadecimal digits\n"
    );
}

/// `query logs` prints records and events newest first (an event as `event NAME`, a
/// record without a severity text by its number); `--service`, `--severity` (a name in
/// any case, or a number), `--search`, `--trace-id`, `--from`, `--to` and `--limit`
/// narrow it.
#[test]
fn logs_are_listed_newest_first_and_filtered_by_each_flag() {
    let s = Server::start(&[], None);
    s.send_logs();
    let all = [
        (
            "invoice",
            row(&[&shown(s.at(6_000)), "0", "billing", "event invoice.sent"]),
        ),
        (
            "signup",
            row(&[&shown(s.at(5_000)), "0", "checkout", "event user.signup"]),
        ),
        (
            "retry",
            row(&[&shown(s.at(4_000)), "9", "billing", "retry scheduled"]),
        ),
        (
            "declined",
            row(&[
                &shown(s.at(3_000)),
                "ERROR",
                "billing",
                "card declined for order 42",
            ]),
        ),
        (
            "slow",
            row(&[&shown(s.at(2_000)), "WARN", "checkout", "cart slow to load"]),
        ),
        (
            "loaded",
            row(&[&shown(s.at(1_000)), "INFO", "checkout", "cart loaded"]),
        ),
    ];
    let t2000: &str = &rfc3339(s.at(2_000));
    let t4000: &str = &rfc3339(s.at(4_000));
    let a: &str = &hex(0xa1, 16);
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec![],
            vec!["invoice", "signup", "retry", "declined", "slow", "loaded"],
        ),
        (
            vec!["--service", "billing"],
            vec!["invoice", "retry", "declined"],
        ),
        (vec!["--severity", "warn"], vec!["declined", "slow"]),
        (vec!["--severity", "Warning"], vec!["declined", "slow"]),
        (
            vec!["--severity", "9"],
            vec!["retry", "declined", "slow", "loaded"],
        ),
        (vec!["--severity", "error", "--service", "checkout"], vec![]),
        (vec!["--search", "order 42"], vec!["declined"]),
        (vec!["--search", "cart"], vec!["slow", "loaded"]),
        (vec!["--trace-id", a], vec!["loaded"]),
        (
            vec!["--from", t2000, "--to", t4000],
            vec!["retry", "declined", "slow"],
        ),
        (vec!["--limit", "2"], vec!["invoice", "signup"]),
    ];
    for (flags, names) in cases {
        let mut args = vec!["logs"];
        args.extend_from_slice(&flags);
        assert_eq!(
            s.query(&args),
            table(&LOG_HEADERS, &pick(&all, &names)),
            "{flags:?}"
        );
    }

    let listed = s.query_json(&["logs", "--severity", "warn"]);
    assert_eq!(
        listed,
        s.api("/api/v1/logs", &[("severity_min", "warn"), ("limit", "20")])
    );
    let declined = &listed["items"][0];
    assert_eq!(declined["body"], "card declined for order 42", "{listed}");
    assert_eq!(declined["severity_number"], 17, "{listed}");
    assert_eq!(declined["service_name"], "billing", "{listed}");
    assert_eq!(declined["time_unix_nano"], s.at(3_000).to_string());
    let traced = s.query_json(&["logs", "--trace-id", a]);
    assert_eq!(traced["items"][0]["trace_id"], a, "{traced}");
    assert_eq!(traced["items"][0]["span_id"], hex(0x11, 8), "{traced}");
}

/// `query events` prints the events only, newest first, with their attributes as JSON;
/// `--name`, `--service`, `--from`, `--to` and `--limit` narrow it.
#[test]
fn events_are_listed_with_their_attributes_and_filtered() {
    let s = Server::start(&[], None);
    s.send_logs();
    let all = [
        (
            "invoice",
            row(&[
                &shown(s.at(6_000)),
                "billing",
                "invoice.sent",
                r#"{"invoice":"INV-7"}"#,
            ]),
        ),
        (
            "signup",
            row(&[
                &shown(s.at(5_000)),
                "checkout",
                "user.signup",
                r#"{"plan":"pro"}"#,
            ]),
        ),
    ];
    let t5500: &str = &rfc3339(s.at(5_500));
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec![], vec!["invoice", "signup"]),
        (vec!["--name", "user.signup"], vec!["signup"]),
        (vec!["--name", "no.such.event"], vec![]),
        (vec!["--service", "billing"], vec!["invoice"]),
        (vec!["--from", t5500], vec!["invoice"]),
        (vec!["--to", t5500], vec!["signup"]),
        (vec!["--limit", "1"], vec!["invoice"]),
    ];
    for (flags, names) in cases {
        let mut args = vec!["events"];
        args.extend_from_slice(&flags);
        assert_eq!(
            s.query(&args),
            table(&EVENT_HEADERS, &pick(&all, &names)),
            "{flags:?}"
        );
    }
    let listed = s.query_json(&["events", "--name", "user.signup"]);
    assert_eq!(
        listed,
        s.api(
            "/api/v1/events",
            &[("name", "user.signup"), ("limit", "20")]
        )
    );
    assert_eq!(listed["items"][0]["event_name"], "user.signup");
    assert_eq!(listed["items"][0]["attributes"], json!({"plan": "pro"}));
}

/// `query metrics` lists the stored names with their kind, point count and last time;
/// `query metrics NAME` prints its series: by default a sum per minute for a counter and
/// the last value for a gauge, `--agg` another aggregation, `--step` another step,
/// `--group-by` one series per attribute value (or per service), and a range without
/// points says so.
#[test]
fn metric_names_and_series_with_each_flag() {
    let s = Server::start(&[], None);
    s.send_metrics();
    assert_eq!(
        s.query(&["metrics"]),
        table(
            &METRIC_HEADERS,
            &[
                row(&["orders.placed", "sum", "3", &shown(s.at(70_000))]),
                row(&["queue.depth", "gauge", "2", &shown(s.at(65_000))]),
            ],
        )
    );
    let names = s.query_json(&["metrics"]);
    assert_eq!(names, s.api("/api/v1/metrics", &[]));
    assert_eq!(names["items"][0]["origin"], "application", "{names}");
    assert_eq!(names["items"][1]["last_time"], rfc3339(s.at(65_000)));
    assert_eq!(names["truncated"], false, "{names}");

    let from: &str = &rfc3339(s.t0);
    let to: &str = &rfc3339(s.t0 + 10 * MINUTE);
    let m0: &str = &shown(s.t0);
    let m1: &str = &shown(s.t0 + MINUTE);
    let series = |extra: &[&str]| {
        let mut args = vec!["metrics"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--from", from, "--to", to]);
        s.query(&args)
    };
    let values = |rows: &[(&str, &str)]| {
        let rows: Vec<Vec<String>> = rows.iter().map(|(t, v)| row(&[t, v])).collect();
        table(&["TIME", "VALUE"], &rows)
    };
    let grouped = |rows: &[(&str, &str, &str)]| {
        let rows: Vec<Vec<String>> = rows.iter().map(|(t, g, v)| row(&[t, g, v])).collect();
        table(&["TIME", "GROUP", "VALUE"], &rows)
    };
    let cases: Vec<(Vec<&str>, String)> = vec![
        // A counter: its increases added up per minute.
        (vec!["orders.placed"], values(&[(m0, "5"), (m1, "4")])),
        (
            vec!["orders.placed", "--agg", "max"],
            values(&[(m0, "3"), (m1, "4")]),
        ),
        (
            vec!["orders.placed", "--agg", "min"],
            values(&[(m0, "2"), (m1, "4")]),
        ),
        (
            vec!["orders.placed", "--agg", "count"],
            values(&[(m0, "2"), (m1, "1")]),
        ),
        (
            vec!["orders.placed", "--agg", "avg"],
            values(&[(m0, "2.5"), (m1, "4")]),
        ),
        (vec!["orders.placed", "--step", "2m"], values(&[(m0, "9")])),
        (
            vec!["orders.placed", "--group-by", "region"],
            grouped(&[(m0, "eu", "2"), (m1, "eu", "4"), (m0, "us", "3")]),
        ),
        (
            vec![
                "orders.placed",
                "--group-by",
                "region",
                "--agg",
                "max",
                "--step",
                "2m",
            ],
            grouped(&[(m0, "eu", "4"), (m0, "us", "3")]),
        ),
        (
            vec!["orders.placed", "--group-by", "service.name"],
            grouped(&[(m0, "checkout", "5"), (m1, "checkout", "4")]),
        ),
        // A gauge: its current value, the last of each minute.
        (vec!["queue.depth"], values(&[(m0, "7"), (m1, "3.5")])),
        (
            vec!["queue.depth", "--agg", "max", "--step", "2m"],
            values(&[(m0, "7")]),
        ),
    ];
    for (args, want) in cases {
        assert_eq!(series(args.as_slice()), want, "{args:?}");
    }
    // Without --from, the last hour, which holds the same points.
    assert_eq!(
        s.query(&["metrics", "orders.placed"]),
        values(&[(m0, "5"), (m1, "4")])
    );

    let sum = s.query_json(&[
        "metrics",
        "orders.placed",
        "--agg",
        "sum",
        "--step",
        "1m",
        "--from",
        from,
        "--to",
        to,
    ]);
    assert_eq!(
        sum,
        s.api(
            "/api/v1/metrics/orders.placed/series",
            &[("from", from), ("to", to), ("agg", "sum"), ("step", "1m")]
        )
    );
    assert_eq!(sum["name"], "orders.placed", "{sum}");
    assert_eq!(sum["agg"], "sum", "{sum}");
    assert_eq!(sum["step_seconds"], 60.0, "{sum}");
    assert_eq!(sum["source"], "rollup_1m", "{sum}");
    assert_eq!(sum["from"], from, "{sum}");
    assert_eq!(sum["to"], to, "{sum}");
    assert_eq!(sum["series"][0]["group"], json!({}), "{sum}");
    assert_eq!(sum["series"][0]["points"][0]["value"], 5.0, "{sum}");
    assert_eq!(
        sum["series"][0]["points"][1]["time"],
        rfc3339(s.t0 + MINUTE)
    );
    let by_region = s.query_json(&[
        "metrics",
        "orders.placed",
        "--group-by",
        "region",
        "--from",
        from,
        "--to",
        to,
    ]);
    assert_eq!(by_region["source"], "raw", "{by_region}");
    assert_eq!(
        by_region["series"][0]["group"],
        json!({"region": "eu"}),
        "{by_region}"
    );
    assert_eq!(
        by_region["series"][1]["group"],
        json!({"region": "us"}),
        "{by_region}"
    );
    let gauge = s.query_json(&["metrics", "queue.depth", "--from", from, "--to", to]);
    assert_eq!(gauge["agg"], "last", "a gauge's default: {gauge}");

    // A stored metric without points in the range: the range, and how to widen it.
    let later: &str = &rfc3339(s.t0 + 5 * MINUTE);
    assert_eq!(
        s.query(&["metrics", "orders.placed", "--from", later, "--to", to]),
        format!(
            "no points from {} to {}; widen the range with --from (e.g. --from -24h)\n",
            shown(s.t0 + 5 * MINUTE),
            shown(s.t0 + 10 * MINUTE)
        )
    );
}

/// A metric name that is not stored is an error (also with `--json`), naming the
/// stored names that come close, whatever their case, or else how to list them.
#[test]
fn an_unknown_metric_is_an_error_naming_close_names() {
    let s = Server::start(&[], None);
    s.send_metrics();
    let generic = "`automagik-telemetry query metrics` lists the stored names";
    assert_eq!(
        s.query_error(&["metrics", "no.such.metric"]),
        format!("error: no metric named \"no.such.metric\" is stored; {generic}\n")
    );
    assert_eq!(
        s.query_error(&["metrics", "no.such.metric", "--json"]),
        format!("error: no metric named \"no.such.metric\" is stored; {generic}\n")
    );
    assert_eq!(
        s.query_error(&["metrics", "depth"]),
        "error: no metric named \"depth\" is stored; did you mean queue.depth?\n"
    );
    assert_eq!(
        s.query_error(&["metrics", "QUEUE.DEPTH"]),
        "error: no metric named \"QUEUE.DEPTH\" is stored; did you mean queue.depth?\n"
    );
    assert_eq!(
        s.query_error(&["metrics", "orders.placed.total"]),
        "error: no metric named \"orders.placed.total\" is stored; did you mean orders.placed?\n"
    );
}

/// `query runs` prints the agent runs newest first with their status, duration, action
/// count and quality; `--agent`, `--status`, `--from`, `--to` and `--limit` narrow it.
/// `query runs ID` prints one run and its actions, oldest first; an id that is not
/// stored is an error.
#[test]
fn runs_are_listed_filtered_and_shown_with_their_actions() {
    let s = Server::start(&[], None);
    s.send_runs();
    let all = [
        (
            "reviewer",
            row(&[
                &shown(s.at(5_000)),
                "reviewer",
                "failed",
                "300.0 ms",
                "0",
                "-",
                "run-reviewer-1",
            ]),
        ),
        (
            "planner",
            row(&[
                &shown(s.at(4_000)),
                "planner",
                "completed",
                "500.0 ms",
                "2",
                "0.75",
                "run-planner-1",
            ]),
        ),
    ];
    let t4500: &str = &rfc3339(s.at(4_500));
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec![], vec!["reviewer", "planner"]),
        (vec!["--agent", "planner"], vec!["planner"]),
        (vec!["--agent", "nobody"], vec![]),
        (vec!["--status", "failed"], vec!["reviewer"]),
        (vec!["--status", "completed"], vec!["planner"]),
        (vec!["--from", t4500], vec!["reviewer"]),
        (vec!["--to", t4500], vec!["planner"]),
        (vec!["--limit", "1"], vec!["reviewer"]),
    ];
    for (flags, names) in cases {
        let mut args = vec!["runs"];
        args.extend_from_slice(&flags);
        assert_eq!(
            s.query(&args),
            table(&RUN_HEADERS, &pick(&all, &names)),
            "{flags:?}"
        );
    }
    let listed = s.query_json(&["runs"]);
    assert_eq!(listed, s.api("/api/v1/agents/runs", &[("limit", "20")]));
    assert_eq!(listed["items"][1]["correlation_id"], "run-planner-1");
    assert_eq!(listed["items"][1]["trace_id"], hex(0xd4, 16));
    assert_eq!(listed["items"][1]["quality_score"], 0.75);
    assert_eq!(listed["items"][0]["service_name"], "agents");

    assert_eq!(
        s.query(&["runs", "run-planner-1"]),
        format!(
            "run run-planner-1 of planner: completed in 500.0 ms, quality 0.75\n{}",
            table(
                &ACTION_HEADERS,
                &[
                    row(&[
                        &shown(s.at(4_100)),
                        "tool_call",
                        "search",
                        "40.0 ms",
                        "false"
                    ]),
                    row(&[
                        &shown(s.at(4_200)),
                        "decision",
                        "answer_from_docs",
                        "0.0 ms",
                        "false"
                    ]),
                ],
            )
        )
    );
    assert_eq!(
        s.query(&["runs", "run-reviewer-1"]),
        format!(
            "run run-reviewer-1 of reviewer: failed in 300.0 ms, quality -\n{}",
            table(&ACTION_HEADERS, &[])
        )
    );
    let detail = s.query_json(&["runs", "run-planner-1"]);
    assert_eq!(detail, s.api("/api/v1/agents/runs/run-planner-1", &[]));
    let actions: Vec<(&str, &str)> = detail["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["action_type"].as_str().expect("type"),
                a["name"].as_str().expect("name"),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [("tool_call", "search"), ("decision", "answer_from_docs")]
    );
    assert_eq!(
        s.query_error(&["runs", "no-such-run"]),
        "error: /api/v1/agents/runs/no-such-run: HTTP 404: run not found\n"
    );
}

/// `query operations` prints span counts, errors and latency percentiles per service
/// and operation, the busiest first; `--service` narrows it, `--from` and `--to` set
/// the range.
#[test]
fn operations_show_counts_errors_and_percentiles() {
    let s = Server::start(&[], None);
    s.send_traces();
    let from: &str = &rfc3339(s.t0);
    let to: &str = &rfc3339(s.t0 + 10 * MINUTE);
    let cart = row(&[
        "checkout",
        "GET /cart",
        "2",
        "0",
        &percentile(80),
        &percentile(120),
        &percentile(120),
    ]);
    let charge = row(&[
        "billing",
        "POST /charge",
        "1",
        "1",
        &percentile(250),
        &percentile(250),
        &percentile(250),
    ]);
    let select = row(&[
        "checkout",
        "SELECT cart",
        "1",
        "0",
        &percentile(30),
        &percentile(30),
        &percentile(30),
    ]);
    assert_eq!(
        s.query(&["operations", "--from", from, "--to", to]),
        table(
            &OPERATION_HEADERS,
            &[cart.clone(), charge.clone(), select.clone()]
        )
    );
    assert_eq!(
        s.query(&[
            "operations",
            "--service",
            "billing",
            "--from",
            from,
            "--to",
            to
        ]),
        table(&OPERATION_HEADERS, &[charge])
    );
    assert_eq!(
        s.query(&["operations", "--service", "checkout"]),
        table(&OPERATION_HEADERS, &[cart, select]),
        "by default the last hour, which holds them"
    );
    assert_eq!(
        s.query(&["operations", "--to", "-2h"]),
        table(&OPERATION_HEADERS, &[])
    );
    let ops = s.query_json(&["operations", "--from", from, "--to", to]);
    assert_eq!(
        ops,
        s.api("/api/v1/operations", &[("from", from), ("to", to)])
    );
    assert_eq!(ops["resolution_seconds"], 60, "{ops}");
    assert_eq!(ops["items"][1]["operation"], "POST /charge", "{ops}");
    assert_eq!(ops["items"][1]["error_count"], 1, "{ops}");
}

/// On a server that holds nothing, every listing prints its headers and says there is
/// nothing yet, and any metric name is unknown.
#[test]
fn an_empty_server_prints_headers_and_nothing_yet() {
    let s = Server::start(&[], None);
    for (what, headers) in [
        ("traces", &TRACE_HEADERS[..]),
        ("logs", &LOG_HEADERS[..]),
        ("events", &EVENT_HEADERS[..]),
        ("metrics", &METRIC_HEADERS[..]),
        ("runs", &RUN_HEADERS[..]),
        ("operations", &OPERATION_HEADERS[..]),
    ] {
        assert_eq!(s.query(&[what]), table(headers, &[]), "{what}");
    }
    assert_eq!(
        s.query_json(&["traces"]),
        json!({"items": [], "next_cursor": null})
    );
    assert_eq!(
        s.query_error(&["metrics", "orders.placed"]),
        "error: no metric named \"orders.placed\" is stored; \
         `automagik-telemetry query metrics` lists the stored names\n"
    );
}

/// A flag value the server refuses is reported in the command's words: the flag, not
/// the API's parameter (`--severity`, never `severity_min`), with what is expected; a
/// value the command itself cannot parse, or an unknown kind, is refused before any
/// request.
#[test]
fn refused_flag_values_are_named_by_their_flags() {
    let s = Server::start(&[], None);
    s.send_metrics();
    let relative = "expected RFC 3339 (2026-11-22T03:00:00Z) or a relative time like -1h";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["logs", "--severity", "bogus"],
            "--severity: expected a severity name or number 0-24".into(),
        ),
        (
            vec!["logs", "--severity", "25"],
            "--severity: expected a severity name or number 0-24".into(),
        ),
        (
            vec!["traces", "--status", "maybe"],
            "--status: expected unset, ok or error".into(),
        ),
        (
            vec!["runs", "--status", "done"],
            "--status: expected completed or failed".into(),
        ),
        (
            vec!["traces", "--limit", "0"],
            "--limit: expected a whole number from 1 to 1000".into(),
        ),
        (
            vec!["logs", "--limit", "1001"],
            "--limit: expected a whole number from 1 to 1000".into(),
        ),
        (
            vec!["events", "--from", "yesterday"],
            format!("--from: {relative}"),
        ),
        (vec!["runs", "--to", "soon"], format!("--to: {relative}")),
        (
            vec!["logs", "--from", "-1x"],
            "--from: expected a duration such as 5s, 250ms, 2m, 1h or 7d \
             (a bare number is seconds), got \"1x\""
                .into(),
        ),
        (
            vec!["metrics", "orders.placed", "--agg", "median"],
            "--agg: expected avg, sum, min, max, count, last or a percentile such as \
             p50, p90, p95, p99 or p99.9"
                .into(),
        ),
        (
            vec!["metrics", "orders.placed", "--step", "90s"],
            "--step: a whole number of minutes (rollups are per minute and per hour)".into(),
        ),
        (
            vec!["metrics", "orders.placed", "--step", "0s"],
            "--step: must be longer than zero".into(),
        ),
        (
            vec!["metrics", "orders.placed", "--step", "1m", "--from", "-30d"],
            "--step: too small for the range (more than 10000 points)".into(),
        ),
        (
            vec![
                "metrics",
                "queue.depth",
                "--group-by",
                "queue",
                "--step",
                "500ms",
            ],
            "--step: at least 1s".into(),
        ),
        (
            vec!["metrics", "orders.placed", "--from", "-1h", "--to", "-2h"],
            "--from must not be after --to".into(),
        ),
        (
            vec!["operations", "--from", "-1h", "--to", "-2h"],
            "--from must not be after --to".into(),
        ),
    ];
    for (args, want) in cases {
        let err = s.query_error(&args);
        assert_eq!(err, format!("error: {want}\n"), "{args:?}");
        for param in ["severity_min", "group_by", "trace_id"] {
            assert!(!err.contains(param), "{args:?}: {err}");
        }
    }

    // Refused by the command before any request.
    let not_a_number = run(&["query", "traces", "--limit", "ten", "--endpoint", &s.base]);
    assert_eq!(not_a_number.status.code(), Some(2), "{not_a_number:?}");
    let err = String::from_utf8_lossy(&not_a_number.stderr);
    assert!(
        err.contains("invalid value 'ten' for '--limit <LIMIT>': invalid digit found in string"),
        "{err}"
    );
    let unknown = run(&["query", "services", "--endpoint", &s.base]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("invalid value 'services' for '<WHAT>'"),
        "{err}"
    );
    assert!(
        err.contains("[possible values: traces, logs, events, metrics, runs, operations]"),
        "{err}"
    );
}

/// The server's address comes from `--endpoint` or, without it, from
/// `AUTOMAGIK_TELEMETRY_ENDPOINT`; the flag wins; a trailing slash changes nothing.
#[test]
fn the_endpoint_comes_from_the_flag_or_the_environment() {
    let s = Server::start(&[], None);
    s.send_traces();
    let want = s.traces_table();
    let from_env = command()
        .env("AUTOMAGIK_TELEMETRY_ENDPOINT", s.base.as_str())
        .args(["query", "traces"])
        .output()
        .expect("run");
    assert!(from_env.status.success(), "{from_env:?}");
    assert_eq!(String::from_utf8_lossy(&from_env.stdout), want);

    let closed = free_port();
    let flag_wins = command()
        .env(
            "AUTOMAGIK_TELEMETRY_ENDPOINT",
            format!("http://127.0.0.1:{closed}"),
        )
        .args(["query", "traces", "--endpoint", &s.base])
        .output()
        .expect("run");
    assert!(flag_wins.status.success(), "{flag_wins:?}");
    assert_eq!(String::from_utf8_lossy(&flag_wins.stdout), want);

    assert_eq!(
        ok(&["query", "traces", "--endpoint", &format!("{}/", s.base)]),
        want
    );
}

/// Against a server that wants tokens: no token or a wrong one is refused as
/// unauthorized, a token without the read scope as forbidden, and a token with it,
/// from `--token` or `AUTOMAGIK_TELEMETRY_TOKEN` (the flag winning), reads; no message
/// repeats a token.
#[test]
fn tokens_from_the_flag_or_the_environment() {
    let config_dir = tempfile::tempdir().expect("tempdir");
    let config = config_dir.path().join("serve.toml");
    let ingest_only = "ingest-only-token-0123456789";
    std::fs::write(&config, format!("token = [\"{ingest_only}:ingest\"]\n")).expect("write");
    let full = "query-token-0123456789abcdef";
    let wrong = "not-the-token-0123456789";
    let s = Server::start(
        &["--config", config.to_str().expect("utf-8"), "--token", full],
        Some(full),
    );
    s.send_traces();
    let unauthorized = "error: /api/v1/traces: HTTP 401: a valid bearer token is required\n";
    assert_eq!(s.query_error(&["traces"]), unauthorized);
    assert_eq!(s.query_error(&["traces", "--token", wrong]), unauthorized);
    let forbidden = s.query_error(&["traces", "--token", ingest_only]);
    assert_eq!(
        forbidden,
        "error: /api/v1/traces: HTTP 403: this token lacks the read scope\n"
    );
    assert_eq!(
        s.query_error(&["metrics", "--token", ingest_only]),
        "error: /api/v1/metrics: HTTP 403: this token lacks the read scope\n"
    );
    assert_eq!(s.query(&["traces", "--token", full]), s.traces_table());

    let with_env = |token: &str, extra: &[&str]| {
        command()
            .env("AUTOMAGIK_TELEMETRY_TOKEN", token)
            .args(["query", "traces", "--endpoint", &s.base])
            .args(extra)
            .output()
            .expect("run")
    };
    let env_token = with_env(full, &[]);
    assert!(env_token.status.success(), "{env_token:?}");
    assert_eq!(String::from_utf8_lossy(&env_token.stdout), s.traces_table());
    let flag_wins = with_env(wrong, &["--token", full]);
    assert!(flag_wins.status.success(), "{flag_wins:?}");
    assert_eq!(String::from_utf8_lossy(&flag_wins.stdout), s.traces_table());
    let flag_wins_wrongly = with_env(full, &["--token", wrong]);
    assert_eq!(flag_wins_wrongly.status.code(), Some(1));
    let err = String::from_utf8_lossy(&flag_wins_wrongly.stderr).into_owned();
    assert_eq!(err, unauthorized);
    for text in [&forbidden, &err] {
        for token in [full, wrong, ingest_only] {
            assert!(!text.contains(token), "{token} printed: {text}");
        }
    }
}

/// No server at the endpoint: an error naming the address and asking whether `serve`
/// runs. A server that answers something other than JSON there: an error naming the URL.
#[test]
fn no_server_or_no_json_at_the_endpoint() {
    let closed = free_port();
    let endpoint = format!("http://127.0.0.1:{closed}");
    for what in ["traces", "logs", "metrics", "runs"] {
        let out = run(&["query", what, "--endpoint", &endpoint]);
        assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
        assert!(out.stdout.is_empty(), "{what}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(&format!(
                "error: cannot reach {endpoint}; is `automagik-telemetry serve` running?: "
            )),
            "{what}: {err}"
        );
    }

    let s = Server::start(&[], None);
    let elsewhere = format!("{}/elsewhere", s.base);
    let out = run(&["query", "traces", "--endpoint", &elsewhere]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "error: {elsewhere}/api/v1/traces did not answer JSON: "
        )),
        "{err}"
    );
}
