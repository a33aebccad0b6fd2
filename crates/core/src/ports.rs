//! The server's ports, one source of truth: the server's defaults, the SDK's default
//! endpoint, the README, `deploy/compose.yaml` and the tests all agree with these
//! (checked by `crates/cli/tests/deploy.rs`).

/// OTLP/gRPC.
pub const OTLP_GRPC: u16 = 4317;

/// OTLP/HTTP, the query API, the fleet API, the dashboard, `/healthz`, `/readyz` and
/// Prometheus `/metrics`.
pub const OTLP_HTTP: u16 = 4318;
