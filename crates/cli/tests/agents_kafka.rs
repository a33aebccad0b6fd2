//! Agent telemetry over Kafka against the real broker (tansu) and PostgreSQL: the SDK's
//! `kafka` backend publishes runs and actions, an independent client (Python's
//! confluent-kafka) reads them back, and `automagik-telemetry consume` stores them;
//! dead letters; a broker outage while publishing and a PostgreSQL outage lose and
//! duplicate nothing.

use automagik_telemetry::Telemetry;
use automagik_telemetry_core::agent_event::{TOPIC_ACTIONS, TOPIC_EXECUTION, TOPIC_ROUTING};
use automagik_telemetry_testkit::fault::{FaultProxy, Mode};
use automagik_telemetry_testkit::kafka::Broker;
use automagik_telemetry_testkit::pg::{Instance, TestDatabase};
use common::{Running, command, free_port, wait_count};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

/// An SDK client whose backend is the broker's agent topics.
fn kafka_client(broker: &Broker, home: &std::path::Path) -> Telemetry {
    kafka_client_with(&broker.bootstrap, home, &[])
}

/// As [`kafka_client`], with more configuration variables.
fn kafka_client_with(
    brokers: &str,
    home: &std::path::Path,
    extra: &[(&'static str, &'static str)],
) -> Telemetry {
    let brokers = brokers.to_string();
    let spool = home.join("spool").display().to_string();
    let extra = extra.to_vec();
    Telemetry::builder()
        .env_lookup(move |k| match k {
            "AUTOMAGIK_TELEMETRY_BACKEND" => Some("kafka".into()),
            "AUTOMAGIK_TELEMETRY_KAFKA_BROKERS" => Some(brokers.clone()),
            "AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL" => Some("100ms".into()),
            // Batches the broker could not take wait here until it is back.
            "AUTOMAGIK_TELEMETRY_SPOOL_DIR" => Some(spool.clone()),
            other => extra
                .iter()
                .find(|(k, _)| *k == other)
                .map(|(_, v)| v.to_string()),
        })
        .home_dir(home)
        .state_dir(home)
        .consent(true)
        .project_name("agents".to_string())
        .build()
        .expect("client")
}

/// A full run: start, progress, the four action types, completion. Its correlation id.
fn full_run(t: &Telemetry, agent: &str, quality: f64) -> String {
    let run = t.agent_run(agent, "Which orders shipped late?");
    let id = run.correlation_id().to_string();
    run.progress("planning", 25.0);
    run.tool_call("run_sql", "SELECT id FROM orders WHERE late")
        .ok("14 rows");
    run.decision(
        "answer",
        ["answer", "ask_user"],
        0.8,
        "the query answers it",
    );
    run.error("rate limited by the search API", "RateLimit");
    run.success("answered");
    run.complete(quality);
    id
}

/// `consume` into `postgres`, its `/metrics` on a port of its own.
fn consumer(broker: &Broker, postgres: &str, group: &str, metrics_port: u16) -> Running {
    consumer_with(&broker.bootstrap, postgres, group, metrics_port, &[])
}

