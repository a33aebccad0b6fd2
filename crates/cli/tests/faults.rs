//! Backend faults on the real binary, injected by a loopback proxy in front of the
//! backend (`automagik_telemetry_testkit::fault`):
//! - PostgreSQL and ClickHouse cut in the middle of inserts: while the backend is out of
//!   reach every batch is answered 503 with `Retry-After` (never 500), every batch
//!   answered 2xx is stored whole, and the server stores again once the backend is back;
//! - the Kafka broker cut while `consume` reads, for longer than the consumer's session:
//!   every envelope published before and after the cut is stored once.

use automagik_telemetry_core::agent_event::TOPIC_ACTIONS;
use automagik_telemetry_testkit::build::{string_kv, trace_request};
use automagik_telemetry_testkit::clickhouse::ClickHouse;
use automagik_telemetry_testkit::fault::{FaultProxy, Mode};
use automagik_telemetry_testkit::kafka::Broker;
use automagik_telemetry_testkit::pg::TestDatabase;
use common::{Running, command, free_port, serve, wait_count};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;

const SPANS_PER_BATCH: usize = 20;
static T0: std::sync::LazyLock<u64> = std::sync::LazyLock::new(automagik_telemetry_testkit::now_ns);

/// When a batch was sent, against the proxy's mode.
const BEFORE: u8 = 0;
const DURING: u8 = 1;
const AFTER: u8 = 2;

fn trace_id(batch: u64) -> Vec<u8> {
    let mut id = vec![0xfa; 16];
    id[8..].copy_from_slice(&(batch + 1).to_be_bytes());
    id
}

fn batch(n: u64) -> Vec<u8> {
    let spans = (0..SPANS_PER_BATCH)
        .map(|i| Span {
            trace_id: trace_id(n),
            span_id: ((i as u64) + 1).to_be_bytes().to_vec(),
            name: format!("batch-{n}-span-{i}"),
            start_time_unix_nano: *T0 + i as u64,
            end_time_unix_nano: *T0 + 1_000 + i as u64,
            attributes: vec![string_kv("payload", "x".repeat(100))],
            ..Default::default()
        })
        .collect();
    trace_request("faults", spans).encode_to_vec()
}

/// Spans of batch `n` the query API returns.
fn spans_of(port: u16, n: u64) -> usize {
    let id = hex::encode(trace_id(n));
    match ureq::get(format!("http://127.0.0.1:{port}/api/v1/traces/{id}")).call() {
        Ok(mut resp) => {
            let v: serde_json::Value =
                serde_json::from_slice(&resp.body_mut().read_to_vec().expect("body"))
                    .expect("json");
            v["spans"].as_array().map_or(0, Vec::len)
        }
        Err(ureq::Error::StatusCode(404)) => 0,
        Err(e) => panic!("query failed: {e}"),
    }
}

/// The server's answer to one batch.
#[derive(Clone, Debug)]
struct Answer {
    batch: u64,
    /// [`BEFORE`], [`DURING`] or [`AFTER`] the cut, when it was sent.
    phase: u8,
    /// 0: no HTTP answer at all.
    status: u16,
    retry_after: Option<String>,
}

