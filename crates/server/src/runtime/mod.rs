//! The server as a process: [`run`] opens the store a [`ServerConfig`] names, serves
//! OTLP/HTTP with the query API and dashboard (through its own accept loop,
//! [`connections`]: header and body time limits, a connection cap) and OTLP/gRPC, and
//! runs the background jobs ([`jobs`]) on their intervals ([`periodic`]) until Ctrl-C or
//! SIGTERM. It logs a banner once listening ([`banner`]), and at shutdown the signal,
//! then how long the requests in flight and their store writes took to finish.

pub mod banner;
pub mod connections;
pub mod jobs;
pub mod periodic;

use crate::auth::Auth;
use crate::config::ServerConfig;
use crate::http::{AppState, Limits, app, with_body_timeout};
use crate::{ClickHouseStore, PostgresStore, SqliteStore, Store, StoreError};
use crate::{alerts, fleet, grpc};
use automagik_telemetry_core::human;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long shutdown waits for open HTTP and gRPC connections to finish their requests
/// before dropping them.
const DRAIN: Duration = Duration::from_secs(30);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The configuration refuses to start (the text says why and what to do).
    #[error("{0}")]
    Refused(String),
    /// The store could not be opened.
    #[error("opening {what}")]
    Store {
        /// Which store, without any password.
        what: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// A listening address could not be bound, or serving failed.
    #[error("{what}")]
    Io {
        /// What was being done (`binding 127.0.0.1:4318`).
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("serving gRPC")]
    Grpc(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// Opens the store `config.storage` names: `sqlite` in `config.data_dir`, or a
/// PostgreSQL or ClickHouse URL.
pub fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, RunError> {
    let storage = config.storage.trim();
    if storage == "sqlite" {
        let store = SqliteStore::open(&config.data_dir).map_err(|source| RunError::Store {
            what: format!("the data directory {}", config.data_dir.display()),
            source,
        })?;
        return Ok(Arc::new(store));
    }
    if storage.starts_with("postgres://") || storage.starts_with("postgresql://") {
        let store = PostgresStore::open(storage, 8).map_err(|source| RunError::Store {
            what: "the PostgreSQL store".into(),
            source,
        })?;
        return Ok(Arc::new(store));
    }
    if ["clickhouse://", "clickhouses://", "http://", "https://"]
        .iter()
        .any(|p| storage.starts_with(p))
    {
        // The tables' TTLs in whole days; the retention task removes the rest sooner.
        let days = |d: Duration| d.as_secs().div_ceil(86_400).clamp(1, 36_500) as u32;
        let store = ClickHouseStore::open(
            storage,
            days(config.retention_raw),
            days(config.retention_rollups),
        )
        .map_err(|source| RunError::Store {
            what: "the ClickHouse store".into(),
            source,
        })?;
        return Ok(Arc::new(store));
    }
    Err(RunError::Refused(
        "storage: expected sqlite, a postgres:// URL or a clickhouse:// (or http(s)://) URL".into(),
    ))
}

/// Returns on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    stop_signal().await;
}

/// Returns on Ctrl-C or SIGTERM, saying which: `Ctrl-C` (SIGINT) or `SIGTERM`.
pub async fn stop_signal() -> &'static str {
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
        () = ctrl_c => "Ctrl-C",
        () = term => "SIGTERM",
    }
}

/// `1 store write` or `3 store writes`.
fn writes(n: i64) -> String {
    format!("{n} store {}", if n == 1 { "write" } else { "writes" })
}

/// The handlers' state for `config` over `store`: fleet collectors, alert rules,
/// limits, tokens and redaction on ingest.
pub fn app_state(config: &ServerConfig, store: Arc<dyn Store>) -> AppState {
    let mut state = AppState::new(store);
    let board = state.probes.clone();
    let mut collectors: Vec<Arc<dyn fleet::Collector>> = vec![
        Arc::new(fleet::HostCollector),
        Arc::new(fleet::DockerCollector::default()),
    ];
    if !config.agents.is_empty() {
        let timeout = Duration::from_secs(5);
        let poller = Arc::new(fleet::AgentPoller::new(config.agents.clone(), timeout));
        collectors.push(Arc::new(fleet::AgentsCollector(poller.clone())));
        collectors.push(Arc::new(fleet::DeploymentsCollector(poller)));
    }
    if !config.probes.is_empty() {
        collectors.push(Arc::new(board));
    }
    state.fleet = Arc::new(crate::fleet::Fleet::new(
        collectors,
        config.public_rate_limit,
    ));
    state.alerts = Arc::new(alerts::Alerts::new(config.alerts.clone()));
    state.limits = Limits::default();
    state.auth = Arc::new(Auth::new(config.tokens.clone()));
    state.redactor = config.redaction.clone();
    state.genai = config.genai.clone();
    state
}

/// How often the allocator's free pages go back to the system ([`jobs::ReleaseMemory`]).
const RELEASE_MEMORY_EVERY: Duration = Duration::from_secs(10);

