//! `postgres://` and `postgresql://`: connects and runs `SELECT 1`.

use super::{Probe, Target};
use std::time::Duration;

/// The PostgreSQL probe.
pub(super) struct Postgres;

impl Probe for Postgres {
    fn schemes(&self) -> &'static [&'static str] {
        &["postgres", "postgresql"]
    }

    fn probe(&self, t: &Target, timeout: Duration) -> Result<(), String> {
        let mut config: postgres::Config = t.url.parse().map_err(|e| format!("bad URL: {e}"))?;
        config.connect_timeout(timeout);
        let mut client = config
            .connect(postgres::NoTls)
            .map_err(|e| postgres_reason(&e))?;
        client
            .simple_query("SELECT 1")
            .map(|_| ())
            .map_err(|e| postgres_reason(&e))
    }
}

/// PostgreSQL's own message (never the URL, which may hold a password).
pub fn postgres_reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        // "error connecting to server: Connection refused (os error 111)": the
        // client's text and its causes (I/O errors, which never hold the URL).
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}
