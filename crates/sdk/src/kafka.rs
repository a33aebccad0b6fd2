//! Kafka through librdkafka (the `rdkafka` crate), without an async runtime: the
//! [`Publisher`] behind the `kafka` backend (delivery reports awaited, records the
//! broker refuses sent to `<topic>.dlq` with the reason) and [`RequestReply`]
//! (a request on one topic, its reply with the same correlation id on another, with a
//! timeout and a fallback).
//!
//! Brokers are given as `host:port[,host:port]` or as a URL
//! `kafka(s)://[user:password@]host:port[,...][?mechanism=SCRAM-SHA-256&client.property=value]`.

use automagik_telemetry_core::kafka::KafkaUrl;
use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Header naming why a record is in a dead-letter topic.
pub const DLQ_REASON_HEADER: &str = "dlq.reason";
/// Header naming the topic a dead-lettered record was meant for.
pub const DLQ_TOPIC_HEADER: &str = "dlq.source_topic";

/// librdkafka properties for `brokers` (a list or a `kafka://` URL) and `extra` ones.
pub fn client_config(brokers: &str, extra: &[(&str, &str)]) -> Result<ClientConfig, String> {
    let url = if brokers.starts_with("kafka://") || brokers.starts_with("kafkas://") {
        brokers.to_string()
    } else {
        format!("kafka://{}", brokers.trim())
    };
    let parsed = KafkaUrl::parse(&url)?;
    let mut config = ClientConfig::new();
    for (k, v) in parsed.client_properties() {
        config.set(k, v);
    }
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config.set_log_level(RDKafkaLogLevel::Error);
    Ok(config)
}

/// Whether a delivery error will not go away by trying again (the record itself is
/// refused), so the record belongs in the dead-letter topic.
pub fn is_permanent(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::InvalidMessage
            | RDKafkaErrorCode::InvalidRecord
            | RDKafkaErrorCode::BadMessage
            | RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::PolicyViolation
    )
}

/// A client context that keeps the client's first error since the last
/// [`FirstError::clear`]: the cause ("Connect to ... failed: Connection refused", a failed
/// SASL login), where later ones are its consequences ("1/1 brokers are down") or
/// repeats. librdkafka's own log lines are dropped.
#[derive(Debug, Default)]
pub struct FirstError(Mutex<Option<String>>);

impl FirstError {
    /// The first error, if there was one.
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|e| e.clone())
    }

    /// Forgets it.
    pub fn clear(&self) {
        if let Ok(mut e) = self.0.lock() {
            *e = None;
        }
    }

    fn record(&self, error: KafkaError, reason: &str) {
        if let Ok(mut first) = self.0.lock()
            && first.is_none()
        {
            *first = Some(if reason.is_empty() {
                error.to_string()
            } else {
                reason.to_string()
            });
        }
    }
}

impl ClientContext for FirstError {
    fn log(&self, _: RDKafkaLogLevel, _: &str, _: &str) {}

    fn error(&self, error: KafkaError, reason: &str) {
        self.record(error, reason);
    }
}

impl rdkafka::consumer::ConsumerContext for FirstError {}

/// Delivery reports by record number, and the client's first error.
#[derive(Default)]
struct Reports {
    outcomes: Mutex<HashMap<usize, Result<(), RDKafkaErrorCode>>>,
    client_error: FirstError,
}

impl ClientContext for Reports {
    fn log(&self, _: RDKafkaLogLevel, _: &str, _: &str) {}

    fn error(&self, error: KafkaError, reason: &str) {
        self.client_error.record(error, reason);
    }
}

impl ProducerContext for Reports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, record: usize) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail)),
        };
        if let Ok(mut outcomes) = self.outcomes.lock() {
            outcomes.insert(record, outcome);
        }
    }
}

/// A record to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Destination topic.
    pub topic: String,
    /// Key (the correlation id: one partition, in order, per run).
    pub key: String,
    /// Body.
    pub payload: Vec<u8>,
}