impl Answer {
    fn acknowledged(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn acknowledged(answers: &[Answer], phase: u8) -> usize {
    answers
        .iter()
        .filter(|a| a.phase == phase && a.acknowledged())
        .count()
}

#[derive(Default)]
struct Sent {
    answers: Mutex<Vec<Answer>>,
    phase: AtomicU8,
    stop: AtomicBool,
}

/// A client that posts batches with unique trace ids, one after the other, until it is
/// stopped (or dropped).
struct Client {
    sent: Arc<Sent>,
    thread: Option<JoinHandle<()>>,
}

impl Client {
    fn start(port: u16) -> Client {
        let sent = Arc::new(Sent::default());
        let thread = {
            let sent = sent.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(60)))
                    .build()
                    .into();
                let mut n = 0u64;
                while !sent.stop.load(Ordering::SeqCst) {
                    let phase = sent.phase.load(Ordering::SeqCst);
                    let (status, retry_after) = match agent
                        .post(format!("http://127.0.0.1:{port}/v1/traces"))
                        .header("content-type", "application/x-protobuf")
                        .send(&batch(n)[..])
                    {
                        Ok(resp) => (
                            resp.status().as_u16(),
                            resp.headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string),
                        ),
                        Err(_) => (0, None),
                    };
                    let answer = Answer {
                        batch: n,
                        phase,
                        status,
                        retry_after,
                    };
                    let refused = !answer.acknowledged();
                    sent.answers.lock().expect("lock").push(answer);
                    n += 1;
                    if refused {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })
        };
        Client {
            sent,
            thread: Some(thread),
        }
    }

    fn set_phase(&self, phase: u8) {
        self.sent.phase.store(phase, Ordering::SeqCst);
    }

    /// Waits until `cond` holds over the answers so far; fails the test after `within`.
    fn wait_for(&self, what: &str, within: Duration, cond: impl Fn(&[Answer]) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            {
                let answers = self.sent.answers.lock().expect("lock");
                if cond(answers.as_slice()) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "{what}: not within {within:?}; statuses {:?}",
                    statuses(answers.as_slice())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops sending; every answer.
    fn stop(mut self) -> Vec<Answer> {
        self.halt();
        self.sent.answers.lock().expect("lock").clone()
    }

    fn halt(&mut self) {
        self.sent.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.halt();
    }
}

/// How many answers of each status.
fn statuses(answers: &[Answer]) -> BTreeMap<u16, usize> {
    let mut by = BTreeMap::new();
    for a in answers {
        *by.entry(a.status).or_insert(0) += 1;
    }
    by
}

/// A client sends batches to the server on `port` while `proxy`, between the server
/// and its store, cuts every connection for a while, then lets them through again.
fn inserts_through_a_cut(port: u16, proxy: &FaultProxy) {
    let client = Client::start(port);
    client.wait_for(
        "batches acknowledged before the cut",
        Duration::from_secs(60),
        |a| acknowledged(a, BEFORE) >= 10,
    );
    proxy.set_mode(Mode::Cut);
    client.set_phase(DURING);
    let cut = Instant::now();
    // At least 2 s of outage, and until the server has refused a batch: a PostgreSQL
    // pool with no connection left waits up to 10 s for a new one before giving up.
    client.wait_for("a 503 during the cut", Duration::from_secs(60), |a| {
        a.iter().any(|x| x.phase == DURING && x.status == 503)
    });
    std::thread::sleep(Duration::from_secs(2).saturating_sub(cut.elapsed()));
    proxy.set_mode(Mode::Pass);
    client.set_phase(AFTER);
    client.wait_for(
        "batches acknowledged once the backend is back",
        Duration::from_secs(60),
        |a| acknowledged(a, AFTER) >= 10,
    );
    let answers = client.stop();

    let by_status = statuses(&answers);
    assert!(
        answers.iter().all(|a| a.acknowledged() || a.status == 503),
        "an unreachable backend is 503, never 500 or no answer: {by_status:?}"
    );
    for a in answers.iter().filter(|a| a.status == 503) {
        assert!(
            a.retry_after
                .as_deref()
                .is_some_and(|v| v.parse::<u64>().is_ok()),
            "503 with Retry-After in seconds: {a:?}"
        );
    }
    for a in answers.iter().filter(|a| a.acknowledged()) {
        assert_eq!(
            spans_of(port, a.batch),
            SPANS_PER_BATCH,
            "acknowledged batch {a:?} is stored whole ({by_status:?})"
        );
    }
}

#[test]
fn postgresql_cut_in_the_middle_of_inserts_loses_no_acknowledged_batch() {
    let db = TestDatabase::create().expect("a test database");
    let (proxy, storage) =
        FaultProxy::in_front_of(&db.url, 5432).expect("a proxy in front of PostgreSQL");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(dir.path(), port, "off", &["--storage", &storage]));
    inserts_through_a_cut(port, &proxy);
}

#[test]
fn clickhouse_cut_in_the_middle_of_inserts_loses_no_acknowledged_batch() {
    let engine = ClickHouse::start().expect("start the ClickHouse engine");
    let (proxy, storage) = FaultProxy::in_front_of(&engine.storage_url("faults"), 8123)
        .expect("a proxy in front of ClickHouse");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(dir.path(), port, "off", &["--storage", &storage]));
    inserts_through_a_cut(port, &proxy);
}

/// The agent run every envelope of the Kafka test belongs to (one key: one partition,
/// read in order).
const RUN: &str = "5d1c7a0e-2b4f-4c6d-8e9f-0a1b2c3d4e5f";

fn uuid(kind: u32, set: u32, i: u32) -> String {
    format!("{kind:08x}-{set:04x}-4000-8000-{i:012x}")
}

