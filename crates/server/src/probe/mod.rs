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
    /// The name reports use [default: the URL as `display_url` shows it, without its
    /// password or secret query values].
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
    /// Its URL as [`display_url`] shows it: no password, no secret query values.
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

/// The target's URL as reports, names, metrics and logs show it: the password of its
/// user info replaced by `***`, and so is the value of every query or fragment
/// parameter whose name says it holds a secret (`token`, `access_token`, `api_key`,
/// `password`, `sig`, `X-Amz-Signature`, `client_secret`, ...; see [`is_secret_name`]),
/// the name kept.
pub fn display_url(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    // The query (then the fragment) starts at the first `?` or `#` after the scheme; an
    // `@` beyond it is not the end of the user info.
    let query = url[start..]
        .find(['?', '#'])
        .map_or(url.len(), |i| start + i);
    let mut shown = String::with_capacity(url.len());
    match url[start..query].rfind('@').map(|i| start + i) {
        Some(at) if url[start..at].contains(':') => {
            let user = url[start..at].split(':').next().unwrap_or_default();
            shown.push_str(&url[..start]);
            shown.push_str(user);
            shown.push_str(":***");
            shown.push_str(&url[at..query]);
        }
        _ => shown.push_str(&url[..query]),
    }
    push_masked_parameters(&url[query..], &mut shown);
    shown
}

/// Whether `c` separates the parameters of a URL's query or fragment.
fn is_parameter_separator(c: char) -> bool {
    matches!(c, '?' | '#' | '&' | ';')
}

/// Appends `tail` (a URL's query and fragment, from its `?` or `#`) to `shown`, with the
/// value of each `name=value` whose name [`is_secret_name`] replaced by `***`.
fn push_masked_parameters(tail: &str, shown: &mut String) {
    for piece in tail.split_inclusive(is_parameter_separator) {
        let (pair, separator) = match piece.char_indices().last() {
            Some((i, c)) if is_parameter_separator(c) => piece.split_at(i),
            _ => (piece, ""),
        };
        match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => {
                shown.push_str(name);
                shown.push_str("=***");
            }
            _ => shown.push_str(pair),
        }
        shown.push_str(separator);
    }
}

/// Whether a query parameter named `name` holds a secret. Names are compared after
/// percent-decoding, without case, with `-` and `.` read as `_`: `sig`, `sas` and `pw`;
/// any name ending in `key`, `sig` or `pass` (`key`, `api_key`, `apikey`,
/// `subscription-key`, `pass`); any name containing `token`, `secret`, `passw`, `pwd`,
/// `signature`, `credential`, `auth` or `session` (`access_token`, `client_secret`,
/// `password`, `X-Amz-Signature`, `auth`, `authorization`).
pub fn is_secret_name(name: &str) -> bool {
    let decoded =
        automagik_telemetry_core::parse::percent_decode(name).unwrap_or_else(|| name.to_string());
    let name: String = decoded
        .trim()
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    ["sig", "sas", "pw"].contains(&name.as_str())
        || ["key", "sig", "pass"].iter().any(|end| name.ends_with(end))
        || [
            "token",
            "secret",
            "passw",
            "pwd",
            "signature",
            "credential",
            "auth",
            "session",
        ]
        .iter()
        .any(|part| name.contains(part))
}

/// Every scheme a target's URL may have, with `://`: the probes' and the presets'.
pub fn known_schemes() -> Vec<String> {
    PROBES
        .iter()
        .flat_map(|p| p.schemes().iter().copied())
        .chain(preset::names())
        .map(|s| format!("{s}://"))
        .collect()
}

/// The scheme to try for a bare `host:port`, by the port's usual service.
fn scheme_for_port(port: Option<u16>) -> &'static str {
    match port {
        Some(5432) => "postgres",
        Some(6379) => "redis",
        Some(4222) => "nats",
        Some(5672) => "amqp",
        Some(9092) => "kafka",
        Some(8123) => "clickhouse",
        Some(443) => "https",
        _ => "http",
    }
}

/// The port of a bare `[user@]host:port[/...]`, when it has one.
fn bare_port(address: &str) -> Option<u16> {
    let authority = address.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let (host, port) = host_port.rsplit_once(':')?;
    // An IPv6 address without brackets has no port to find.
    if host.contains(':') && !host.ends_with(']') {
        return None;
    }
    port.parse().ok()
}

/// Why `url` names no probe, with what to try instead; `None` when a probe or preset
/// handles its scheme. A bare `host:port` gets the scheme its port is known for
/// (`127.0.0.1:5432` -> `postgres://127.0.0.1:5432`), and `tcp://` for the port alone.
pub fn unknown_scheme(url: &str) -> Option<String> {
    let Some((scheme, _)) = url.split_once("://") else {
        let shown = display_url(url);
        let scheme = scheme_for_port(bare_port(url));
        return Some(format!(
            "{shown} has no scheme; try {scheme}://{shown} (or tcp://{shown} to check only \
             that the port accepts connections)"
        ));
    };
    let known = known_schemes();
    if known.iter().any(|k| k.strip_suffix("://") == Some(scheme)) {
        return None;
    }
    Some(format!(
        "no probe for {scheme}://; the schemes are {}",
        known.join(", ")
    ))
}

/// `t` unchanged when its URL's scheme names a probe or a preset, else why not (see
/// [`unknown_scheme`]), so a target that can never be probed is refused at start.
pub fn check_scheme(t: Target) -> Result<Target, String> {
    match unknown_scheme(&t.url) {
        None => Ok(t),
        Some(why) => Err(match &t.name {
            Some(name) => format!("target {name}: {why}"),
            None => why,
        }),
    }
}

