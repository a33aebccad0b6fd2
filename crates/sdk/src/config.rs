//! Configuration: defaults < environment < code.
//!
//! Every `AUTOMAGIK_TELEMETRY_*` variable of the specification is read here, and the
//! standard `OTEL_*` ones it lists; where both name the same setting, ours wins. A
//! malformed value is a [`ConfigError`] naming the variable, never a silent default.

use automagik_telemetry_core::parse::{self, ParseError};
use std::path::PathBuf;
use std::time::Duration;

/// Where records go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// OTLP/HTTP with protobuf bodies (the default).
    Otlp,
    /// OTLP/HTTP with JSON bodies.
    OtlpJson,
    /// Direct insert into ClickHouse over its HTTP interface (needs the SDK's
    /// `clickhouse` feature).
    ClickHouse,
    /// The agent-event Kafka topics (needs the SDK's `kafka` feature).
    Kafka,
    /// One OTLP JSON export request per line, appended to a file.
    File,
    /// One OTLP JSON export request per line, on standard output.
    Stdout,
}

impl Backend {
    fn parse(name: &str, v: &str) -> Result<Self, ParseError> {
        match v.trim().to_ascii_lowercase().as_str() {
            "otlp" | "otlp-proto" | "http/protobuf" => Ok(Backend::Otlp),
            "otlp-json" | "http/json" => Ok(Backend::OtlpJson),
            "clickhouse" => Ok(Backend::ClickHouse),
            "kafka" => Ok(Backend::Kafka),
            "file" => Ok(Backend::File),
            "stdout" => Ok(Backend::Stdout),
            other => Err(ParseError::new(
                name,
                format!(
                    "expected one of otlp, otlp-json, clickhouse, kafka, file, stdout; got {other:?}"
                ),
            )),
        }
    }
}

/// Body compression for exporters that send over HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (the default).
    Gzip,
    /// zstd.
    Zstd,
    /// No compression.
    None,
}

impl Compression {
    fn parse(name: &str, v: &str) -> Result<Self, ParseError> {
        match v.trim().to_ascii_lowercase().as_str() {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "none" | "" => Ok(Compression::None),
            other => Err(ParseError::new(
                name,
                format!("expected gzip, zstd or none; got {other:?}"),
            )),
        }
    }
}

/// ClickHouse HTTP interface settings.
#[derive(Clone, PartialEq, Eq)]
pub struct ClickHouseConfig {
    /// Base URL. Default `http://127.0.0.1:8123`.
    pub endpoint: String,
    /// Database. Default `automagik`.
    pub database: String,
    /// User. Default `default`.
    pub user: String,
    /// Password. Default empty. Never printed by `Debug`.
    pub password: String,
    /// Create the database and tables on first use. Default `true`.
    pub create_schema: bool,
}

impl std::fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("endpoint", &self.endpoint)
            .field("database", &self.database)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<set>"
                },
            )
            .field("create_schema", &self.create_schema)
            .finish()
    }
}

