//! `consume`: a Kafka consumer group that validates agent event envelopes and writes
//! runs, actions, routing decisions and manifest injections to PostgreSQL.
//!
//! Delivery guarantees, in order, for every batch:
//! 1. Each message is validated ([`Envelope::parse`]); an invalid one is set aside for
//!    the dead-letter topic with the reason.
//! 2. The valid ones are written in one transaction; each event id is recorded in
//!    `agent_consumed_events`, so a redelivered message changes nothing. If a row
//!    breaks a constraint, the batch is written again with a savepoint per message:
//!    the offending messages are set aside for the dead-letter topic, the rest commit.
//! 3. The set-aside messages are published to `<topic>.dlq` (reason in `dlq.reason`).
//! 4. Only then are the offsets committed.
//!
//! When PostgreSQL is unreachable the partitions are paused and the batch is retried
//! with backoff; no offset moves. A crash anywhere replays the batch, which changes
//! nothing already stored.

use anyhow::{Context, bail};
use automagik_telemetry::kafka::{Publisher, Record, client_config};
use automagik_telemetry_core::agent_event::{Envelope, EventType, TOPICS};
use automagik_telemetry_core::time::rfc3339;
use automagik_telemetry_server::rows::{AgentActionRow, AgentRunRow, Batch};
use postgres::{Client, NoTls, Transaction};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Migrations, applied in order and recorded in `automagik_agent_migrations`.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/agents/0001_init.sql")];

/// Flags of `consume`.
#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    /// Kafka bootstrap servers, or a `kafka(s)://[user:password@]host:port` URL.
    #[arg(
        long,
        env = "AUTOMAGIK_TELEMETRY_KAFKA_BROKERS",
        default_value = "127.0.0.1:9092",
        hide_env_values = true
    )]
    brokers: String,
    /// Consumer group.
    #[arg(
        long,
        env = "AUTOMAGIK_TELEMETRY_CONSUMER_GROUP",
        default_value = "automagik-telemetry-consumer"
    )]
    group: String,
    /// PostgreSQL URL the agent tables live in (created by numbered migrations).
    #[arg(
        long,
        env = "AUTOMAGIK_TELEMETRY_CONSUME_POSTGRES",
        hide_env_values = true
    )]
    postgres: String,
    /// Topics to read [default: the three agent topics].
    #[arg(long = "topic", value_delimiter = ',')]
    topics: Vec<String>,
    /// Messages per batch (one transaction each) at most.
    #[arg(long, default_value_t = 2000)]
    batch_size: usize,
    /// How long a batch waits to fill.
    #[arg(long, default_value = "100ms")]
    batch_wait: String,
    /// Address of `/metrics` (consumed, stored, dead-lettered, lag), or `off`.
    #[arg(long, default_value = "127.0.0.1:9465")]
    metrics_addr: String,
    /// Stop after this long without messages (for scripted runs); default: never.
    #[arg(long)]
    exit_when_idle: Option<String>,
    /// Partitions of the topics (and their `.dlq` topics) created when missing.
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    /// Also write runs and actions to the server's store: `sqlite` (with
    /// `--store-data-dir`), a `postgres://` or a `clickhouse://` URL, as `serve
    /// --storage` takes; `/api/v1/agents/runs` then lists them.
    #[arg(long, hide_env_values = true)]
    store: Option<String>,
    /// The SQLite store's data directory [default: ./data].
    #[arg(long)]
    store_data_dir: Option<std::path::PathBuf>,
}

