//! [`AppState`], the state every handler shares, and the request [`Limits`].

use crate::alerts::Alerts;
use crate::auth::Auth;
use crate::fleet::{Fleet, ProbesCollector};
use crate::server_metrics::ServerMetrics;
use crate::store::Store;
use std::sync::Arc;

/// Request size limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body as sent (compressed), in bytes. Default 16 MiB.
    pub max_body_bytes: usize,
    /// Largest body after decompression, in bytes. Default 64 MiB.
    pub max_decompressed_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// Where data goes.
    pub store: Arc<dyn Store>,
    /// Request limits.
    pub limits: Limits,
    /// Tokens and their scopes (none: open).
    pub auth: Arc<Auth>,
    /// The server's own metrics.
    pub metrics: Arc<ServerMetrics>,
    /// Alert rules and their states.
    pub alerts: Arc<Alerts>,
    /// Fleet collection and its newest snapshot.
    pub fleet: Arc<Fleet>,
    /// The probed targets' last states (empty without probes).
    pub probes: ProbesCollector,
}

impl AppState {
    /// State over `store` with default limits, no tokens and fresh metrics.
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            limits: Limits::default(),
            auth: Arc::new(Auth::default()),
            metrics: Arc::new(ServerMetrics::default()),
            alerts: Arc::new(Alerts::default()),
            fleet: Arc::new(Fleet::default()),
            probes: ProbesCollector::default(),
        }
    }
}