/// The resolved configuration of a [`crate::Telemetry`] client.
#[derive(Clone, PartialEq)]
pub struct Config {
    /// `service.name`. Default: `OTEL_SERVICE_NAME`, else `unknown_service`.
    pub project_name: String,
    /// `service.version`. Default empty (not sent).
    pub version: String,
    /// OTLP base URL; `/v1/traces`, `/v1/metrics`, `/v1/logs` are derived.
    /// `AUTOMAGIK_TELEMETRY_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT`; default `http://127.0.0.1:4318`.
    pub endpoint: String,
    /// `AUTOMAGIK_TELEMETRY_BACKEND` (or `OTEL_EXPORTER_OTLP_PROTOCOL`); default OTLP protobuf.
    pub backend: Backend,
    /// `AUTOMAGIK_TELEMETRY_CLICKHOUSE_*`.
    pub clickhouse: ClickHouseConfig,
    /// `AUTOMAGIK_TELEMETRY_KAFKA_BROKERS`; default `127.0.0.1:9092`.
    pub kafka_brokers: String,
    /// `AUTOMAGIK_TELEMETRY_FILE_PATH` for the file backend; default `automagik-telemetry.jsonl`.
    pub file_path: PathBuf,
    /// `AUTOMAGIK_TELEMETRY_BATCH_SIZE`: records per export; default 100.
    pub batch_size: usize,
    /// `AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL`; default 5 s.
    pub flush_interval: Duration,
    /// `AUTOMAGIK_TELEMETRY_QUEUE_SIZE`: records held before new ones are dropped; default 10000.
    pub queue_size: usize,
    /// `AUTOMAGIK_TELEMETRY_COMPRESSION` (or `OTEL_EXPORTER_OTLP_COMPRESSION`); default gzip.
    pub compression: Compression,
    /// `AUTOMAGIK_TELEMETRY_COMPRESSION_THRESHOLD`: bodies smaller than this are sent plain; default 1024.
    pub compression_threshold: usize,
    /// `AUTOMAGIK_TELEMETRY_MAX_RETRIES`; default 3.
    pub max_retries: u32,
    /// `AUTOMAGIK_TELEMETRY_RETRY_BACKOFF`: base delay of the exponential backoff; default 1 s.
    pub retry_backoff: Duration,
    /// Longest single backoff delay; default 30 s.
    pub max_backoff: Duration,
    /// Total time one batch may spend in retries, separate from the per-request timeout; default 60 s.
    pub retry_budget: Duration,
    /// `AUTOMAGIK_TELEMETRY_TIMEOUT`: per request; default 10 s.
    pub timeout: Duration,
    /// `AUTOMAGIK_TELEMETRY_SPOOL_DIR`: where undeliverable batches wait; default off.
    pub spool_dir: Option<PathBuf>,
    /// Most bytes the spool may hold; the oldest batches are dropped past it. Default 64 MiB.
    pub spool_max_bytes: u64,
    /// `AUTOMAGIK_TELEMETRY_VERBOSE`: print each record sent to stderr; default false.
    pub verbose: bool,
    /// `OTEL_EXPORTER_OTLP_HEADERS`: extra request headers. Never printed by `Debug`.
    pub headers: Vec<(String, String)>,
    /// `OTEL_RESOURCE_ATTRIBUTES`: extra resource attributes.
    pub resource_attributes: Vec<(String, String)>,
    /// How long dropping the last handle waits for the final flush; default 5 s.
    pub drop_timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("project_name", &self.project_name)
            .field("version", &self.version)
            .field("endpoint", &self.endpoint)
            .field("backend", &self.backend)
            .field("clickhouse", &self.clickhouse)
            .field("batch_size", &self.batch_size)
            .field("flush_interval", &self.flush_interval)
            .field("queue_size", &self.queue_size)
            .field("compression", &self.compression)
            .field("compression_threshold", &self.compression_threshold)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("timeout", &self.timeout)
            .field("spool_dir", &self.spool_dir)
            .field("verbose", &self.verbose)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("resource_attributes", &self.resource_attributes)
            .finish_non_exhaustive()
    }
}

/// The default OTLP/HTTP endpoint: the local server's HTTP port.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4318";

impl Default for Config {
    fn default() -> Self {
        Config {
            project_name: "unknown_service".into(),
            version: String::new(),
            endpoint: DEFAULT_ENDPOINT.into(),
            backend: Backend::Otlp,
            clickhouse: ClickHouseConfig {
                endpoint: "http://127.0.0.1:8123".into(),
                database: "automagik".into(),
                user: "default".into(),
                password: String::new(),
                create_schema: true,
            },
            kafka_brokers: "127.0.0.1:9092".into(),
            file_path: PathBuf::from("automagik-telemetry.jsonl"),
            batch_size: 100,
            flush_interval: Duration::from_secs(5),
            queue_size: 10_000,
            compression: Compression::Gzip,
            compression_threshold: 1024,
            max_retries: 3,
            retry_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            retry_budget: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            spool_dir: None,
            spool_max_bytes: 64 * 1024 * 1024,
            verbose: false,
            headers: Vec::new(),
            resource_attributes: Vec::new(),
            drop_timeout: Duration::from_secs(5),
        }
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable or setting is malformed; the message names it.
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// The redaction rules given in code do not compile.
    #[error(transparent)]
    Redaction(#[from] automagik_telemetry_core::redact::RedactorError),
    /// The chosen backend is not compiled into this build; the message names the SDK's
    /// Cargo feature that adds it.
    #[error("the {0:?} backend needs the SDK's `{feature}` Cargo feature", feature = cargo_feature(.0))]
    UnsupportedBackend(Backend),
    /// The Kafka backend's brokers or client settings are not usable.
    #[error("Kafka backend: {0}")]
    Kafka(String),
    /// The output of the file backend could not be opened.
    #[error("cannot open telemetry output file {}: {source}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The background thread could not be started.
    #[error("could not start the telemetry thread: {0}")]
    Thread(std::io::Error),
}

/// The SDK's Cargo feature that compiles `backend` in (`default` for the backends every
/// build has).
fn cargo_feature(backend: &Backend) -> &'static str {
    match backend {
        Backend::ClickHouse => "clickhouse",
        Backend::Kafka => "kafka",
        Backend::Otlp | Backend::OtlpJson | Backend::File | Backend::Stdout => "default",
    }
}

fn endpoint_url(name: &str, v: &str) -> Result<String, ParseError> {
    let v = v.trim();
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))
        .ok_or_else(|| ParseError::new(name, "expected an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ParseError::new(name, "the URL has no host"));
    }
    if v.parse::<ureq::http::Uri>().is_err() {
        return Err(ParseError::new(name, "not a valid URL"));
    }
    Ok(v.trim_end_matches('/').to_string())
}