/// The server-store rows of a committed batch: its actions, and the current state of
/// the runs they touch (read back from PostgreSQL, where the run's events meet).
fn store_rows(db: &mut Client, envelopes: &[&Envelope]) -> Result<Batch, postgres::Error> {
    let mut runs: Vec<uuid::Uuid> = envelopes
        .iter()
        .map(|e| parse_uuid(&e.correlation_id))
        .collect();
    runs.sort();
    runs.dedup();
    let agent_runs = db
        .query(
            "SELECT correlation_id::text, agent_name, status, user_prompt, quality_score, error,
                (extract(epoch FROM coalesce(started_at, updated_at)) * 1e9)::int8,
                (extract(epoch FROM coalesce(ended_at, started_at, updated_at)) * 1e9)::int8,
                stage, progress_percent
             FROM agent_execution_logs WHERE correlation_id = ANY($1)",
            &[&runs],
        )?
        .iter()
        .map(|r| AgentRunRow {
            correlation_id: r.get(0),
            agent_name: r.get(1),
            status: r.get(2),
            service_name: "kafka".into(),
            trace_id: String::new(),
            start_time_unix_nano: r.get::<_, i64>(6).max(0) as u64,
            end_time_unix_nano: r.get::<_, i64>(7).max(0) as u64,
            quality_score: r.get(4),
            error: r.get(5),
            attributes: json!({
                "agent.prompt": r.get::<_, Option<String>>(3),
                "agent.stage": r.get::<_, Option<String>>(8),
                "agent.percent": r.get::<_, Option<f64>>(9),
            })
            .to_string(),
        })
        .collect();
    let agent_actions = envelopes
        .iter()
        .filter(|e| e.event_type.is_action())
        .map(|e| {
            let r = ActionRow::of(e);
            AgentActionRow {
                action_id: r.action_id.to_string(),
                correlation_id: r.run.to_string(),
                agent_name: r.agent.to_string(),
                action_type: r.action_type.to_string(),
                name: r.name,
                is_error: r.is_error,
                time_unix_nano: e.timestamp_unix_nano,
                duration_ns: r.duration_ms.map_or(0, |ms| (ms.max(0.0) * 1e6) as u64),
                attributes: r.payload,
            }
        })
        .collect();
    Ok(Batch {
        agent_runs,
        agent_actions,
        ..Default::default()
    })
}

/// Creates `topics` that do not exist yet (an existing topic is left as it is).
fn create_topics(brokers: &str, topics: &[String], partitions: i32) -> anyhow::Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = client_config(brokers, &[])
        .map_err(|e| anyhow::anyhow!("--brokers: {e}"))?
        .create()
        .context("creating the Kafka admin client")?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, partitions.max(1), TopicReplication::Fixed(1)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the admin runtime")?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = rt
        .block_on(admin.create_topics(&new, &options))
        .context("creating the agent topics")?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("cannot create the topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// The consumer's own metrics.
#[derive(Default)]
struct Metrics {
    consumed: Family<Vec<(String, String)>, Counter>,
    stored: Family<Vec<(String, String)>, Counter>,
    dead_lettered: Family<Vec<(String, String)>, Counter>,
    duplicates: Counter,
    batches: Counter,
    database_retries: Counter,
    lag: Family<Vec<(String, String)>, Gauge>,
    per_second: Gauge<f64, AtomicU64>,
}

impl Metrics {
    fn registry(self: &Arc<Self>) -> Registry {
        let mut r = Registry::with_prefix("automagik_telemetry_consumer");
        r.register(
            "messages_consumed",
            "Messages read, by topic",
            self.consumed.clone(),
        );
        r.register(
            "events_stored",
            "Envelopes written to PostgreSQL, by event type",
            self.stored.clone(),
        );
        r.register(
            "messages_dead_lettered",
            "Messages sent to a dead-letter topic, by reason",
            self.dead_lettered.clone(),
        );
        r.register(
            "duplicates_skipped",
            "Redelivered envelopes already stored",
            self.duplicates.clone(),
        );
        r.register(
            "batches",
            "Batches committed (database, then offsets)",
            self.batches.clone(),
        );
        r.register(
            "database_retries",
            "Batch writes retried because PostgreSQL was unavailable",
            self.database_retries.clone(),
        );
        r.register(
            "lag_messages",
            "Messages behind the end of each partition",
            self.lag.clone(),
        );
        r.register(
            "throughput_per_second",
            "Envelopes stored per second over the last batches",
            self.per_second.clone(),
        );
        r
    }
}

/// The consumer's librdkafka context: partition lag from the client's own statistics
/// (its cached watermarks; no extra requests to the brokers).
struct LagStats(Arc<Metrics>);

impl rdkafka::ClientContext for LagStats {
    fn log(&self, _: rdkafka::config::RDKafkaLogLevel, _: &str, _: &str) {}

    // Read from the raw JSON: only the fields used here need to parse.
    fn stats_raw(&self, statistics: &[u8]) {
        let Ok(stats) = serde_json::from_slice::<Json>(statistics) else {
            return;
        };
        for (topic, t) in stats["topics"].as_object().into_iter().flatten() {
            for (partition, p) in t["partitions"].as_object().into_iter().flatten() {
                // -1: the internal "unassigned" partition, or a lag not known yet.
                let lag = p["consumer_lag"].as_i64().unwrap_or(-1);
                if partition.starts_with('-') || lag < 0 {
                    continue;
                }
                self.0
                    .lag
                    .get_or_create(&vec![
                        ("topic".into(), topic.clone()),
                        ("partition".into(), partition.clone()),
                    ])
                    .set(lag);
            }
        }
    }
}

impl rdkafka::consumer::ConsumerContext for LagStats {}

type AgentConsumer = BaseConsumer<LagStats>;

/// Serves `/metrics` on its own thread.
fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    let registry = Arc::new(metrics.registry());
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
    listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("consumer-metrics".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = axum::Router::new().route(
                    "/metrics",
                    axum::routing::get(move || {
                        let registry = registry.clone();
                        async move {
                            let mut text = String::new();
                            let _ = encode(&mut text, &registry);
                            (
                                [(
                                    axum::http::header::CONTENT_TYPE,
                                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                )],
                                text,
                            )
                        }
                    }),
                );
                let _ = axum::serve(listener, app).await;
            });
        })?;
    Ok(())
}

