//! The server's own metrics, served at `/metrics` in the Prometheus (OpenMetrics)
//! text format: records accepted and rejected by reason, requests refused, the store
//! writes in flight and how long they take, what retention removed, and what redaction
//! on ingest replaced. Every refusal counted here is also logged, rate-limited
//! ([`crate::refusal`]).

use crate::refusal::{ItemRefusal, REQUEST_REASONS, RefusalLog};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Every signal the ingest counters are labelled with.
const SIGNALS: [&str; 3] = ["traces", "metrics", "logs"];

/// Labels of the per-signal ingest counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignalLabels {
    /// `traces`, `metrics` or `logs`.
    pub signal: &'static str,
}

/// Labels of a refusal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// `traces`, `metrics` or `logs`.
    pub signal: &'static str,
    /// Why, one of a fixed set: for records an [`ItemRefusal`] (`invalid_trace_id`,
    /// `invalid_span_id`, `invalid_parent_span_id`, `timestamp_out_of_range`,
    /// `unsupported_metric_kind`, `invalid_histogram`, `no_data`), for requests one of
    /// [`REQUEST_REASONS`] (`unauthorized`, `malformed`, `too_large`,
    /// `unsupported_media_type`, `overloaded`, `store_error`).
    pub reason: &'static str,
}

/// Labels of the background job counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// `probes`, `fleet`, `alerts` or `retention`.
    pub job: &'static str,
}

/// Labels of the retention counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// `raw` or `rollup`.
    pub kind: &'static str,
}

/// Labels of the redaction counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    /// The marker's name: `email`, `token`, `bearer`, `secret` (a denied key),
    /// `user_id`, or an extra rule's name.
    pub rule: String,
}

/// Every metric of the server, registered once.
#[derive(Debug)]
pub struct ServerMetrics {
    registry: Registry,
    accepted: Family<SignalLabels, Counter>,
    rejected_records: Family<ReasonLabels, Counter>,
    rejected_requests: Family<ReasonLabels, Counter>,
    in_flight: Gauge,
    write_seconds: Histogram,
    purged: Family<KindLabels, Counter>,
    job_failures: Family<JobLabels, Counter>,
    redactions: Family<RuleLabels, Counter>,
    refusals: RefusalLog,
    memory: MemoryGauges,
}

/// Gauges of [`crate::memory::read`], set at each scrape.
#[derive(Debug, Default)]
struct MemoryGauges {
    resident: Gauge,
    sqlite_in_use: Gauge,
    sqlite_peak: Gauge,
    heap_in_use: Gauge,
    heap_free: Gauge,
}

