//! The server's configuration: defaults < TOML file < environment < flags.
//!
//! [`FileConfig`] is the file's contract (unknown keys are refused); [`Overrides`] are
//! the flags and environment variables of `serve` (parsed by the binary with `clap`); [`ServerConfig::load`]
//! merges them into the values [`crate::runtime::run`] starts with.

use crate::alerts;
use crate::auth::{Scope, Token};
use crate::fleet::AgentTarget;
use crate::probe::{self, Target};
use crate::redaction::{IngestRedactor, RedactMode, RedactionConfig};
use automagik_telemetry_core::parse::parse_duration;
use automagik_telemetry_core::ports;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading the config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a wrong type.
    #[error("in the config file {path}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said (it names the key).
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A value is out of its domain; the text names the setting.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(e: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid(e.to_string())
}

/// A token of the config file: a secret with its scopes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FileToken {
    /// `"secret"` (every scope) or `"secret:read,ingest"`.
    Spec(String),
    /// `{ token = "secret", scopes = ["read"] }`.
    Table {
        /// The secret (at least 16 characters).
        token: String,
        /// What it may do.
        scopes: Vec<Scope>,
    },
}

/// The TOML config file (`--config`, `AUTOMAGIK_TELEMETRY_CONFIG`). Every key is
/// optional; an unknown key is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where the embedded SQLite database lives [default: `./data`].
    pub data_dir: Option<PathBuf>,
    /// `sqlite`, a `postgres://` URL or a `clickhouse://` (or `http(s)://`) URL
    /// [default: `sqlite`].
    pub storage: Option<String>,
    /// OTLP/HTTP, query API and dashboard address [default: `127.0.0.1:4318`].
    pub http_addr: Option<SocketAddr>,
    /// OTLP/gRPC address, or `off` [default: `127.0.0.1:4317`].
    pub grpc_addr: Option<String>,
    /// Access tokens [default: none, so no authentication on loopback].
    #[serde(default)]
    pub token: Vec<FileToken>,
    /// Allow a non-loopback address without tokens [default: false].
    pub insecure: Option<bool>,
    /// How long raw spans, logs and metric points are kept [default: `7d`].
    pub retention_raw: Option<String>,
    /// How long minute and hourly rollups are kept [default: `30d`].
    pub retention_rollups: Option<String>,
    /// How often retention runs [default: `60s`].
    pub retention_interval: Option<String>,
    /// `[[probe]]` tables, as `[[target]]` of `health` [default: none].
    #[serde(default)]
    pub probe: Vec<Target>,
    /// How often the probes run [default: `30s`].
    pub probe_interval: Option<String>,
    /// URL that receives a JSON POST when a probed target changes state [default: none].
    pub probe_webhook: Option<String>,
    /// Threshold alert rules (`[[alert]]` tables) [default: none].
    #[serde(default)]
    pub alert: Vec<FileAlert>,
    /// How often the rules are evaluated [default: `15s`].
    pub alert_interval: Option<String>,
    /// URL that receives a JSON POST when a rule fires or resolves [default: none].
    pub alert_webhook: Option<String>,
    /// How often a fleet snapshot is collected, or `off` [default: `60s`].
    pub fleet_interval: Option<String>,
    /// `[[agent]]` tables: name, service (optional), url [default: none].
    #[serde(default)]
    pub agent: Vec<AgentTarget>,
    /// Requests per minute `/telemetry/public` answers each client address
    /// [default: 60].
    pub public_rate_limit: Option<u32>,
    /// How long an HTTP client has to send a request's headers, which is also how long
    /// an idle keep-alive connection waits for its next request, before its connection
    /// is closed (at least `100ms`, at most `1d`) [default: `10s`].
    pub http_header_timeout: Option<String>,
    /// How long an HTTP client has to send a whole request body, counted from the end of
    /// its headers; a slower body is answered 408 and its connection closed (at least
    /// `100ms`, at most `1d`) [default: `30s`].
    pub http_body_timeout: Option<String>,
    /// Most HTTP connections served at once; more wait to be accepted until one closes
    /// [default: 1024].
    pub http_max_connections: Option<usize>,
    /// Redaction on ingest: `standard`, `strict` or `off` [default: `standard`].
    pub redact: Option<RedactMode>,
    /// The `[redaction]` table: `allow_keys`, extra `rules` (`{ name, pattern }`) and the
    /// user-id `salt` [default: none of them].
    #[serde(default)]
    pub redaction: RedactionConfig,
    /// The `[genai]` table: `max_content_bytes` kept of each prompt or completion and
    /// `[[genai.prices]]` overriding the built-in price table [default: none].
    #[serde(default)]
    pub genai: crate::genai::GenAiConfig,
}

