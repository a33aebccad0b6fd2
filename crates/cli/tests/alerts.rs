//! Alert rules on the real binary: `serve` with `[[alert]]` tables in its config file,
//! metric points sent over OTLP/HTTP, the states `GET /api/v1/alerts` lists and the
//! notifications a webhook receiver on loopback gets. Every reduction (`min`, `max`,
//! `avg`, `sum`, `last`) and every comparison (`>`, `>=`, `<`, `<=`) at and beside its
//! threshold, string and integer `where` filters, gauges, sums and histograms; a rule
//! that fires once while it holds, resolves when its value goes back or its points age
//! out, and fires again; a webhook that hangs, fails or is not there holding up
//! nothing; and invalid rules refused at start with the rule and the setting named.

use automagik_telemetry_testkit::build::{any_kv, string_kv};
use common::{Running, command, free_port, serve};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::Value;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

const SECOND: u64 = 1_000_000_000;
const INGEST: &str = "alerts-ingest-only-0123456789";
const READ: &str = "alerts-read-only-0123456789";

/// A client that hands back every status as an answer.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// `(status, body as JSON, or as a JSON string when it is not JSON)` of `GET url`.
fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let agent = agent();
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The rules and their states, as `GET /api/v1/alerts` lists them.
fn alerts(base: &str, token: Option<&str>) -> Vec<Value> {
    let (status, v) = get(&format!("{base}/api/v1/alerts"), token);
    assert_eq!(status, 200, "{v}");
    v["items"].as_array().expect("items").clone()
}

/// The rule named `name` in `items`.
fn rule<'a>(items: &'a [Value], name: &str) -> &'a Value {
    items
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {items:?}"))
}

/// Polls `check` until it gives a value (at most 30 s); the last reason it gave is in
/// the failure.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) => assert!(Instant::now() < deadline, "{what}: {last}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Returns once the server has evaluated its rules `n` more times (each evaluation
/// moves the first rule's `evaluated`).
fn wait_evaluations(base: &str, token: Option<&str>, n: usize) {
    let evaluated = || alerts(base, token)[0]["evaluated"].clone();
    let mut seen = vec![evaluated()];
    eventually(&format!("{n} more evaluations"), || {
        let now = evaluated();
        if !seen.contains(&now) {
            seen.push(now);
        }
        if seen.len() > n {
            Ok(())
        } else {
            Err(format!("evaluated at {seen:?}"))
        }
    });
}

/// `service.name = checkout` over these metrics.
fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", "checkout")],
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

/// A number point of `value` at `at` (ns).
fn number(value: f64, at: u64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        time_unix_nano: at,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

/// One gauge point of `metric`, now.
fn now_point(metric: &str, value: f64) -> ExportMetricsServiceRequest {
    request(vec![gauge(metric, vec![number(value, now_ns(), vec![])])])
}

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    }
}

