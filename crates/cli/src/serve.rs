//! `serve`: flags, environment and a TOML file merged (flag > environment > file >
//! default), the store opened, OTLP/HTTP + query API and OTLP/gRPC served, retention
//! run in the background.

use anyhow::{Context, bail};
use automagik_telemetry_core::parse::parse_duration;
use automagik_telemetry_core::ports;
use automagik_telemetry_server::fleet::{Fleet, ProbeState, ProbesCollector};
use automagik_telemetry_server::rows::{Batch, MetricPointRow};
use automagik_telemetry_server::{
    AppState, Auth, ClickHouseStore, Limits, PostgresStore, Scope, SqliteStore, Store, Token, app,
    grpc,
};
use automagik_telemetry_server::{alerts, fleet};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::health;

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

/// A token of the config file: a secret with its scopes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FileToken {
    /// `"secret"` (every scope) or `"secret:read,ingest"`.
    Spec(String),
    /// `{ token = "secret", scopes = ["read"] }`.
    Table { token: String, scopes: Vec<Scope> },
}

/// The TOML config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    storage: Option<String>,
    http_addr: Option<SocketAddr>,
    grpc_addr: Option<String>,
    #[serde(default)]
    token: Vec<FileToken>,
    insecure: Option<bool>,
    retention_raw: Option<String>,
    retention_rollups: Option<String>,
    retention_interval: Option<String>,
    /// `[[probe]]` tables, as `[[target]]` of `health`.
    #[serde(default)]
    probe: Vec<health::Target>,
    probe_interval: Option<String>,
    probe_webhook: Option<String>,
    /// Threshold alert rules.
    #[serde(default)]
    alert: Vec<FileAlert>,
    /// How often the rules are evaluated [default: 15s].
    alert_interval: Option<String>,
    /// URL that receives a JSON POST when a rule fires or resolves.
    alert_webhook: Option<String>,
    fleet_interval: Option<String>,
    /// `[[agent]]` tables: name, service (optional), url.
    #[serde(default)]
    agent: Vec<fleet::AgentTarget>,
    public_rate_limit: Option<u32>,
}

/// An `[[alert]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAlert {
    name: String,
    metric: String,
    /// `attribute=value`: only points whose attribute has this value.
    #[serde(rename = "where")]
    filter: Option<String>,
    /// `min`, `max`, `avg` (default), `sum` or `last` over the window.
    reduce: Option<alerts::Reduce>,
    /// `> 250`, `>= 1`, `< 1`, `<= 0.5`.
    condition: String,
    /// Trailing window read at each evaluation [default: 1m].
    window: Option<String>,
    /// How long the condition must hold [default: 0s].
    #[serde(rename = "for")]
    for_: Option<String>,
    /// Passed on to the webhook [default: warning].
    severity: Option<String>,
}