impl Config {
    /// Defaults overlaid with the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Defaults overlaid with variables read through `lookup`; tests and embedders pass
    /// their own map instead of the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Config::default();
        // Ours first, then the standard OpenTelemetry name; empty counts as unset.
        let get = |ours: &'static str,
                   otel: Option<&'static str>|
         -> Option<(&'static str, String)> {
            let pick = |n: &'static str| lookup(n).filter(|v| !v.trim().is_empty()).map(|v| (n, v));
            pick(ours).or_else(|| otel.and_then(pick))
        };
        if let Some((_, v)) = get("OTEL_SERVICE_NAME", None) {
            c.project_name = v.trim().to_string();
        }
        if let Some((n, v)) = get(
            "AUTOMAGIK_TELEMETRY_ENDPOINT",
            Some("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            c.endpoint = endpoint_url(n, &v)?;
        }
        if let Some((n, v)) = get("AUTOMAGIK_TELEMETRY_BACKEND", None) {
            c.backend = Backend::parse(n, &v)?;
        } else if let Some((n, v)) = get("OTEL_EXPORTER_OTLP_PROTOCOL", None) {
            c.backend = match v.trim() {
                "http/protobuf" => Backend::Otlp,
                "http/json" => Backend::OtlpJson,
                "grpc" => {
                    return Err(ParseError::new(
                        n,
                        "grpc is not supported by this SDK; use http/protobuf or http/json",
                    )
                    .into());
                }
                other => {
                    return Err(ParseError::new(
                        n,
                        format!("expected http/protobuf or http/json, got {other:?}"),
                    )
                    .into());
                }
            };
        }
        if let Some((n, v)) = get("AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT", None) {
            c.clickhouse.endpoint = endpoint_url(n, &v)?;
        }
        if let Some((_, v)) = get("AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE", None) {
            c.clickhouse.database = v.trim().to_string();
        }
        if let Some((_, v)) = get("AUTOMAGIK_TELEMETRY_CLICKHOUSE_USER", None) {
            c.clickhouse.user = v.trim().to_string();
        }
        if let Some(v) = lookup("AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD") {
            c.clickhouse.password = v;
        }
        if let Some((_, v)) = get("AUTOMAGIK_TELEMETRY_KAFKA_BROKERS", None) {
            c.kafka_brokers = v.trim().to_string();
        }
        if let Some((_, v)) = get("AUTOMAGIK_TELEMETRY_FILE_PATH", None) {
            c.file_path = PathBuf::from(v.trim());
        }
        if let Some((n, v)) = get("AUTOMAGIK_TELEMETRY_BATCH_SIZE", None) {
            c.batch_size = parse::parse_u64_in(n, &v, 1, 100_000)? as usize;
        }
        if let Some((n, v)) = get("AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL", None) {
            c.flush_interval = positive(n, parse::parse_duration(n, &v)?)?;
        }
        if let Some((n, v)) = get("AUTOMAGIK_TELEMETRY_QUEUE_SIZE", None) {
            c.queue_size = parse::parse_u64_in(n, &v, 1, 10_000_000)? as usize;
        }
        if let Some((n, v)) = get(
            "AUTOMAGIK_TELEMETRY_COMPRESSION",
            Some("OTEL_EXPORTER_OTLP_COMPRESSION"),
        ) {
            c.compression = Compression::parse(n, &v)?;
        }
        if let Some((n, v)) = get("AUTOMAGIK_TELEMETRY_COMPRESSION_THRESHOLD", None) {
            c.compression_threshold = parse::parse_u64_in(n, &v, 0, u32::MAX.into())? as usize;
        }
        if let Some((n, v)) = get("AUTOMAGIK_TELEMETRY_MAX_RETRIES", None) {
            c.max_retries = parse::parse_u64_in(n, &v, 0, 100)? as u32;
        }
        if let Some((n, v)) = get("AUTOMAGIK_TELEMETRY_RETRY_BACKOFF", None) {
            c.retry_backoff = parse::parse_duration(n, &v)?;
        }
        if let Some((n, v)) = get("AUTOMAGIK_TELEMETRY_TIMEOUT", None) {
            c.timeout = positive(n, parse::parse_duration(n, &v)?)?;
        }
        if let Some((_, v)) = get("AUTOMAGIK_TELEMETRY_SPOOL_DIR", None) {
            c.spool_dir = Some(PathBuf::from(v.trim()));
        }
        if let Some((n, v)) = get("AUTOMAGIK_TELEMETRY_VERBOSE", None) {
            c.verbose = parse::parse_bool(n, &v)?;
        }
        if let Some((n, v)) = get("OTEL_EXPORTER_OTLP_HEADERS", None) {
            c.headers = parse::parse_key_value_list(n, &v)?;
        }
        if let Some((n, v)) = get("OTEL_RESOURCE_ATTRIBUTES", None) {
            c.resource_attributes = parse::parse_key_value_list(n, &v)?;
        }
        Ok(c)
    }