/// `n` `success` envelopes of `set`, keyed by the run (published with
/// [`Broker::produce_unbatched`]: the consumer reads again from its committed offset
/// after the cut, and tansu skips the rest of a batch read from its middle).
fn envelopes(set: u32, n: u32) -> Vec<(&'static str, String)> {
    (0..n)
        .map(|i| {
            let value = json!({
                "schema_version": 1,
                "event_id": uuid(1, set, i),
                "event_type": "success",
                "correlation_id": RUN,
                "timestamp": "2026-11-22T10:00:00Z",
                "agent_name": "planner",
                "payload": {"action_id": uuid(2, set, i), "message": format!("set {set} #{i}")},
            });
            (RUN, value.to_string())
        })
        .collect()
}

/// The value of `sql` (one bigint) now.
fn count(url: &str, sql: &str) -> i64 {
    postgres::Client::connect(url, postgres::NoTls)
        .expect("connect to PostgreSQL")
        .query_one(sql, &[])
        .expect("count")
        .get(0)
}

const CONSUMED: &str = "SELECT count(*) FROM agent_consumed_events";

#[test]
fn a_broker_cut_during_consumption_stores_every_envelope_once() {
    // The broker names the proxy's address in metadata, so that everything the
    // consumer sends after bootstrap goes through the proxy too.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the proxy's port");
    let proxy_addr = listener.local_addr().expect("its address");
    let broker =
        Broker::start_advertising(&proxy_addr.to_string()).expect("start the Kafka broker");
    let proxy = FaultProxy::start_on(listener, ("127.0.0.1", broker.port))
        .expect("a proxy in front of the broker");
    broker.create_agent_topics().expect("topics");
    let db = TestDatabase::create().expect("a test database");
    // The consumer's log, shown when envelopes are missing.
    let logs = tempfile::tempdir().expect("tempdir");
    let log_path = logs.path().join("consume.log");
    let log = std::fs::File::create(&log_path).expect("the consumer's log");
    let log_tail = || {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    let _consumer = Running(
        command()
            .args([
                "consume",
                "--brokers",
                &proxy_addr.to_string(),
                "--postgres",
                &db.url,
                "--group",
                "faults-it",
                // One message per batch: one offset commit (through the proxy) each.
                "--batch-size",
                "1",
                "--batch-wait",
                "50ms",
                "--metrics-addr",
                &format!("127.0.0.1:{}", free_port()),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start consume"),
    );

    // The consumer is in its group and reading.
    let first = envelopes(0, 5);
    assert_eq!(
        broker
            .produce_unbatched(TOPIC_ACTIONS, &first)
            .expect("produce"),
        5
    );
    assert_eq!(wait_count(&db.url, CONSUMED, 5, Duration::from_secs(90)), 5);

    // Each chunk held 50 ms each way: every commit takes at least 100 ms, so the 40
    // envelopes take at least 4 s to consume, and the cut lands in the middle.
    proxy.set_mode(Mode::Delay(Duration::from_millis(50)));
    let second = envelopes(1, 40);
    assert_eq!(
        broker
            .produce_unbatched(TOPIC_ACTIONS, &second)
            .expect("produce"),
        40
    );
    let before_cut = wait_count(&db.url, CONSUMED, 10, Duration::from_secs(90));
    assert!(before_cut >= 10, "consumption started: {before_cut}");
    proxy.set_mode(Mode::Cut);
    let at_cut = count(&db.url, CONSUMED);
    assert!(
        at_cut < 45,
        "the cut came in the middle of consumption: {at_cut}"
    );
    // Longer than the consumer's session (10 s): whenever the cut came in its heartbeat
    // cycle, the group has dropped it by the time the broker is back, so it always
    // joins again and reads from its committed offset, under load or not.
    std::thread::sleep(Duration::from_secs(12));
    proxy.set_mode(Mode::Pass);

    let third = envelopes(2, 20);
    assert_eq!(
        broker
            .produce_unbatched(TOPIC_ACTIONS, &third)
            .expect("produce"),
        20
    );
    assert_eq!(
        wait_count(&db.url, CONSUMED, 65, Duration::from_secs(120)),
        65,
        "every envelope arrives; the consumer's log ends:\n{}",
        log_tail()
    );
    // Nothing more comes in later, and each envelope is stored once.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count(&db.url, CONSUMED), 65, "none twice");
    let mut stored: Vec<String> = postgres::Client::connect(&db.url, postgres::NoTls)
        .expect("connect")
        .query("SELECT name FROM agent_actions", &[])
        .expect("actions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    stored.sort();
    let mut published: Vec<String> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .map(|(_, v)| {
            let v: serde_json::Value = serde_json::from_str(v).expect("json");
            v["payload"]["message"]
                .as_str()
                .expect("message")
                .to_string()
        })
        .collect();
    published.sort();
    assert_eq!(stored, published, "each envelope stored once");
}