impl MemoryGauges {
    /// Registers every gauge but the resident one (which has a name of its own).
    fn register(&self, registry: &mut Registry) {
        let g = self;
        for (name, help, gauge) in [
            (
                "sqlite_memory_bytes",
                "Bytes SQLite holds (page caches, schemas, statements) across every connection",
                &g.sqlite_in_use,
            ),
            (
                "sqlite_memory_peak_bytes",
                "The most bytes SQLite has held at once since the server started",
                &g.sqlite_peak,
            ),
            (
                "heap_in_use_bytes",
                "Bytes the memory allocator has handed out and not had back (SQLite's included)",
                &g.heap_in_use,
            ),
            (
                "heap_free_bytes",
                "Bytes the memory allocator holds free without returning them to the system",
                &g.heap_free,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
    }

    fn set(&self, r: crate::memory::Reading) {
        let set = |g: &Gauge, v: Option<u64>| {
            if let Some(v) = v {
                g.set(i64::try_from(v).unwrap_or(i64::MAX));
            }
        };
        set(&self.resident, r.resident);
        set(&self.sqlite_in_use, Some(r.sqlite_in_use));
        set(&self.sqlite_peak, Some(r.sqlite_peak));
        set(&self.heap_in_use, r.heap_in_use);
        set(&self.heap_free, r.heap_free);
    }
}

impl Default for ServerMetrics {
    fn default() -> Self {
        // The process's resident memory under its conventional unprefixed name; the
        // rest under the server's prefix.
        let mut root = Registry::default();
        let memory = MemoryGauges::default();
        root.register(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            memory.resident.clone(),
        );
        let registry = root.sub_registry_with_prefix("automagik_telemetry");
        let accepted = Family::<SignalLabels, Counter>::default();
        registry.register(
            "ingest_accepted_records",
            "Records stored (spans, log records, metric data points)",
            accepted.clone(),
        );
        let rejected_records = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "ingest_rejected_records",
            "Records refused inside an accepted request (OTLP partial success)",
            rejected_records.clone(),
        );
        let rejected_requests = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "ingest_rejected_requests",
            "Requests refused whole, by reason; nothing of them was stored",
            rejected_requests.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "store_queue_depth",
            "Batches waiting for or being written by the store",
            in_flight.clone(),
        );
        let write_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register(
            "store_write_seconds",
            "Time from a batch reaching the store to its commit",
            write_seconds.clone(),
        );
        let purged = Family::<KindLabels, Counter>::default();
        registry.register(
            "retention_purged_rows",
            "Rows removed by retention",
            purged.clone(),
        );
        let job_failures = Family::<JobLabels, Counter>::default();
        registry.register(
            "background_job_failures",
            "Runs of a background job (probes, fleet, alerts, retention) that failed",
            job_failures.clone(),
        );
        let redactions = Family::<RuleLabels, Counter>::default();
        registry.register(
            "redactions",
            "Values or substrings replaced by redaction on ingest, by rule",
            redactions.clone(),
        );
        memory.register(registry);
        ServerMetrics {
            registry: root,
            memory,
            refusals: RefusalLog::default(),
            job_failures,
            redactions,
            accepted,
            rejected_records,
            rejected_requests,
            in_flight,
            write_seconds,
            purged,
        }
    }
}

impl ServerMetrics {
    /// Counts stored records of a signal.
    pub fn accepted(&self, signal: &'static str, n: u64) {
        self.accepted
            .get_or_create(&SignalLabels { signal })
            .inc_by(n);
    }

    /// Records accepted by signal, and records and requests refused by signal and
    /// reason, since the server started, with the totals refused:
    /// `{"accepted": {"traces": 3}, "rejected_records": {"logs": {"invalid_trace_id": 2}},
    /// "rejected_requests": {...}, "rejected_records_total": 2, "rejected_requests_total": 0}`.
    /// Read from the counters themselves (label sets never counted are absent).
    pub fn ingest_totals(&self) -> serde_json::Value {
        let mut out = serde_json::json!({
            "accepted": {}, "rejected_records": {}, "rejected_requests": {}
        });
        let (mut records, mut requests) = (0_u64, 0_u64);
        for signal in SIGNALS {
            if let Some(c) = self.accepted.get(&SignalLabels { signal }) {
                out["accepted"][signal] = c.get().into();
            }
            for reason in ItemRefusal::ALL.map(ItemRefusal::as_str) {
                if let Some(c) = self.rejected_records.get(&ReasonLabels { signal, reason }) {
                    out["rejected_records"][signal][reason] = c.get().into();
                    records += c.get();
                }
            }
            for reason in REQUEST_REASONS {
                if let Some(c) = self.rejected_requests.get(&ReasonLabels { signal, reason }) {
                    out["rejected_requests"][signal][reason] = c.get().into();
                    requests += c.get();
                }
            }
        }
        out["rejected_records_total"] = records.into();
        out["rejected_requests_total"] = requests.into();
        out
    }

    /// Counts records refused inside an accepted request, and logs them (rate-limited).
    pub fn rejected_records(&self, signal: &'static str, reason: ItemRefusal, n: u64) {
        if n > 0 {
            self.rejected_records
                .get_or_create(&ReasonLabels {
                    signal,
                    reason: reason.as_str(),
                })
                .inc_by(n);
            self.refusals.items(signal, reason, n);
        }
    }