/// A monotonic sum with delta temporality: each point is an increase, stored as sent.
fn delta_sum(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Delta as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

/// A delta histogram point of `count` values adding up to `sum` at `at`, over one bound
/// at 10.
fn histogram_point(count: u64, sum: f64, below_ten: u64, at: u64) -> HistogramDataPoint {
    HistogramDataPoint {
        time_unix_nano: at,
        count,
        sum: Some(sum),
        bucket_counts: vec![below_ten, count - below_ten],
        explicit_bounds: vec![10.0],
        ..Default::default()
    }
}

/// POSTs `req` to `/v1/metrics` as protobuf; the status. A 200 must have stored every
/// point (no partial success).
fn send(port: u16, token: Option<&str>, req: &ExportMetricsServiceRequest) -> u16 {
    let agent = agent();
    let mut post = agent
        .post(format!("http://127.0.0.1:{port}/v1/metrics"))
        .header("content-type", "application/x-protobuf");
    if let Some(t) = token {
        post = post.header("authorization", &format!("Bearer {t}"));
    }
    let mut resp = post
        .send(req.encode_to_vec().as_slice())
        .expect("POST /v1/metrics");
    let status = resp.status().as_u16();
    if status == 200 {
        let body = resp.body_mut().read_to_vec().expect("body");
        let answer = ExportMetricsServiceResponse::decode(body.as_slice()).expect("an answer");
        assert_eq!(
            answer.partial_success.map_or(0, |p| p.rejected_data_points),
            0,
            "every point stored"
        );
    }
    status
}

/// Now, ns.
fn now_ns() -> u64 {
    automagik_telemetry_testkit::now_ns()
}

/// One request a webhook receiver got.
#[derive(Clone, Debug)]
struct Posted {
    method: String,
    path: String,
    /// Lowercase names.
    headers: Vec<(String, String)>,
    body: Value,
    /// Earlier requests left unanswered whose connection the server still held open
    /// when this one came.
    waiting: usize,
}

impl Posted {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// How the receiver answers a request.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// 200.
    Ok,
    /// This status.
    Status(u16),
    /// Never: the connection is kept open unanswered.
    Hang,
}

/// A webhook receiver on a loopback port: keeps every JSON body posted to it, answering
/// each request as its script says (then 200).
struct Hook {
    port: u16,
    posted: Arc<Mutex<Vec<Posted>>>,
}

impl Hook {
    fn start(script: Vec<Answer>) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the webhook receiver");
        let port = listener.local_addr().expect("address").port();
        let posted = Arc::new(Mutex::new(Vec::new()));
        let keep = posted.clone();
        std::thread::spawn(move || {
            let mut script = VecDeque::from(script);
            let mut held: Vec<TcpStream> = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let Some(request) = read_request(&stream) else {
                    continue;
                };
                let waiting = held.iter().filter(|s| still_open(s)).count();
                if let Ok(body) = serde_json::from_slice(&request.body) {
                    keep.lock().expect("lock").push(Posted {
                        method: request.method,
                        path: request.path,
                        headers: request.headers,
                        body,
                        waiting,
                    });
                }
                match script.pop_front().unwrap_or(Answer::Ok) {
                    Answer::Hang => held.push(stream),
                    Answer::Ok => {
                        let _ = stream.write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        );
                    }
                    Answer::Status(code) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {code} Failing\r\ncontent-length: 0\r\n\
                             connection: close\r\n\r\n"
                        );
                    }
                }
            }
        });
        Hook { port, posted }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn posted(&self) -> Vec<Posted> {
        self.posted.lock().expect("lock").clone()
    }

    /// The notifications about `rule`, in the order they came.
    fn of(&self, rule: &str) -> Vec<Value> {
        self.posted()
            .into_iter()
            .filter(|p| p.body["rule"] == rule)
            .map(|p| p.body)
            .collect()
    }

    /// Waits until `n` notifications about `rule` came; they.
    fn wait_for(&self, rule: &str, n: usize) -> Vec<Value> {
        eventually(&format!("{n} notifications of {rule:?}"), || {
            let got = self.of(rule);
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("{:?}", self.posted()))
            }
        })
    }
}

/// One HTTP/1.1 request as read off its connection.
struct Received {
    method: String,
    path: String,
    /// Lowercase names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Reads one request (its body by `Content-Length`) from `stream`.
fn read_request(stream: &TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}

/// Whether the other end still holds `stream` open (it has neither closed nor sent
/// anything more).
fn still_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let open = matches!(
        stream.peek(&mut byte),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    );
    let _ = stream.set_nonblocking(false);
    open
}

/// `serve` on a free port with `config` as its config file (in `dir`, its data dir);
/// the server and its port.
fn start(dir: &Path, config: &str) -> (Running, u16) {
    let path = dir.join("serve.toml");
    std::fs::write(&path, config).expect("write the config");
    let port = free_port();
    let server = Running(serve(
        dir,
        port,
        "off",
        &["--config", path.to_str().expect("utf-8")],
    ));
    (server, port)
}

/// One `[[alert]]` table and what it must show once the points of
/// [`every_reduction_and_comparison_decides_on_the_value_it_should`] are stored.
struct Case {
    name: &'static str,
    metric: &'static str,
    filter: Option<&'static str>,
    reduce: Option<&'static str>,
    condition: &'static str,
    for_: &'static str,
    severity: Option<&'static str>,
    state: &'static str,
    value: Option<f64>,
}

impl Case {
    fn toml(&self) -> String {
        let mut t = format!(
            "[[alert]]\nname = \"{}\"\nmetric = \"{}\"\ncondition = \"{}\"\n\
             window = \"1h\"\nfor = \"{}\"\n",
            self.name, self.metric, self.condition, self.for_
        );
        if let Some(w) = self.filter {
            t.push_str(&format!("where = \"{w}\"\n"));
        }
        if let Some(r) = self.reduce {
            t.push_str(&format!("reduce = \"{r}\"\n"));
        }
        if let Some(s) = self.severity {
            t.push_str(&format!("severity = \"{s}\"\n"));
        }
        t
    }
}