/// An `[[alert]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAlert {
    /// The rule's name.
    pub name: String,
    /// The metric it reads.
    pub metric: String,
    /// `attribute=value`: only points whose attribute has this value [default: all].
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// `min`, `max`, `avg`, `sum` or `last` over the window [default: `avg`].
    pub reduce: Option<alerts::Reduce>,
    /// `> 250`, `>= 1`, `< 1`, `<= 0.5`.
    pub condition: String,
    /// Trailing window read at each evaluation [default: `1m`].
    pub window: Option<String>,
    /// How long the condition must hold [default: `0s`].
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// Passed on to the webhook [default: `warning`].
    pub severity: Option<String>,
}

/// The `[[alert]]` tables' rules; two rules may not share a name (the webhook and
/// `/api/v1/alerts` tell them apart by it).
fn alert_rules(tables: Vec<FileAlert>) -> Result<Vec<alerts::Rule>, ConfigError> {
    let mut names = std::collections::HashSet::new();
    tables
        .into_iter()
        .map(|t| {
            if !names.insert(t.name.clone()) {
                return Err(invalid(format!(
                    "alert {}: another alert has this name",
                    t.name
                )));
            }
            t.rule()
        })
        .collect()
}

/// A webhook setting: an `http://` or `https://` URL with a host.
fn webhook_url(setting: &str, url: String) -> Result<String, ConfigError> {
    let ok = url::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    match ok {
        Some(_) => Ok(url),
        None => Err(invalid(format!(
            "{setting}: expected an http:// or https:// URL, got {:?}",
            crate::probe::display_url(&url)
        ))),
    }
}

impl FileAlert {
    /// The rule this table describes.
    pub fn rule(self) -> Result<alerts::Rule, ConfigError> {
        let (comparison, threshold) = alerts::Rule::parse_condition(&self.condition)
            .map_err(|e| invalid(format!("alert {}: {e}", self.name)))?;
        let filter = match &self.filter {
            None => None,
            Some(w) => Some(
                w.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| {
                        invalid(format!("alert {}: where = \"attribute=value\"", self.name))
                    })?,
            ),
        };
        let ns = |name: &str, v: Option<&str>, default: &str| {
            parse_duration(name, v.unwrap_or(default))
                .map(|d| d.as_nanos() as u64)
                .map_err(|e| invalid(format!("alert {}: {e}", self.name)))
        };
        Ok(alerts::Rule {
            metric: self.metric,
            filter,
            reduce: self.reduce.unwrap_or(alerts::Reduce::Avg),
            comparison,
            threshold,
            window_ns: ns("window", self.window.as_deref(), "1m")?,
            for_ns: ns("for", self.for_.as_deref(), "0s")?,
            severity: self.severity.unwrap_or_else(|| "warning".into()),
            name: self.name,
        })
    }
}

/// Where the store is: shared by `serve` and the commands that open its store.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct StoreLocation {
    /// TOML file with any of the keys below (data_dir, storage, http_addr, grpc_addr,
    /// token, insecure, retention_raw, retention_rollups, retention_interval,
    /// probe_interval, probe_webhook, fleet_interval, public_rate_limit,
    /// http_header_timeout, http_body_timeout, http_max_connections, redact), `[[probe]]`
    /// tables as `health`'s `[[target]]`, `[[agent]]` and `[[alert]]` tables, and a
    /// `[redaction]` table (allow_keys, rules, salt).
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the embedded SQLite database lives [default: ./data].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite` (default), a PostgreSQL URL (`postgres://user@host:5432/db`) or a
    /// ClickHouse URL (`clickhouse://user:password@host:8123/database[?cluster=NAME]`, or
    /// the HTTP interface's `http(s)://host:port/?database=...`).
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_STORAGE")]
    pub storage: Option<String>,
}

