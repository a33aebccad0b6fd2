//! `redis://` and `rediss://`: `PING`, expecting `PONG`.

use super::{Probe, Target};
use std::time::Duration;

/// The Redis probe.
pub(super) struct Redis;

impl Probe for Redis {
    fn schemes(&self) -> &'static [&'static str] {
        &["redis", "rediss"]
    }

    fn probe(&self, t: &Target, timeout: Duration) -> Result<(), String> {
        let client = redis::Client::open(t.url.as_str()).map_err(|e| format!("bad URL: {e}"))?;
        let mut conn = client
            .get_connection_with_timeout(timeout)
            .map_err(|e| e.to_string())?;
        let pong: String = redis::cmd("PING")
            .query(&mut conn)
            .map_err(|e| e.to_string())?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(format!("PING answered {pong:?}"))
        }
    }
}
