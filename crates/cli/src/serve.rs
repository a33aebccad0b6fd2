//! `serve`: its flags (each also from `AUTOMAGIK_TELEMETRY_<FLAG>`) become the
//! server library's [`Overrides`]; the library merges them over the TOML file and the
//! defaults and runs the server.

use automagik_telemetry_server::config::{Overrides, ServerConfig};
use automagik_telemetry_server::{Store, runtime};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the store is: shared by `serve` and the commands that open its store.
#[derive(clap::Args, Debug, Default)]
pub struct StoreArgs {
    /// TOML file with any of the keys below (data_dir, storage, http_addr, grpc_addr,
    /// token, insecure, retention_raw, retention_rollups, retention_interval,
    /// probe_interval, probe_webhook, fleet_interval, public_rate_limit), `[[probe]]`
    /// tables as `health`'s `[[target]]`, `[[agent]]` and `[[alert]]` tables.
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_CONFIG")]
    config: Option<PathBuf>,
    /// Where the embedded SQLite database lives [default: ./data].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `sqlite` (default), a PostgreSQL URL (`postgres://user@host:5432/db`) or a
    /// ClickHouse URL (`clickhouse://user:password@host:8123/database[?cluster=NAME]`, or
    /// the HTTP interface's `http(s)://host:port/?database=...`).
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_STORAGE")]
    storage: Option<String>,
}

impl StoreArgs {
    /// The store `storage` names (`sqlite` in `data_dir`, or a URL).
    pub(crate) fn new(storage: String, data_dir: Option<PathBuf>) -> Self {
        StoreArgs {
            config: None,
            data_dir,
            storage: Some(storage),
        }
    }
}

/// Flags of `serve`. Each may also come from `AUTOMAGIK_TELEMETRY_<FLAG>` or a key of
/// the TOML file given by `--config`.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// HTTP port: OTLP/HTTP, query API, /metrics, health [default: 127.0.0.1:4318].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_HTTP_ADDR")]
    http_addr: Option<SocketAddr>,
    /// OTLP/gRPC port, or `off` [default: 127.0.0.1:4317].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_GRPC_ADDR")]
    grpc_addr: Option<String>,
    /// An access token (at least 16 characters) with every scope; repeat for more. With
    /// tokens, every request needs `Authorization: Bearer <token>`.
    #[arg(
        long = "token",
        env = "AUTOMAGIK_TELEMETRY_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    tokens: Vec<String>,
    /// Allow listening on a non-loopback address without tokens.
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_INSECURE")]
    insecure: bool,
    /// How long raw spans, logs and metric points are kept [default: 7d].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_RETENTION_RAW")]
    retention_raw: Option<String>,
    /// How long minute and hourly rollups are kept [default: 30d].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_RETENTION_ROLLUPS")]
    retention_rollups: Option<String>,
    /// How often retention runs [default: 60s].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_RETENTION_INTERVAL")]
    retention_interval: Option<String>,
    /// A target to probe on an interval, as `health` does (postgres://, redis://,
    /// nats://, amqp://, kafka://, clickhouse://, http(s)://, tcp://, presets); repeat for more.
    /// Results are stored as the metrics `up` and `probe_latency_ms`.
    #[arg(
        long = "probe",
        env = "AUTOMAGIK_TELEMETRY_PROBE",
        value_delimiter = ','
    )]
    probes: Vec<String>,
    /// How often the probes run [default: 30s].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_PROBE_INTERVAL")]
    probe_interval: Option<String>,
    /// URL that receives a JSON POST when a probed target changes state.
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_PROBE_WEBHOOK")]
    probe_webhook: Option<String>,
    /// How often a fleet snapshot is collected and stored, or `off` [default: 60s].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_FLEET_INTERVAL")]
    fleet_interval: Option<String>,
    /// An agent whose health URL the fleet collection polls, as `NAME=URL` (or
    /// `NAME@SERVICE=URL`); repeat for more, or use `[[agent]]` tables.
    #[arg(
        long = "agent",
        env = "AUTOMAGIK_TELEMETRY_AGENT",
        value_delimiter = ','
    )]
    agents: Vec<String>,
    /// Requests per minute `/telemetry/public` answers each client address [default: 60].
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_PUBLIC_RATE_LIMIT")]
    public_rate_limit: Option<u32>,
}