const LATENCY: &str = "checkout.latency_ms";

/// A rule on `checkout.latency_ms` of host `a`, for 0 s, severity `warning`.
fn latency(
    name: &'static str,
    reduce: &'static str,
    condition: &'static str,
    state: &'static str,
    value: f64,
) -> Case {
    Case {
        name,
        metric: LATENCY,
        filter: Some("host=a"),
        reduce: Some(reduce),
        condition,
        for_: "0s",
        severity: None,
        state,
        value: Some(value),
    }
}

/// Host `a` reports 2, 11 and 5 ms (sent out of time order, 5 being the newest), host
/// `b` 1000 ms: min 2, max 11, avg 6, sum 18, last 5. Each rule lands on the state its
/// comparison gives at, above or below its threshold, with the value its reduction
/// gives; only rules that fire are posted, each once.
#[test]
fn every_reduction_and_comparison_decides_on_the_value_it_should() {
    let cases = [
        latency("min below", "min", "< 3", "firing", 2.0),
        latency("min not below itself", "min", "< 2", "inactive", 2.0),
        Case {
            severity: Some("critical"),
            ..latency("max above", "max", "> 10", "firing", 11.0)
        },
        latency("max not above itself", "max", "> 11", "inactive", 11.0),
        latency("avg at least itself", "avg", ">= 6", "firing", 6.0),
        latency("avg not at least", "avg", ">= 6.5", "inactive", 6.0),
        latency("sum at most itself", "sum", "<= 18", "firing", 18.0),
        latency("sum not at most", "sum", "<= 17.5", "inactive", 18.0),
        latency("newest above", "last", "> 4.5", "firing", 5.0),
        latency("newest not above itself", "last", "> 5", "inactive", 5.0),
        Case {
            reduce: None,
            ..latency("avg by default", "avg", "> 5.5", "firing", 6.0)
        },
        Case {
            filter: None,
            ..latency("any host", "max", "> 999", "firing", 1000.0)
        },
        Case {
            filter: Some("host=c"),
            value: None,
            ..latency("no such host", "max", ">= 0", "inactive", 0.0)
        },
        Case {
            metric: "checkout.errors",
            filter: Some("code=503"),
            ..latency("errors of one code", "sum", ">= 7", "firing", 7.0)
        },
        Case {
            metric: "checkout.duration_ms",
            filter: None,
            ..latency("histogram means", "avg", ">= 15", "firing", 15.0)
        },
        Case {
            metric: "never.sent",
            filter: None,
            value: None,
            ..latency("no data", "max", "> 0", "inactive", 0.0)
        },
        Case {
            for_: "1h",
            ..latency("held for an hour", "max", "> 10", "pending", 11.0)
        },
        Case {
            for_: "300ms",
            ..latency("held briefly", "max", "> 10", "firing", 11.0)
        },
    ];
    let hook = Hook::start(vec![]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = format!(
        "alert_interval = \"100ms\"\nalert_webhook = \"{}\"\n\n",
        hook.url()
    );
    for c in &cases {
        config.push_str(&c.toml());
        config.push('\n');
    }
    let (_server, port) = start(dir.path(), &config);
    let base = format!("http://127.0.0.1:{port}");

    let t = now_ns();
    let host = |h: &str| vec![string_kv("host", h)];
    let code = |c: i64| vec![any_kv("code", any_value::Value::IntValue(c))];
    let req = request(vec![
        gauge(
            LATENCY,
            vec![
                number(5.0, t - SECOND, host("a")),
                number(2.0, t - 3 * SECOND, host("a")),
                number(11.0, t - 2 * SECOND, host("a")),
                number(1000.0, t - 2 * SECOND, host("b")),
            ],
        ),
        delta_sum(
            "checkout.errors",
            vec![
                number(3.0, t - 2 * SECOND, code(503)),
                number(4.0, t - SECOND, code(503)),
                number(100.0, t - SECOND, code(200)),
            ],
        ),
        Metric {
            name: "checkout.duration_ms".into(),
            data: Some(Data::Histogram(Histogram {
                // Means 25 and 5.
                data_points: vec![
                    histogram_point(4, 100.0, 1, t - 2 * SECOND),
                    histogram_point(1, 5.0, 1, t - SECOND),
                ],
                aggregation_temporality: AggregationTemporality::Delta as i32,
            })),
            ..Default::default()
        },
    ]);
    assert_eq!(send(port, None, &req), 200);

    let firing: Vec<&Case> = cases.iter().filter(|c| c.state == "firing").collect();
    assert_eq!(firing.len(), 10);
    eventually("every rule that holds fires", || {
        let posted = hook.posted();
        if posted.len() >= firing.len() {
            Ok(())
        } else {
            Err(format!("{posted:?}"))
        }
    });
    // Several evaluations later, still one notification each.
    wait_evaluations(&base, None, 5);
    let items = alerts(&base, None);
    let names: Vec<&str> = items.iter().filter_map(|a| a["name"].as_str()).collect();
    let listed: Vec<&str> = cases.iter().map(|c| c.name).collect();
    assert_eq!(names, listed, "every rule, in the file's order");
    for c in &cases {
        let a = rule(&items, c.name);
        assert_eq!(a["state"], c.state, "{}: {a}", c.name);
        assert_eq!(a["value"].as_f64(), c.value, "{}: {a}", c.name);
        assert!(a["evaluated"].is_string(), "{}: {a}", c.name);
        let notes = hook.of(c.name);
        if c.state != "firing" {
            assert!(notes.is_empty(), "{} never fires: {notes:?}", c.name);
            continue;
        }
        assert_eq!(notes.len(), 1, "{} fires once: {notes:?}", c.name);
        let n = &notes[0];
        assert_eq!(n["status"], "firing", "{n}");
        assert_eq!(n["value"].as_f64(), c.value, "{n}");
        assert_eq!(n["condition"], c.condition, "{n}");
        assert_eq!(n["metric"], c.metric, "{n}");
        assert_eq!(n["severity"], c.severity.unwrap_or("warning"), "{n}");
        // The time it fired is when its state began.
        assert_eq!(n["time"], a["since"], "{}: {n} {a}", c.name);
    }
    assert_eq!(hook.posted().len(), firing.len(), "{:?}", hook.posted());

    // What a notification holds, and how it is sent.
    let posted = hook.posted();
    let max = posted
        .iter()
        .find(|p| p.body["rule"] == "max above")
        .expect("max above was posted");
    let mut keys: Vec<&str> = max
        .body
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "condition",
            "metric",
            "rule",
            "severity",
            "status",
            "time",
            "value"
        ]
    );
    assert_eq!(max.body["severity"], "critical");
    assert!(
        max.body["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{}",
        max.body
    );
    assert_eq!((max.method.as_str(), max.path.as_str()), ("POST", "/hook"));
    assert!(
        max.header("content-type").starts_with("application/json"),
        "{:?}",
        max.headers
    );
    assert!(
        max.header("user-agent")
            .starts_with("automagik-telemetry-server/"),
        "{:?}",
        max.headers
    );

    // How a rule is listed.
    let held = rule(&items, "held for an hour");
    assert_eq!(held["metric"], LATENCY);
    assert_eq!(held["where"], "host=a");
    assert_eq!(held["reduce"], "max");
    assert_eq!(held["condition"], ">");
    assert_eq!(held["threshold"], 10.0);
    assert_eq!(held["window_seconds"], 3600.0);
    assert_eq!(held["for_seconds"], 3600.0);
    assert_eq!(held["severity"], "warning");
    let (since, evaluated) = (
        held["since"].as_str().expect("since"),
        held["evaluated"].as_str().expect("evaluated"),
    );
    assert!(since <= evaluated, "{held}");
    assert_eq!(rule(&items, "held briefly")["for_seconds"], 0.3);
    assert_eq!(rule(&items, "avg by default")["reduce"], "avg");
    assert_eq!(rule(&items, "any host")["where"], Value::Null);
    assert_eq!(rule(&items, "errors of one code")["where"], "code=503");
    let none = rule(&items, "no data");
    assert_eq!(none["since"], Value::Null, "never left inactive: {none}");
}

