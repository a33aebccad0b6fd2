//! Infrastructure probes: each kind of target (`postgres://`, `redis://`, `nats://`,
//! `amqp(s)://`, `kafka(s)://`, `clickhouse(s)://`, `http(s)://`, `tcp://`) is one
//! [`Probe`] in a file of its own; presets ([`preset`]) turn the health endpoints of
//! common services into `http(s)://` targets.
//!
//! [`check`] probes targets in parallel, each within its own timeout; a target whose
//! dependency is down is reported as blocked by it, root causes first. `health` prints
//! the reports; `serve` runs them on an interval and stores `up` and
//! `probe_latency_ms`.
//!
//! A probe's error is the reason shown to users: it never holds the URL's password.

mod amqp;
mod clickhouse;
mod http;
mod kafka;
mod nats;
mod postgres;
pub mod preset;
mod redis;
mod tcp;

pub use self::postgres::postgres_reason;
pub use preset::resolve_preset;

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One kind of probe: the URL schemes it answers for and one attempt at a target.
///
/// `probe` runs on a thread of its own (targets are probed in parallel) and must return
/// within `timeout`; nobody retries. An error is the reason the target is down, in
/// words a user can act on, without the URL's password.
pub trait Probe: Sync {
    /// The URL schemes (without `://`) this probe handles.
    fn schemes(&self) -> &'static [&'static str];
    /// Probes `target` once.
    fn probe(&self, target: &Target, timeout: Duration) -> Result<(), String>;
}

/// Every probe kind.
const PROBES: &[&dyn Probe] = &[
    &postgres::Postgres,
    &redis::Redis,
    &nats::Nats,
    &amqp::Amqp,
    &kafka::Kafka,
    &clickhouse::ClickHouse,
    &http::Http,
    &tcp::Tcp,
];

/// A target to probe (`[[target]]` of `health`'s file, `[[probe]]` of `serve`'s).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The name reports use [default: the URL without its password].
    pub name: Option<String>,
    /// What to probe; its scheme chooses the probe.
    pub url: String,
    /// Names of targets this one needs; when one is down this one is `blocked`
    /// [default: none].
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Whether `health` exits non-zero when this target is not up [default: true].
    #[serde(default = "yes")]
    pub critical: bool,
    /// The HTTP status that means healthy [default: any 2xx].
    pub expect_status: Option<u16>,
    /// A field of the JSON body (dotted path) to check [default: none].
    pub json_field: Option<String>,
    /// The value `json_field` must have [default: any].
    pub json_value: Option<serde_json::Value>,
    /// This target's probe timeout, like `5s` [default: the run's timeout].
    pub timeout: Option<String>,
    /// A service whose health endpoint and answer are known (see [`preset`])
    /// [default: none, or the URL's scheme when it names a preset].
    pub preset: Option<String>,
}

fn yes() -> bool {
    true
}

impl Target {
    /// A critical target with nothing but its URL.
    pub fn url(url: &str) -> Target {
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

/// The `[[target]]` tables of a `health` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    #[serde(default)]
    target: Vec<Target>,
}

/// The targets of a `health` file's text (`[[target]]` tables; other keys are refused).
pub fn parse_targets(toml_text: &str) -> Result<Vec<Target>, toml::de::Error> {
    Ok(toml::from_str::<TargetsFile>(toml_text)?.target)
}

/// The state of one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The probe succeeded.
    Up,
    /// The probe failed.
    Down,
    /// A dependency is down; this target was not probed.
    Blocked,
}

impl State {
    /// Its name, as serialized: `up`, `down` or `blocked`.
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Up => "up",
            State::Down => "down",
            State::Blocked => "blocked",
        }
    }
}

/// The outcome of one target's probe.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The target's name.
    pub name: String,
    /// Its URL without the password.
    pub url: String,
    /// Up, down or blocked.
    pub state: State,
    /// Whether it is critical.
    pub critical: bool,
    /// How long the probe took, when up.
    pub latency_ms: Option<f64>,
    /// Why it is down, or which dependency blocks it.
    pub reason: Option<String>,
    /// The targets it depends on.
    pub depends_on: Vec<String>,
}

/// The target's URL without its password, for reports.
pub fn display_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme && url[scheme + 3..at].contains(':') => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Probes `t` once with the probe its scheme names.
fn probe(t: &Target, timeout: Duration) -> Result<(), String> {
    let scheme = t.url.split("://").next().unwrap_or_default();
    match PROBES.iter().find(|p| p.schemes().contains(&scheme)) {
        Some(p) => p.probe(t, timeout),
        None => Err(format!("no probe for {scheme}:// yet")),
    }
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

/// Probes every target in parallel, then marks targets whose dependency is not up as
/// blocked, and orders root causes first.
pub fn check(mut targets: Vec<Target>, default_timeout: Duration) -> Vec<Report> {
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