/// One message of a batch.
struct Incoming {
    topic: String,
    partition: i32,
    offset: i64,
    key: String,
    payload: Vec<u8>,
}

/// Whether a database error is about this row (bad data, a broken constraint) rather
/// than the database being unavailable.
fn is_row_error(e: &postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| c.code().starts_with("22") || c.code().starts_with("23"))
}

/// Records that an envelope is applied; `false` when it already was.
const RECORD_EVENTS: &str = "INSERT INTO agent_consumed_events
        (event_id, event_type, topic, kafka_partition, kafka_offset)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::int8[])
    ON CONFLICT (event_id) DO NOTHING RETURNING event_id";
/// Every event names its run: its row exists before anything joins to it, whatever
/// order the topics deliver in.
const ENSURE_RUNS: &str = "INSERT INTO agent_execution_logs (correlation_id, agent_name)
    SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT (correlation_id) DO NOTHING";
const INSERT_ACTIONS: &str = "INSERT INTO agent_actions (action_id, event_id, correlation_id,
        agent_name, action_type, name, is_error, payload, duration_ms, occurred_at)
    SELECT a, b, c, d, e, f, g, h::jsonb, i, j::timestamptz
    FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                $7::bool[], $8::text[], $9::float8[], $10::text[]) AS t(a, b, c, d, e, f, g, h, i, j)";

