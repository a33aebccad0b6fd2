//! The server's fleet telemetry: collection rounds (on an interval and on request)
//! stored as hash-chained snapshots, their aggregates stored as `fleet.*` gauges, and
//! the `/telemetry/*` endpoints:
//!
//! - `GET /telemetry/status` (read token): the newest snapshot in full and its link.
//! - `GET /telemetry/public` (no token, rate-limited per client address): aggregates
//!   only — counts, version shares, health ratios — never ids, names, addresses,
//!   custom metrics or error texts.
//! - `GET /telemetry/history?metric=&from=&to=&step=` (read token): buckets of a fleet
//!   gauge (`agents.healthy`, `host.cpu.usage_percent`, ...).
//! - `POST /telemetry/collect` (admin token): runs a round now and returns its id.

use crate::api::{
    ApiError, AppState, HOUR_NS, MAX_SERIES_POINTS, blocking, check_parameters, step_param,
    time_range,
};
use crate::fleet::{self, Collector, chain::Link};
use crate::rows::{Batch, MetricPointRow};
use crate::store::{Store, StoreError, rfc3339};
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Prefix of the gauges a round stores.
pub const GAUGE_PREFIX: &str = "fleet.";
/// Service name of those gauges.
const SERVICE: &str = "automagik-telemetry";

/// The newest stored snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSnapshot {
    /// Its link in the chain (position, hashes, canonical body).
    pub link: Link,
    /// The snapshot.
    pub snapshot: Value,
}