impl FileAlert {
    fn rule(self) -> anyhow::Result<alerts::Rule> {
        let (comparison, threshold) = alerts::Rule::parse_condition(&self.condition)
            .map_err(|e| anyhow::anyhow!("alert {}: {e}", self.name))?;
        let filter = match &self.filter {
            None => None,
            Some(w) => Some(
                w.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| {
                        anyhow::anyhow!("alert {}: where = \"attribute=value\"", self.name)
                    })?,
            ),
        };
        let ns = |name: &str, v: Option<&str>, default: &str| {
            parse_duration(name, v.unwrap_or(default)).map(|d| d.as_nanos() as u64)
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

/// Everything `serve` needs, merged.
#[derive(Debug)]
struct Settings {
    data_dir: PathBuf,
    storage: String,
    http_addr: SocketAddr,
    grpc_addr: Option<SocketAddr>,
    tokens: Vec<Token>,
    insecure: bool,
    retention_raw: Duration,
    retention_rollups: Duration,
    retention_interval: Duration,
    probes: Vec<health::Target>,
    probe_interval: Duration,
    probe_webhook: Option<String>,
    alerts: Vec<alerts::Rule>,
    alert_interval: Duration,
    alert_webhook: Option<String>,
    fleet_interval: Option<Duration>,
    agents: Vec<fleet::AgentTarget>,
    public_rate_limit: u32,
}

/// `NAME=URL` or `NAME@SERVICE=URL`.
fn agent_flag(spec: &str) -> anyhow::Result<fleet::AgentTarget> {
    let (name, url) = spec
        .split_once('=')
        .filter(|(n, u)| !n.trim().is_empty() && !u.trim().is_empty())
        .ok_or_else(|| anyhow::anyhow!("--agent: expected NAME=URL or NAME@SERVICE=URL"))?;
    let (name, service) = match name.split_once('@') {
        Some((n, s)) => (n.trim(), Some(s.trim().to_string())),
        None => (name.trim(), None),
    };
    Ok(fleet::AgentTarget {
        name: name.to_string(),
        service,
        url: url.trim().to_string(),
    })
}

fn settings(args: ServeArgs) -> anyhow::Result<Settings> {
    let file: FileConfig = match &args.store.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the config file {}", path.display()))?;
            toml::from_str(&text)
                .with_context(|| format!("in the config file {}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let duration = |name: &str, v: Option<String>, default: &str| {
        let v = v.unwrap_or_else(|| default.to_string());
        parse_duration(name, &v).map_err(|e| anyhow::anyhow!("{e}"))
    };
    let grpc = args
        .grpc_addr
        .or(file.grpc_addr)
        .unwrap_or_else(|| format!("127.0.0.1:{}", ports::OTLP_GRPC));
    let grpc_addr =
        match grpc.trim() {
            "off" | "none" | "" => None,
            a => Some(a.parse::<SocketAddr>().with_context(|| {
                format!("grpc_addr: {a:?} is not an address like 127.0.0.1:4317")
            })?),
        };
    let mut tokens = Vec::new();
    // On the command line and in the environment a token has every scope.
    for secret in args.tokens.iter().filter(|t| !t.is_empty()) {
        if secret.len() < 16 {
            bail!("--token: a token must be at least 16 characters long");
        }
        tokens.push(Token::new(secret, &Scope::ALL));
    }
    for t in file.token {
        tokens.push(match t {
            FileToken::Spec(spec) => {
                Token::parse(&spec).map_err(|e| anyhow::anyhow!("token: {e}"))?
            }
            FileToken::Table { token, scopes } => {
                if token.len() < 16 {
                    bail!("token: a token must be at least 16 characters long");
                }
                Token::new(&token, &scopes)
            }
        });
    }
    Ok(Settings {
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
        retention_interval: duration(
            "retention_interval",
            args.retention_interval.or(file.retention_interval),
            "60s",
        )?
        .max(Duration::from_millis(100)),
        probes: file
            .probe
            .into_iter()
            .chain(args.probes.iter().map(|url| health::Target::url(url)))
            .map(health::resolve_preset)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("probe: {e}"))?,
        probe_interval: duration(
            "probe_interval",
            args.probe_interval.or(file.probe_interval),
            "30s",
        )?
        .max(Duration::from_millis(100)),
        probe_webhook: args.probe_webhook.or(file.probe_webhook),
        alerts: file
            .alert
            .into_iter()
            .map(FileAlert::rule)
            .collect::<anyhow::Result<Vec<_>>>()?,
        alert_interval: duration("alert_interval", file.alert_interval, "15s")?
            .max(Duration::from_millis(100)),
        alert_webhook: file.alert_webhook,
        fleet_interval: match args.fleet_interval.or(file.fleet_interval) {
            Some(v) if matches!(v.trim(), "off" | "none" | "0") => None,
            v => Some(duration("fleet_interval", v, "60s")?.max(Duration::from_millis(100))),
        },
        agents: file
            .agent
            .into_iter()
            .map(Ok)
            .chain(args.agents.iter().map(|a| agent_flag(a)))
            .collect::<anyhow::Result<Vec<_>>>()?,
        public_rate_limit: args
            .public_rate_limit
            .or(file.public_rate_limit)
            .unwrap_or(60),
    })
}

fn open_store(s: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let storage = s.storage.trim();
    if storage == "sqlite" {
        let store = SqliteStore::open(&s.data_dir)
            .with_context(|| format!("opening the data directory {}", s.data_dir.display()))?;
        return Ok(Arc::new(store));
    }
    if storage.starts_with("postgres://") || storage.starts_with("postgresql://") {
        let store = PostgresStore::open(storage, 8).context("opening the PostgreSQL store")?;
        return Ok(Arc::new(store));
    }
    if ["clickhouse://", "clickhouses://", "http://", "https://"]
        .iter()
        .any(|p| storage.starts_with(p))
    {
        // The tables' TTLs in whole days; the retention task removes the rest sooner.
        let days = |d: Duration| d.as_secs().div_ceil(86_400).clamp(1, 36_500) as u32;
        let store =
            ClickHouseStore::open(storage, days(s.retention_raw), days(s.retention_rollups))
                .context("opening the ClickHouse store")?;
        return Ok(Arc::new(store));
    }
    bail!("storage: expected sqlite, a postgres:// URL or a clickhouse:// (or http(s)://) URL")
}

/// Probes `targets` every `every`, stores `up` (1 or 0) and `probe_latency_ms` per
/// target, and posts each change of state to `webhook`.
async fn probes(
    state: AppState,
    targets: Vec<health::Target>,
    every: Duration,
    webhook: Option<String>,
    board: ProbesCollector,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A target is taken as up until a probe says otherwise, so one found down at start
    // is reported.
    let mut last: std::collections::HashMap<String, health::State> = Default::default();
    loop {
        tick.tick().await;
        let round = targets.clone();
        let timeout = every.min(Duration::from_secs(10));
        let Ok(reports) = tokio::task::spawn_blocking(move || health::check(round, timeout)).await
        else {
            continue;
        };
        let now = automagik_telemetry_server::query::now_ns();
        let mut points = Vec::new();
        for r in &reports {
            let attributes = serde_json::json!({"target": r.name, "url": r.url}).to_string();
            let up = if r.state == health::State::Up {
                1.0
            } else {
                0.0
            };
            points.push(MetricPointRow::number(
                "up",
                "automagik-telemetry",
                "gauge",
                now,
                Some(up),
                attributes.clone(),
            ));
            if let Some(ms) = r.latency_ms {
                points.push(MetricPointRow::number(
                    "probe_latency_ms",
                    "automagik-telemetry",
                    "gauge",
                    now,
                    Some(ms),
                    attributes,
                ));
            }
        }
        board.replace(reports.iter().map(|r| ProbeState {
            name: r.name.clone(),
            url: r.url.clone(),
            state: r.state.as_str().to_string(),
            latency_ms: r.latency_ms,
            reason: r.reason.clone(),
            depends_on: r.depends_on.clone(),
            critical: r.critical,
        }));
        let store = state.store.clone();
        let batch = Batch {
            metric_points: points,
            ..Default::default()
        };
        match tokio::task::spawn_blocking(move || store.insert(batch)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "storing probe results failed"),
            Err(_) => {}
        }
        for r in reports {
            let previous = last
                .insert(r.name.clone(), r.state.clone())
                .unwrap_or(health::State::Up);
            if previous == r.state {
                continue;
            }
            tracing::warn!(target = %r.name, state = ?r.state, reason = r.reason.as_deref().unwrap_or(""), "probe state changed");
            post_json(
                webhook.clone(),
                serde_json::json!({
                    "target": r.name,
                    "url": r.url,
                    "state": r.state,
                    "previous": previous,
                    "reason": r.reason,
                    "latency_ms": r.latency_ms,
                    "time": automagik_telemetry_core::time::rfc3339(now),
                }),
            );
        }
    }
}

/// Collects and stores a fleet snapshot every `every`, the first at once.
async fn collect_fleet(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (store, fleet) = (state.store.clone(), state.fleet.clone());
        match tokio::task::spawn_blocking(move || fleet.collect_and_store(&*store)).await {
            Ok(Ok(s)) => tracing::debug!(seq = s.link.seq, "fleet snapshot stored"),
            Ok(Err(e)) => tracing::warn!(error = %e, "storing a fleet snapshot failed"),
            Err(_) => {}
        }
    }
}