/// Applies `messages` (records their event ids, creates their runs, inserts their
/// actions with one statement each, then applies the other events in order); how many
/// were new by event type, and how many were already stored.
fn apply_all(
    tx: &mut Transaction<'_>,
    messages: &[(&Incoming, &Envelope)],
) -> Result<(HashMap<&'static str, u64>, u64), postgres::Error> {
    let ids: Vec<uuid::Uuid> = messages
        .iter()
        .map(|(_, e)| parse_uuid(&e.event_id))
        .collect();
    let types: Vec<&str> = messages
        .iter()
        .map(|(_, e)| e.event_type.as_str())
        .collect();
    let topics: Vec<&str> = messages.iter().map(|(m, _)| m.topic.as_str()).collect();
    let partitions: Vec<i32> = messages.iter().map(|(m, _)| m.partition).collect();
    let offsets: Vec<i64> = messages.iter().map(|(m, _)| m.offset).collect();
    let mut fresh: std::collections::HashSet<uuid::Uuid> = tx
        .query(
            RECORD_EVENTS,
            &[&ids, &types, &topics, &partitions, &offsets],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // A message delivered twice in one batch is applied once.
    let new: Vec<&Envelope> = messages
        .iter()
        .zip(&ids)
        .filter(|(_, id)| fresh.remove(id))
        .map(|((_, e), _)| *e)
        .collect();
    let duplicates = (messages.len() - new.len()) as u64;
    let runs: Vec<uuid::Uuid> = new.iter().map(|e| parse_uuid(&e.correlation_id)).collect();
    let agents: Vec<&str> = new.iter().map(|e| e.agent_name.as_str()).collect();
    tx.execute(ENSURE_RUNS, &[&runs, &agents])?;
    let actions: Vec<&Envelope> = new
        .iter()
        .copied()
        .filter(|e| e.event_type.is_action())
        .collect();
    if !actions.is_empty() {
        let rows: Vec<ActionRow<'_>> = actions.iter().copied().map(ActionRow::of).collect();
        tx.execute(
            INSERT_ACTIONS,
            &[
                &rows.iter().map(|r| r.action_id).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.event_id).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.run).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.agent).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.action_type).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.is_error).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.payload.as_str()).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.duration_ms).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.at.as_str()).collect::<Vec<_>>(),
            ],
        )?;
    }
    let mut stored: HashMap<&'static str, u64> = HashMap::new();
    for e in new {
        apply_effect(tx, e)?;
        *stored.entry(e.event_type.as_str()).or_default() += 1;
    }
    Ok((stored, duplicates))
}

/// The `agent_actions` row of an action envelope.
struct ActionRow<'a> {
    action_id: uuid::Uuid,
    event_id: uuid::Uuid,
    run: uuid::Uuid,
    agent: &'a str,
    action_type: &'static str,
    name: String,
    is_error: bool,
    payload: String,
    duration_ms: Option<f64>,
    at: String,
}

impl<'a> ActionRow<'a> {
    fn of(e: &'a Envelope) -> Self {
        let p = &e.payload;
        let text = |k: &str| p.get(k).and_then(Json::as_str);
        ActionRow {
            action_id: parse_uuid(text("action_id").unwrap_or_default()),
            event_id: parse_uuid(&e.event_id),
            run: parse_uuid(&e.correlation_id),
            agent: &e.agent_name,
            action_type: e.event_type.as_str(),
            // The tool, the choice or the message.
            name: ["tool_name", "choice", "message"]
                .iter()
                .find_map(|k| text(k))
                .unwrap_or_default()
                .to_string(),
            is_error: e.event_type == EventType::Error
                || p.get("error").is_some_and(|v| !v.is_null()),
            payload: Json::Object(p.clone()).to_string(),
            duration_ms: p.get("duration_ms").and_then(Json::as_f64),
            at: rfc3339(e.timestamp_unix_nano),
        }
    }
}