impl ServeArgs {
    /// What the flags and the environment set.
    fn overrides(self) -> Overrides {
        Overrides {
            config: self.store.config,
            data_dir: self.store.data_dir,
            storage: self.store.storage,
            http_addr: self.http_addr,
            grpc_addr: self.grpc_addr,
            tokens: self.tokens,
            insecure: self.insecure,
            retention_raw: self.retention_raw,
            retention_rollups: self.retention_rollups,
            retention_interval: self.retention_interval,
            probes: self.probes,
            probe_interval: self.probe_interval,
            probe_webhook: self.probe_webhook,
            fleet_interval: self.fleet_interval,
            agents: self.agents,
            public_rate_limit: self.public_rate_limit,
        }
    }
}

/// The configuration these flags give, over the file and the defaults.
fn settings(args: ServeArgs) -> anyhow::Result<ServerConfig> {
    Ok(ServerConfig::load(args.overrides())?)
}

/// The store `serve` would open with these arguments (for commands that read it).
pub(crate) fn open_configured_store(store: StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    Ok(runtime::open_store(&settings(ServeArgs {
        store,
        ..Default::default()
    })?)?)
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    Ok(runtime::run(settings(args)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automagik_telemetry_server::{Auth, Scope};
    use clap::Parser;
    use std::time::Duration;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn parse(argv: &[&str]) -> ServeArgs {
        Wrap::try_parse_from(std::iter::once("serve").chain(argv.iter().copied()))
            .expect("arguments")
            .args
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("telemetry.toml");
        std::fs::write(
            &file,
            r#"
data_dir = "/srv/telemetry"
http_addr = "127.0.0.1:9000"
grpc_addr = "off"
retention_raw = "2d"
token = ["file-token-with-scopes:read", { token = "another-file-token", scopes = ["ingest"] }]
"#,
        )
        .expect("write");
        let s = settings(parse(&[
            "--config",
            file.to_str().expect("utf-8"),
            "--http-addr",
            "127.0.0.1:9999",
        ]))
        .expect("settings");
        assert_eq!(s.http_addr.port(), 9999, "flag over file");
        assert_eq!(
            s.data_dir,
            PathBuf::from("/srv/telemetry"),
            "file over default"
        );
        assert_eq!(s.grpc_addr, None);
        assert_eq!(s.retention_raw, Duration::from_secs(2 * 86_400));
        assert_eq!(s.retention_rollups, Duration::from_secs(30 * 86_400));
        assert_eq!(s.tokens.len(), 2);
        let auth = Auth::new(s.tokens);
        assert!(
            auth.check(Some("Bearer file-token-with-scopes"), Scope::Read)
                .is_ok()
        );
        assert!(
            auth.check(Some("Bearer file-token-with-scopes"), Scope::Ingest)
                .is_err()
        );
        assert!(
            auth.check(Some("Bearer another-file-token"), Scope::Ingest)
                .is_ok()
        );

        let defaults = settings(parse(&[])).expect("defaults");
        assert_eq!(defaults.http_addr.to_string(), "127.0.0.1:4318");
        assert_eq!(
            defaults.grpc_addr.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:4317")
        );
        assert_eq!(defaults.storage, "sqlite");

        std::fs::write(&file, "htp_addr = \"127.0.0.1:1\"\n").expect("write");
        let err =
            settings(parse(&["--config", file.to_str().expect("utf-8")])).expect_err("unknown key");
        assert!(format!("{err:#}").contains("htp_addr"), "{err:#}");
        assert!(settings(parse(&["--token", "short"])).is_err());
    }
}
