//! The Automagik Telemetry server: receives OTLP over HTTP, stores it (embedded SQLite
//! by default) and answers queries. `automagik-telemetry serve` runs it.
#![deny(missing_docs)]

pub mod alerts;
pub mod api;
pub mod auth;
pub mod fleet;
pub mod grpc;
pub mod query;
pub mod rollup;
pub mod rows;
pub mod series;
pub mod server_metrics;
pub mod store;
pub mod telemetry;
pub mod ui;

pub use api::{AppState, Limits, app};
pub use auth::{Auth, Scope, Token};
pub use store::{
    LogQuery, MetricInfo, Page, Purged, Retention, RollupQuery, RunQuery, SnapshotChain, Store,
    StoreError, StoreRead, StoreWrite, StoredLog, StoredRun, TraceQuery, TraceSummary,
    clickhouse::ClickHouseStore, postgres::PostgresStore, sqlite::SqliteStore,
};