/// Evaluates the alert rules every `every` and posts what fires or resolves.
async fn evaluate_alerts(state: AppState, every: Duration, webhook: Option<String>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (store, rules) = (state.store.clone(), state.alerts.clone());
        let now = automagik_telemetry_server::query::now_ns();
        let notifications =
            match tokio::task::spawn_blocking(move || rules.evaluate(&*store, now)).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "evaluating alert rules failed");
                    continue;
                }
                Err(_) => continue,
            };
        for n in notifications {
            tracing::warn!(rule = %n.rule, status = n.status, value = ?n.value, "alert");
            post_json(
                webhook.clone(),
                serde_json::json!({
                    "status": n.status,
                    "rule": n.rule,
                    "severity": n.severity,
                    "metric": n.metric,
                    "value": n.value,
                    "condition": n.condition,
                    "time": automagik_telemetry_core::time::rfc3339(n.time_unix_nano),
                }),
            );
        }
    }
}

/// Posts `body` to `url` (when there is one) on a blocking thread; failures are logged.
fn post_json(url: Option<String>, body: serde_json::Value) {
    let Some(url) = url else { return };
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        if let Err(e) = agent.post(&url).send_json(&body) {
            tracing::warn!(error = %e, "a webhook failed");
        }
    });
}

/// Deletes expired rows in small steps, every `every`.
async fn retention(state: AppState, raw: Duration, rollups: Duration, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let now = automagik_telemetry_server::query::now_ns();
        let raw_before = now.saturating_sub(raw.as_nanos() as u64);
        let rollups_before = now.saturating_sub(rollups.as_nanos() as u64);
        loop {
            let store = state.store.clone();
            let step =
                tokio::task::spawn_blocking(move || store.purge(raw_before, rollups_before)).await;
            match step {
                Ok(Ok(p)) => {
                    state.metrics.purged(p.raw, p.rollups);
                    if p.raw + p.rollups == 0 {
                        break;
                    }
                    tracing::info!(raw = p.raw, rollups = p.rollups, "retention removed rows");
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "retention step failed; trying again later");
                    break;
                }
                Err(_) => break,
            }
        }
    }
}

