//! The `clickhouse` exporter: rows inserted straight into ClickHouse over its HTTP
//! interface, into the tables of the shared schema
//! ([`automagik_telemetry_core::clickhouse`]), which it creates on first use unless told
//! not to.
//!
//! - One `INSERT ... FORMAT JSONEachRow` per table per batch, gzip bodies; with the
//!   default 5 s flush interval a process makes about one insert per table every few
//!   seconds, as ClickHouse likes.
//! - Each insert carries an `insert_deduplication_token` derived from its rows, and the
//!   tables keep a deduplication window, so a batch retried after a partial failure (one
//!   table written, the next not) is not stored twice.
//! - Errors are classified by `X-ClickHouse-Exception-Code`: network, timeout, overload
//!   and too-many-parts errors are retried; syntax, type, unknown-table (after the schema
//!   was created), authentication and parse errors never are.

use super::{ExportError, ExportOutcome, Exporter, RetryClass, compress, send, time_left};
use crate::config::{ClickHouseConfig, Compression, Config};
use automagik_telemetry_core::SignalRequest;
use automagik_telemetry_core::clickhouse::{RETRYABLE_ERROR_CODES, Schema, ident, inserts};
use sha2::{Digest, Sha256};
use std::time::{Instant, SystemTime};

/// `UNKNOWN_TABLE`, `UNKNOWN_DATABASE`.
const MISSING_SCHEMA_CODES: &[u32] = &[60, 81];

/// See the module docs.
pub struct ClickHouseExporter {
    agent: ureq::Agent,
    config: ClickHouseConfig,
    schema: Schema,
    schema_ready: bool,
    compression: Compression,
    timeout: std::time::Duration,
}

impl std::fmt::Debug for ClickHouseExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseExporter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A failed statement: HTTP status, ClickHouse error code, and its message.
struct Failure {
    status: u16,
    code: Option<u32>,
    message: String,
}

impl ClickHouseExporter {
    /// An exporter for `config.clickhouse`, creating the schema on first use.
    pub fn new(config: &Config) -> Self {
        let agent = super::http_agent(config.timeout);
        ClickHouseExporter {
            agent,
            schema: Schema {
                database: config.clickhouse.database.clone(),
                ..Schema::default()
            },
            config: config.clickhouse.clone(),
            schema_ready: !config.clickhouse.create_schema,
            compression: match config.compression {
                Compression::None => Compression::None,
                // The HTTP interface takes gzip everywhere; zstd needs a recent server.
                _ => Compression::Gzip,
            },
            timeout: config.timeout,
        }
    }

    /// Runs one statement (with `data` as its body rows, if any), by `deadline`.
    fn run(
        &self,
        query: &str,
        data: Option<&[u8]>,
        deadline: Instant,
    ) -> Result<Result<(), Failure>, ExportError> {
        let remaining = time_left(deadline, self.timeout)?;
        let mut req = self
            .agent
            .post(&self.config.endpoint)
            // Statements name their database, which may not exist yet.
            .header("X-ClickHouse-User", &self.config.user)
            .header("X-ClickHouse-Key", &self.config.password);
        let body = match data {
            Some(rows) => {
                req = req.query("query", query);
                let (body, encoding) = compress(rows.to_vec(), self.compression, 1024)?;
                if let Some(enc) = encoding {
                    req = req.header("Content-Encoding", enc);
                }
                body
            }
            None => query.as_bytes().to_vec(),
        };
        let mut response = send(req, &body, remaining)?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(Ok(()));
        }
        let code = response
            .headers()
            .get("x-clickhouse-exception-code")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let message = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Ok(Err(Failure {
            status,
            code,
            message,
        }))
    }

    fn create_schema(&mut self, deadline: Instant) -> Result<(), ExportError> {
        for statement in self.schema.statements() {
            if let Err(f) = self.run(&statement, None, deadline)? {
                return Err(classify(f));
            }
        }
        self.schema_ready = true;
        Ok(())
    }
}

/// The error of a failed statement, classified by its ClickHouse code (or HTTP status).
fn classify(f: Failure) -> ExportError {
    let class = match f.code {
        Some(code) if RETRYABLE_ERROR_CODES.contains(&code) => {
            RetryClass::Retryable { retry_after: None }
        }
        Some(_) => RetryClass::Permanent,
        None => RetryClass::from_http(f.status, None, SystemTime::now()),
    };
    // ClickHouse messages name tables and columns, never row values; keep the start.
    let message: String = f.message.trim().chars().take(300).collect();
    ExportError::Status {
        status: f.status,
        class,
        message: Some(match f.code {
            Some(code) => format!("ClickHouse error {code}: {message}"),
            None => message,
        }),
    }
}

impl Exporter for ClickHouseExporter {
    fn name(&self) -> &'static str {
        "clickhouse"
    }

    fn export(
        &mut self,
        request: &SignalRequest,
        deadline: Instant,
    ) -> Result<ExportOutcome, ExportError> {
        if !self.schema_ready {
            self.create_schema(deadline)?;
        }
        for insert in inserts(request) {
            let token = hex::encode(&Sha256::digest(insert.rows.as_bytes())[..16]);
            let query = format!(
                "INSERT INTO {}.{} SETTINGS date_time_input_format = 'best_effort', \
                 insert_deduplication_token = '{}:{token}' FORMAT JSONEachRow",
                ident(&self.config.database),
                ident(insert.table),
                insert.table,
            );
            match self.run(&query, Some(insert.rows.as_bytes()), deadline)? {
                Ok(()) => {}
                // The schema was dropped under us: create it again, once, and retry.
                Err(f)
                    if self.config.create_schema
                        && f.code.is_some_and(|c| MISSING_SCHEMA_CODES.contains(&c)) =>
                {
                    self.create_schema(deadline)?;
                    if let Err(f) = self.run(&query, Some(insert.rows.as_bytes()), deadline)? {
                        return Err(classify(f));
                    }
                }
                Err(f) => return Err(classify(f)),
            }
        }
        Ok(ExportOutcome::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_classified() {
        let f = |code: Option<u32>, status| Failure {
            status,
            code,
            message: "Code: 1. DB::Exception: x".into(),
        };
        assert!(classify(f(Some(252), 500)).is_retryable(), "TOO_MANY_PARTS");
        assert!(classify(f(Some(209), 500)).is_retryable(), "SOCKET_TIMEOUT");
        assert!(!classify(f(Some(62), 500)).is_retryable(), "SYNTAX_ERROR");
        assert!(!classify(f(Some(53), 500)).is_retryable(), "TYPE_MISMATCH");
        assert!(!classify(f(Some(60), 500)).is_retryable(), "UNKNOWN_TABLE");
        assert!(
            !classify(f(Some(516), 401)).is_retryable(),
            "AUTHENTICATION_FAILED"
        );
        assert!(classify(f(None, 503)).is_retryable(), "a proxy in front");
        assert!(!classify(f(None, 400)).is_retryable());
    }
}
