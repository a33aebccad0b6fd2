//! The effective configuration as one JSON object, the same in every language that
//! embeds the SDK (the Python and Node.js packages answer their `effective_config` with
//! it): durations in whole milliseconds, names as the environment variables spell them,
//! header values and the ClickHouse password never included.
//!
//! ```
//! let effective = automagik_telemetry::Telemetry::builder()
//!     .env_lookup(|_| None)
//!     .project_name("checkout")
//!     .effective()?;
//! let json = effective.to_json();
//! assert_eq!(json["project_name"], "checkout");
//! assert_eq!(json["flush_interval_ms"], 5000);
//! # Ok::<(), automagik_telemetry::ConfigError>(())
//! ```
//!
//! Keys: `enabled`, `consent_rule`, `consent`, `project_name`, `version`, `endpoint`,
//! `traces_endpoint`, `metrics_endpoint`, `logs_endpoint`, `backend`, `batch_size`,
//! `flush_interval_ms`, `queue_size`, `compression`, `compression_threshold`,
//! `max_retries`, `retry_backoff_ms`, `max_backoff_ms`, `retry_budget_ms`, `timeout_ms`,
//! `spool_dir`, `spool_max_bytes`, `verbose`, `file_path`, `kafka_brokers`,
//! `clickhouse_endpoint`, `clickhouse_database`, `clickhouse_user`,
//! `clickhouse_create_schema`, `header_names`, `resource_attributes` (a list of
//! `[key, value]` pairs, in order) and `drop_timeout_ms`.

use crate::config::{Backend, Compression, Config};
use automagik_telemetry_core::Signal;
use automagik_telemetry_core::consent::{ConsentDecision, ConsentRule};
use serde_json::{Value, json};
use std::time::Duration;

/// A duration in whole milliseconds.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The backend's name, as `AUTOMAGIK_TELEMETRY_BACKEND` spells it.
pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Otlp => "otlp",
        Backend::OtlpJson => "otlp-json",
        Backend::ClickHouse => "clickhouse",
        Backend::Kafka => "kafka",
        Backend::File => "file",
        Backend::Stdout => "stdout",
    }
}

/// The compression's name, as `AUTOMAGIK_TELEMETRY_COMPRESSION` spells it.
pub fn compression_name(compression: Compression) -> &'static str {
    match compression {
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
        Compression::None => "none",
    }
}

/// The consent rule's name, in snake case.
pub fn rule_name(rule: &ConsentRule) -> &'static str {
    match rule {
        ConsentRule::OptOutVariable(_) => "opt_out_variable",
        ConsentRule::OptOutFile(_) => "opt_out_file",
        ConsentRule::RevokedInCode => "revoked_in_code",
        ConsentRule::Development(_) => "development",
        ConsentRule::OptInVariable => "opt_in_variable",
        ConsentRule::GrantedInCode => "granted_in_code",
        ConsentRule::ProgramDefault => "program_default",
        ConsentRule::LibraryDefault => "library_default",
        _ => "unknown",
    }
}

/// The effective configuration and consent as JSON.
pub fn describe(config: &Config, decision: &ConsentDecision) -> Value {
    json!({
        "enabled": decision.enabled,
        "consent_rule": rule_name(&decision.rule),
        "consent": decision.to_string(),
        "project_name": config.project_name,
        "version": config.version,
        "endpoint": config.endpoint,
        "traces_endpoint": config.signal_url(Signal::Traces),
        "metrics_endpoint": config.signal_url(Signal::Metrics),
        "logs_endpoint": config.signal_url(Signal::Logs),
        "backend": backend_name(config.backend),
        "batch_size": config.batch_size,
        "flush_interval_ms": ms(config.flush_interval),
        "queue_size": config.queue_size,
        "compression": compression_name(config.compression),
        "compression_threshold": config.compression_threshold,
        "max_retries": config.max_retries,
        "retry_backoff_ms": ms(config.retry_backoff),
        "max_backoff_ms": ms(config.max_backoff),
        "retry_budget_ms": ms(config.retry_budget),
        "timeout_ms": ms(config.timeout),
        "spool_dir": config.spool_dir.as_ref().map(|p| p.display().to_string()),
        "spool_max_bytes": config.spool_max_bytes,
        "verbose": config.verbose,
        "file_path": config.file_path.display().to_string(),
        "kafka_brokers": config.kafka_brokers,
        "clickhouse_endpoint": config.clickhouse.endpoint,
        "clickhouse_database": config.clickhouse.database,
        "clickhouse_user": config.clickhouse.user,
        "clickhouse_create_schema": config.clickhouse.create_schema,
        "header_names": config.headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        "resource_attributes": config
            .resource_attributes
            .iter()
            .map(|(k, v)| [k.as_str(), v.as_str()])
            .collect::<Vec<_>>(),
        "drop_timeout_ms": ms(config.drop_timeout),
    })
}
