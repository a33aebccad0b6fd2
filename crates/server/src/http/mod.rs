//! The HTTP surface on one port: OTLP/HTTP ingest, the query API, the fleet
//! endpoints, the dashboard and the server's own health and metrics. One file per
//! area, each with its `routes`, which puts every route behind its token scope (or
//! none); [`app`] merges them over one [`AppState`].
//!
//! | Routes | File | Token scope |
//! |--------|------|-------------|
//! | `POST /v1/traces`, `/v1/metrics`, `/v1/logs` | `otlp.rs` | ingest |
//! | `GET /api/v1/traces`, `/api/v1/traces/{trace_id}`, `/api/v1/services`, `/api/v1/operations` | `traces.rs` | read |
//! | `GET /api/v1/logs`, `/api/v1/events` | `logs.rs` | read |
//! | `GET /api/v1/metrics`, `/api/v1/metrics/{name}/series` | `metrics.rs` | read |
//! | `GET /api/v1/agents/runs`, `/api/v1/agents/runs/{correlation_id}` | `runs.rs` | read |
//! | `GET /api/v1/sessions`, `/api/v1/sessions/{id}`, `/api/v1/genai/usage`, `/api/v1/scores` | `genai.rs` | read |
//! | `POST /api/v1/scores` | `genai.rs` | ingest |
//! | `GET /api/v1/overview`, `/api/v1/overview/chart.svg`, `/api/v1/metrics/{name}/chart.svg` | `overview.rs` | read |
//! | `GET /api/v1/probes`, `/api/v1/probes/graph.svg` | `probes.rs` | read |
//! | `GET /telemetry/status`, `/telemetry/history` | `fleet_api.rs` | read |
//! | `POST /telemetry/collect` | `fleet_api.rs` | admin |
//! | `GET /telemetry/public` | `fleet_api.rs` | none (rate-limited per address) |
//! | `GET /api/v1/stats`, `/api/v1/alerts` | `ops.rs` | read |
//! | `GET /metrics` | `ops.rs` | admin |
//! | `GET /healthz`, `/readyz` | `ops.rs` | none |
//! | `GET /`, `/status`, `/assets/{file}` | `pages.rs` | none |
//!
//! Beside them: `state.rs` ([`AppState`]; [`Limits`] are ingest's), `error.rs` ([`ApiError`]),
//! `scope.rs` (the token check), `params.rs` (query parameters), `read.rs` (store
//! reads several areas share), `response.rs` (response bodies several areas share) and
//! `timeouts.rs` (the request body deadline, [`with_body_timeout`]).

mod error;
mod fleet_api;
mod genai;
mod logs;
mod metrics;
mod ops;
mod otlp;
mod overview;
mod pages;
mod params;
mod probes;
mod read;
mod response;
mod runs;
mod scope;
mod state;
mod timeouts;
mod traces;

pub use error::ApiError;
pub use state::{AppState, Limits};
pub use timeouts::with_body_timeout;

use axum::Router;

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(otlp::routes(&state))
        .merge(traces::routes(&state))
        .merge(logs::routes(&state))
        .merge(metrics::routes(&state))
        .merge(runs::routes(&state))
        .merge(genai::routes(&state))
        .merge(overview::routes(&state))
        .merge(probes::routes(&state))
        .merge(fleet_api::routes(&state))
        .merge(ops::routes(&state))
        .merge(pages::routes(&state))
        .with_state(state)
}
