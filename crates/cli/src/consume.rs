//! `consume`: the agent event consumer's flags; the consumer itself is
//! `automagik_telemetry_server::consumer`.

use anyhow::Context;
use automagik_telemetry_server::consumer::{self, Config};
use std::net::SocketAddr;

/// Flags of `consume`.
#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    /// Kafka bootstrap servers, or a `kafka(s)://[user:password@]host:port` URL.
    #[arg(
        long,
        env = "AUTOMAGIK_TELEMETRY_KAFKA_BROKERS",
        default_value = "127.0.0.1:9092",
        hide_env_values = true
    )]
    brokers: String,
    /// Consumer group.
    #[arg(
        long,
        env = "AUTOMAGIK_TELEMETRY_CONSUMER_GROUP",
        default_value = "automagik-telemetry-consumer"
    )]
    group: String,
    /// PostgreSQL URL the agent tables live in (created by numbered migrations).
    #[arg(
        long,
        env = "AUTOMAGIK_TELEMETRY_CONSUME_POSTGRES",
        hide_env_values = true
    )]
    postgres: String,
    /// Topics to read [default: the three agent topics].
    #[arg(long = "topic", value_delimiter = ',')]
    topics: Vec<String>,
    /// Messages per batch (one transaction each) at most.
    #[arg(long, default_value_t = 2000)]
    batch_size: usize,
    /// How long a batch waits to fill.
    #[arg(long, default_value = "100ms")]
    batch_wait: String,
    /// Address of `/metrics` (consumed, stored, dead-lettered, lag), or `off`.
    #[arg(long, default_value = "127.0.0.1:9465")]
    metrics_addr: String,
    /// Stop after this long without messages (for scripted runs); default: never.
    #[arg(long)]
    exit_when_idle: Option<String>,
    /// Partitions of the topics (and their `.dlq` topics) created when missing.
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    /// Also write runs and actions to the server's store: `sqlite` (with
    /// `--store-data-dir`), a `postgres://` or a `clickhouse://` URL, as `serve
    /// --storage` takes; `/api/v1/agents/runs` then lists them.
    #[arg(long, hide_env_values = true)]
    store: Option<String>,
    /// The SQLite store's data directory [default: ./data].
    #[arg(long)]
    store_data_dir: Option<std::path::PathBuf>,
}

/// Runs the consumer until SIGINT/SIGTERM (or `--exit-when-idle`).
pub fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let duration = |name: &str, v: &str| {
        automagik_telemetry_core::parse::parse_duration(name, v).map_err(|e| anyhow::anyhow!("{e}"))
    };
    let metrics_addr = match args.metrics_addr.trim() {
        "off" => None,
        addr => Some(
            addr.parse::<SocketAddr>()
                .with_context(|| format!("--metrics-addr {:?}", args.metrics_addr))?,
        ),
    };
    let store = match args.store {
        Some(storage) => Some(crate::serve::open_configured_store(
            crate::serve::StoreArgs::new(storage, args.store_data_dir),
        )?),
        None => None,
    };
    consumer::run(Config {
        batch_wait: duration("batch-wait", &args.batch_wait)?,
        exit_when_idle: args
            .exit_when_idle
            .as_deref()
            .map(|v| duration("exit-when-idle", v))
            .transpose()?,
        brokers: args.brokers,
        group: args.group,
        postgres: args.postgres,
        topics: args.topics,
        batch_size: args.batch_size,
        metrics_addr,
        partitions: args.partitions,
        store,
    })?;
    Ok(())
}