/// Applies one event whose id is recorded and whose run row exists (actions excepted).
fn apply_effect(tx: &mut Transaction<'_>, e: &Envelope) -> Result<(), postgres::Error> {
    let run = parse_uuid(&e.correlation_id);
    let event_id = parse_uuid(&e.event_id);
    let at = rfc3339(e.timestamp_unix_nano);
    let p = &e.payload;
    let text = |k: &str| p.get(k).and_then(Json::as_str).map(str::to_string);
    let num = |k: &str| p.get(k).and_then(Json::as_f64);
    let extra = Json::Object(e.extra.clone()).to_string();
    match e.event_type {
        EventType::ExecutionStarted => {
            let parent = text("parent_correlation_id").map(|s| parse_uuid(&s));
            tx.execute(
                "UPDATE agent_execution_logs SET agent_name = $2, user_prompt = $3,
                    parent_correlation_id = $4, started_at = $5::text::timestamptz,
                    extra = extra || $6::text::jsonb, updated_at = now()
                 WHERE correlation_id = $1",
                &[
                    &run,
                    &e.agent_name,
                    &text("user_prompt"),
                    &parent,
                    &at,
                    &extra,
                ],
            )?;
        }
        EventType::ExecutionProgress => {
            // Topics deliver in their own order: only the newest progress counts, and
            // an ended run keeps its final percentage.
            tx.execute(
                "UPDATE agent_execution_logs SET
                    stage = CASE WHEN progress_at IS NULL OR progress_at <= $4::text::timestamptz
                                 THEN $2 ELSE stage END,
                    progress_percent = CASE WHEN status = 'running'
                                 AND (progress_at IS NULL OR progress_at <= $4::text::timestamptz)
                                 THEN $3 ELSE progress_percent END,
                    progress_at = GREATEST(progress_at, $4::text::timestamptz),
                    updated_at = now()
                 WHERE correlation_id = $1",
                &[&run, &text("stage"), &num("percent"), &at],
            )?;
        }
        EventType::ExecutionCompleted | EventType::ExecutionFailed => {
            let completed = e.event_type == EventType::ExecutionCompleted;
            tx.execute(
                "UPDATE agent_execution_logs SET status = $2, quality_score = $3, error = $4,
                    duration_ms = $5, ended_at = $6::text::timestamptz,
                    progress_percent = CASE WHEN $2 = 'completed' THEN 100 ELSE progress_percent END,
                    updated_at = now()
                 WHERE correlation_id = $1",
                &[
                    &run,
                    &if completed { "completed" } else { "failed" },
                    &num("quality_score"),
                    &text("error"),
                    &num("duration_ms"),
                    &at,
                ],
            )?;
        }
        // Inserted together, one statement per batch, by `apply_all`.
        EventType::ToolCall | EventType::Decision | EventType::Error | EventType::Success => {}
        EventType::RoutingDecision => {
            tx.execute(
                "INSERT INTO agent_routing_decisions (event_id, correlation_id, agent_name,
                    selected_agent, candidates, confidence, reason, payload, occurred_at)
                 VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8::text::jsonb, $9::text::timestamptz)",
                &[
                    &event_id,
                    &run,
                    &e.agent_name,
                    &text("selected_agent"),
                    &p.get("candidates").cloned().unwrap_or(json!([])).to_string(),
                    &num("confidence"),
                    &text("reason"),
                    &Json::Object(p.clone()).to_string(),
                    &at,
                ],
            )?;
        }
        EventType::ManifestInjection => {
            tx.execute(
                "INSERT INTO agent_manifest_injections (event_id, correlation_id, agent_name,
                    manifest_id, sections, size_bytes, payload, occurred_at)
                 VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7::text::jsonb, $8::text::timestamptz)",
                &[
                    &event_id,
                    &run,
                    &e.agent_name,
                    &text("manifest_id"),
                    &p.get("sections").cloned().unwrap_or(json!([])).to_string(),
                    &p.get("size_bytes")
                        .and_then(Json::as_i64)
                        .unwrap_or_default(),
                    &Json::Object(p.clone()).to_string(),
                    &at,
                ],
            )?;
        }
    }
    Ok(())
}

/// A UUID validated by [`Envelope::parse`] (a malformed one becomes the nil UUID, which
/// the action's primary key then refuses once).
fn parse_uuid(s: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(s).unwrap_or_default()
}

/// What a batch write did.
#[derive(Default)]
struct Written {
    stored: HashMap<&'static str, u64>,
    duplicates: u64,
    /// Messages (by index) whose rows the database refused, with the reason.
    refused: Vec<(usize, String)>,
}