/// What a [`Publisher::publish`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Records acknowledged by the broker on their topic.
    pub delivered: usize,
    /// Records sent to their dead-letter topic instead: their number in the input and
    /// the reason.
    pub dead_lettered: Vec<(usize, String)>,
}

/// Why a publish did not finish: worth trying again later (nothing permanent).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unfinished(pub String);

/// An idempotent producer (`enable.idempotence`, so librdkafka's own retries never
/// duplicate a record) that waits for delivery reports.
pub struct Publisher {
    producer: BaseProducer<Reports>,
    config: ClientConfig,
    max_message_bytes: usize,
    /// Set when records were purged unacknowledged: the next publish starts a new
    /// producer (see [`Publisher::prepare`]).
    purged: bool,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

impl Publisher {
    /// A producer for `brokers` (see the module docs) with `extra` librdkafka
    /// properties (they win over the defaults, e.g. `message.max.bytes`).
    pub fn new(brokers: &str, extra: &[(&str, &str)]) -> Result<Self, String> {
        let mut config = client_config(
            brokers,
            &[
                ("enable.idempotence", "true"),
                ("acks", "all"),
                ("linger.ms", "5"),
                ("compression.type", "lz4"),
                ("message.timeout.ms", "30000"),
            ],
        )?;
        for (k, v) in extra {
            config.set(*k, *v);
        }
        let max_message_bytes = config
            .get("message.max.bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let producer = config
            .create_with_context(Reports::default())
            .map_err(|e| format!("cannot create the Kafka producer: {e}"))?;
        Ok(Publisher {
            producer,
            config,
            purged: false,
            max_message_bytes,
        })
    }

    /// Starts each attempt afresh: forgets the previous attempt's errors and replaces a
    /// producer that hit a fatal error (an idempotent producer whose broker lost its
    /// state, for instance), as librdkafka requires.
    /// A new producer when the old one had a fatal error or had records purged
    /// unacknowledged: an idempotent producer whose in-flight records were purged
    /// keeps waiting on their sequence numbers, and after an outage longer than an
    /// export it delivered nothing more (a 12 s cut left every spooled batch unsent for
    /// minutes); a new one starts with a new producer id and new connections.
    fn prepare(&mut self) -> Result<(), Unfinished> {
        if self.purged || self.producer.client().fatal_error().is_some() {
            self.purged = false;
            self.producer = self
                .config
                .create_with_context(Reports::default())
                .map_err(|e| Unfinished(format!("cannot create the Kafka producer: {e}")))?;
        }
        self.producer.context().client_error.clear();
        Ok(())
    }

    fn unfinished(&self, what: String) -> Unfinished {
        Unfinished(match self.producer.context().client_error.get() {
            Some(c) => format!("{what}: {c}"),
            None => what,
        })
    }

    /// Sends `records` and waits for each one's delivery report until `deadline`.
    /// Records refused for good (too large, invalid) go to `<topic>.dlq` with the
    /// reason. When a record is neither delivered nor refused by then (broker down, a
    /// retryable error), the answer is [`Unfinished`]: send the same records again
    /// later (consumers drop what they already have by event id).
    pub fn publish(
        &mut self,
        records: &[Record],
        deadline: Instant,
    ) -> Result<Published, Unfinished> {
        self.prepare()?;
        if let Ok(mut o) = self.producer.context().outcomes.lock() {
            o.clear();
        }
        let mut refused: Vec<(usize, String)> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            loop {
                let record = BaseRecord::with_opaque_to(&r.topic, i)
                    .key(r.key.as_bytes())
                    .payload(&r.payload);
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        if Instant::now() >= deadline {
                            self.producer.purge(PurgeConfig::default().queue());
                            self.purged = true;
                            return Err(self.unfinished("the producer queue stayed full".into()));
                        }
                        self.producer.poll(Duration::from_millis(10));
                    }
                    Err((KafkaError::MessageProduction(code), _)) if is_permanent(code) => {
                        refused.push((i, format!("refused by the producer: {code}")));
                        break;
                    }
                    Err((e, _)) => return Err(self.unfinished(format!("cannot send: {e}"))),
                }
            }
        }
        let expected = records.len() - refused.len();
        loop {
            let done = self
                .producer
                .context()
                .outcomes
                .lock()
                .map_or(0, |o| o.len());
            if done >= expected {
                break;
            }
            if Instant::now() >= deadline {
                // What is still queued is dropped here and sent again by the caller.
                self.producer
                    .purge(PurgeConfig::default().queue().inflight());
                self.producer.poll(Duration::ZERO);
                self.purged = true;
                return Err(self.unfinished(format!(
                    "{} of {} records not acknowledged in time",
                    expected - done,
                    records.len()
                )));
            }
            self.producer.poll(Duration::from_millis(5));
        }
        let outcomes: Vec<(usize, Result<(), RDKafkaErrorCode>)> = self
            .producer
            .context()
            .outcomes
            .lock()
            .map(|o| o.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default();
        let mut published = Published::default();
        let mut retry = None;
        for (i, outcome) in outcomes {
            match outcome {
                Ok(()) => published.delivered += 1,
                Err(code) if is_permanent(code) => {
                    refused.push((i, format!("refused by the broker: {code}")));
                }
                Err(code) => retry = Some(code),
            }
        }
        if let Some(code) = retry {
            return Err(self.unfinished(format!("delivery failed: {code}")));
        }
        refused.sort();
        for (i, reason) in &refused {
            self.dead_letter(&records[*i], reason, deadline)?;
        }
        published.dead_lettered = refused;
        Ok(published)
    }

