//! `health`: probes infrastructure targets given as URLs or in a TOML file, in parallel,
//! each within its own timeout; a target whose dependency is down is reported as
//! blocked by it, root causes first; a table by default or `--json`; the exit status is
//! non-zero when a critical target is not healthy.
//!
//! Probes: `postgres://` (connects and runs `SELECT 1`), `redis://` (`PING`),
//! `nats://` (connects, then a `PING`/`PONG` round trip), `amqp(s)://` (opens an AMQP
//! connection, which logs in to the virtual host), `kafka(s)://` (the cluster's metadata
//! through librdkafka, with SASL credentials from the URL), `clickhouse(s)://` (`SELECT 1` over
//! the HTTP interface, with the URL's credentials), `http(s)://` (expected status,
//! optionally a JSON field's value; the URL's credentials as basic auth) and `tcp://`.
//! Presets name the health endpoint and answer of common services: `consul://`,
//! `grafana://`, `tempo://`, `otelcol://` (the OpenTelemetry Collector's health check
//! extension), `arangodb://` and `prometheus://` (plain HTTP to the given host and
//! port), or `preset = "..."` on an `http(s)://` target of the config file.

use anyhow::{Context, bail};
use automagik_telemetry_server::probe::{
    Report, State, Target, check, check_scheme, parse_targets, resolve_preset,
};
use std::path::PathBuf;
use std::time::Instant;

/// Flags of `health`.
#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    /// Targets to probe: postgres://, redis://, nats://, amqp://, kafka://,
    /// clickhouse://, http(s)://, tcp://host:port, or a preset (consul://, grafana://,
    /// tempo://, otelcol://, arangodb://, prometheus://).
    urls: Vec<String>,
    /// TOML file with `[[target]]` tables (name, url, depends_on, critical,
    /// expect_status, json_field, json_value, timeout).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Timeout of each probe.
    #[arg(long, default_value = "5s")]
    timeout: String,
    /// Probe again every INTERVAL (`--watch` alone: every 10s, or `--watch=2s`) and print
    /// each round, until interrupted.
    #[arg(
        long,
        value_name = "INTERVAL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "10s"
    )]
    watch: Option<String>,
}

/// Runs `health`.
pub fn run(args: HealthArgs) -> anyhow::Result<std::process::ExitCode> {
    let timeout = automagik_telemetry_core::parse::parse_duration("timeout", &args.timeout)?;
    let mut targets: Vec<Target> = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            parse_targets(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Vec::new(),
    };
    targets.extend(args.urls.iter().map(|url| Target::url(url)));
    if targets.is_empty() {
        bail!("nothing to probe: give URLs or --config FILE");
    }
    // A target no probe can handle (a bare `host:port`, an unknown scheme) is refused
    // before anything is probed, with the schemes to try.
    let targets = targets
        .into_iter()
        .map(|t| resolve_preset(t).and_then(check_scheme))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let Some(every) = &args.watch else {
        return Ok(print_round(check(targets, timeout), args.json));
    };
    let every = automagik_telemetry_core::parse::parse_duration("watch", every)?;
    loop {
        let started = Instant::now();
        println!(
            "== {}",
            automagik_telemetry_core::time::rfc3339(automagik_telemetry_server::query::now_ns())
        );
        print_round(check(targets.clone(), timeout), args.json);
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
}

/// Prints one round of reports; the exit status it calls for.
fn print_round(reports: Vec<Report>, json: bool) -> std::process::ExitCode {
    use std::io::Write as _;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).unwrap_or_default()
        );
    } else {
        let width = reports
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(4)
            .max(6);
        println!(
            "{:<width$}  {:<7}  {:>9}  DETAIL",
            "TARGET", "STATE", "LATENCY"
        );
        for r in &reports {
            let state = match r.state {
                State::Up => "up",
                State::Down => "DOWN",
                State::Blocked => "blocked",
            };
            let latency = r.latency_ms.map_or("-".into(), |ms| format!("{ms:.1} ms"));
            println!(
                "{:<width$}  {state:<7}  {latency:>9}  {}",
                r.name,
                r.reason.as_deref().unwrap_or("")
            );
        }
    }
    let _ = std::io::stdout().flush();
    let failing = reports.iter().any(|r| r.critical && r.state != State::Up);
    if failing {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
