//! The Automagik Telemetry server: receives OTLP over HTTP, stores it (embedded SQLite
//! by default) and answers queries. `automagik-telemetry serve` runs it.
#![deny(missing_docs)]

pub mod api;
pub mod query;
pub mod rollup;
pub mod rows;
pub mod store;

pub use api::{AppState, Limits, app};
pub use store::{
    LogQuery, MetricInfo, Page, Purged, RollupQuery, RunQuery, Store, StoreError, StoredLog,
    StoredRun, TraceQuery, TraceSummary, postgres::PostgresStore, sqlite::SqliteStore,
};