    /// Sends `record` to `<topic>.dlq` with the reason in a header (and the source
    /// topic in another). A body too large for the topic is replaced by a JSON stub
    /// naming its size and first bytes.
    pub fn dead_letter(
        &mut self,
        record: &Record,
        reason: &str,
        deadline: Instant,
    ) -> Result<(), Unfinished> {
        let topic = automagik_telemetry_core::agent_event::dlq_topic(&record.topic);
        let stub;
        let payload: &[u8] = if record.payload.len() + 1024 > self.max_message_bytes {
            let head: String = String::from_utf8_lossy(&record.payload)
                .chars()
                .take(512)
                .collect();
            stub = serde_json::json!({
                "dlq_reason": reason,
                "original_size_bytes": record.payload.len(),
                "original_head": head,
            })
            .to_string();
            stub.as_bytes()
        } else {
            &record.payload
        };
        self.send_with_headers(
            &topic,
            &record.key,
            payload,
            &[
                (DLQ_REASON_HEADER, reason),
                (DLQ_TOPIC_HEADER, record.topic.as_str()),
            ],
            deadline,
        )
    }

    /// Sends one record with `headers` and waits for its delivery report.
    pub fn send_with_headers(
        &mut self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: &[(&str, &str)],
        deadline: Instant,
    ) -> Result<(), Unfinished> {
        self.prepare()?;
        let mut owned = OwnedHeaders::new();
        for (k, v) in headers {
            owned = owned.insert(Header {
                key: k,
                value: Some(*v),
            });
        }
        // Record numbers of single sends count down from the top, clear of batches.
        let id = usize::MAX - 1;
        if let Ok(mut o) = self.producer.context().outcomes.lock() {
            o.remove(&id);
        }
        self.producer
            .send(
                BaseRecord::with_opaque_to(topic, id)
                    .key(key.as_bytes())
                    .payload(payload)
                    .headers(owned),
            )
            .map_err(|(e, _)| self.unfinished(format!("cannot send to {topic}: {e}")))?;
        loop {
            let outcome = self
                .producer
                .context()
                .outcomes
                .lock()
                .ok()
                .and_then(|mut o| o.remove(&id));
            match outcome {
                Some(Ok(())) => return Ok(()),
                Some(Err(code)) => {
                    return Err(self.unfinished(format!("cannot deliver to {topic}: {code}")));
                }
                None if Instant::now() >= deadline => {
                    return Err(self.unfinished(format!("{topic} did not acknowledge in time")));
                }
                None => {
                    self.producer.poll(Duration::from_millis(2));
                }
            }
        }
    }

