//! `amqp://` and `amqps://`: opens an AMQP connection, which logs in to the virtual host.

use super::{Probe, Target, async_probe, client_reason};
use std::time::Duration;

/// The AMQP (RabbitMQ) probe.
pub(super) struct Amqp;

impl Probe for Amqp {
    fn schemes(&self) -> &'static [&'static str] {
        &["amqp", "amqps"]
    }

    fn probe(&self, t: &Target, timeout: Duration) -> Result<(), String> {
        async_probe(timeout, async {
            let conn = lapin::Connection::connect(&t.url, lapin::ConnectionProperties::default())
                .await
                .map_err(client_reason)?;
            let _ = conn.close(200, "health probe done").await;
            Ok(())
        })
    }
}