/// With tokens, the alert list needs the read scope and the points the ingest scope. A
/// rule on the newest value fires, resolves when the value goes back under its
/// threshold and fires again when it comes back; a rule whose points age out of its
/// window resolves with no value. Each change is posted once.
#[test]
fn a_rule_resolves_when_its_value_goes_back_or_ages_out_and_fires_again() {
    let hook = Hook::start(vec![]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"
alert_interval = "100ms"
alert_webhook = "{}"
token = ["{INGEST}:ingest", "{READ}:read"]

[[alert]]
name = "queue backed up"
metric = "queue.depth"
reduce = "last"
condition = "> 100"
window = "1h"
severity = "critical"

[[alert]]
name = "worker busy"
metric = "worker.busy"
reduce = "max"
condition = ">= 1"
window = "5s"
"#,
        hook.url()
    );
    let (_server, port) = start(dir.path(), &config);
    let base = format!("http://127.0.0.1:{port}");

    // The list needs a token with the read scope.
    let url = format!("{base}/api/v1/alerts");
    let (status, body) = get(&url, None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "a valid bearer token is required");
    let (status, body) = get(&url, Some(INGEST));
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "this token lacks the read scope");
    let items = alerts(&base, Some(READ));
    assert_eq!(items.len(), 2);
    assert_eq!(rule(&items, "queue backed up")["state"], "inactive");

    let depth = |v: f64| now_point("queue.depth", v);
    // Points need the ingest scope: refused ones change nothing.
    assert_eq!(send(port, None, &depth(150.0)), 401);
    assert_eq!(send(port, Some(READ), &depth(150.0)), 403);
    wait_evaluations(&base, Some(READ), 2);
    assert!(hook.posted().is_empty(), "{:?}", hook.posted());

    let busy = now_point("worker.busy", 1.0);
    assert_eq!(send(port, Some(INGEST), &busy), 200);
    assert_eq!(send(port, Some(INGEST), &depth(150.0)), 200);
    let notes = hook.wait_for("queue backed up", 1);
    assert_eq!(notes[0]["status"], "firing");
    assert_eq!(notes[0]["value"], 150.0);
    assert_eq!(notes[0]["severity"], "critical");
    assert_eq!(notes[0]["condition"], "> 100");

    // Back under the threshold: resolved, with the value that decided.
    assert_eq!(send(port, Some(INGEST), &depth(50.0)), 200);
    let notes = hook.wait_for("queue backed up", 2);
    assert_eq!(notes[1]["status"], "resolved", "{notes:?}");
    assert_eq!(notes[1]["value"], 50.0);
    assert_eq!(notes[1]["condition"], "> 100");
    assert_eq!(notes[1]["metric"], "queue.depth");
    let items = alerts(&base, Some(READ));
    let queue = rule(&items, "queue backed up");
    assert_eq!(queue["state"], "inactive", "{queue}");
    assert_eq!(queue["value"], 50.0);
    assert_eq!(
        queue["since"], notes[1]["time"],
        "inactive since it resolved"
    );

    // Over it again: fires again.
    assert_eq!(send(port, Some(INGEST), &depth(300.0)), 200);
    let notes = hook.wait_for("queue backed up", 3);
    assert_eq!(notes[2]["status"], "firing", "{notes:?}");
    assert_eq!(notes[2]["value"], 300.0);

    // The busy point leaves the 5 s window: resolved with no value.
    let busy = hook.wait_for("worker busy", 2);
    let statuses: Vec<&str> = busy.iter().filter_map(|n| n["status"].as_str()).collect();
    assert_eq!(statuses, ["firing", "resolved"], "{busy:?}");
    assert_eq!(busy[0]["value"], 1.0);
    assert_eq!(busy[1]["value"], Value::Null, "{busy:?}");
    let items = alerts(&base, Some(READ));
    let worker = rule(&items, "worker busy");
    assert_eq!(worker["state"], "inactive", "{worker}");
    assert_eq!(worker["value"], Value::Null);

    // Nothing more while nothing changes.
    wait_evaluations(&base, Some(READ), 5);
    let statuses: Vec<String> = hook
        .of("queue backed up")
        .iter()
        .filter_map(|n| n["status"].as_str().map(str::to_string))
        .collect();
    assert_eq!(statuses, ["firing", "resolved", "firing"]);
    assert_eq!(hook.of("worker busy").len(), 2);
    assert_eq!(
        rule(&alerts(&base, Some(READ)), "queue backed up")["state"],
        "firing"
    );
}