/// Starts the background jobs `config` asks for on the current runtime.
fn spawn_jobs(config: &ServerConfig, state: &AppState) {
    use periodic::run_every;
    let metrics = state.metrics.clone();
    tokio::spawn(run_every(
        RELEASE_MEMORY_EVERY,
        jobs::ReleaseMemory,
        metrics.clone(),
    ));
    tokio::spawn(run_every(
        config.retention_interval,
        jobs::Retention {
            state: state.clone(),
            raw: config.retention_raw,
            rollups: config.retention_rollups,
        },
        metrics.clone(),
    ));
    if !config.alerts.is_empty() {
        tokio::spawn(run_every(
            config.alert_interval,
            jobs::AlertRules {
                state: state.clone(),
                webhook: config.alert_webhook.clone(),
            },
            metrics.clone(),
        ));
    }
    if !config.probes.is_empty() {
        tokio::spawn(run_every(
            config.probe_interval,
            jobs::Probes {
                state: state.clone(),
                targets: config.probes.clone(),
                timeout: config.probe_interval.min(Duration::from_secs(10)),
                webhook: config.probe_webhook.clone(),
                board: state.probes.clone(),
                last: Default::default(),
            },
            metrics.clone(),
        ));
    }
    if let Some(every) = config.fleet_interval {
        tokio::spawn(run_every(
            every,
            jobs::FleetSnapshots {
                state: state.clone(),
            },
            metrics,
        ));
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(config: ServerConfig) -> Result<(), RunError> {
    if config.exposed() && config.tokens.is_empty() && !config.insecure {
        return Err(RunError::Refused(
            "refusing to listen on a non-loopback address without access tokens; \
             pass --token, bind 127.0.0.1, or pass --insecure"
                .into(),
        ));
    }
    let store = open_store(&config)?;
    let state = app_state(&config, store);
    let metrics = state.metrics.clone();
    let runtime = tokio::runtime::Runtime::new().map_err(io("starting the async runtime"))?;
    runtime.block_on(async move {
        let http = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .map_err(io(format!("binding {}", config.http_addr)))?;
        let http_addr = http.local_addr().map_err(io("reading the HTTP address"))?;
        let grpc = match config.grpc_addr {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(io(format!("binding {addr}")))?,
            ),
            None => None,
        };
        let grpc_addr = grpc.as_ref().and_then(|l| l.local_addr().ok());
        let sqlite_bytes = (config.storage.trim() == "sqlite")
            .then(|| std::fs::metadata(banner::sqlite_file(&config)).ok())
            .flatten()
            .map(|m| m.len());
        for line in banner::lines(&config, &state.limits, http_addr, grpc_addr, sqlite_bytes) {
            tracing::info!("{line}");
        }
        spawn_jobs(&config, &state);
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
        let limits = connections::ConnectionLimits {
            header_timeout: config.http_header_timeout,
            max_connections: config.http_max_connections,
            drain: DRAIN,
        };
        // When the signal came, and the store writes then in flight.
        let stopping: Arc<OnceLock<(Instant, i64)>> = Arc::new(OnceLock::new());
        let on_signal = {
            let stopping = stopping.clone();
            let metrics = metrics.clone();
            async move {
                let signal = stop_signal().await;
                let pending = metrics.writes_in_flight();
                let _ = stopping.set((Instant::now(), pending));
                tracing::info!(
                    "shutting down ({signal}): no new connections; the requests in flight \
                     ({} pending) have up to {} to finish",
                    writes(pending),
                    human::duration(DRAIN)
                );
                let _ = stop_tx.send(());
            }
        };
        connections::serve(
            http,
            with_body_timeout(app(state), config.http_body_timeout),
            limits,
            on_signal,
        )
        .await;
        let mut outcome = Ok(());
        if let Some(task) = grpc_task {
            match tokio::time::timeout(DRAIN, task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => outcome = Err(RunError::Grpc(e.into())),
                Ok(Err(e)) => outcome = Err(RunError::Grpc(Box::new(e))),
                Err(_) => tracing::warn!(
                    "gRPC connections still open {} after the signal were dropped",
                    human::duration(DRAIN)
                ),
            }
        }
        // A dropped connection does not stop its batch's write: wait for the store.
        let flush = Instant::now();
        while metrics.writes_in_flight() > 0 && flush.elapsed() < DRAIN {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (since, pending) = stopping.get().copied().unwrap_or((flush, 0));
        let left = metrics.writes_in_flight();
        if left > 0 {
            tracing::warn!(
                "stopped {} after the signal with {} unfinished; their clients got no \
                 answer and send again",
                human::duration(since.elapsed()),
                writes(left)
            );
        } else {
            tracing::info!(
                "stopped {} after the signal: {} pending then, every acknowledged write is \
                 committed",
                human::duration(since.elapsed()),
                writes(pending)
            );
        }
        outcome
    })
}
