//! Collectors behind one trait, and the orchestrator that runs them in parallel, each
//! within its own timeout, into one [`Snapshot`]. A collector that fails or hangs only
//! adds an entry to `errors`; the others' results are kept.

use automagik_telemetry_core::time::rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A source of fleet data. `collect` may block; the orchestrator runs it on a thread
/// of its own and stops waiting at [`Collector::timeout`].
pub trait Collector: Send + Sync {
    /// Key of its result in the snapshot.
    fn name(&self) -> &str;
    /// How long the orchestrator waits for it.
    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
    /// Its result, or why there is none.
    fn collect(&self) -> Result<Value, String>;
}

/// One collection round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// UUID v4.
    pub snapshot_id: String,
    /// RFC 3339.
    pub collected_at: String,
    /// The same instant, ns.
    pub collected_at_unix_nano: u64,
    /// How long the round took.
    pub duration_ms: f64,
    /// Results by collector name.
    pub results: BTreeMap<String, Value>,
    /// Errors by collector name (failures and timeouts).
    pub errors: BTreeMap<String, String>,
}

/// Runs every collector in parallel and waits for each up to its own timeout.
/// Collectors still running then are left to finish on their own; their results are
/// dropped and their timeout recorded.
pub fn collect(collectors: &[Arc<dyn Collector>]) -> Snapshot {
    let started = Instant::now();
    let now = crate::query::now_ns();
    let pending: Vec<_> = collectors
        .iter()
        .map(|c| {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let collector = c.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("collector-{}", c.name()))
                .spawn(move || {
                    let _ = tx.send(collector.collect());
                });
            (c.clone(), rx, spawned.is_ok())
        })
        .collect();
    let mut results = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for (c, rx, spawned) in pending {
        let name = c.name().to_string();
        if !spawned {
            errors.insert(name, "could not start a thread".into());
            continue;
        }
        let deadline = started + c.timeout();
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Ok(v)) => {
                results.insert(name, v);
            }
            Ok(Err(e)) => {
                errors.insert(name, e);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                errors.insert(name, format!("timed out after {:?}", c.timeout()));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                errors.insert(name, "the collector panicked".into());
            }
        }
    }
    Snapshot {
        snapshot_id: uuid::Uuid::new_v4().to_string(),
        collected_at: rfc3339(now),
        collected_at_unix_nano: now,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        results,
        errors,
    }
}