impl StoreLocation {
    /// The store `storage` names (`sqlite` in `data_dir`, or a URL).
    pub fn new(storage: String, data_dir: Option<PathBuf>) -> Self {
        StoreLocation {
            config: None,
            data_dir,
            storage: Some(storage),
        }
    }
}

/// Settings given by flags or the environment (`serve`'s flags; each may also come
/// from `AUTOMAGIK_TELEMETRY_<FLAG>`); each one set wins over the TOML file given by
/// `--config`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Overrides {
    #[command(flatten)]
    /// Where the store is.
    pub store: StoreLocation,
    /// HTTP port: OTLP/HTTP, query API, /metrics, health [default: 127.0.0.1:4318].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// OTLP/gRPC port, or `off` [default: 127.0.0.1:4317].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_GRPC_ADDR")]
    pub grpc_addr: Option<String>,
    /// An access token (at least 16 characters) with every scope; repeat for more. With
    /// tokens, every request needs `Authorization: Bearer <token>`.
    #[arg(
        long = "token",
        env = "AUTOMAGIK_TELEMETRY_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub tokens: Vec<String>,
    /// Allow listening on a non-loopback address without tokens.
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_INSECURE")]
    pub insecure: bool,
    /// How long raw spans, logs and metric points are kept [default: 7d].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_RETENTION_RAW")]
    pub retention_raw: Option<String>,
    /// How long minute and hourly rollups are kept [default: 30d].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_RETENTION_ROLLUPS")]
    pub retention_rollups: Option<String>,
    /// How often retention runs [default: 60s].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_RETENTION_INTERVAL")]
    pub retention_interval: Option<String>,
    /// A target to probe on an interval, as `health` does (postgres://, redis://,
    /// nats://, amqp://, kafka://, clickhouse://, http(s)://, tcp://, presets); repeat for more.
    /// Results are stored as the metrics `up` and `probe_latency_ms`.
    #[arg(
        long = "probe",
        env = "AUTOMAGIK_TELEMETRY_PROBE",
        value_delimiter = ','
    )]
    pub probes: Vec<String>,
    /// How often the probes run [default: 30s].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_PROBE_INTERVAL")]
    pub probe_interval: Option<String>,
    /// URL that receives a JSON POST when a probed target changes state.
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_PROBE_WEBHOOK")]
    pub probe_webhook: Option<String>,
    /// How often a fleet snapshot is collected and stored, or `off` [default: 60s].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_FLEET_INTERVAL")]
    pub fleet_interval: Option<String>,
    /// An agent whose health URL the fleet collection polls, as `NAME=URL` (or
    /// `NAME@SERVICE=URL`); repeat for more, or use `[[agent]]` tables.
    #[arg(
        long = "agent",
        env = "AUTOMAGIK_TELEMETRY_AGENT",
        value_delimiter = ','
    )]
    pub agents: Vec<String>,
    /// Requests per minute `/telemetry/public` answers each client address [default: 60].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_PUBLIC_RATE_LIMIT")]
    pub public_rate_limit: Option<u32>,
    /// How long an HTTP client has to send a request's headers (and an idle keep-alive
    /// connection its next request) before the connection is closed [default: 10s].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_HTTP_HEADER_TIMEOUT")]
    pub http_header_timeout: Option<String>,
    /// How long an HTTP client has to send a whole request body, from the end of its
    /// headers; a slower one is answered 408 and its connection closed [default: 30s].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_HTTP_BODY_TIMEOUT")]
    pub http_body_timeout: Option<String>,
    /// Most HTTP connections served at once; more wait to be accepted [default: 1024].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_HTTP_MAX_CONNECTIONS")]
    pub http_max_connections: Option<usize>,
    /// Redaction on ingest of everything received, before it is stored: `standard`
    /// (built-in rules), `strict` (also keys naming personal data) or `off`
    /// [default: standard].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_REDACT", value_enum)]
    pub redact: Option<RedactMode>,
}

