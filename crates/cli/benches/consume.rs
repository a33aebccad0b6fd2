//! Consumer throughput, Kafka -> PostgreSQL: agent actions per second that
//! `automagik-telemetry consume` validates, writes (one transaction per batch, each
//! event id recorded) and commits offsets for, read from a real broker (tansu, in
//! memory) into the machine's PostgreSQL.
//!
//! Run: `cargo bench -p automagik-telemetry-cli --bench consume` (`CONSUME_ACTIONS` sets
//! how many actions, default 100,000; `CONSUME_BATCH` the consumer's batch size,
//! default 2,000). Without `--bench` (as `cargo test --benches` runs it) it does a
//! short pass of 2,000 actions, so the path stays tested.

use automagik_telemetry::kafka::{Publisher, Record};
use automagik_telemetry_core::agent_event::{Envelope, EventType, TOPIC_ACTIONS, derived_uuid};
use automagik_telemetry_testkit::kafka::Broker;
use automagik_telemetry_testkit::pg::TestDatabase;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let actions: usize = if full {
        std::env::var("CONSUME_ACTIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000)
    } else {
        2_000
    };
    let batch = std::env::var("CONSUME_BATCH").unwrap_or_else(|_| "2000".into());
    let broker = Broker::start().expect("start the Kafka broker");
    broker.create_agent_topics().expect("topics");
    let db = TestDatabase::create().expect("a test database");

    // 1,000 runs, each with its share of the actions, all four types.
    let runs = 1_000.min(actions);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    let types = [
        EventType::ToolCall,
        EventType::Decision,
        EventType::Error,
        EventType::Success,
    ];
    let records: Vec<Record> = (0..actions)
        .map(|i| {
            let run = derived_uuid(&format!("bench-run-{}", i % runs));
            let action = derived_uuid(&format!("bench-action-{i}"));
            let t = types[i % 4];
            let payload = match t {
                EventType::ToolCall => json!({"action_id": action, "tool_name": "run_sql",
                    "params": {"query": "SELECT id FROM orders WHERE late", "limit": 50},
                    "result": "14 rows", "duration_ms": 12.5}),
                EventType::Decision => json!({"action_id": action, "choice": "answer",
                    "alternatives": ["answer", "ask_user"], "confidence": 0.8,
                    "reasoning": "the query answers it"}),
                EventType::Error => json!({"action_id": action, "message": "rate limited",
                    "kind": "RateLimit"}),
                _ => json!({"action_id": action, "message": "answered"}),
            };
            let envelope = Envelope {
                event_id: derived_uuid(&format!("bench-event-{i}")),
                event_type: t,
                correlation_id: run.clone(),
                timestamp_unix_nano: now + i as u64,
                agent_name: "planner".into(),
                payload: payload.as_object().cloned().unwrap_or_default(),
                extra: Default::default(),
            };
            Record {
                topic: TOPIC_ACTIONS.into(),
                key: run,
                payload: envelope.to_bytes(),
            }
        })
        .collect();
    let bytes: usize = records.iter().map(|r| r.payload.len()).sum();
    let mut publisher = Publisher::new(&broker.bootstrap, &[]).expect("publisher");
    let published = Instant::now();
    for chunk in records.chunks(10_000) {
        publisher
            .publish(chunk, Instant::now() + Duration::from_secs(120))
            .expect("publish");
    }
    let publish_secs = published.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut consumer = Command::new(env!("CARGO_BIN_EXE_automagik-telemetry"))
        .args([
            "consume",
            "--brokers",
            &broker.bootstrap,
            "--postgres",
            &db.url,
            "--group",
            "bench",
            "--batch-size",
            &batch,
            "--metrics-addr",
            "off",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start consume");
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
    let deadline = Instant::now() + Duration::from_secs(600);
    // The first committed batch: the consumer is up and in its group.
    let mut first: Option<(Instant, i64)> = None;
    loop {
        let stored: i64 = client
            .query_one("SELECT count(*) FROM agent_actions", &[])
            .map(|r| r.get(0))
            .unwrap_or(0);
        if first.is_none() && stored > 0 {
            first = Some((Instant::now(), stored));
        }
        if stored as usize >= actions {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {stored} of {actions} stored"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let secs = started.elapsed().as_secs_f64();
    let (first_at, first_count) = first.unwrap_or((started, 0));
    // After the first batch; not measurable when the first batch held everything.
    let steady = if (first_count as usize) < actions {
        format!(
            "{:.0}",
            (actions as f64 - first_count as f64) / first_at.elapsed().as_secs_f64()
        )
    } else {
        "(one batch: n/a)".to_string()
    };
    // CPU seconds the consumer process used (user + system), from /proc.
    let cpu_secs = std::fs::read_to_string(format!("/proc/{}/stat", consumer.id()))
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks: f64 =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        });
    let _ = consumer.kill();
    let _ = consumer.wait();
    println!(
        "consume: {actions} actions ({:.0} bytes each) Kafka -> PostgreSQL in {secs:.2} s \
         = {:.0} actions/s with the consumer's start-up and group join, {steady} actions/s \
         after its first batch (batch size {batch}); publishing them took {publish_secs:.2} s \
         = {:.0}/s; the consumer used {} CPU seconds",
        bytes as f64 / actions as f64,
        actions as f64 / secs,
        actions as f64 / publish_secs,
        cpu_secs.map_or("(unknown)".to_string(), |c| format!("{c:.2}")),
    );
}
