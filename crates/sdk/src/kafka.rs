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
use std::sync::Mutex;
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

/// Delivery reports by record number, and the client's first error.
#[derive(Default)]
struct Reports {
    outcomes: Mutex<HashMap<usize, Result<(), RDKafkaErrorCode>>>,
    client_error: Mutex<Option<String>>,
}

impl ClientContext for Reports {
    fn log(&self, _: RDKafkaLogLevel, _: &str, _: &str) {}

    fn error(&self, error: KafkaError, reason: &str) {
        if let Ok(mut first) = self.client_error.lock()
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
            max_message_bytes,
        })
    }

    /// Starts each attempt afresh: forgets the previous attempt's errors and replaces a
    /// producer that hit a fatal error (an idempotent producer whose broker lost its
    /// state, for instance), as librdkafka requires.
    fn prepare(&mut self) -> Result<(), Unfinished> {
        if self.producer.client().fatal_error().is_some() {
            self.producer = self
                .config
                .create_with_context(Reports::default())
                .map_err(|e| Unfinished(format!("cannot create the Kafka producer: {e}")))?;
        }
        if let Ok(mut e) = self.producer.context().client_error.lock() {
            *e = None;
        }
        Ok(())
    }

    fn unfinished(&self, what: String) -> Unfinished {
        let cause = self
            .producer
            .context()
            .client_error
            .lock()
            .ok()
            .and_then(|e| e.clone());
        Unfinished(match cause {
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
        if self.producer.client().fatal_error().is_some() {
            self.prepare()?;
        }
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
        if let Ok(mut o) = self.producer.context().outcomes.lock() {
            o.remove(&usize::MAX);
        }
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: DLQ_REASON_HEADER,
                value: Some(reason),
            })
            .insert(Header {
                key: DLQ_TOPIC_HEADER,
                value: Some(record.topic.as_str()),
            });
        self.producer
            .send(
                BaseRecord::with_opaque_to(&topic, usize::MAX)
                    .key(record.key.as_bytes())
                    .payload(payload)
                    .headers(headers),
            )
            .map_err(|(e, _)| self.unfinished(format!("cannot send to {topic}: {e}")))?;
        loop {
            let outcome = self
                .producer
                .context()
                .outcomes
                .lock()
                .ok()
                .and_then(|mut o| o.remove(&usize::MAX));
            match outcome {
                Some(Ok(())) => return Ok(()),
                Some(Err(code)) => {
                    return Err(self.unfinished(format!("cannot deliver to {topic}: {code}")));
                }
                None if Instant::now() >= deadline => {
                    return Err(self.unfinished(format!("{topic} did not acknowledge in time")));
                }
                None => {
                    self.producer.poll(Duration::from_millis(5));
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
