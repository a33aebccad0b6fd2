//! The native half of the `@automagik/telemetry` Node.js package: the Rust SDK
//! (`automagik-telemetry`) behind a thin napi-rs layer. Consent, configuration, redaction,
//! batching, retries, the spool and the exporters are the SDK's; the package's
//! JavaScript (`index.js`) adds the 0.1.x API, `AsyncLocalStorage` span context and the
//! flush at process exit.
//!
//! No call blocks JavaScript's event loop on the network: the track calls only queue,
//! and `flush`, `shutdown` and `disable` run on the libuv thread pool and resolve by
//! their deadline.

// napi-rs registers the exported functions only outside `cfg(test)`: in the test
// build clippy sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod agent;
mod client;
mod convert;
mod privacy;
mod span;

use napi_derive::napi;

/// The version of the SDK inside this addon.
#[napi]
pub fn sdk_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