/// Collection rounds and what the endpoints need of them.
pub struct Fleet {
    collectors: Vec<Arc<dyn Collector>>,
    /// One round at a time.
    round: Mutex<()>,
    latest: RwLock<Option<StoredSnapshot>>,
    limiter: RateLimiter,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field(
                "collectors",
                &self.collectors.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Fleet {
    /// The host and Docker collectors; 60 public requests per minute per address.
    fn default() -> Self {
        Fleet::new(
            vec![
                Arc::new(fleet::HostCollector),
                Arc::new(fleet::DockerCollector::default()),
            ],
            60,
        )
    }
}

impl Fleet {
    /// Rounds over `collectors`; `/telemetry/public` answers each client address at
    /// most `public_per_minute` times a minute.
    pub fn new(collectors: Vec<Arc<dyn Collector>>, public_per_minute: u32) -> Self {
        Fleet {
            collectors,
            round: Mutex::new(()),
            latest: RwLock::new(None),
            limiter: RateLimiter::new(public_per_minute, Duration::from_secs(60)),
        }
    }

    /// Runs every collector, appends the snapshot to the chain and stores its
    /// aggregates as gauges. Blocks for up to the slowest collector's timeout.
    pub fn collect_and_store(&self, store: &dyn Store) -> Result<StoredSnapshot, StoreError> {
        let _one_round = self.round.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot = fleet::collect(&self.collectors);
        let at = snapshot.collected_at_unix_nano;
        let value = serde_json::to_value(&snapshot)
            .map_err(|e| StoreError::Database(format!("encoding a snapshot: {e}")))?;
        let link = store.append_snapshot(&snapshot.snapshot_id, at, &value)?;
        let points = gauges(&public_view(&value), at);
        if let Err(e) = store.insert(Batch {
            metric_points: points,
            ..Default::default()
        }) {
            // The snapshot itself is stored; its gauges come again next round.
            tracing::warn!(error = %e, "storing the fleet gauges failed");
        }
        if !snapshot.errors.is_empty() {
            tracing::warn!(collectors = ?snapshot.errors.keys().collect::<Vec<_>>(), "fleet collectors failed");
        }
        let stored = StoredSnapshot {
            link,
            snapshot: value,
        };
        *self.latest.write().unwrap_or_else(|e| e.into_inner()) = Some(stored.clone());
        Ok(stored)
    }

    /// The newest snapshot: the last one this server stored, else the store's last.
    pub fn latest(&self, store: &dyn Store) -> Result<Option<StoredSnapshot>, StoreError> {
        if let Some(s) = self
            .latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(Some(s));
        }
        let Some(link) = store.last_snapshot()? else {
            return Ok(None);
        };
        let snapshot = serde_json::from_str(&link.body)
            .map_err(|e| StoreError::Database(format!("a stored snapshot is not JSON: {e}")))?;
        Ok(Some(StoredSnapshot { link, snapshot }))
    }
}

/// Fixed one-minute windows of requests per client address.
#[derive(Debug)]
struct RateLimiter {
    per_window: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    fn new(per_window: u32, window: Duration) -> Self {
        RateLimiter {
            per_window,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request; when over the limit, how long until the window ends.
    fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = seen.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            return Err(self.window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// A version as public aggregates may show it: dotted numbers only (`1.4.2`,
/// `v2.0`); anything else could carry a name and is counted as `other`.
fn public_version(v: &str) -> &str {
    let digits = v.strip_prefix('v').unwrap_or(v);
    let parts: Vec<&str> = digits.split('.').collect();
    let numeric = (1..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| (1..=6).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if numeric { v } else { "other" }
}

fn ratio(part: u64, total: u64) -> Value {
    if total == 0 {
        Value::Null
    } else {
        json!(part as f64 / total as f64)
    }
}

/// The aggregates of a snapshot that anyone may see: built field by field from known
/// numeric fields, so nothing a collector adds later (names, addresses, costs) leaks.
pub fn public_view(snapshot: &Value) -> Value {
    let r = &snapshot["results"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let mut out = Map::new();
    out.insert("collected_at".into(), snapshot["collected_at"].clone());
    out.insert(
        "collectors".into(),
        json!({
            "ok": r.as_object().map_or(0, Map::len),
            "failed": snapshot["errors"].as_object().map_or(0, Map::len),
        }),
    );
    if let Some(a) = r.get("agents") {
        let (total, healthy) = (n(&a["total"]), n(&a["healthy"]));
        out.insert(
            "agents".into(),
            json!({
                "total": total,
                "healthy": healthy,
                "unhealthy": total.saturating_sub(healthy),
                "health_ratio": ratio(healthy, total),
            }),
        );
    }
    if let Some(services) = r["deployments"]["services"].as_object() {
        let mut versions: BTreeMap<&str, u64> = BTreeMap::new();
        let mut complete = 0;
        for s in services.values() {
            if s["complete"] == true {
                complete += 1;
            }
            for (v, count) in s["versions"].as_object().into_iter().flatten() {
                *versions.entry(public_version(v)).or_default() += n(count);
            }
        }
        let agents: u64 = versions.values().sum();
        let shares: BTreeMap<&str, Value> = versions
            .iter()
            .map(|(v, c)| (*v, json!({"agents": c, "share": ratio(*c, agents)})))
            .collect();
        out.insert(
            "deployments".into(),
            json!({
                "services": services.len(),
                "rollouts_complete": complete,
                "rollouts_in_progress": services.len() - complete,
                "versions": shares,
            }),
        );
    }
    if let Some(h) = r.get("host") {
        let f = |v: &Value| v.as_f64();
        let (mem_total, mem_used) = (
            n(&h["memory"]["total_bytes"]),
            n(&h["memory"]["used_bytes"]),
        );
        let (mut disk_total, mut disk_free) = (0, 0);
        for d in h["disks"].as_array().into_iter().flatten() {
            disk_total += n(&d["total_bytes"]);
            disk_free += n(&d["available_bytes"]);
        }
        out.insert(
            "host".into(),
            json!({
                "cpu": {
                    "count": n(&h["cpu"]["count"]),
                    "usage_percent": f(&h["cpu"]["usage_percent"]),
                    "load_1m": f(&h["cpu"]["load_1m"]),
                },
                "memory": { "used_ratio": ratio(mem_used, mem_total) },
                "disk": { "used_ratio": ratio(disk_total.saturating_sub(disk_free), disk_total) },
            }),
        );
    }
    if let Some(d) = r.get("docker") {
        out.insert(
            "containers".into(),
            json!({
                "available": d["available"] == true,
                "total": n(&d["total"]),
                "running": n(&d["running"]),
            }),
        );
    }
    if let Some(p) = r.get("probes") {
        let (total, up) = (n(&p["total"]), n(&p["up"]));
        out.insert(
            "probes".into(),
            json!({ "total": total, "up": up, "health_ratio": ratio(up, total) }),
        );
    }
    Value::Object(out)
}

/// Gauges of the public aggregates: each number as `fleet.<path>` (`fleet.agents.healthy`),
/// version shares as `fleet.deployments.version_share` with the attribute `version`.
pub fn gauges(public: &Value, at: u64) -> Vec<MetricPointRow> {
    fn walk(path: &str, v: &Value, at: u64, out: &mut Vec<MetricPointRow>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    if path == "deployments" && k == "versions" {
                        for (version, figures) in v.as_object().into_iter().flatten() {
                            if let Some(share) = figures["share"].as_f64() {
                                out.push(MetricPointRow::number(
                                    format!("{GAUGE_PREFIX}deployments.version_share"),
                                    SERVICE,
                                    "gauge",
                                    at,
                                    Some(share),
                                    json!({ "version": version }).to_string(),
                                ));
                            }
                        }
                        continue;
                    }
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(&child, v, at, out);
                }
            }
            Value::Number(x) => out.push(MetricPointRow::number(
                format!("{GAUGE_PREFIX}{path}"),
                SERVICE,
                "gauge",
                at,
                x.as_f64(),
                "{}",
            )),
            Value::Bool(b) => out.push(MetricPointRow::number(
                format!("{GAUGE_PREFIX}{path}"),
                SERVICE,
                "gauge",
                at,
                Some(if *b { 1.0 } else { 0.0 }),
                "{}",
            )),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", public, at, &mut out);
    out
}

/// A probed target's last result.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ProbeState {
    /// The target's name.
    pub name: String,
    /// Its URL without a password.
    pub url: String,
    /// `up`, `down` or `blocked`.
    pub state: String,
    /// Round-trip time of the probe, when it answered.
    pub latency_ms: Option<f64>,
    /// Why it is down, or which dependency blocks it.
    pub reason: Option<String>,
    /// The targets it depends on.
    pub depends_on: Vec<String>,
    /// Whether its failure is critical.
    pub critical: bool,
}

/// Probe states shared with the server's probe task: collected as `probes` into fleet
/// snapshots and listed by `GET /api/v1/probes`.
#[derive(Clone, Debug, Default)]
pub struct ProbesCollector {
    /// The last round's results, in the order the round gave them.
    states: Arc<Mutex<Vec<ProbeState>>>,
}

impl ProbesCollector {
    /// Replaces the states with one round's results (`health` orders them root
    /// causes first: down, then blocked, then up).
    pub fn replace(&self, round: impl IntoIterator<Item = ProbeState>) {
        *self.states.lock().unwrap_or_else(|e| e.into_inner()) = round.into_iter().collect();
    }

    /// The last round's results.
    pub fn list(&self) -> Vec<ProbeState> {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Collector for ProbesCollector {
    fn name(&self) -> &str {
        "probes"
    }

    fn collect(&self) -> Result<Value, String> {
        let states = self.list();
        let up = states.iter().filter(|p| p.state == "up").count();
        let targets: Vec<Value> = states
            .iter()
            .map(|p| json!({"name": p.name, "state": p.state, "latency_ms": p.latency_ms}))
            .collect();
        Ok(json!({
            "total": states.len(),
            "up": up,
            "targets": targets,
        }))
    }
}

fn snapshot_json(s: &StoredSnapshot) -> Value {
    json!({
        "snapshot": s.snapshot,
        "chain": {
            "seq": s.link.seq,
            "hash": s.link.hash,
            "prev_hash": s.link.prev_hash,
        },
    })
}

/// `GET /telemetry/status`.
pub(crate) async fn status(State(state): State<AppState>) -> Result<Response, ApiError> {
    let fleet = state.fleet.clone();
    let latest = blocking(&state, move |s| fleet.latest(s)).await?;
    Ok(axum::Json(match latest {
        Some(s) => snapshot_json(&s),
        None => json!({ "snapshot": null, "chain": null }),
    })
    .into_response())
}

/// `GET /telemetry/public`.
pub(crate) async fn public(
    State(state): State<AppState>,
    req: Request,
) -> Result<Response, ApiError> {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    if let Err(wait) = state.fleet.limiter.check(client, Instant::now()) {
        return Err(ApiError::RateLimited(wait.as_secs_f64().ceil() as u64));
    }
    let fleet = state.fleet.clone();
    let latest = blocking(&state, move |s| fleet.latest(s)).await?;
    Ok(axum::Json(match latest {
        Some(s) => public_view(&s.snapshot),
        None => json!({ "collected_at": null }),
    })
    .into_response())
}

/// `POST /telemetry/collect`.
pub(crate) async fn collect(State(state): State<AppState>) -> Result<Response, ApiError> {
    let fleet = state.fleet.clone();
    let stored = blocking(&state, move |s| fleet.collect_and_store(s)).await?;
    let snap = &stored.snapshot;
    Ok(axum::Json(json!({
        "snapshot_id": stored.link.snapshot_id,
        "seq": stored.link.seq,
        "hash": stored.link.hash,
        "collected_at": snap["collected_at"],
        "duration_ms": snap["duration_ms"],
        "failed_collectors": snap["errors"].as_object().map_or(0, Map::len),
    }))
    .into_response())
}

/// `GET /telemetry/history?metric=&from=&to=&step=`.
pub(crate) async fn history(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_parameters(&params, &["metric", "from", "to", "step"])?;
    let metric = params
        .get("metric")
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest("metric is required, e.g. metric=agents.healthy".into())
        })?;
    let metric = metric
        .strip_prefix(GAUGE_PREFIX)
        .unwrap_or(metric)
        .to_string();
    let (from, to) = time_range(&params, HOUR_NS)?;
    // By default about 120 buckets, in whole seconds.
    let step_ns = step_param(&params, to - from, 1_000_000_000)?;
    if step_ns < 1_000_000_000 {
        return Err(ApiError::BadRequest("step: at least 1s".into()));
    }
    if (to - from) / step_ns > 10_000 {
        return Err(ApiError::BadRequest(
            "step: too small for the range (more than 10000 buckets)".into(),
        ));
    }
    let name = format!("{GAUGE_PREFIX}{metric}");
    let points = blocking(&state, move |s| {
        s.metric_points(&name, from, to, MAX_SERIES_POINTS)
    })
    .await?;
    if points.len() > MAX_SERIES_POINTS {
        return Err(ApiError::BadRequest(format!(
            "the range holds more than {MAX_SERIES_POINTS} points; narrow it"
        )));
    }
    // Buckets start at whole multiples of the step (a 1m step starts on the minute).
    let buckets: Vec<Value> = crate::series::buckets(&points, from - from % step_ns, step_ns)
        .into_iter()
        .map(|b| {
            json!({
                "time": rfc3339(b.time),
                "time_unix_nano": b.time.to_string(),
                "count": b.count,
                "min": b.min,
                "max": b.max,
                "avg": b.avg,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "metric": metric,
        "from": rfc3339(from),
        "to": rfc3339(to),
        "step_seconds": step_ns as f64 / 1e9,
        "buckets": buckets,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_that_are_not_dotted_numbers_are_counted_as_other() {
        for v in ["1.4.2", "v2.0", "10", "1.2.3.4"] {
            assert_eq!(public_version(v), v);
        }
        for v in [
            "1.4.2-acme-secret",
            "sk-live-1234",
            "",
            "1..2",
            "1.2.3.4.5",
            "v",
        ] {
            assert_eq!(public_version(v), "other", "{v}");
        }
    }

    #[test]
    fn the_limiter_counts_per_address_and_window() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let t0 = Instant::now();
        assert!(limiter.check(a, t0).is_ok());
        assert!(limiter.check(a, t0).is_ok());
        let wait = limiter
            .check(a, t0 + Duration::from_secs(20))
            .expect_err("over the limit");
        assert_eq!(wait, Duration::from_secs(40));
        assert!(limiter.check(b, t0).is_ok());
        assert!(limiter.check(a, t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn public_aggregates_and_their_gauges() {
        let snapshot = json!({
            "collected_at": "2026-11-22T10:00:00Z",
            "results": {
                "agents": {"total": 4, "healthy": 3, "agents": [{"name": "secret-agent"}]},
                "deployments": {"services": {
                    "billing": {"versions": {"1.2.0": 2, "1.1.0-internal": 1}, "complete": false},
                    "search": {"versions": {"1.2.0": 1}, "complete": true},
                }},
                "probes": {"total": 2, "up": 1, "targets": [{"name": "db"}]},
            },
            "errors": {"docker": "cannot connect to /var/run/docker.sock"},
        });
        let public = public_view(&snapshot);
        assert_eq!(public["agents"]["health_ratio"], 0.75);
        assert_eq!(public["deployments"]["services"], 2);
        assert_eq!(public["deployments"]["rollouts_complete"], 1);
        assert_eq!(public["deployments"]["versions"]["1.2.0"]["agents"], 3);
        assert_eq!(public["deployments"]["versions"]["other"]["share"], 0.25);
        assert_eq!(public["probes"]["health_ratio"], 0.5);
        assert_eq!(public["collectors"]["failed"], 1);
        let text = public.to_string();
        for secret in ["secret-agent", "billing", "internal", "db", "docker.sock"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let points = gauges(&public, 7);
        let get = |name: &str| points.iter().find(|p| p.name == name).and_then(|p| p.value);
        assert_eq!(get("fleet.agents.healthy"), Some(3.0));
        assert_eq!(get("fleet.probes.health_ratio"), Some(0.5));
        assert_eq!(
            points
                .iter()
                .filter(|p| p.name == "fleet.deployments.version_share")
                .count(),
            2
        );
        assert!(points.iter().all(|p| p.time_unix_nano == 7));
    }
}
