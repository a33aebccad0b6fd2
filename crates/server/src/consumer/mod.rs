//! The agent event consumer (`automagik-telemetry consume`): a Kafka consumer group that validates agent event envelopes and writes
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
//! When a step fails for a while (PostgreSQL or the server's store unreachable, the
//! dead-letter topic or the offset commit refused) the partitions are paused and the
//! step is retried with backoff; no offset moves, and no message is taken meanwhile. A
//! crash anywhere replays the batch, which changes nothing already stored.

//!
//! The binary's `consume` reads its flags into a [`Config`] and calls [`run`].

mod kafka;
mod metrics;
mod postgres;

use crate::Store;
use automagik_telemetry::kafka::{Publisher, Record, client_config};
use automagik_telemetry_core::agent_event::{Envelope, TOPICS};
use kafka::{AgentConsumer, create_topics, until_done};
use metrics::{LagStats, Metrics, serve_metrics};
use postgres::{MIGRATIONS, connect_with_retry, reconnected, store_rows, write_batch};
use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the consumer reads, where it writes and how it batches.
#[derive(Clone)]
pub struct Config {
    /// Kafka bootstrap servers, or a `kafka(s)://[user:password@]host:port` URL.
    pub brokers: String,
    /// Consumer group.
    pub group: String,
    /// PostgreSQL URL the agent tables live in (created by numbered migrations).
    pub postgres: String,
    /// Topics to read; empty: the three agent topics.
    pub topics: Vec<String>,
    /// Messages per batch (one transaction each) at most.
    pub batch_size: usize,
    /// How long a batch waits to fill.
    pub batch_wait: Duration,
    /// Where `/metrics` (consumed, stored, dead-lettered, lag) is served; `None`: off.
    pub metrics_addr: Option<SocketAddr>,
    /// Stop after this long without messages (for scripted runs); `None`: never.
    pub exit_when_idle: Option<Duration>,
    /// Partitions of the topics (and their `.dlq` topics) created when missing.
    pub partitions: i32,
    /// Also write runs and actions to this server store (after PostgreSQL, before the
    /// offsets), so `/api/v1/agents/runs` lists them.
    pub store: Option<Arc<dyn Store>>,
}

/// Why the consumer could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct ConsumeError {
    what: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ConsumeError {
    /// An error that is only its message.
    pub fn msg(what: impl std::fmt::Display) -> Self {
        ConsumeError {
            what: what.to_string(),
            source: None,
        }
    }
}

impl From<std::io::Error> for ConsumeError {
    fn from(e: std::io::Error) -> Self {
        ConsumeError {
            what: "I/O".into(),
            source: Some(Box::new(e)),
        }
    }
}

/// The consumer's results.
pub(crate) type Outcome<T> = Result<T, ConsumeError>;

/// `.context(..)` for the consumer's fallible steps: what was being done, with the
/// error as its source.
trait Context<T> {
    fn context(self, what: &str) -> Outcome<T>;
    fn with_context(self, what: impl FnOnce() -> String) -> Outcome<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for Result<T, E> {
    fn context(self, what: &str) -> Outcome<T> {
        self.with_context(|| what.to_string())
    }

    fn with_context(self, what: impl FnOnce() -> String) -> Outcome<T> {
        self.map_err(|e| ConsumeError {
            what: what(),
            source: Some(Box::new(e)),
        })
    }
}

/// Runs the consumer until SIGINT/SIGTERM (or `--exit-when-idle`).
pub fn run(args: Config) -> Outcome<()> {
    let batch_wait = args.batch_wait;
    let idle_exit = args.exit_when_idle;
    let topics: Vec<String> = if args.topics.is_empty() {
        TOPICS.iter().map(|t| t.to_string()).collect()
    } else {
        args.topics.clone()
    };
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = args.metrics_addr {
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
    let store = args.store.clone();
    let mut db = connect_with_retry(&args.postgres, &stop)?;
    crate::store::postgres::apply_migrations(
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
            // librdkafka's default (10 s) grows the wait between reconnections so far
            // that after an outage of a few seconds the consumer may reach its
            // coordinator only when its session has run out (a rebalance, the batch
            // read again); 1 s is the Java client's default.
            ("reconnect.backoff.max.ms", "1000"),
            ("max.poll.interval.ms", "300000"),
            ("statistics.interval.ms", "2000"),
        ],
    )
    .map_err(|e| ConsumeError::msg(format!("--brokers: {e}")))?
    .create_with_context(LagStats(metrics.clone()))
    .context("creating the Kafka consumer")?;
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topic_refs)
        .context("subscribing to the agent topics")?;
    let mut dlq = Publisher::new(&args.brokers, &[]).map_err(ConsumeError::msg)?;
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
            // Between batches no partition is meant to be paused (only a retry pauses
            // them, and resumes them when it ends): resume whatever a rebalance during
            // a retry may have left paused.
            kafka::pause(&consumer, false);
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

        // Write, retrying while the database is unavailable (offsets stay put; the
        // partitions are paused meanwhile, as for every retry below).
        let written = until_done(&consumer, &stop, "writing the batch to PostgreSQL", || {
            let written = reconnected(&mut db, &args.postgres)
                .and_then(|db| write_batch(db, &valid))
                .map_err(|e| crate::probe::postgres_reason(&e));
            if written.is_err() {
                metrics.database_retries.inc();
            }
            written
        });
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
                    .map_err(|e| crate::probe::postgres_reason(&e))
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
fn watch_signals(stop: Arc<AtomicBool>) -> Outcome<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal watcher")?;
    std::thread::Builder::new()
        .name("consumer-signals".into())
        .spawn(move || {
            rt.block_on(crate::runtime::shutdown_signal());
            stop.store(true, Ordering::SeqCst);
        })?;
    Ok(())
}

/// One message of a batch.
pub(crate) struct Incoming {
    topic: String,
    partition: i32,
    offset: i64,
    key: String,
    payload: Vec<u8>,
}
