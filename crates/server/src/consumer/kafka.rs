//! The consumer's Kafka side: topics created when missing, and waiting that keeps the
//! consumer in its group (polling, with its partitions paused, while backing off).

use super::metrics::LagStats;
use super::{ConsumeError, Context};
use automagik_telemetry::kafka::client_config;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Creates `topics` that do not exist yet (an existing topic is left as it is).
pub(super) fn create_topics(
    brokers: &str,
    topics: &[String],
    partitions: i32,
) -> super::Outcome<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = client_config(brokers, &[])
        .map_err(|e| ConsumeError::msg(format!("--brokers: {e}")))?
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
            Err((topic, code)) => {
                return Err(ConsumeError::msg(format!(
                    "cannot create the topic {topic}: {code}"
                )));
            }
        }
    }
    Ok(())
}

pub(super) type AgentConsumer = BaseConsumer<LagStats>;

/// Runs `attempt` until it succeeds, waiting between attempts (200 ms doubling up to 5 s)
/// while polling the consumer so that it keeps its place in the group; `None` when asked
/// to stop first.
///
/// While it waits the assigned partitions are paused, so the polls take no message: a
/// message taken and dropped there would move the consumer's position past it, and the
/// next batch's commit would pass over a message never stored. They are resumed before
/// it returns.
pub(super) fn until_done<T, E: std::fmt::Display>(
    consumer: &AgentConsumer,
    stop: &AtomicBool,
    what: &str,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Option<T> {
    let mut backoff = Duration::from_millis(200);
    let mut paused = false;
    let outcome = loop {
        match attempt() {
            Ok(v) => break Some(v),
            Err(e) => eprintln!(
                "{what} failed ({e}); retrying in {}",
                automagik_telemetry_core::human::duration(backoff)
            ),
        }
        if !paused {
            pause(consumer, true);
            paused = true;
        }
        sleep_polling(consumer, backoff, stop);
        if stop.load(Ordering::SeqCst) {
            break None;
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    };
    if paused {
        pause(consumer, false);
    }
    outcome
}

/// Pauses (or resumes) every assigned partition: while a batch waits for the database,
/// the store or the broker, the consumer keeps polling, to stay in its group, without
/// receiving messages.
pub(super) fn pause(consumer: &AgentConsumer, paused: bool) {
    if let Ok(assignment) = consumer.assignment() {
        let _ = if paused {
            consumer.pause(&assignment)
        } else {
            consumer.resume(&assignment)
        };
    }
}

/// Waits `d`, polling the (paused) consumer so the group keeps it. A message that comes
/// anyway (its partition assigned during the wait) is given back: its partition is
/// paused too and set back to it, so that it is read again on resume. (Were that seek to
/// fail, the partition is being revoked, and whoever reads it next starts from the
/// committed offset, which is not past this message.)
fn sleep_polling(consumer: &AgentConsumer, d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
            let mut partition = TopicPartitionList::new();
            partition.add_partition(m.topic(), m.partition());
            let _ = consumer.pause(&partition);
            let _ = consumer.seek(
                m.topic(),
                m.partition(),
                Offset::Offset(m.offset()),
                Duration::from_secs(5),
            );
        }
    }
}
