//! The `kafka` exporter: the agent runs, tool calls and events of each batch as the
//! JSON envelopes of `automagik_telemetry_core::agent_event`, on the topics
//! `agent-actions`, `agent-execution-logs` and `agent-routing-decisions`, keyed by
//! correlation id (one partition, in order, per run), through an idempotent producer
//! whose delivery reports are awaited.
//!
//! - A record that is not a valid envelope (say, a run started with a correlation id
//!   that is not a UUID) or that the broker refuses for good (over its size limit) goes
//!   to `<topic>.dlq` with the reason in the `dlq.reason` header; the batch succeeds.
//! - A broker that is down or slow fails the export as retryable: the pipeline retries
//!   and then spools the batch, and sends it when the broker is back. Event ids are
//!   derived from what they describe, so a record sent again is stored once by the
//!   consumer.
//! - Spans, logs and metrics that are not agent telemetry are not published.

use super::{ExportError, ExportOutcome, Exporter};
use crate::kafka::{Publisher, Record};
use automagik_telemetry_core::SignalRequest;
use automagik_telemetry_core::agent_event::from_request;
use std::time::{Duration, Instant};

/// See the module docs.
#[derive(Debug)]
pub struct KafkaExporter {
    publisher: Publisher,
    timeout: Duration,
}

impl KafkaExporter {
    /// An exporter to `brokers` (`host:port[,...]` or a `kafka(s)://` URL) with `extra`
    /// librdkafka properties; each export waits at most `timeout`.
    pub fn new(brokers: &str, extra: &[(&str, &str)], timeout: Duration) -> Result<Self, String> {
        Ok(KafkaExporter {
            publisher: Publisher::new(brokers, extra)?,
            timeout,
        })
    }
}

impl Exporter for KafkaExporter {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn export(
        &mut self,
        request: &SignalRequest,
        deadline: Instant,
    ) -> Result<ExportOutcome, ExportError> {
        let deadline = deadline.min(Instant::now() + self.timeout);
        let mut records = Vec::new();
        let mut invalid = Vec::new();
        for envelope in from_request(request) {
            let record = Record {
                topic: envelope.topic().to_string(),
                key: envelope.correlation_id.clone(),
                payload: envelope.to_bytes(),
            };
            // What a consumer would refuse is dead-lettered here, with the same reason.
            match envelope.check() {
                Ok(()) => records.push(record),
                Err(why) => invalid.push((record, why.0)),
            }
        }
        let published = self
            .publisher
            .publish(&records, deadline)
            .map_err(|e| ExportError::Transport(e.0))?;
        for (record, why) in &invalid {
            self.publisher
                .dead_letter(record, &format!("invalid envelope: {why}"), deadline)
                .map_err(|e| ExportError::Transport(e.0))?;
        }
        let rejected = (published.dead_lettered.len() + invalid.len()) as u64;
        Ok(ExportOutcome {
            rejected,
            message: published
                .dead_lettered
                .first()
                .map(|(_, why)| why.clone())
                .or_else(|| {
                    invalid
                        .first()
                        .map(|(_, why)| format!("invalid envelope: {why}"))
                })
                .map(|why| format!("{rejected} record(s) sent to the dead-letter topic: {why}")),
        })
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        self.publisher
            .flush(self.timeout)
            .map_err(|e| ExportError::Transport(e.0))
    }
}
