//! The Automagik Telemetry server: receives OTLP over HTTP, stores it (embedded SQLite
//! by default) and answers queries; probes infrastructure, collects fleet snapshots,
//! evaluates alert rules and consumes agent events from Kafka. The whole server is this
//! library: [`config::ServerConfig`] says what to run and [`runtime::run`] runs it;
//! `automagik-telemetry serve` only parses flags.
#![deny(missing_docs)]

pub mod alerts;
pub mod api;
pub mod auth;
pub mod config;
pub mod consumer;
pub mod fleet;
pub mod grpc;
pub mod probe;
pub mod query;
pub mod rollup;
pub mod rows;
pub mod runtime;
pub mod series;
pub mod server_metrics;
pub mod store;
pub mod telemetry;
pub mod ui;

pub use api::{AppState, Limits, app};
pub use auth::{Auth, Scope, Token};
pub use store::{
    LogQuery, MetricInfo, Page, Purged, RollupQuery, RunQuery, Store, StoreError, StoredLog,
    StoredRun, TraceQuery, TraceSummary, clickhouse::ClickHouseStore, postgres::PostgresStore,
    sqlite::SqliteStore,
};