/// A webhook that never answers does not hold up the next notification (posted while the
/// first still waits), one that answers 500 is not retried, and the rule's state follows
/// its value throughout; no evaluation counts as failed.
#[test]
fn a_webhook_that_hangs_or_fails_holds_nothing_up() {
    let hook = Hook::start(vec![Answer::Hang, Answer::Status(500)]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"
alert_interval = "100ms"
alert_webhook = "{}"

[[alert]]
name = "disk full"
metric = "disk.used_pct"
reduce = "last"
condition = "> 90"
window = "1h"
"#,
        hook.url()
    );
    let (_server, port) = start(dir.path(), &config);
    let base = format!("http://127.0.0.1:{port}");
    let used = |v: f64| now_point("disk.used_pct", v);
    let state = || rule(&alerts(&base, None), "disk full")["state"].clone();
    let wait_state = |want: &str, posts: usize| {
        eventually(&format!("{want} and {posts} posts"), || {
            let (s, n) = (state(), hook.posted().len());
            if s == want && n >= posts {
                Ok(())
            } else {
                Err(format!("{s}, {:?}", hook.posted()))
            }
        });
    };

    assert_eq!(send(port, None, &used(97.5)), 200);
    wait_state("firing", 1);
    // The firing post waits for an answer that never comes; the resolution is posted
    // meanwhile.
    assert_eq!(send(port, None, &used(40.0)), 200);
    wait_state("inactive", 2);
    let posted = hook.posted();
    assert_eq!(posted[0].body["status"], "firing");
    assert_eq!(posted[0].body["value"], 97.5);
    assert_eq!(posted[1].body["status"], "resolved");
    assert_eq!(posted[1].body["value"], 40.0);
    assert_eq!(
        posted[1].waiting, 1,
        "the resolution came while the firing post still waited"
    );

    // The resolution was answered 500; the next change is posted all the same.
    assert_eq!(send(port, None, &used(95.0)), 200);
    wait_state("firing", 3);
    wait_evaluations(&base, None, 5);
    let statuses: Vec<String> = hook
        .posted()
        .iter()
        .filter_map(|p| p.body["status"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        statuses,
        ["firing", "resolved", "firing"],
        "no post is retried"
    );
    assert_eq!(hook.posted()[2].body["value"], 95.0);
    let (status, metrics) = get(&format!("{base}/metrics"), None);
    assert_eq!(status, 200);
    let text = metrics.as_str().expect("the metrics text");
    assert!(
        !text.contains("job=\"alerts\""),
        "no failed alert evaluation: {text}"
    );
}

/// A webhook address where nothing listens: the rule fires and resolves all the same,
/// and its evaluations keep running.
#[test]
fn a_webhook_nobody_listens_on_changes_no_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let closed = free_port();
    let config = format!(
        r#"
alert_interval = "100ms"
alert_webhook = "http://127.0.0.1:{closed}/hook"

[[alert]]
name = "errors"
metric = "http.errors"
reduce = "sum"
condition = ">= 3"
window = "1h"
"#
    );
    let (_server, port) = start(dir.path(), &config);
    let base = format!("http://127.0.0.1:{port}");
    let errors = |v: f64| {
        request(vec![delta_sum(
            "http.errors",
            vec![number(v, now_ns(), vec![])],
        )])
    };
    let wait_state = |want: &str, value: f64| {
        eventually(&format!("{want} at {value}"), || {
            let items = alerts(&base, None);
            let a = rule(&items, "errors");
            if a["state"] == want && a["value"] == value {
                Ok(())
            } else {
                Err(a.to_string())
            }
        });
    };
    assert_eq!(send(port, None, &errors(2.0)), 200);
    wait_state("inactive", 2.0);
    assert_eq!(send(port, None, &errors(1.0)), 200);
    wait_state("firing", 3.0);
    wait_evaluations(&base, None, 3);
    assert_eq!(rule(&alerts(&base, None), "errors")["state"], "firing");
    let (_, metrics) = get(&format!("{base}/metrics"), None);
    let text = metrics.as_str().expect("the metrics text");
    assert!(
        !text.contains("job=\"alerts\""),
        "no failed alert evaluation: {text}"
    );
}