/// Probes `t` once with the probe its scheme names.
fn probe(t: &Target, timeout: Duration) -> Result<(), String> {
    let scheme = t.url.split("://").next().unwrap_or_default();
    match PROBES.iter().find(|p| p.schemes().contains(&scheme)) {
        Some(p) => p.probe(t, timeout),
        None => Err(unknown_scheme(&t.url).unwrap_or_else(|| format!("no probe for {scheme}://"))),
    }
}

/// A latency in ms rounded to the microsecond, as reports give it (`0.707`).
fn round_ms(ms: f64) -> f64 {
    (ms * 1e3).round() / 1e3
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
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer within {}",
                    automagik_telemetry_core::human::duration(timeout)
                ))
            })
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
                latency_ms: (st == State::Up).then_some(round_ms(elapsed.as_secs_f64() * 1e3)),
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
    fn secrets_in_the_query_never_show() {
        assert_eq!(
            display_url("https://api.example/health?token=abc123"),
            "https://api.example/health?token=***"
        );
        assert_eq!(
            display_url(
                "https://u:pw@h/x?verbose=1&API_KEY=k&X-Amz-Signature=s;sig=t#access_token=f"
            ),
            "https://u:***@h/x?verbose=1&API_KEY=***&X-Amz-Signature=***;sig=***#access_token=***"
        );
        for name in [
            "token",
            "access_token",
            "api_key",
            "apikey",
            "key",
            "secret",
            "password",
            "pass",
            "pwd",
            "auth",
            "signature",
            "sig",
            "sas",
            "X-Amz-Signature",
            "client_secret",
            "Token",
            "PASSWORD",
            "Api-Key",
            "api%5Fkey",
        ] {
            assert_eq!(
                display_url(&format!("http://h/?{name}=hunter2&keep=1")),
                format!("http://h/?{name}=***&keep=1"),
                "{name}"
            );
        }
        // Other names keep their values; a name alone has none to hide.
        assert_eq!(
            display_url("http://h:8080/health?verbose=1&format=json&token"),
            "http://h:8080/health?verbose=1&format=json&token"
        );
        // An `@` in the query is not the end of user info.
        assert_eq!(
            display_url("http://h:8080/x?email=a@b&token=t"),
            "http://h:8080/x?email=a@b&token=***"
        );
        assert_eq!(
            display_url("redis://:s3cret@r:6379/0?password=p2"),
            "redis://:***@r:6379/0?password=***"
        );
    }

    #[test]
    fn reports_show_no_secret_of_the_url() {
        let reports = check(
            vec![Target {
                critical: false,
                ..Target::url("tcp://127.0.0.1:1?token=abc123")
            }],
            Duration::from_secs(1),
        );
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].url, "tcp://127.0.0.1:1?token=***");
        assert_eq!(reports[0].name, "tcp://127.0.0.1:1?token=***");
        let all = format!("{:?}", reports[0]);
        assert!(!all.contains("abc123"), "{all}");
    }

    #[test]
    fn a_bare_address_gets_the_scheme_its_port_suggests() {
        for (url, want) in [
            ("127.0.0.1:5432", "try postgres://127.0.0.1:5432 "),
            ("cache:6379", "try redis://cache:6379 "),
            ("127.0.0.1:4222", "try nats://127.0.0.1:4222 "),
            ("mq:5672", "try amqp://mq:5672 "),
            ("broker:9092", "try kafka://broker:9092 "),
            ("ch:8123", "try clickhouse://ch:8123 "),
            ("web:80", "try http://web:80 "),
            ("web:443", "try https://web:443 "),
            ("api:8080/health", "try http://api:8080/health "),
            ("[::1]:5432", "try postgres://[::1]:5432 "),
            ("localhost", "try http://localhost "),
        ] {
            let why = unknown_scheme(url).expect("refused");
            assert!(why.contains(want), "{url}: {why}");
            assert!(why.contains(&format!("tcp://{url}")), "{url}: {why}");
        }
        let why = unknown_scheme("app:hunter2@db:5432").expect("refused");
        assert!(!why.contains("hunter2"), "{why}");
        assert!(why.contains("postgres://app:***@db:5432"), "{why}");

        let why = unknown_scheme("mysql://db:3306").expect("refused");
        assert!(why.starts_with("no probe for mysql://"), "{why}");
        assert!(
            why.contains("postgres://") && why.contains("grafana://"),
            "{why}"
        );
        for known in ["postgres://h", "tcp://h:1", "https://h", "consul://h:8500"] {
            assert_eq!(unknown_scheme(known), None, "{known}");
        }
        let named = Target {
            name: Some("db".into()),
            ..Target::url("127.0.0.1:5432")
        };
        let err = check_scheme(named).expect_err("refused");
        assert!(
            err.starts_with("target db: 127.0.0.1:5432 has no scheme"),
            "{err}"
        );
        assert!(check_scheme(Target::url("redis://r:6379")).is_ok());
    }

    #[test]
    fn latencies_are_rounded_to_the_microsecond() {
        assert_eq!(round_ms(0.706_552), 0.707);
        assert_eq!(round_ms(12.0), 12.0);
        assert_eq!(
            serde_json::to_string(&round_ms(0.706_552)).expect("json"),
            "0.707"
        );
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
