//! The server's one way to build an outgoing HTTP client: the ClickHouse store, the
//! HTTP probes, the fleet's agent polls and the webhooks all use [`agent`].

use std::time::Duration;

/// The `User-Agent` of every request the server sends.
pub const USER_AGENT: &str = concat!("automagik-telemetry-server/", env!("CARGO_PKG_VERSION"));

/// A client whose requests are bounded by `timeout` as a whole; every status is an
/// answer for the caller to judge (none is turned into an error); up to 16 idle
/// connections per host are kept for reuse.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(USER_AGENT)
        .max_idle_connections_per_host(16)
        .build()
        .into()
}