/// As [`consumer`], with more flags.
fn consumer_with(
    brokers: &str,
    postgres: &str,
    group: &str,
    metrics_port: u16,
    extra: &[&str],
) -> Running {
    Running(
        command()
            .args([
                "consume",
                "--brokers",
                brokers,
                "--postgres",
                postgres,
                "--group",
                group,
                "--batch-wait",
                "50ms",
                "--metrics-addr",
                &format!("127.0.0.1:{metrics_port}"),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start consume"),
    )
}

fn pg(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect to PostgreSQL")
}

#[test]
fn a_full_run_is_published_read_back_and_stored_with_its_types_and_joins() {
    let broker = Broker::start().expect("start the Kafka broker");
    broker.create_agent_topics().expect("topics");
    let db = TestDatabase::create().expect("a test database");
    let home = tempfile::tempdir().expect("tempdir");
    let t = kafka_client(&broker, home.path());
    let completed = full_run(&t, "planner", 0.87);
    let failed = {
        let run = t.agent_run("coder", "Fix the failing build");
        let id = run.correlation_id().to_string();
        run.routing_decision("coder", ["coder", "reviewer"], 0.9, "a build failure");
        run.manifest_injection("repo-manifest-7", ["build", "tests"], 2048);
        run.tool_call("cargo_build", "--release")
            .err("linker error");
        run.fail("gave up after the build failed");
        id
    };
    t.flush(Duration::from_secs(20)).expect("flush to Kafka");
    let stats = t.stats();
    assert_eq!(stats.dropped_total(), 0, "{stats:?}");

    // An independent client reads the envelopes back: keyed by correlation id.
    let records = broker
        .consume(
            &[TOPIC_ACTIONS, TOPIC_EXECUTION, TOPIC_ROUTING],
            12,
            Duration::from_secs(30),
        )
        .expect("read back");
    // 7 envelopes of the completed run (started, progress, completed, four actions),
    // 5 of the failed one (started, a routing decision, a manifest injection, its tool
    // call, failed).
    assert_eq!(records.len(), 12, "{records:#?}");
    let mut types: Vec<(String, String)> = Vec::new();
    for r in &records {
        let v: Value = serde_json::from_str(r["value"].as_str().expect("value")).expect("json");
        assert_eq!(v["schema_version"], 1);
        assert_eq!(r["key"], v["correlation_id"], "keyed by correlation id");
        let topic = r["topic"].as_str().expect("topic").to_string();
        types.push((topic, v["event_type"].as_str().expect("type").to_string()));
    }
    for (topic, event) in [
        (TOPIC_EXECUTION, "execution_started"),
        (TOPIC_EXECUTION, "execution_progress"),
        (TOPIC_EXECUTION, "execution_completed"),
        (TOPIC_EXECUTION, "execution_failed"),
        (TOPIC_ACTIONS, "tool_call"),
        (TOPIC_ACTIONS, "decision"),
        (TOPIC_ACTIONS, "error"),
        (TOPIC_ACTIONS, "success"),
        (TOPIC_ROUTING, "routing_decision"),
        (TOPIC_ROUTING, "manifest_injection"),
    ] {
        assert!(
            types.contains(&(topic.to_string(), event.to_string())),
            "{event} on {topic}: {types:?}"
        );
    }

    let metrics_port = free_port();
    let store_dir = tempfile::tempdir().expect("tempdir");
    let _consumer = consumer_with(
        &broker.bootstrap,
        &db.url,
        "agents-it",
        metrics_port,
        &[
            "--store",
            "sqlite",
            "--store-data-dir",
            store_dir.path().to_str().expect("utf-8"),
        ],
    );
    let stored = wait_count(
        &db.url,
        "SELECT count(*) FROM agent_consumed_events",
        12,
        Duration::from_secs(60),
    );
    assert_eq!(stored, 12);

    let mut c = pg(&db.url);
    // UUIDs are stored as uuid.
    let row = c
        .query_one(
            "SELECT pg_typeof(a.action_id)::text, pg_typeof(a.correlation_id)::text,
                    pg_typeof(r.correlation_id)::text, pg_typeof(a.payload)::text
             FROM agent_actions a JOIN agent_execution_logs r USING (correlation_id) LIMIT 1",
            &[],
        )
        .expect("types");
    let got: (String, String, String, String) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        got,
        ("uuid".into(), "uuid".into(), "uuid".into(), "jsonb".into())
    );
    // The completed run landed whole, and every action joins to it.
    let run_id: uuid::Uuid = completed.parse().expect("uuid");
    let run = c
        .query_one(
            "SELECT agent_name, status, quality_score, user_prompt, stage, progress_percent,
                    started_at IS NOT NULL AND ended_at >= started_at
             FROM agent_execution_logs WHERE correlation_id = $1",
            &[&run_id],
        )
        .expect("the run");
    assert_eq!(run.get::<_, String>(0), "planner");
    assert_eq!(run.get::<_, String>(1), "completed");
    assert_eq!(run.get::<_, Option<f64>>(2), Some(0.87));
    assert_eq!(
        run.get::<_, Option<String>>(3).as_deref(),
        Some("Which orders shipped late?")
    );
    assert_eq!(run.get::<_, Option<String>>(4).as_deref(), Some("planning"));
    assert_eq!(run.get::<_, Option<f64>>(5), Some(100.0));
    assert!(run.get::<_, bool>(6));
    let actions: Vec<(String, String, bool)> = c
        .query(
            "SELECT a.action_type, a.name, a.is_error
             FROM agent_execution_logs r JOIN agent_actions a ON a.correlation_id = r.correlation_id
             WHERE r.correlation_id = $1 ORDER BY a.action_type",
            &[&run_id],
        )
        .expect("join")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("decision".into(), "answer".into(), false),
            (
                "error".into(),
                "rate limited by the search API".into(),
                true
            ),
            ("success".into(), "answered".into(), false),
            ("tool_call".into(), "run_sql".into(), false),
        ]
    );
    let tool: String = c
        .query_one(
            "SELECT payload::text FROM agent_actions WHERE correlation_id = $1 AND action_type = 'tool_call'",
            &[&run_id],
        )
        .expect("tool call")
        .get(0);
    let tool: Value = serde_json::from_str(&tool).expect("payload");
    assert_eq!(tool["params"], "SELECT id FROM orders WHERE late");
    assert_eq!(tool["result"], "14 rows");
    // The failed run and its failed tool call.
    let failed_id: uuid::Uuid = failed.parse().expect("uuid");
    let (status, error): (String, Option<String>) = {
        let r = c
            .query_one(
                "SELECT status, error FROM agent_execution_logs WHERE correlation_id = $1",
                &[&failed_id],
            )
            .expect("failed run");
        (r.get(0), r.get(1))
    };
    assert_eq!(status, "failed");
    assert_eq!(error.as_deref(), Some("gave up after the build failed"));
    let tool_error: bool = c
        .query_one(
            "SELECT is_error FROM agent_actions WHERE correlation_id = $1",
            &[&failed_id],
        )
        .expect("failed tool call")
        .get(0);
    assert!(tool_error);
    // Routing decisions and manifest injections join to their run too.
    let (selected, sections, size): (String, String, i64) = {
        let r = c
            .query_one(
                "SELECT d.selected_agent, m.sections::text, m.size_bytes
                 FROM agent_execution_logs r
                 JOIN agent_routing_decisions d ON d.correlation_id = r.correlation_id
                 JOIN agent_manifest_injections m ON m.correlation_id = r.correlation_id
                 WHERE r.correlation_id = $1",
                &[&failed_id],
            )
            .expect("routing and manifest");
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(selected, "coder");
    assert_eq!(sections, r#"["build", "tests"]"#);
    assert_eq!(size, 2048);
    // The server's store got the runs and actions too.
    let store =
        automagik_telemetry_server::SqliteStore::open(store_dir.path()).expect("the server store");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        use automagik_telemetry_server::StoreRead;
        let run = store.run(&completed).expect("read the run");
        let actions = store.actions(&completed).expect("read the actions");
        if run.as_ref().is_some_and(|r| r.row.status == "completed") && actions.len() == 4 {
            assert_eq!(run.map(|r| r.row.quality_score), Some(Some(0.87)));
            break;
        }
        assert!(Instant::now() < deadline, "{run:?} {actions:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Actions can only be of the four types.
    let refused = c.execute(
        "INSERT INTO agent_actions (action_id, event_id, correlation_id, agent_name, action_type,
            name, is_error, payload, occurred_at)
         VALUES (gen_random_uuid(), gen_random_uuid(), $1, 'x', 'teleport', 'x', false, '{}', now())",
        &[&run_id],
    );
    assert!(format!("{refused:?}").contains("check"), "{refused:?}");

    // The consumer's metrics: what it stored, and its lag (from the client's statistics,
    // every 2 s), which is zero once everything is consumed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = ureq::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
            .call()
            .expect("metrics")
            .into_body()
            .read_to_string()
            .expect("text");
        let lags: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with("automagik_telemetry_consumer_lag_messages{topic=\"agent-actions\"")
            })
            .collect();
        // Partitions that never held a message have no lag to report.
        if !lags.is_empty() && lags.iter().all(|l| l.ends_with(" 0")) {
            break text;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        text.contains(
            "automagik_telemetry_consumer_events_stored_total{event_type=\"tool_call\"} 2"
        ),
        "{text}"
    );
}