    /// Waits up to `timeout` for queued records to be delivered.
    pub fn flush(&self, timeout: Duration) -> Result<(), Unfinished> {
        self.producer
            .flush(timeout)
            .map_err(|e| self.unfinished(format!("flush: {e}")))
    }
}

/// Header carrying a request's correlation id (on the request and on its reply).
pub const CORRELATION_HEADER: &str = "correlation_id";
/// Header naming the topic a reply goes to.
pub const REPLY_TO_HEADER: &str = "reply_to";

/// What [`RequestReply::request`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The request's correlation id.
    pub correlation_id: String,
    /// The reply's body, or the fallback's.
    pub body: Vec<u8>,
    /// Whether the body came from the fallback (no reply in time, or the request could
    /// not be sent), and why.
    pub fallback: Option<String>,
}

type Waiters = Arc<Mutex<HashMap<String, std::sync::mpsc::SyncSender<Vec<u8>>>>>;

/// Requests on one topic, replies on another, matched by correlation id. Cheap to
/// share between threads: concurrent requests each get their own reply, never another's.
pub struct RequestReply {
    publisher: Mutex<Publisher>,
    request_topic: String,
    reply_topic: String,
    waiting: Waiters,
    stop: Arc<std::sync::atomic::AtomicBool>,
    listener: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for RequestReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestReply")
            .field("request_topic", &self.request_topic)
            .field("reply_topic", &self.reply_topic)
            .finish_non_exhaustive()
    }
}

fn header<'a>(m: &'a rdkafka::message::BorrowedMessage<'_>, name: &str) -> Option<&'a [u8]> {
    use rdkafka::Message;
    use rdkafka::message::Headers;
    m.headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
}

