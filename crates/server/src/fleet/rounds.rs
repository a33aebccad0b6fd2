//! [`Fleet`]: collection rounds (on an interval and on request) stored as hash-chained
//! snapshots with their public aggregates as gauges, and the newest snapshot.

use super::chain::Link;
use super::collector::{self, Collector};
use super::docker::DockerCollector;
use super::host::HostCollector;
use super::public::{RateLimiter, gauges, public_view};
use crate::rows::Batch;
use crate::store::{Store, StoreError};
use serde_json::Value;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The newest stored snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSnapshot {
    /// Its link in the chain (position, hashes, canonical body).
    pub link: Link,
    /// The snapshot.
    pub snapshot: Value,
}

/// Collection rounds and what the endpoints need of them.
pub struct Fleet {
    collectors: Vec<Arc<dyn Collector>>,
    /// One round at a time.
    round: Mutex<()>,
    latest: RwLock<Option<StoredSnapshot>>,
    limiter: RateLimiter,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field(
                "collectors",
                &self.collectors.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Fleet {
    /// The host and Docker collectors; 60 public requests per minute per address.
    fn default() -> Self {
        Fleet::new(
            vec![
                Arc::new(HostCollector),
                Arc::new(DockerCollector::default()),
            ],
            60,
        )
    }
}

impl Fleet {
    /// Rounds over `collectors`; `/telemetry/public` answers each client address at
    /// most `public_per_minute` times a minute.
    pub fn new(collectors: Vec<Arc<dyn Collector>>, public_per_minute: u32) -> Self {
        Fleet {
            collectors,
            round: Mutex::new(()),
            latest: RwLock::new(None),
            limiter: RateLimiter::new(public_per_minute, Duration::from_secs(60)),
        }
    }

    /// Runs every collector, appends the snapshot to the chain and stores its
    /// aggregates as gauges. Blocks for up to the slowest collector's timeout.
    pub fn collect_and_store(&self, store: &dyn Store) -> Result<StoredSnapshot, StoreError> {
        let _one_round = self.round.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot = collector::collect(&self.collectors);
        let at = snapshot.collected_at_unix_nano;
        let value = serde_json::to_value(&snapshot)
            .map_err(|e| StoreError::Database(format!("encoding a snapshot: {e}")))?;
        let link = store.append_snapshot(&snapshot.snapshot_id, at, &value)?;
        let points = gauges(&public_view(&value), at);
        if let Err(e) = store.insert(Batch {
            metric_points: points,
            ..Default::default()
        }) {
            // The snapshot itself is stored; its gauges come again next round.
            tracing::warn!(error = %e, "storing the fleet gauges failed");
        }
        if !snapshot.errors.is_empty() {
            tracing::warn!(collectors = ?snapshot.errors.keys().collect::<Vec<_>>(), "fleet collectors failed");
        }
        let stored = StoredSnapshot {
            link,
            snapshot: value,
        };
        *self.latest.write().unwrap_or_else(|e| e.into_inner()) = Some(stored.clone());
        Ok(stored)
    }

    /// The newest snapshot: the last one this server stored, else the store's last.
    pub fn latest(&self, store: &dyn Store) -> Result<Option<StoredSnapshot>, StoreError> {
        if let Some(s) = self
            .latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(Some(s));
        }
        let Some(link) = store.last_snapshot()? else {
            return Ok(None);
        };
        let snapshot = serde_json::from_str(&link.body)
            .map_err(|e| StoreError::Database(format!("a stored snapshot is not JSON: {e}")))?;
        Ok(Some(StoredSnapshot { link, snapshot }))
    }

    /// Counts a `/telemetry/public` request from `client` at `now`; when over the
    /// limit, how long until the client's window ends.
    pub fn admit_public(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        self.limiter.check(client, now)
    }
}
