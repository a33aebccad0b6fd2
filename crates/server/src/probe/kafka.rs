//! `kafka://` and `kafkas://`: the cluster's metadata through librdkafka, with SASL
//! credentials from the URL; up when a broker answers and lists at least one broker.

use super::{Probe, Target};
use automagik_telemetry::kafka::{FirstError, client_config};
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::Duration;

/// The Kafka probe.
pub(super) struct Kafka;

impl Probe for Kafka {
    fn schemes(&self) -> &'static [&'static str] {
        &["kafka", "kafkas"]
    }

    fn probe(&self, t: &Target, timeout: Duration) -> Result<(), String> {
        let socket_timeout = timeout.as_millis().max(10).to_string();
        let consumer: BaseConsumer<FirstError> =
            client_config(&t.url, &[("socket.timeout.ms", socket_timeout.as_str())])?
                .create_with_context(FirstError::default())
                .map_err(|e| format!("cannot create a Kafka client: {e}"))?;
        let metadata = consumer.fetch_metadata(None, timeout).map_err(|e| {
            // The client's own errors arrive as events: serve them.
            for _ in 0..5 {
                let _ = consumer.poll(Duration::from_millis(20));
            }
            consumer.context().get().unwrap_or_else(|| e.to_string())
        })?;
        if metadata.brokers().is_empty() {
            return Err("the cluster lists no brokers".into());
        }
        Ok(())
    }
}