/// Everything the server runs with, merged.
#[derive(Debug)]
pub struct ServerConfig {
    /// Where the SQLite database lives.
    pub data_dir: PathBuf,
    /// `sqlite` or a store URL.
    pub storage: String,
    /// OTLP/HTTP, query API and dashboard address.
    pub http_addr: SocketAddr,
    /// OTLP/gRPC address, `None` when off.
    pub grpc_addr: Option<SocketAddr>,
    /// Access tokens.
    pub tokens: Vec<Token>,
    /// Whether a non-loopback address without tokens is allowed.
    pub insecure: bool,
    /// Raw retention.
    pub retention_raw: Duration,
    /// Rollup retention.
    pub retention_rollups: Duration,
    /// How often retention runs.
    pub retention_interval: Duration,
    /// Targets probed on an interval (presets resolved).
    pub probes: Vec<Target>,
    /// How often the probes run.
    pub probe_interval: Duration,
    /// Where probe state changes are posted.
    pub probe_webhook: Option<String>,
    /// Alert rules.
    pub alerts: Vec<alerts::Rule>,
    /// How often the rules are evaluated.
    pub alert_interval: Duration,
    /// Where alerts are posted.
    pub alert_webhook: Option<String>,
    /// How often fleet snapshots are collected, `None` when off.
    pub fleet_interval: Option<Duration>,
    /// Agents the fleet collection polls.
    pub agents: Vec<AgentTarget>,
    /// `/telemetry/public` requests per minute per address.
    pub public_rate_limit: u32,
    /// Time an HTTP client has for a request's headers; also how long an idle
    /// keep-alive connection is kept.
    pub http_header_timeout: Duration,
    /// Time an HTTP client has for a whole request body, from the end of its headers.
    pub http_body_timeout: Duration,
    /// HTTP connections served at once.
    pub http_max_connections: usize,
    /// Redaction on ingest (its mode, allow-listed keys, extra rules and salt).
    pub redaction: Arc<IngestRedactor>,
    /// Prices and the content size cap applied to GenAI data on ingest.
    pub genai: Arc<crate::genai::GenAiIngest>,
}

/// `NAME=URL` or `NAME@SERVICE=URL`.
fn agent_flag(spec: &str) -> Result<AgentTarget, ConfigError> {
    let (name, url) = spec
        .split_once('=')
        .filter(|(n, u)| !n.trim().is_empty() && !u.trim().is_empty())
        .ok_or_else(|| invalid("--agent: expected NAME=URL or NAME@SERVICE=URL"))?;
    let (name, service) = match name.split_once('@') {
        Some((n, s)) => (n.trim(), Some(s.trim().to_string())),
        None => (name.trim(), None),
    };
    Ok(AgentTarget {
        name: name.to_string(),
        service,
        url: url.trim().to_string(),
    })
}

impl FileConfig {
    /// Reads and parses `path`.
    pub fn read(path: &std::path::Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }
}

