//! The Automagik Telemetry server: receives OTLP over HTTP and gRPC, stores it (embedded
//! SQLite by default) and answers queries; probes infrastructure, collects fleet
//! snapshots, evaluates alert rules and consumes agent events from Kafka.
//!
//! The whole server is this library: [`config::ServerConfig`] says what to run and
//! [`runtime::run`] runs it; `automagik-telemetry serve` only parses flags.
//! Receivers: [`http`] (OTLP/HTTP, the query API, the fleet endpoints and the
//! dashboard on one port) and [`grpc`] (OTLP/gRPC), both storing through [`ingest`].
#![deny(missing_docs)]

pub mod alerts;
pub mod auth;
pub mod config;
pub mod consumer;
pub mod fleet;
pub mod genai;
pub mod grpc;
pub mod http;
pub mod http_client;
pub mod ingest;
pub mod memory;
pub mod probe;
pub mod query;
pub mod redaction;
pub mod refusal;
pub mod rollup;
pub mod rows;
pub mod runtime;
pub mod series;
pub mod server_metrics;
pub mod store;
pub mod ui;

/// The `service.name` of the metric points the server writes itself: the probes' `up`
/// and `probe_latency_ms` and the fleet collection's `fleet.*` gauges. Such points name
/// no service of their own: `/api/v1/services` lists this name only when spans or logs
/// carry it.
pub const SERVER_SERVICE_NAME: &str = "automagik-telemetry";

pub use auth::{Auth, Scope, Token};
pub use http::{AppState, Limits, app};
pub use store::{
    LogQuery, MetricInfo, Page, Purged, Retention, RollupQuery, RunQuery, SnapshotChain, Store,
    StoreError, StoreRead, StoreWrite, StoredLog, StoredRun, TraceQuery, TraceSummary,
    clickhouse::ClickHouseStore, postgres::PostgresStore, sqlite::SqliteStore,
};