/// Returns on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The store `serve` would open with these arguments (for commands that read it).
pub(crate) fn open_configured_store(store: StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    open_store(&settings(ServeArgs {
        store,
        ..Default::default()
    })?)
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let s = settings(args)?;
    let exposed =
        !s.http_addr.ip().is_loopback() || s.grpc_addr.is_some_and(|a| !a.ip().is_loopback());
    if exposed && s.tokens.is_empty() && !s.insecure {
        bail!(
            "refusing to listen on a non-loopback address without access tokens; \
             pass --token, bind 127.0.0.1, or pass --insecure"
        );
    }
    let store = open_store(&s)?;
    let mut state = AppState::new(store);
    let board = state.probes.clone();
    let mut collectors: Vec<Arc<dyn fleet::Collector>> = vec![
        Arc::new(fleet::HostCollector),
        Arc::new(fleet::DockerCollector::default()),
    ];
    if !s.agents.is_empty() {
        let timeout = Duration::from_secs(5);
        let poller = Arc::new(fleet::AgentPoller::new(s.agents.clone(), timeout));
        collectors.push(Arc::new(fleet::AgentsCollector(poller.clone())));
        collectors.push(Arc::new(fleet::DeploymentsCollector(poller)));
    }
    if !s.probes.is_empty() {
        collectors.push(Arc::new(board.clone()));
    }
    state.fleet = Arc::new(Fleet::new(collectors, s.public_rate_limit));
    state.alerts = Arc::new(alerts::Alerts::new(s.alerts.clone()));
    state.limits = Limits::default();
    state.auth = Arc::new(Auth::new(s.tokens.clone()));
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let http = tokio::net::TcpListener::bind(s.http_addr)
            .await
            .with_context(|| format!("binding {}", s.http_addr))?;
        let http_addr = http.local_addr()?;
        let grpc = match s.grpc_addr {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?,
            ),
            None => None,
        };
        tracing::info!(
            http = %http_addr,
            grpc = %grpc.as_ref().and_then(|l| l.local_addr().ok()).map_or("off".to_string(), |a| a.to_string()),
            storage = %if s.storage == "sqlite" { format!("sqlite in {}", s.data_dir.display()) } else { health::display_url(&s.storage) },
            tokens = s.tokens.len(),
            "serving OTLP/HTTP, the query API and OTLP/gRPC"
        );
        tokio::spawn(retention(
            state.clone(),
            s.retention_raw,
            s.retention_rollups,
            s.retention_interval,
        ));
        if !s.alerts.is_empty() {
            tokio::spawn(evaluate_alerts(
                state.clone(),
                s.alert_interval,
                s.alert_webhook.clone(),
            ));
        }
        if !s.probes.is_empty() {
            tokio::spawn(probes(
                state.clone(),
                s.probes.clone(),
                s.probe_interval,
                s.probe_webhook.clone(),
                board,
            ));
        }
        if let Some(every) = s.fleet_interval {
            tokio::spawn(collect_fleet(state.clone(), every));
        }
        let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
        let grpc_task = grpc.map(|listener| {
            let mut stop = stop_tx.subscribe();
            let state = state.clone();
            tokio::spawn(async move {
                grpc::serve(state, listener, async move {
                    let _ = stop.recv().await;
                })
                .await
            })
        });
        let served = axum::serve(
            http,
            app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                let _ = stop_tx.send(());
            })
            .await
            .context("serving HTTP");
        if let Some(task) = grpc_task {
            task.await
                .context("the gRPC task failed")?
                .context("serving gRPC")?;
        }
        served
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

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