    /// The full URL for one signal: the endpoint plus `/v1/traces` and so on.
    pub fn signal_url(&self, signal: automagik_telemetry_core::Signal) -> String {
        format!("{}{}", self.endpoint, signal.path())
    }
}

fn positive(name: &str, d: Duration) -> Result<Duration, ParseError> {
    if d.is_zero() {
        Err(ParseError::new(name, "must be greater than zero"))
    } else {
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_specification() {
        let c = from(&[]).expect("defaults");
        assert_eq!(c.endpoint, "http://127.0.0.1:4318");
        assert_eq!(c.backend, Backend::Otlp);
        assert_eq!(c.clickhouse.endpoint, "http://127.0.0.1:8123");
        assert_eq!(c.clickhouse.database, "automagik");
        assert_eq!(c.clickhouse.user, "default");
        assert_eq!(c.clickhouse.password, "");
        assert_eq!(c.kafka_brokers, "127.0.0.1:9092");
        assert_eq!(c.batch_size, 100);
        assert_eq!(c.flush_interval, Duration::from_secs(5));
        assert_eq!(c.queue_size, 10_000);
        assert_eq!(c.compression, Compression::Gzip);
        assert_eq!(c.compression_threshold, 1024);
        assert_eq!(c.max_retries, 3);
        assert_eq!(c.retry_backoff, Duration::from_secs(1));
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.spool_dir, None);
        assert!(!c.verbose);
        assert_eq!(c, Config::default());
    }

    #[test]
    fn every_variable_parses() {
        let c = from(&[
            (
                "AUTOMAGIK_TELEMETRY_ENDPOINT",
                "https://collector.example.com:4318/",
            ),
            ("AUTOMAGIK_TELEMETRY_BACKEND", "otlp-json"),
            ("AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT", "http://ch:8123"),
            ("AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE", "tel"),
            ("AUTOMAGIK_TELEMETRY_CLICKHOUSE_USER", "writer"),
            ("AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD", "pw"),
            ("AUTOMAGIK_TELEMETRY_KAFKA_BROKERS", "k1:9092,k2:9092"),
            ("AUTOMAGIK_TELEMETRY_BATCH_SIZE", "512"),
            ("AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL", "250ms"),
            ("AUTOMAGIK_TELEMETRY_QUEUE_SIZE", "50"),
            ("AUTOMAGIK_TELEMETRY_COMPRESSION", "zstd"),
            ("AUTOMAGIK_TELEMETRY_COMPRESSION_THRESHOLD", "0"),
            ("AUTOMAGIK_TELEMETRY_MAX_RETRIES", "5"),
            ("AUTOMAGIK_TELEMETRY_RETRY_BACKOFF", "2"),
            ("AUTOMAGIK_TELEMETRY_TIMEOUT", "3s"),
            ("AUTOMAGIK_TELEMETRY_SPOOL_DIR", "/tmp/spool"),
            ("AUTOMAGIK_TELEMETRY_VERBOSE", "true"),
            ("AUTOMAGIK_TELEMETRY_FILE_PATH", "/tmp/t.jsonl"),
            ("OTEL_SERVICE_NAME", "checkout"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod,team=core",
            ),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=abc%3D"),
        ])
        .expect("valid");
        assert_eq!(c.endpoint, "https://collector.example.com:4318");
        assert_eq!(
            c.signal_url(automagik_telemetry_core::Signal::Traces),
            "https://collector.example.com:4318/v1/traces"
        );
        assert_eq!(c.backend, Backend::OtlpJson);
        assert_eq!(c.clickhouse.endpoint, "http://ch:8123");
        assert_eq!(
            (
                c.clickhouse.database.as_str(),
                c.clickhouse.user.as_str(),
                c.clickhouse.password.as_str()
            ),
            ("tel", "writer", "pw")
        );
        assert_eq!(c.kafka_brokers, "k1:9092,k2:9092");
        assert_eq!(c.batch_size, 512);
        assert_eq!(c.flush_interval, Duration::from_millis(250));
        assert_eq!(c.queue_size, 50);
        assert_eq!(c.compression, Compression::Zstd);
        assert_eq!(c.compression_threshold, 0);
        assert_eq!(c.max_retries, 5);
        assert_eq!(c.retry_backoff, Duration::from_secs(2));
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.spool_dir, Some(PathBuf::from("/tmp/spool")));
        assert!(c.verbose);
        assert_eq!(c.file_path, PathBuf::from("/tmp/t.jsonl"));
        assert_eq!(c.project_name, "checkout");
        assert_eq!(c.resource_attributes[1], ("team".into(), "core".into()));
        assert_eq!(c.headers, vec![("x-api-key".into(), "abc=".into())]);
        assert!(
            !format!("{c:?}").contains("abc="),
            "Debug never prints header values"
        );
        assert!(
            !format!("{c:?}").contains("\"pw\""),
            "Debug never prints the password"
        );
    }

    #[test]
    fn ours_wins_over_otel() {
        let c = from(&[
            ("AUTOMAGIK_TELEMETRY_ENDPOINT", "http://ours:4318"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://theirs:4318"),
            ("AUTOMAGIK_TELEMETRY_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("AUTOMAGIK_TELEMETRY_BACKEND", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ])
        .expect("valid");
        assert_eq!(c.endpoint, "http://ours:4318");
        assert_eq!(c.compression, Compression::None);
        assert_eq!(c.backend, Backend::Otlp);
        let c = from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://theirs:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ])
        .expect("valid");
        assert_eq!(c.endpoint, "http://theirs:4318");
        assert_eq!(c.backend, Backend::OtlpJson);
    }

    #[test]
    fn malformed_values_name_their_variable() {
        let cases = [
            ("AUTOMAGIK_TELEMETRY_ENDPOINT", "localhost:4318"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x"),
            ("AUTOMAGIK_TELEMETRY_BACKEND", "carrier-pigeon"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT", "ch:8123"),
            ("AUTOMAGIK_TELEMETRY_BATCH_SIZE", "0"),
            ("AUTOMAGIK_TELEMETRY_BATCH_SIZE", "many"),
            ("AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL", "0s"),
            ("AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL", "soon"),
            ("AUTOMAGIK_TELEMETRY_QUEUE_SIZE", "-1"),
            ("AUTOMAGIK_TELEMETRY_COMPRESSION", "brotli"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "lz4"),
            ("AUTOMAGIK_TELEMETRY_COMPRESSION_THRESHOLD", "1k"),
            ("AUTOMAGIK_TELEMETRY_MAX_RETRIES", "1000"),
            ("AUTOMAGIK_TELEMETRY_RETRY_BACKOFF", "fast"),
            ("AUTOMAGIK_TELEMETRY_TIMEOUT", "0"),
            ("AUTOMAGIK_TELEMETRY_VERBOSE", "loud"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_RESOURCE_ATTRIBUTES", "=x"),
        ];
        for (var, value) in cases {
            let err = from(&[(var, value)]).expect_err(var);
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("{var}:")),
                "{var}={value} gave {text}"
            );
        }
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = from(&[
            ("AUTOMAGIK_TELEMETRY_BATCH_SIZE", ""),
            ("AUTOMAGIK_TELEMETRY_ENDPOINT", " "),
        ])
        .expect("valid");
        assert_eq!(c.batch_size, 100);
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
    }

    #[test]
    fn a_backend_left_out_of_the_build_names_its_feature() {
        assert_eq!(
            ConfigError::UnsupportedBackend(Backend::Kafka).to_string(),
            "the Kafka backend needs the SDK's `kafka` Cargo feature"
        );
        assert_eq!(
            ConfigError::UnsupportedBackend(Backend::ClickHouse).to_string(),
            "the ClickHouse backend needs the SDK's `clickhouse` Cargo feature"
        );
    }
}
