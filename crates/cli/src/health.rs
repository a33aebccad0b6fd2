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
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

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

/// A target of the config file (`[[target]]` of `health`, `[[probe]]` of `serve`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Target {
    name: Option<String>,
    url: String,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default = "yes")]
    critical: bool,
    expect_status: Option<u16>,
    json_field: Option<String>,
    json_value: Option<serde_json::Value>,
    timeout: Option<String>,
    /// A service whose health endpoint and answer are known (see [`PRESETS`]).
    preset: Option<String>,
}

/// A preset: the service's health path, and the JSON field and value that say healthy
/// (besides a 2xx status).
struct Preset {
    name: &'static str,
    path: &'static str,
    json: Option<(&'static str, &'static str)>,
}

/// Health endpoints of common services.
const PRESETS: &[Preset] = &[
    // The leader's address; an empty string means no leader, so no quorum.
    Preset {
        name: "consul",
        path: "/v1/status/leader",
        json: None,
    },
    Preset {
        name: "grafana",
        path: "/api/health",
        json: Some(("database", "ok")),
    },
    Preset {
        name: "tempo",
        path: "/ready",
        json: None,
    },
    Preset {
        name: "otelcol",
        path: "/",
        json: Some(("status", "Server available")),
    },
    Preset {
        name: "arangodb",
        path: "/_api/version",
        json: Some(("server", "arango")),
    },
    Preset {
        name: "prometheus",
        path: "/-/healthy",
        json: None,
    },
];

/// Resolves a preset (a `consul://`-like scheme, or `preset = "..."`) to an `http(s)://`
/// target with the preset's path and expected answer; fields the target sets itself are
/// kept.
pub(crate) fn resolve_preset(mut t: Target) -> Result<Target, String> {
    let scheme = t.url.split("://").next().unwrap_or_default().to_string();
    let name = match (&t.preset, PRESETS.iter().any(|p| p.name == scheme)) {
        (Some(p), _) => p.clone(),
        (None, true) => scheme.clone(),
        (None, false) => return Ok(t),
    };
    let preset = PRESETS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| format!("unknown preset {name}"))?;
    if scheme == preset.name {
        t.url = format!("http{}", &t.url[scheme.len()..]);
    }
    if !t.url.starts_with("http://") && !t.url.starts_with("https://") {
        return Err(format!("preset {name} needs an http(s):// URL"));
    }
    let base = t.url.trim_end_matches('/');
    // Only a bare address gets the preset's path.
    let after_host = base.splitn(4, '/').nth(3);
    if after_host.is_none() {
        t.url = format!("{base}{}", preset.path);
    }
    if let (None, Some((field, value))) = (&t.json_field, preset.json) {
        t.json_field = Some(field.to_string());
        t.json_value = Some(serde_json::Value::String(value.to_string()));
    }
    if preset.name == "consul" && t.json_field.is_none() {
        t.json_field = Some(String::new());
    }
    t.preset = Some(preset.name.to_string());
    Ok(t)
}

fn yes() -> bool {
    true
}

impl Target {
    /// A critical target with nothing but its URL.
    pub(crate) fn url(url: &str) -> Target {
        Target {
            name: None,
            url: url.to_string(),
            depends_on: Vec::new(),
            critical: true,
            expect_status: None,
            json_field: None,
            json_value: None,
            timeout: None,
            preset: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    target: Vec<Target>,
}

/// The state of one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    Up,
    Down,
    /// A dependency is down; this target was not probed.
    Blocked,
}

impl State {
    /// Its name, as serialized: `up`, `down` or `blocked`.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            State::Up => "up",
            State::Down => "down",
            State::Blocked => "blocked",
        }
    }
}

/// The outcome of one target's probe.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) state: State,
    pub(crate) critical: bool,
    pub(crate) latency_ms: Option<f64>,
    /// Why it is down, or which dependency blocks it.
    pub(crate) reason: Option<String>,
    /// The targets it depends on.
    pub(crate) depends_on: Vec<String>,
}