/// Writes the valid messages of a batch in one transaction; a row error makes it
/// write them again with a savepoint per message, refusing only the bad ones.
fn write_batch(
    client: &mut Client,
    batch: &[(usize, &Incoming, Envelope)],
) -> Result<Written, postgres::Error> {
    let messages: Vec<(&Incoming, &Envelope)> = batch.iter().map(|(_, m, e)| (*m, e)).collect();
    let fast = client.transaction().and_then(|mut tx| {
        let result = apply_all(&mut tx, &messages)?;
        tx.commit()?;
        Ok(result)
    });
    match fast {
        Ok((stored, duplicates)) => {
            return Ok(Written {
                stored,
                duplicates,
                refused: Vec::new(),
            });
        }
        Err(e) if !is_row_error(&e) => return Err(e),
        Err(_) => {}
    }
    let mut written = Written::default();
    let mut tx = client.transaction()?;
    for (i, m, e) in batch {
        let mut sp = tx.savepoint("message")?;
        match apply_all(&mut sp, &[(*m, e)]) {
            Ok((stored, duplicates)) => {
                sp.commit()?;
                for (t, n) in stored {
                    *written.stored.entry(t).or_default() += n;
                }
                written.duplicates += duplicates;
            }
            Err(err) if is_row_error(&err) => {
                let reason = err
                    .as_db_error()
                    .map(|d| format!("refused by PostgreSQL: {}", d.message()))
                    .unwrap_or_else(|| "refused by PostgreSQL".into());
                sp.rollback()?;
                written.refused.push((*i, reason));
            }
            Err(err) => return Err(err),
        }
    }
    tx.commit()?;
    Ok(written)
}

