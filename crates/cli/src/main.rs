//! `automagik-telemetry`: the server and its tools.

use anyhow::{Context, bail};
use automagik_telemetry_server::{AppState, Limits, SqliteStore, app};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "automagik-telemetry",
    version,
    about = "Privacy-first telemetry: server and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Receive OTLP over HTTP, store it and answer queries.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Where the embedded SQLite database lives.
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Address of the HTTP port (OTLP/HTTP, query API, health).
    #[arg(
        long,
        env = "AUTOMAGIK_TELEMETRY_HTTP_ADDR",
        default_value = "127.0.0.1:4318"
    )]
    http_addr: SocketAddr,
    /// Allow binding a non-loopback address without access tokens.
    #[arg(long, env = "AUTOMAGIK_TELEMETRY_INSECURE")]
    insecure: bool,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if !args.http_addr.ip().is_loopback() && !args.insecure {
        bail!(
            "refusing to listen on {} without access tokens; bind 127.0.0.1 or pass --insecure",
            args.http_addr
        );
    }
    let store = SqliteStore::open(&args.data_dir)
        .with_context(|| format!("opening the data directory {}", args.data_dir.display()))?;
    let state = AppState {
        store: Arc::new(store),
        limits: Limits::default(),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.http_addr)
            .await
            .with_context(|| format!("binding {}", args.http_addr))?;
        tracing::info!(addr = %args.http_addr, data_dir = %args.data_dir.display(), "serving OTLP/HTTP and the query API");
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving HTTP")
    })
}
