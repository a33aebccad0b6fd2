//! `nats://`: connects, then a `PING`/`PONG` round trip.

use super::{Probe, Target, async_probe, client_reason};
use std::time::Duration;

/// The NATS probe.
pub(super) struct Nats;

impl Probe for Nats {
    fn schemes(&self) -> &'static [&'static str] {
        &["nats"]
    }

    fn probe(&self, t: &Target, timeout: Duration) -> Result<(), String> {
        async_probe(timeout, async {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(timeout)
                .connect(t.url.as_str())
                .await
                .map_err(client_reason)?;
            client.flush().await.map_err(client_reason)
        })
    }
}