/// The target's URL without its password, for reports.
pub(crate) fn display_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme && url[scheme + 3..at].contains(':') => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn probe(t: &Target, timeout: Duration) -> Result<(), String> {
    let url = t.url.as_str();
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => {
            let mut config: postgres::Config = url.parse().map_err(|e| format!("bad URL: {e}"))?;
            config.connect_timeout(timeout);
            let mut client = config
                .connect(postgres::NoTls)
                .map_err(|e| postgres_reason(&e))?;
            client
                .simple_query("SELECT 1")
                .map(|_| ())
                .map_err(|e| postgres_reason(&e))
        }
        "redis" | "rediss" => {
            let client = redis::Client::open(url).map_err(|e| format!("bad URL: {e}"))?;
            let mut conn = client
                .get_connection_with_timeout(timeout)
                .map_err(|e| e.to_string())?;
            let pong: String = redis::cmd("PING")
                .query(&mut conn)
                .map_err(|e| e.to_string())?;
            if pong == "PONG" {
                Ok(())
            } else {
                Err(format!("PING answered {pong:?}"))
            }
        }
        "nats" => async_probe(timeout, async {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(timeout)
                .connect(url)
                .await
                .map_err(client_reason)?;
            client.flush().await.map_err(client_reason)
        }),
        "amqp" | "amqps" => async_probe(timeout, async {
            let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
                .await
                .map_err(client_reason)?;
            let _ = conn.close(200, "health probe done").await;
            Ok(())
        }),
        "kafka" | "kafkas" => kafka_probe(url, timeout),
        "clickhouse" | "clickhouses" => {
            automagik_telemetry_server::store::clickhouse::ping(url, timeout)
        }
        "http" | "https" => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .build()
                .into();
            let mut req = agent.get(url);
            if let Some(auth) = basic_auth(url) {
                req = req.header("Authorization", auth);
            }
            let resp = req.call().map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let ok = match t.expect_status {
                Some(want) => status == want,
                None => (200..300).contains(&status),
            };
            if !ok {
                return Err(format!("HTTP {status}"));
            }
            if let Some(field) = &t.json_field {
                let body: serde_json::Value = resp
                    .into_body()
                    .read_json()
                    .map_err(|_| "the body is not JSON".to_string())?;
                // An empty field: the body itself must be a non-empty string (Consul's
                // leader address).
                if field.is_empty() {
                    return match body.as_str() {
                        Some(s) if !s.is_empty() => Ok(()),
                        _ => Err("no leader".into()),
                    };
                }
                let got = field
                    .split('.')
                    .try_fold(&body, |v, k| v.get(k))
                    .ok_or_else(|| format!("no field {field}"))?;
                if let Some(want) = &t.json_value
                    && got != want
                {
                    return Err(format!("{field} is {got}, expected {want}"));
                }
            }
            Ok(())
        }
        "tcp" => {
            let addr = url.trim_start_matches("tcp://").trim_end_matches('/');
            let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(addr)
                .map_err(|e| format!("cannot resolve {addr}: {e}"))?
                .collect();
            let first = addrs.first().ok_or("no address")?;
            std::net::TcpStream::connect_timeout(first, timeout)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        other => Err(format!("no probe for {other}:// yet")),
    }
}

/// Asks the brokers for the cluster's metadata: up when a broker answers and lists at
/// least one broker.
fn kafka_probe(url: &str, timeout: Duration) -> Result<(), String> {
    use automagik_telemetry::kafka::{FirstError, client_config};
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let socket_timeout = timeout.as_millis().max(10).to_string();
    let consumer: BaseConsumer<FirstError> =
        client_config(url, &[("socket.timeout.ms", socket_timeout.as_str())])?
            .create_with_context(FirstError::default())
            .map_err(|e| format!("cannot create a Kafka client: {e}"))?;
    let metadata = consumer.fetch_metadata(None, timeout).map_err(|e| {
        // The client's own errors arrive as events: serve them.
        for _ in 0..5 {
            let _ = consumer.poll(Duration::from_millis(20));
        }
        consumer.context().get().unwrap_or_else(|| e.to_string())
    })?;
    if metadata.brokers().is_empty() {
        return Err("the cluster lists no brokers".into());
    }
    Ok(())
}