impl ServerConfig {
    /// Reads the file `o.config` names (if any) and merges it under `o`.
    pub fn load(o: Overrides) -> Result<ServerConfig, ConfigError> {
        let file = match &o.store.config {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        Self::merge(o, file)
    }

    /// Merges `file` under `args` over the defaults.
    pub fn merge(args: Overrides, file: FileConfig) -> Result<ServerConfig, ConfigError> {
        let duration = |name: &str, v: Option<String>, default: &str| {
            let v = v.unwrap_or_else(|| default.to_string());
            parse_duration(name, &v).map_err(invalid)
        };
        let grpc = args
            .grpc_addr
            .or(file.grpc_addr)
            .unwrap_or_else(|| format!("127.0.0.1:{}", ports::OTLP_GRPC));
        let grpc_addr = match grpc.trim() {
            "off" | "none" | "" => None,
            a => Some(a.parse::<SocketAddr>().map_err(|e| {
                invalid(format!(
                    "grpc_addr: {a:?} is not an address like 127.0.0.1:4317: {e}"
                ))
            })?),
        };
        let mut tokens = Vec::new();
        // On the command line and in the environment a token has every scope.
        for secret in args.tokens.iter().filter(|t| !t.is_empty()) {
            if secret.len() < 16 {
                return Err(invalid(
                    "--token: a token must be at least 16 characters long",
                ));
            }
            tokens.push(Token::new(secret, &Scope::ALL));
        }
        for t in file.token {
            tokens.push(match t {
                FileToken::Spec(spec) => {
                    Token::parse(&spec).map_err(|e| invalid(format!("token: {e}")))?
                }
                FileToken::Table { token, scopes } => {
                    if token.len() < 16 {
                        return Err(invalid(
                            "token: a token must be at least 16 characters long",
                        ));
                    }
                    Token::new(&token, &scopes)
                }
            });
        }
        let redaction = IngestRedactor::new(
            args.redact.or(file.redact).unwrap_or_default(),
            &file.redaction,
        )
        .map_err(|e| invalid(format!("redaction: {e}")))?;
        let genai = crate::genai::GenAiIngest::from_config(&file.genai)
            .map_err(|e| invalid(format!("genai: {e}")))?;
        let floor = |d: Duration| d.max(Duration::from_millis(100));
        // A client's time limits: never zero, and never so long that a deadline overflows.
        let bound = |d: Duration| d.clamp(Duration::from_millis(100), Duration::from_secs(86_400));
        Ok(ServerConfig {
            data_dir: args
                .store
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./data")),
            storage: args
                .store
                .storage
                .or(file.storage)
                .unwrap_or_else(|| "sqlite".into()),
            http_addr: args
                .http_addr
                .or(file.http_addr)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], ports::OTLP_HTTP))),
            grpc_addr,
            tokens,
            insecure: args.insecure || file.insecure.unwrap_or(false),
            retention_raw: duration(
                "retention_raw",
                args.retention_raw.or(file.retention_raw),
                "7d",
            )?,
            retention_rollups: duration(
                "retention_rollups",
                args.retention_rollups.or(file.retention_rollups),
                "30d",
            )?,
            retention_interval: floor(duration(
                "retention_interval",
                args.retention_interval.or(file.retention_interval),
                "60s",
            )?),
            probes: file
                .probe
                .into_iter()
                .chain(args.probes.iter().map(|url| Target::url(url)))
                .map(|t| probe::resolve_preset(t).and_then(probe::check_scheme))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(format!("probe: {e}")))?,
            probe_interval: floor(duration(
                "probe_interval",
                args.probe_interval.or(file.probe_interval),
                "30s",
            )?),
            probe_webhook: args
                .probe_webhook
                .or(file.probe_webhook)
                .map(|url| webhook_url("probe_webhook", url))
                .transpose()?,
            alerts: alert_rules(file.alert)?,
            alert_interval: floor(duration("alert_interval", file.alert_interval, "15s")?),
            alert_webhook: file
                .alert_webhook
                .map(|url| webhook_url("alert_webhook", url))
                .transpose()?,
            fleet_interval: match args.fleet_interval.or(file.fleet_interval) {
                Some(v) if matches!(v.trim(), "off" | "none" | "0") => None,
                v => Some(floor(duration("fleet_interval", v, "60s")?)),
            },
            agents: file
                .agent
                .into_iter()
                .map(Ok)
                .chain(args.agents.iter().map(|a| agent_flag(a)))
                .collect::<Result<Vec<_>, _>>()?,
            public_rate_limit: args
                .public_rate_limit
                .or(file.public_rate_limit)
                .unwrap_or(60),
            http_header_timeout: bound(duration(
                "http_header_timeout",
                args.http_header_timeout.or(file.http_header_timeout),
                "10s",
            )?),
            http_body_timeout: bound(duration(
                "http_body_timeout",
                args.http_body_timeout.or(file.http_body_timeout),
                "30s",
            )?),
            http_max_connections: args
                .http_max_connections
                .or(file.http_max_connections)
                .unwrap_or(1024)
                .clamp(1, 1_000_000),
            redaction: Arc::new(redaction),
            genai: Arc::new(genai),
        })
    }

    /// Whether a listening address is reachable from other machines.
    pub fn exposed(&self) -> bool {
        !self.http_addr.ip().is_loopback() || self.grpc_addr.is_some_and(|a| !a.ip().is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_client_bounds_have_defaults_and_limits() {
        let defaults =
            ServerConfig::merge(Overrides::default(), FileConfig::default()).expect("defaults");
        assert_eq!(defaults.http_header_timeout, Duration::from_secs(10));
        assert_eq!(defaults.http_body_timeout, Duration::from_secs(30));
        assert_eq!(defaults.http_max_connections, 1024);

        let file: FileConfig = toml::from_str(
            "http_header_timeout = \"0s\"\nhttp_body_timeout = \"5m\"\nhttp_max_connections = 0\n",
        )
        .expect("toml");
        let flags = Overrides {
            http_body_timeout: Some("2s".into()),
            ..Default::default()
        };
        let merged = ServerConfig::merge(flags, file).expect("merged");
        assert_eq!(merged.http_header_timeout, Duration::from_millis(100));
        assert_eq!(
            merged.http_body_timeout,
            Duration::from_secs(2),
            "flag over file"
        );
        assert_eq!(merged.http_max_connections, 1);
    }

    #[test]
    fn redaction_is_standard_by_default_and_set_by_file_then_flag() {
        let defaults =
            ServerConfig::merge(Overrides::default(), FileConfig::default()).expect("defaults");
        assert_eq!(defaults.redaction.mode(), RedactMode::Standard);

        let file = || -> FileConfig {
            toml::from_str(
                "redact = \"strict\"\n[redaction]\nallow_keys = [\"user.email\"]\nrules = [{ name = \"order\", pattern = 'ORD-\\d{6}' }]\n",
            )
            .expect("toml")
        };
        let merged = ServerConfig::merge(Overrides::default(), file()).expect("merged");
        assert_eq!(merged.redaction.mode(), RedactMode::Strict);
        let flags = Overrides {
            redact: Some(RedactMode::Off),
            ..Default::default()
        };
        let merged = ServerConfig::merge(flags, file()).expect("merged");
        assert_eq!(merged.redaction.mode(), RedactMode::Off, "flag over file");

        for bad in [
            "[redaction]\nrules = [{ name = \"x\", pattern = \"(\" }]\n",
            "[redaction]\nrules = [{ name = \"a]b\", pattern = \"x\" }]\n",
        ] {
            let file: FileConfig = toml::from_str(bad).expect("toml");
            let err = ServerConfig::merge(Overrides::default(), file).expect_err("refused");
            assert!(err.to_string().starts_with("redaction: "), "{err}");
        }
        assert!(toml::from_str::<FileConfig>("redact = \"loose\"\n").is_err());
        assert!(toml::from_str::<FileConfig>("[redaction]\nallow = []\n").is_err());
    }

    #[test]
    fn the_genai_table_sets_the_content_cap_and_overrides_prices() {
        let file: FileConfig = toml::from_str(
            "[genai]\nmax_content_bytes = 4096\n[[genai.prices]]\nprovider = \"acme\"\nmodel = \"acme-1\"\ninput = 1.0\noutput = 2.0\n",
        )
        .expect("toml");
        let merged = ServerConfig::merge(Overrides::default(), file).expect("merged");
        assert_eq!(merged.genai.max_content_bytes, 4096);
        let usage = crate::genai::price::Usage {
            input: Some(1_000_000),
            output: Some(1_000_000),
            ..Default::default()
        };
        let cost = merged
            .genai
            .prices
            .cost(Some("acme"), "acme-1", &usage)
            .expect("priced by the override");
        assert!((cost.total_usd - 3.0).abs() < 1e-9, "{}", cost.total_usd);
        let bad: FileConfig = toml::from_str(
            "[[genai.prices]]\nprovider = \"acme\"\nmodel = \"m\"\ninput = -1.0\noutput = 1.0\n",
        )
        .expect("toml");
        let err = ServerConfig::merge(Overrides::default(), bad).expect_err("a negative price");
        assert!(err.to_string().starts_with("genai: "), "{err}");
        assert!(toml::from_str::<FileConfig>("[genai]\ncap = 1\n").is_err());
    }
}