fn duration_arg(name: &str, v: &str) -> anyhow::Result<Duration> {
    automagik_telemetry_core::parse::parse_duration(name, v).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Runs the consumer until SIGINT/SIGTERM (or `--exit-when-idle`).
pub fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let batch_wait = duration_arg("batch-wait", &args.batch_wait)?;
    let idle_exit = args
        .exit_when_idle
        .as_deref()
        .map(|v| duration_arg("exit-when-idle", v))
        .transpose()?;
    let topics: Vec<String> = if args.topics.is_empty() {
        TOPICS.iter().map(|t| t.to_string()).collect()
    } else {
        args.topics.clone()
    };
    let metrics = Arc::new(Metrics::default());
    if args.metrics_addr.trim() != "off" {
        let addr: SocketAddr = args
            .metrics_addr
            .parse()
            .with_context(|| format!("--metrics-addr {:?}", args.metrics_addr))?;
        serve_metrics(addr, metrics.clone())?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone())?;

    let with_dlq: Vec<String> = topics
        .iter()
        .flat_map(|t| {
            [
                t.clone(),
                automagik_telemetry_core::agent_event::dlq_topic(t),
            ]
        })
        .collect();
    create_topics(&args.brokers, &with_dlq, args.partitions)?;
    let store = match &args.store {
        Some(storage) => Some(crate::serve::open_configured_store(
            crate::serve::StoreArgs::new(storage.clone(), args.store_data_dir.clone()),
        )?),
        None => None,
    };
    let mut db = connect_with_retry(&args.postgres, &stop)?;
    automagik_telemetry_server::store::postgres::apply_migrations(
        &mut db,
        "automagik_agent_migrations",
        7243101,
        MIGRATIONS,
    )
    .context("applying the agent table migrations")?;
    let consumer: AgentConsumer = client_config(
        &args.brokers,
        &[
            ("group.id", args.group.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            ("enable.partition.eof", "false"),
            ("session.timeout.ms", "10000"),
            ("max.poll.interval.ms", "300000"),
            ("statistics.interval.ms", "2000"),
        ],
    )
    .map_err(|e| anyhow::anyhow!("--brokers: {e}"))?
    .create_with_context(LagStats(metrics.clone()))
    .context("creating the Kafka consumer")?;
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topic_refs)
        .context("subscribing to the agent topics")?;
    let mut dlq = Publisher::new(&args.brokers, &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!(
        "consuming {} as group {:?} into PostgreSQL",
        topics.join(", "),
        args.group
    );

    let mut last_message = Instant::now();
    let mut rate_window: (Instant, u64) = (Instant::now(), 0);
    while !stop.load(Ordering::SeqCst) {
        // Fill a batch.
        let mut batch: Vec<Incoming> = Vec::new();
        let filling = Instant::now();
        while batch.len() < args.batch_size {
            let left = batch_wait.saturating_sub(filling.elapsed());
            let wait = if batch.is_empty() {
                Duration::from_millis(200)
            } else {
                left
            };
            match consumer.poll(wait) {
                Some(Ok(m)) => batch.push(Incoming {
                    topic: m.topic().to_string(),
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .unwrap_or_default(),
                    payload: m.payload().unwrap_or_default().to_vec(),
                }),
                Some(Err(e)) => {
                    eprintln!("kafka: {e}");
                    break;
                }
                None if batch.is_empty() => break,
                None => {}
            }
            if filling.elapsed() >= batch_wait && !batch.is_empty() {
                break;
            }
        }
        if batch.is_empty() {
            if idle_exit.is_some_and(|d| last_message.elapsed() >= d) {
                break;
            }
            continue;
        }
        last_message = Instant::now();
        for m in &batch {
            metrics
                .consumed
                .get_or_create(&vec![("topic".into(), m.topic.clone())])
                .inc();
        }

        // Validate.
        let mut valid = Vec::new();
        let mut dead: Vec<(usize, String)> = Vec::new();
        for (i, m) in batch.iter().enumerate() {
            match Envelope::parse(&m.payload) {
                Ok(e) => valid.push((i, m, e)),
                Err(why) => dead.push((i, format!("invalid envelope: {why}"))),
            }
        }

        // Write, retrying while the database is unavailable (offsets stay put).
        let mut paused = false;
        let written = until_done(&consumer, &stop, "writing the batch to PostgreSQL", || {
            let written = reconnected(&mut db, &args.postgres)
                .and_then(|db| write_batch(db, &valid))
                .map_err(|e| crate::health::postgres_reason(&e));
            if written.is_err() {
                metrics.database_retries.inc();
                // Keep polling to stay in the group, without taking more messages.
                if !paused {
                    pause(&consumer, true);
                    paused = true;
                }
            }
            written
        });
        if paused {
            pause(&consumer, false);
        }
        let Some(written) = written else {
            return Ok(());
        };
        dead.extend(written.refused.iter().cloned());

        // The server's store, when asked: after PostgreSQL, before the offsets.
        if let Some(store) = &store {
            let kept: Vec<&Envelope> = valid
                .iter()
                .filter(|(i, _, _)| !written.refused.iter().any(|(r, _)| r == i))
                .map(|(_, _, e)| e)
                .collect();
            let stored = until_done(&consumer, &stop, "writing to the server's store", || {
                reconnected(&mut db, &args.postgres)
                    .and_then(|db| store_rows(db, &kept))
                    .map_err(|e| crate::health::postgres_reason(&e))
                    .and_then(|rows| store.insert(rows).map_err(|e| e.to_string()))
            });
            if stored.is_none() {
                return Ok(());
            }
        }

        // Dead letters, then offsets.
        for (i, reason) in &dead {
            let m = &batch[*i];
            let record = Record {
                topic: m.topic.clone(),
                key: m.key.clone(),
                payload: m.payload.clone(),
            };
            let sent = until_done(
                &consumer,
                &stop,
                "publishing to the dead-letter topic",
                || dlq.dead_letter(&record, reason, Instant::now() + Duration::from_secs(10)),
            );
            if sent.is_none() {
                return Ok(());
            }
            let class = reason.split(':').next().unwrap_or("invalid").to_string();
            metrics
                .dead_lettered
                .get_or_create(&vec![("reason".into(), class)])
                .inc();
        }
        let mut offsets = TopicPartitionList::new();
        let mut next: HashMap<(String, i32), i64> = HashMap::new();
        for m in &batch {
            let e = next.entry((m.topic.clone(), m.partition)).or_insert(0);
            *e = (*e).max(m.offset + 1);
        }
        for ((topic, partition), offset) in &next {
            offsets
                .add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .context("building the offsets to commit")?;
        }
        // Stored rows are safe meanwhile: a replay skips them by event id.
        if until_done(&consumer, &stop, "committing offsets", || {
            consumer.commit(&offsets, CommitMode::Sync)
        })
        .is_none()
        {
            return Ok(());
        }
        metrics.batches.inc();
        metrics.duplicates.inc_by(written.duplicates);
        let mut stored = 0;
        for (t, n) in &written.stored {
            stored += n;
            metrics
                .stored
                .get_or_create(&vec![("event_type".into(), t.to_string())])
                .inc_by(*n);
        }
        rate_window.1 += stored;
        let elapsed = rate_window.0.elapsed();
        if elapsed >= Duration::from_secs(1) {
            metrics
                .per_second
                .set(rate_window.1 as f64 / elapsed.as_secs_f64());
            rate_window = (Instant::now(), 0);
        }
    }
    // Leave the group cleanly: the next member starts at the committed offsets.
    consumer.unsubscribe();
    Ok(())
}

/// Sets `stop` on SIGINT or SIGTERM (as `serve` stops); the loop then finishes its batch
/// and leaves the group.
fn watch_signals(stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal watcher")?;
    std::thread::Builder::new()
        .name("consumer-signals".into())
        .spawn(move || {
            rt.block_on(crate::serve::shutdown_signal());
            stop.store(true, Ordering::SeqCst);
        })?;
    Ok(())
}

fn connect_with_retry(url: &str, stop: &AtomicBool) -> anyhow::Result<Client> {
    let mut backoff = Duration::from_millis(200);
    loop {
        match Client::connect(url, NoTls) {
            Ok(c) => return Ok(c),
            Err(e) if e.as_db_error().is_some() => {
                bail!(
                    "PostgreSQL refused the connection: {}",
                    crate::health::postgres_reason(&e)
                )
            }
            Err(e) => {
                eprintln!(
                    "PostgreSQL unavailable ({}); retrying",
                    crate::health::postgres_reason(&e)
                );
                std::thread::sleep(backoff);
                if stop.load(Ordering::SeqCst) {
                    bail!("stopped before PostgreSQL was reachable");
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Runs `attempt` until it succeeds, waiting between attempts (200 ms doubling up to 5 s)
/// while polling the consumer so that it keeps its place in the group; `None` when asked
/// to stop first.
fn until_done<T, E: std::fmt::Display>(
    consumer: &AgentConsumer,
    stop: &AtomicBool,
    what: &str,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Option<T> {
    let mut backoff = Duration::from_millis(200);
    loop {
        match attempt() {
            Ok(v) => return Some(v),
            Err(e) => eprintln!("{what} failed ({e}); retrying in {backoff:?}"),
        }
        sleep_polling(consumer, backoff, stop);
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// The connection, opened again first if it was lost.
fn reconnected<'a>(db: &'a mut Client, url: &str) -> Result<&'a mut Client, postgres::Error> {
    if db.is_closed() {
        *db = Client::connect(url, NoTls)?;
    }
    Ok(db)
}

/// Pauses (or resumes) every assigned partition: while the database is down the
/// consumer keeps polling, to stay in its group, without receiving messages.
fn pause(consumer: &AgentConsumer, paused: bool) {
    if let Ok(assignment) = consumer.assignment() {
        let _ = if paused {
            consumer.pause(&assignment)
        } else {
            consumer.resume(&assignment)
        };
    }
}

/// Waits `d`, polling the (paused) consumer so the group keeps it.
fn sleep_polling(consumer: &AgentConsumer, d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        let _ = consumer.poll(Duration::from_millis(50));
    }
}
