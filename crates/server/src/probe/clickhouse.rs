//! `clickhouse://` and `clickhouses://`: `SELECT 1` over the HTTP interface, with the
//! URL's credentials, through the ClickHouse store's own client.

use super::{Probe, Target};
use std::time::Duration;

/// The ClickHouse probe.
pub(super) struct ClickHouse;

impl Probe for ClickHouse {
    fn schemes(&self) -> &'static [&'static str] {
        &["clickhouse", "clickhouses"]
    }

    fn probe(&self, t: &Target, timeout: Duration) -> Result<(), String> {
        crate::store::clickhouse::ping(&t.url, timeout)
    }
}
