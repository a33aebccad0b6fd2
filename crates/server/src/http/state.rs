//! [`AppState`], the state every handler shares (request [`Limits`] are ingest's).

use crate::alerts::Alerts;
use crate::auth::Auth;
use crate::fleet::{Fleet, ProbesCollector};
pub use crate::ingest::Limits;
use crate::ingest::temporality::Temporality;
use crate::redaction::IngestRedactor;
use crate::server_metrics::ServerMetrics;
use crate::store::Store;
use std::sync::Arc;

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
    /// Redaction on ingest, applied to every decoded request before it is stored.
    pub redactor: Arc<IngestRedactor>,
    /// The last point of each cumulative metric series, so that cumulative points are
    /// stored as increases.
    pub temporality: Arc<Temporality>,
    /// Prices and the content size cap for GenAI data on ingest.
    pub genai: Arc<crate::genai::GenAiIngest>,
}

impl AppState {
    /// State over `store` with default limits, no tokens, fresh metrics and `standard`
    /// redaction.
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            limits: Limits::default(),
            auth: Arc::new(Auth::default()),
            metrics: Arc::new(ServerMetrics::default()),
            alerts: Arc::new(Alerts::default()),
            fleet: Arc::new(Fleet::default()),
            probes: ProbesCollector::default(),
            redactor: Arc::new(IngestRedactor::standard()),
            temporality: Arc::new(Temporality::default()),
            genai: Arc::new(crate::genai::GenAiIngest::default()),
        }
    }
}