/// What `serve` prints on standard error when it refuses `config` at start: it must
/// exit with status 1, without serving, within 20 s.
fn refused(config: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("serve.toml");
    std::fs::write(&path, config).expect("write the config");
    let port = free_port();
    let mut child = command()
        .env_remove("RUST_LOG")
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args([
            "--http-addr",
            &format!("127.0.0.1:{port}"),
            "--grpc-addr",
            "off",
            "--config",
        ])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the server") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve started with:\n{config}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert_eq!(status.code(), Some(1), "{config}\n{stderr}");
    assert!(
        ureq::get(format!("http://127.0.0.1:{port}/healthz"))
            .call()
            .is_err(),
        "nothing serves"
    );
    stderr
}

/// An `[[alert]]` table named `bad` with these extra lines.
fn bad(lines: &str) -> String {
    format!(
        "[[alert]]\nname = \"first\"\nmetric = \"m\"\ncondition = \"> 1\"\n\n\
         [[alert]]\nname = \"bad\"\nmetric = \"m\"\n{lines}\n"
    )
}

/// Each invalid rule stops `serve` at start with one line naming the rule and what is
/// wrong with it; a TOML mistake names the file and the key. The same file with the
/// rule right starts.
#[test]
fn invalid_rules_are_refused_at_start_naming_the_rule() {
    let duration = |setting: &str, v: &str| {
        format!(
            "{setting}: expected a duration such as 5s, 250ms, 2m, 1h or 7d \
             (a bare number is seconds), got \"{v}\""
        )
    };
    for (config, want) in [
        (
            bad("condition = \"= 5\""),
            "alert bad: condition \"= 5\": expected >, >=, < or <= and a number".to_string(),
        ),
        (
            bad("condition = \"\""),
            "alert bad: condition \"\": expected >, >=, < or <= and a number".to_string(),
        ),
        (
            bad("condition = \"> fast\""),
            "alert bad: condition \"> fast\": the threshold is not a number".to_string(),
        ),
        (
            bad("condition = \"> inf\""),
            "alert bad: condition \"> inf\": the threshold is not finite".to_string(),
        ),
        (
            bad("condition = \"<= NaN\""),
            "alert bad: condition \"<= NaN\": the threshold is not finite".to_string(),
        ),
        (
            bad("condition = \"> 1\"\nwhere = \"host\""),
            "alert bad: where = \"attribute=value\"".to_string(),
        ),
        (
            bad("condition = \"> 1\"\nwhere = \" = a\""),
            "alert bad: where = \"attribute=value\"".to_string(),
        ),
        (
            format!(
                "{}\n[[alert]]\nname = \"bad\"\nmetric = \"m\"\ncondition = \"> 2\"",
                bad("condition = \"> 1\"")
            ),
            "alert bad: another alert has this name".to_string(),
        ),
        (
            format!(
                "alert_webhook = \"hooks.example\"\n{}",
                bad("condition = \"> 1\"")
            ),
            "alert_webhook: expected an http:// or https:// URL, got \"hooks.example\"".to_string(),
        ),
        (
            bad("condition = \"> 1\"\nwindow = \"soon\""),
            format!("alert bad: {}", duration("window", "soon")),
        ),
        (
            bad("condition = \"> 1\"\nfor = \"-1s\""),
            format!("alert bad: {}", duration("for", "-1s")),
        ),
        (
            format!("alert_interval = \"often\"\n{}", bad("condition = \"> 1\"")),
            duration("alert_interval", "often"),
        ),
    ] {
        let stderr = refused(&config);
        assert_eq!(stderr.trim_end(), format!("error: {want}"), "{config}");
    }
    for (config, want) in [
        (
            bad("condition = \"> 1\"\nreduce = \"median\""),
            "unknown variant `median`, expected one of `min`, `max`, `avg`, `sum`, `last`",
        ),
        (
            bad("condition = \"> 1\"\nthreshold = 5"),
            "unknown field `threshold`",
        ),
        (bad(""), "missing field `condition`"),
        (bad("condition = 5"), "invalid type: integer `5`"),
    ] {
        let stderr = refused(&config);
        assert!(
            stderr.starts_with("error: in the config file ") && stderr.contains("serve.toml"),
            "{config}\n{stderr}"
        );
        assert!(stderr.contains(want), "{config}\n{stderr}");
    }

    // The same file with the rule right starts and lists both rules.
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, port) = start(dir.path(), &bad("condition = \"> 1\"\nwhere = \"host=a\""));
    let items = alerts(&format!("http://127.0.0.1:{port}"), None);
    let names: Vec<&str> = items.iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["first", "bad"]);
    assert_eq!(items[1]["where"], "host=a");
    assert_eq!(items[1]["reduce"], "avg");
    assert_eq!(items[1]["window_seconds"], 60.0, "a minute by default");
    assert_eq!(items[1]["for_seconds"], 0.0);
    assert_eq!(items[1]["severity"], "warning");
}