    /// Counts a request refused whole, and logs it (rate-limited).
    pub fn rejected_request(&self, signal: &'static str, reason: &'static str) {
        self.rejected_request_from(signal, reason, None);
    }

    /// Counts a request from `client` refused whole, and logs it (rate-limited) with
    /// the client's address.
    pub fn rejected_request_from(
        &self,
        signal: &'static str,
        reason: &'static str,
        client: Option<std::net::SocketAddr>,
    ) {
        self.rejected_requests
            .get_or_create(&ReasonLabels { signal, reason })
            .inc();
        self.refusals.request(signal, reason, client);
    }

    /// Store writes started and not finished yet (the batches of requests in flight).
    pub fn writes_in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    /// A store write started; the guard ends it and records its duration.
    pub fn write_started(&self) -> WriteGuard<'_> {
        self.in_flight.inc();
        WriteGuard {
            metrics: self,
            started: std::time::Instant::now(),
        }
    }

    /// Counts rows removed by retention.
    pub fn purged(&self, raw: u64, rollups: u64) {
        self.purged
            .get_or_create(&KindLabels { kind: "raw" })
            .inc_by(raw);
        self.purged
            .get_or_create(&KindLabels { kind: "rollup" })
            .inc_by(rollups);
    }

    /// Counts a failed run of a background job.
    pub fn job_failed(&self, job: &'static str) {
        self.job_failures.get_or_create(&JobLabels { job }).inc();
    }

    /// Counts `n` replacements of redaction on ingest by `rule`.
    pub fn redacted(&self, rule: &str, n: u64) {
        self.redactions
            .get_or_create(&RuleLabels {
                rule: rule.to_string(),
            })
            .inc_by(n);
    }

    /// Everything in the text exposition format, with memory read now.
    pub fn encode(&self) -> String {
        self.memory.set(crate::memory::read());
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Ends a store write when dropped.
#[derive(Debug)]
pub struct WriteGuard<'a> {
    metrics: &'a ServerMetrics,
    started: std::time::Instant,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        self.metrics
            .write_seconds
            .observe(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use crate::refusal::ItemRefusal;

    #[test]
    fn text_exposition_names_every_family() {
        let m = super::ServerMetrics::default();
        m.accepted("traces", 3);
        m.rejected_records("logs", ItemRefusal::InvalidTraceId, 2);
        m.rejected_request("metrics", "malformed");
        drop(m.write_started());
        m.redacted("email", 2);
        let text = m.encode();
        for line in [
            "automagik_telemetry_ingest_accepted_records_total{signal=\"traces\"} 3",
            "automagik_telemetry_ingest_rejected_records_total{signal=\"logs\",reason=\"invalid_trace_id\"} 2",
            "automagik_telemetry_ingest_rejected_requests_total{signal=\"metrics\",reason=\"malformed\"} 1",
            "automagik_telemetry_store_queue_depth 0",
            "automagik_telemetry_store_write_seconds_count 1",
            "automagik_telemetry_redactions_total{rule=\"email\"} 2",
            "# TYPE process_resident_memory_bytes gauge",
            "# TYPE automagik_telemetry_sqlite_memory_bytes gauge",
            "# TYPE automagik_telemetry_sqlite_memory_peak_bytes gauge",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        let resident = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.parse::<u64>().ok());
        if cfg!(target_os = "linux") {
            assert!(resident.expect("the resident gauge") > 1 << 20, "{text}");
        }
        assert_eq!(
            m.ingest_totals(),
            serde_json::json!({
                "accepted": {"traces": 3},
                "rejected_records": {"logs": {"invalid_trace_id": 2}},
                "rejected_requests": {"metrics": {"malformed": 1}},
                "rejected_records_total": 2,
                "rejected_requests_total": 1,
            })
        );
    }
}
