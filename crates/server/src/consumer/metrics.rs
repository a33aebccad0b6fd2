//! The consumer's own metrics on `/metrics`: consumed, stored, dead-lettered,
//! duplicates, batches, database retries, lag per partition (from librdkafka's
//! statistics) and throughput.

use super::Context;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::Value as Json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// The consumer's own metrics.
#[derive(Default)]
pub(super) struct Metrics {
    pub(super) consumed: Family<Vec<(String, String)>, Counter>,
    pub(super) stored: Family<Vec<(String, String)>, Counter>,
    pub(super) dead_lettered: Family<Vec<(String, String)>, Counter>,
    pub(super) duplicates: Counter,
    pub(super) batches: Counter,
    pub(super) database_retries: Counter,
    pub(super) lag: Family<Vec<(String, String)>, Gauge>,
    pub(super) per_second: Gauge<f64, AtomicU64>,
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
pub(super) struct LagStats(pub(super) Arc<Metrics>);

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

impl rdkafka::consumer::ConsumerContext for LagStats {
    /// Partitions assigned again after the group lost this member (an outage longer
    /// than the session) come back unpaused: a retry that paused them may have resumed
    /// an assignment that was empty at that moment, and librdkafka keeps a partition's
    /// pause across a reassignment, so they would never be fetched again. A retry still
    /// under way gives back what its polls receive (`kafka::until_done`).
    fn post_rebalance(
        &self,
        consumer: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &rdkafka::consumer::Rebalance<'_>,
    ) {
        use rdkafka::consumer::{Consumer, Rebalance};
        match rebalance {
            Rebalance::Assign(partitions) => {
                eprintln!("kafka: {} partitions assigned", partitions.count());
                let _ = consumer.resume(partitions);
            }
            Rebalance::Revoke(partitions) => {
                eprintln!("kafka: {} partitions revoked", partitions.count());
            }
            Rebalance::Error(e) => eprintln!("kafka: rebalance failed: {e}"),
        }
    }
}

/// Serves `/metrics` on its own thread.
pub(super) fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) -> super::Outcome<()> {
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