#[test]
fn invalid_envelopes_and_rows_the_database_refuses_go_to_the_dead_letter_topic() {
    let broker = Broker::start().expect("start the Kafka broker");
    broker.create_agent_topics().expect("topics");
    let db = TestDatabase::create().expect("a test database");
    let run = "0f8e2a1c-7b3d-4e5f-9a6b-1c2d3e4f5a6b";
    let envelope = |event_id: &str, action_id: &str, message: &str| {
        json!({
            "schema_version": 1,
            "event_id": event_id,
            "event_type": "success",
            "correlation_id": run,
            "timestamp": "2026-11-22T10:00:00Z",
            "agent_name": "planner",
            "payload": {"action_id": action_id, "message": message},
        })
        .to_string()
    };
    let records = vec![
        (
            run,
            envelope(
                "11111111-1111-4111-8111-111111111111",
                "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
                "first",
            ),
        ),
        // A second event claiming the same action id: the primary key refuses its row.
        (
            run,
            envelope(
                "22222222-2222-4222-8222-222222222222",
                "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
                "clash",
            ),
        ),
        // Text PostgreSQL cannot store.
        (
            run,
            envelope(
                "33333333-3333-4333-8333-333333333333",
                "cccccccc-cccc-4ccc-8ccc-cccccccccccc",
                "nul \u{0} byte",
            ),
        ),
        (
            run,
            envelope(
                "44444444-4444-4444-8444-444444444444",
                "dddddddd-dddd-4ddd-8ddd-dddddddddddd",
                "fourth",
            ),
        ),
        // Not a valid envelope.
        (
            run,
            r#"{"schema_version": 2, "event_type": "success"}"#.into(),
        ),
        (run, "not json at all".into()),
    ];
    assert_eq!(broker.produce(TOPIC_ACTIONS, &records).expect("produce"), 6);
    let _consumer = consumer(&broker, &db.url, "dlq-it", free_port());
    let dead = broker
        .consume(&["agent-actions.dlq"], 4, Duration::from_secs(60))
        .expect("read the DLQ");
    let reasons: Vec<String> = dead
        .iter()
        .map(|d| {
            d["headers"]["dlq.reason"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(dead.len(), 4, "{dead:#?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("unsupported schema_version 2")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("refused by PostgreSQL") && r.contains("duplicate key")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .filter(|r| r.contains("refused by PostgreSQL"))
            .count()
            == 2,
        "{reasons:?}"
    );
    for d in &dead {
        assert_eq!(d["headers"]["dlq.source_topic"], TOPIC_ACTIONS);
    }
    // No half batch: the good rows of the same batch are stored, the bad ones are not.
    let names: Vec<String> = pg(&db.url)
        .query("SELECT name FROM agent_actions ORDER BY name", &[])
        .expect("actions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["first".to_string(), "fourth".to_string()]);
}

#[test]
fn a_record_too_large_for_kafka_goes_to_the_dead_letter_topic_with_the_reason() {
    use automagik_telemetry::kafka::{Publisher, Record};
    let broker = Broker::start().expect("start the Kafka broker");
    broker.create_agent_topics().expect("topics");
    let mut publisher =
        Publisher::new(&broker.bootstrap, &[("message.max.bytes", "4096")]).expect("publisher");
    let small = Record {
        topic: TOPIC_ACTIONS.into(),
        key: "k".into(),
        payload: b"small".to_vec(),
    };
    let large = Record {
        payload: vec![b'x'; 20_000],
        ..small.clone()
    };
    let published = publisher
        .publish(&[small, large], Instant::now() + Duration::from_secs(30))
        .expect("publish");
    assert_eq!(published.delivered, 1);
    assert_eq!(published.dead_lettered.len(), 1);
    assert_eq!(published.dead_lettered[0].0, 1);
    let dead = broker
        .consume(&["agent-actions.dlq"], 1, Duration::from_secs(30))
        .expect("read the DLQ");
    assert_eq!(dead.len(), 1);
    let reason = dead[0]["headers"]["dlq.reason"].as_str().expect("reason");
    assert!(reason.to_lowercase().contains("too large"), "{reason}");
    let stub: Value =
        serde_json::from_str(dead[0]["value"].as_str().expect("value")).expect("stub");
    assert_eq!(stub["original_size_bytes"], 20_000);
}

/// The broker is out of reach for 12 s (every connection cut, every new one closed at
/// once, as while a broker restarts) while runs are published. A proxy makes the outage
/// rather than stopping tansu: its in-memory storage would come back empty (log, topics,
/// group offsets), which no Kafka broker does on a restart, and a consumer whose
/// position is past the new log's end then skips what is published again.
#[test]
fn a_broker_outage_during_publishing_loses_nothing_and_duplicates_nothing() {
    // The broker names the proxy in metadata and every client bootstraps through it, so
    // all their traffic goes through the proxy.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the proxy's port");
    let proxy_addr = listener.local_addr().expect("its address").to_string();
    let broker = Broker::start_advertising(&proxy_addr).expect("start the Kafka broker");
    let proxy = FaultProxy::start_on(listener, ("127.0.0.1", broker.port))
        .expect("a proxy in front of the broker");
    broker.create_agent_topics().expect("topics");
    let db = TestDatabase::create().expect("a test database");
    let home = tempfile::tempdir().expect("tempdir");
    // No retries: a batch the broker cannot take within the export's timeout (10 s)
    // goes straight to the spool.
    let t = kafka_client_with(
        &proxy_addr,
        home.path(),
        &[("AUTOMAGIK_TELEMETRY_MAX_RETRIES", "0")],
    );
    let _consumer = consumer_with(&proxy_addr, &db.url, "outage-publish-it", free_port(), &[]);
    let first = full_run(&t, "planner", 0.5);
    t.flush(Duration::from_secs(20)).expect("flush");
    assert_eq!(
        wait_count(
            &db.url,
            "SELECT count(*) FROM agent_consumed_events",
            7,
            Duration::from_secs(60)
        ),
        7
    );
    // The broker goes away while runs are published; the SDK spools what it cannot send.
    // Longer than the export's timeout, so that the batches of the runs published
    // meanwhile are spooled (librdkafka holds a record through a shorter outage and
    // delivers it late). The consumer may lose its session too: it then reads again from
    // its committed offset, the end of the first run.
    proxy.set_mode(Mode::Cut);
    let during: Vec<String> = (0..3)
        .map(|i| full_run(&t, "planner", 0.1 * f64::from(i)))
        .collect();
    std::thread::sleep(Duration::from_secs(12));
    proxy.set_mode(Mode::Pass);
    t.flush(Duration::from_secs(60))
        .expect("flush after the outage");
    let stats = t.stats();
    assert!(stats.spooled > 0, "the outage spooled batches: {stats:?}");
    assert_eq!(stats.dropped_total(), 0, "{stats:?}");
    // The topics arrive in their own order: wait for every envelope, then look.
    assert_eq!(
        wait_count(
            &db.url,
            "SELECT count(*) FROM agent_consumed_events",
            28,
            Duration::from_secs(90)
        ),
        28,
        "every envelope arrives"
    );
    assert_eq!(
        wait_count(
            &db.url,
            "SELECT count(*) FROM agent_execution_logs WHERE status = 'completed'",
            4,
            Duration::from_secs(1)
        ),
        4,
        "every run completed"
    );
    let mut c = pg(&db.url);
    for id in std::iter::once(&first).chain(&during) {
        let id: uuid::Uuid = id.parse().expect("uuid");
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM agent_actions WHERE correlation_id = $1",
                &[&id],
            )
            .expect("count")
            .get(0);
        assert_eq!(n, 4, "each action once");
    }
    // Nothing more comes in later: none twice.
    std::thread::sleep(Duration::from_secs(1));
    let events: i64 = c
        .query_one("SELECT count(*) FROM agent_consumed_events", &[])
        .expect("events")
        .get(0);
    assert_eq!(events, 28, "4 runs x 7 envelopes, none twice");
}

#[test]
fn postgresql_down_during_consumption_loses_nothing_and_moves_no_offset() {
    let broker = Broker::start().expect("start the Kafka broker");
    broker.create_agent_topics().expect("topics");
    let pg_server = Instance::start().expect("a PostgreSQL instance");
    let home = tempfile::tempdir().expect("tempdir");
    let t = kafka_client(&broker, home.path());
    let group = "outage-it";
    let consumer_a = consumer(&broker, &pg_server.url, group, free_port());
    full_run(&t, "planner", 0.9);
    t.flush(Duration::from_secs(20)).expect("flush");
    assert_eq!(
        wait_count(
            &pg_server.url,
            "SELECT count(*) FROM agent_consumed_events",
            7,
            Duration::from_secs(60)
        ),
        7
    );
    // The database goes down; more runs arrive; the consumer retries without moving
    // its offsets, and is killed while the database is still down.
    pg_server.stop().expect("stop PostgreSQL");
    let later: Vec<String> = (0..2).map(|_| full_run(&t, "planner", 0.7)).collect();
    t.flush(Duration::from_secs(20)).expect("flush");
    std::thread::sleep(Duration::from_secs(2));
    drop(consumer_a);
    // The killed member leaves the group when its session (10 s) times out. A member
    // that joins before then starts a rebalance that waits for the killed one; with
    // the test broker (tansu) such a rebalance was once seen to outlast the 90 s wait
    // below (one full-suite run in four): start the new member after the session has
    // expired.
    std::thread::sleep(Duration::from_secs(12));
    pg_server.start_again().expect("start PostgreSQL again");
    // A new member of the group starts from the committed offsets: the runs published
    // during the outage are still there for it.
    let _consumer_b = consumer(&broker, &pg_server.url, group, free_port());
    assert_eq!(
        wait_count(
            &pg_server.url,
            "SELECT count(*) FROM agent_consumed_events",
            21,
            Duration::from_secs(90)
        ),
        21
    );
    std::thread::sleep(Duration::from_secs(1));
    let mut c = pg(&pg_server.url);
    let events: i64 = c
        .query_one("SELECT count(*) FROM agent_consumed_events", &[])
        .expect("count")
        .get(0);
    assert_eq!(events, 21, "nothing twice");
    for id in &later {
        let id: uuid::Uuid = id.parse().expect("uuid");
        let (status, actions): (String, i64) = {
            let r = c
                .query_one(
                    "SELECT r.status, (SELECT count(*) FROM agent_actions a WHERE a.correlation_id = r.correlation_id)
                     FROM agent_execution_logs r WHERE r.correlation_id = $1",
                    &[&id],
                )
                .expect("run");
            (r.get(0), r.get(1))
        };
        assert_eq!((status.as_str(), actions), ("completed", 4));
    }
}

/// The consumer stays up through a PostgreSQL outage while runs keep arriving: the batch
/// it could not write is retried with its partitions paused, so nothing published during
/// the retries is polled and passed over by the next offset commit (a message polled
/// while a write was retried used to be dropped, and the commit after the retry moved
/// past it). Every run is stored once when the database is back.
#[test]
fn postgresql_unreachable_while_the_consumer_runs_loses_nothing_published_meanwhile() {
    let broker = Broker::start().expect("start the Kafka broker");
    broker.create_agent_topics().expect("topics");
    let db = TestDatabase::create().expect("a test database");
    let (proxy, proxied) =
        FaultProxy::in_front_of(&db.url, 5432).expect("a proxy in front of PostgreSQL");
    let home = tempfile::tempdir().expect("tempdir");
    let t = kafka_client(&broker, home.path());
    let _consumer = consumer(&broker, &proxied, "store-outage-it", free_port());
    full_run(&t, "planner", 0.9);
    t.flush(Duration::from_secs(20)).expect("flush");
    let count = "SELECT count(*) FROM agent_consumed_events";
    assert_eq!(wait_count(&db.url, count, 7, Duration::from_secs(60)), 7);

    // The database becomes unreachable (open connections cut mid-stream, new ones
    // closed); a run arrives and its batch fails, then more runs arrive while the
    // consumer retries it.
    proxy.set_mode(Mode::Cut);
    let mut during = vec![full_run(&t, "planner", 0.8)];
    t.flush(Duration::from_secs(20)).expect("flush");
    for i in 0..3 {
        std::thread::sleep(Duration::from_secs(4));
        during.push(full_run(&t, "executor", 0.1 * f64::from(i)));
        t.flush(Duration::from_secs(20)).expect("flush");
    }
    std::thread::sleep(Duration::from_secs(4));
    let stored_meanwhile: i64 = pg(&db.url).query_one(count, &[]).expect("count").get(0);
    assert_eq!(
        stored_meanwhile, 7,
        "nothing reached the database during the outage"
    );
    proxy.set_mode(Mode::Pass);

    assert_eq!(wait_count(&db.url, count, 35, Duration::from_secs(90)), 35);
    std::thread::sleep(Duration::from_secs(2));
    let mut c = pg(&db.url);
    let events: i64 = c.query_one(count, &[]).expect("count").get(0);
    assert_eq!(events, 35, "5 runs x 7 envelopes, none twice");
    for id in &during {
        let id: uuid::Uuid = id.parse().expect("uuid");
        let r = c
            .query_one(
                "SELECT r.status, (SELECT count(*) FROM agent_actions a WHERE a.correlation_id = r.correlation_id)
                 FROM agent_execution_logs r WHERE r.correlation_id = $1",
                &[&id],
            )
            .expect("the run published during the outage");
        let (status, actions): (String, i64) = (r.get(0), r.get(1));
        assert_eq!((status.as_str(), actions), ("completed", 4));
    }
}

#[test]
fn request_reply_correlates_times_out_to_the_fallback_and_never_crosses() {
    use automagik_telemetry::kafka::{RequestReply, serve_replies};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let broker = Broker::start().expect("start the Kafka broker");
    broker
        .create_topics(&["agent-requests", "agent-replies", "nobody-listens"])
        .expect("topics");
    let stop = Arc::new(AtomicBool::new(false));
    let replier = {
        let (brokers, stop) = (broker.bootstrap.clone(), stop.clone());
        std::thread::spawn(move || {
            serve_replies(&brokers, "agent-requests", "replier", &stop, |body| {
                // Later requests are answered sooner: replies arrive out of order.
                let n: u64 = String::from_utf8_lossy(body)
                    .trim_start_matches("question ")
                    .parse()
                    .unwrap_or(0);
                std::thread::sleep(Duration::from_millis(10 * (16 - n.min(16))));
                format!("answer to {}", String::from_utf8_lossy(body)).into_bytes()
            })
        })
    };
    let rr = Arc::new(
        RequestReply::new(&broker.bootstrap, "agent-requests", "agent-replies")
            .expect("request/reply"),
    );
    let handles: Vec<_> = (0..16u64)
        .map(|n| {
            let rr = rr.clone();
            std::thread::spawn(move || {
                let question = format!("question {n}");
                let reply = rr.request(question.as_bytes(), Duration::from_secs(30), |why| {
                    format!("fallback: {why}").into_bytes()
                });
                (question, reply)
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for h in handles {
        let (question, reply) = h.join().expect("request thread");
        assert_eq!(reply.fallback, None, "{question}");
        assert_eq!(
            String::from_utf8_lossy(&reply.body),
            format!("answer to {question}"),
            "each request gets its own reply"
        );
        assert!(ids.insert(reply.correlation_id));
    }
    assert_eq!(ids.len(), 16);

    // Nobody answers on this topic: the fallback runs at the timeout. The timeout also
    // covers the new producer's start and the publish's acknowledgement, which take
    // well over 800 ms when the machine is busy (then the fallback says "could not be
    // sent" instead); 3 s leaves room for them.
    let silent = RequestReply::new(&broker.bootstrap, "nobody-listens", "agent-replies")
        .expect("request/reply");
    let started = Instant::now();
    let reply = silent.request(b"anyone?", Duration::from_secs(3), |why| {
        format!("cached answer ({why})").into_bytes()
    });
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(
        reply
            .fallback
            .as_deref()
            .is_some_and(|w| w.contains("no reply")),
        "{reply:?}"
    );
    assert!(String::from_utf8_lossy(&reply.body).starts_with("cached answer"));
    stop.store(true, Ordering::Relaxed);
    replier.join().expect("replier thread").expect("replier");
}