/// `Basic ...` for a URL with credentials (`http://user:password@host/...`).
fn basic_auth(url: &str) -> Option<String> {
    use base64::Engine as _;
    let parsed = url::Url::parse(url).ok()?;
    if parsed.username().is_empty() {
        return None;
    }
    let decode = |s: &str| {
        automagik_telemetry_core::parse::percent_decode(s).unwrap_or_else(|| s.to_string())
    };
    let pair = format!(
        "{}:{}",
        decode(parsed.username()),
        decode(parsed.password().unwrap_or(""))
    );
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

/// Runs an async probe on a runtime of its own, cut at `timeout`.
fn async_probe(
    timeout: Duration,
    probe: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the probe: {e}"))?;
    rt.block_on(async {
        tokio::time::timeout(timeout, probe)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
    })
}

/// A client's error as the reason a probe failed (the NATS and AMQP clients never put
/// the URL's password in their errors; the broker's refusal, such as `ACCESS_REFUSED`,
/// is kept).
fn client_reason(e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    if text.is_empty() {
        "connection failed".into()
    } else {
        text
    }
}

/// PostgreSQL's own message (never the URL, which may hold a password).
pub(crate) fn postgres_reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        // "error connecting to server: Connection refused (os error 111)": the
        // client's text and its causes (I/O errors, which never hold the URL).
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

/// Probes every target in parallel, then marks targets whose dependency is not up as
/// blocked, and orders root causes first.
pub(crate) fn check(mut targets: Vec<Target>, default_timeout: Duration) -> Vec<Report> {
    // Every target needs a name of its own: two URLs that only differ in their password
    // show the same, so later ones get a number.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for t in &mut targets {
        let name = t.name.clone().unwrap_or_else(|| display_url(&t.url));
        let n = seen.entry(name.clone()).or_insert(0);
        *n += 1;
        t.name = Some(if *n == 1 {
            name
        } else {
            format!("{name} #{n}")
        });
    }
    let results: Vec<(Target, Result<(), String>, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .into_iter()
            .map(|t| {
                scope.spawn(move || {
                    let timeout = t
                        .timeout
                        .as_deref()
                        .and_then(|v| {
                            automagik_telemetry_core::parse::parse_duration("timeout", v).ok()
                        })
                        .unwrap_or(default_timeout);
                    let started = Instant::now();
                    let result = probe(&t, timeout);
                    (t, result, started.elapsed())
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let name_of = |t: &Target| t.name.clone().unwrap_or_else(|| display_url(&t.url));
    let mut state: HashMap<String, State> = results
        .iter()
        .map(|(t, r, _)| (name_of(t), if r.is_ok() { State::Up } else { State::Down }))
        .collect();
    // A target is blocked when a dependency is down or blocked (to any depth).
    let mut blocked_by: HashMap<String, String> = HashMap::new();
    loop {
        let mut changed = false;
        for (t, _, _) in &results {
            let name = name_of(t);
            if state.get(&name) == Some(&State::Blocked) {
                continue;
            }
            if let Some(dep) = t
                .depends_on
                .iter()
                .find(|d| matches!(state.get(*d), Some(State::Down | State::Blocked)))
            {
                let root = blocked_by.get(dep).cloned().unwrap_or_else(|| dep.clone());
                blocked_by.insert(name.clone(), root);
                state.insert(name, State::Blocked);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut reports: Vec<Report> = results
        .into_iter()
        .map(|(t, result, elapsed)| {
            let name = name_of(&t);
            let st = state.get(&name).cloned().unwrap_or(State::Down);
            let reason = match (&st, result) {
                (State::Blocked, _) => blocked_by
                    .get(&name)
                    .map(|root| format!("blocked by {root}")),
                (_, Err(e)) => Some(e),
                (_, Ok(())) => None,
            };
            Report {
                url: display_url(&t.url),
                latency_ms: (st == State::Up).then_some(elapsed.as_secs_f64() * 1e3),
                name,
                state: st,
                critical: t.critical,
                reason,
                depends_on: t.depends_on.clone(),
            }
        })
        .collect();
    // Root causes (down) first, then blocked, then healthy.
    reports.sort_by_key(|r| match r.state {
        State::Down => 0,
        State::Blocked => 1,
        State::Up => 2,
    });
    reports
}

/// Runs `health`.
pub fn run(args: HealthArgs) -> anyhow::Result<std::process::ExitCode> {
    let timeout = automagik_telemetry_core::parse::parse_duration("timeout", &args.timeout)?;
    let mut targets: Vec<Target> = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str::<File>(&text)
                .with_context(|| format!("in {}", path.display()))?
                .target
        }
        None => Vec::new(),
    };
    targets.extend(args.urls.iter().map(|url| Target::url(url)));
    if targets.is_empty() {
        bail!("nothing to probe: give URLs or --config FILE");
    }
    let targets = targets
        .into_iter()
        .map(resolve_preset)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_that_show_the_same_get_names_of_their_own() {
        let target = |url: &str| Target {
            critical: false,
            ..Target::url(url)
        };
        let reports = check(
            vec![target("tcp://127.0.0.1:1"), target("tcp://127.0.0.1:1")],
            Duration::from_secs(1),
        );
        let mut names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["tcp://127.0.0.1:1", "tcp://127.0.0.1:1 #2"]);
    }

    #[test]
    fn presets_name_the_health_endpoint_and_answer() {
        let target = |url: &str, preset: Option<&str>| Target {
            preset: preset.map(str::to_string),
            ..Target::url(url)
        };
        let t = resolve_preset(target("grafana://grafana:3000", None)).expect("grafana");
        assert_eq!(t.url, "http://grafana:3000/api/health");
        assert_eq!(t.json_field.as_deref(), Some("database"));
        assert_eq!(t.json_value, Some(serde_json::json!("ok")));
        let t = resolve_preset(target("https://prom.example/", Some("prometheus"))).expect("p");
        assert_eq!(t.url, "https://prom.example/-/healthy");
        let t = resolve_preset(target("otelcol://127.0.0.1:13133", None)).expect("otelcol");
        assert_eq!(t.url, "http://127.0.0.1:13133/");
        let t = resolve_preset(target("consul://c:8500", None)).expect("consul");
        assert_eq!(t.url, "http://c:8500/v1/status/leader");
        assert_eq!(t.json_field.as_deref(), Some(""));
        // A path of its own is kept.
        let t = resolve_preset(target("arangodb://db:8529/_admin/status", None)).expect("a");
        assert_eq!(t.url, "http://db:8529/_admin/status");
        assert!(resolve_preset(target("http://x", Some("nope"))).is_err());
        assert!(resolve_preset(target("tcp://x:1", Some("grafana"))).is_err());
        let plain = resolve_preset(target("redis://r:6379", None)).expect("no preset");
        assert_eq!(plain.url, "redis://r:6379");
        assert_eq!(
            basic_auth("http://root:p%40ss@db:8529/"),
            Some("Basic cm9vdDpwQHNz".to_string()),
            "root:p@ss"
        );
        assert_eq!(basic_auth("http://db:8529/"), None);
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            display_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(display_url("tcp://127.0.0.1:1"), "tcp://127.0.0.1:1");
        assert_eq!(
            display_url("postgres://postgres@127.0.0.1/db"),
            "postgres://postgres@127.0.0.1/db"
        );
    }
}