impl RequestReply {
    /// Sends requests to `request_topic` and listens on `reply_topic`: on every one of
    /// its partitions, from their current end, assigned directly rather than through a
    /// consumer group (each requester sees every reply and keeps its own). The ends are read before this returns, so no
    /// reply to a later request can be missed.
    pub fn new(brokers: &str, request_topic: &str, reply_topic: &str) -> Result<Self, String> {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        // librdkafka assigns partitions only to a consumer with a group id; this one
        // never joins it (no subscription, no commits).
        let group = format!("automagik-reply-{}", uuid::Uuid::new_v4());
        let consumer: BaseConsumer = client_config(
            brokers,
            &[
                ("group.id", group.as_str()),
                ("enable.auto.commit", "false"),
            ],
        )?
        .create()
        .map_err(|e| format!("cannot create the reply consumer: {e}"))?;
        let timeout = Duration::from_secs(10);
        let metadata = consumer
            .fetch_metadata(Some(reply_topic), timeout)
            .map_err(|e| format!("cannot read the partitions of {reply_topic}: {e}"))?;
        let mut at_end = rdkafka::TopicPartitionList::new();
        for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
            let (_, high) = consumer
                .fetch_watermarks(reply_topic, p.id(), timeout)
                .map_err(|e| format!("cannot read the end of {reply_topic}: {e}"))?;
            at_end
                .add_partition_offset(reply_topic, p.id(), rdkafka::Offset::Offset(high))
                .map_err(|e| e.to_string())?;
        }
        if at_end.count() == 0 {
            return Err(format!("{reply_topic} has no partitions"));
        }
        consumer
            .assign(&at_end)
            .map_err(|e| format!("cannot listen on {reply_topic}: {e}"))?;
        let waiting: Waiters = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let listener = {
            let (waiting, stop) = (waiting.clone(), stop.clone());
            std::thread::Builder::new()
                .name("kafka-replies".into())
                .spawn(move || {
                    use rdkafka::Message;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) else {
                            continue;
                        };
                        let id = header(&m, CORRELATION_HEADER)
                            .or(m.key())
                            .map(|k| String::from_utf8_lossy(k).into_owned());
                        let Some(id) = id else { continue };
                        let waiter = waiting.lock().ok().and_then(|mut w| w.remove(&id));
                        if let Some(tx) = waiter {
                            let _ = tx.try_send(m.payload().unwrap_or_default().to_vec());
                        }
                    }
                })
                .map_err(|e| format!("cannot start the reply listener: {e}"))?
        };
        Ok(RequestReply {
            publisher: Mutex::new(Publisher::new(brokers, &[])?),
            request_topic: request_topic.to_string(),
            reply_topic: reply_topic.to_string(),
            waiting,
            stop,
            listener: Some(listener),
        })
    }

    /// Sends `payload` with a new correlation id and waits up to `timeout` for its
    /// reply; without one, the body is `fallback(reason)`.
    pub fn request(
        &self,
        payload: &[u8],
        timeout: Duration,
        fallback: impl FnOnce(&str) -> Vec<u8>,
    ) -> Reply {
        let deadline = Instant::now() + timeout;
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        if let Ok(mut w) = self.waiting.lock() {
            w.insert(correlation_id.clone(), tx);
        }
        let sent = self
            .publisher
            .lock()
            .map_err(|_| Unfinished("the publisher is poisoned".into()))
            .and_then(|mut p| {
                p.send_with_headers(
                    &self.request_topic,
                    &correlation_id,
                    payload,
                    &[
                        (CORRELATION_HEADER, correlation_id.as_str()),
                        (REPLY_TO_HEADER, self.reply_topic.as_str()),
                    ],
                    deadline,
                )
            });
        let outcome = match sent {
            Err(e) => Err(format!("the request could not be sent: {e}")),
            Ok(()) => rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .map_err(|_| format!("no reply within {timeout:?}")),
        };
        if let Ok(mut w) = self.waiting.lock() {
            w.remove(&correlation_id);
        }
        match outcome {
            Ok(body) => Reply {
                correlation_id,
                body,
                fallback: None,
            },
            Err(why) => Reply {
                body: fallback(&why),
                correlation_id,
                fallback: Some(why),
            },
        }
    }
}

impl Drop for RequestReply {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.listener.take() {
            let _ = t.join();
        }
    }
}

/// Answers requests from `request_topic` (consumer group `group`) with `handler`,
/// sending each reply to the request's `reply_to` topic with its correlation id,
/// until `stop` is set.
pub fn serve_replies(
    brokers: &str,
    request_topic: &str,
    group: &str,
    stop: &std::sync::atomic::AtomicBool,
    mut handler: impl FnMut(&[u8]) -> Vec<u8>,
) -> Result<(), String> {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = client_config(
        brokers,
        &[("group.id", group), ("auto.offset.reset", "earliest")],
    )?
    .create()
    .map_err(|e| format!("cannot create the request consumer: {e}"))?;
    consumer
        .subscribe(&[request_topic])
        .map_err(|e| format!("cannot subscribe to {request_topic}: {e}"))?;
    let mut publisher = Publisher::new(brokers, &[])?;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let (Some(id), Some(reply_to)) = (
            header(&m, CORRELATION_HEADER).map(|v| String::from_utf8_lossy(v).into_owned()),
            header(&m, REPLY_TO_HEADER).map(|v| String::from_utf8_lossy(v).into_owned()),
        ) else {
            continue;
        };
        let body = handler(m.payload().unwrap_or_default());
        publisher
            .send_with_headers(
                &reply_to,
                &id,
                &body,
                &[(CORRELATION_HEADER, id.as_str())],
                Instant::now() + Duration::from_secs(10),
            )
            .map_err(|e| e.0)?;
    }
    Ok(())
}
