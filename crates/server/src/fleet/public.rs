//! What anyone may see of a snapshot: its aggregates only (counts, version shares,
//! health ratios; never ids, names, addresses, custom metrics or error texts), those
//! aggregates as `fleet.*` gauges, and the per-address rate limit of the public
//! endpoint.

use crate::rows::MetricPointRow;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Prefix of the gauges a round stores.
pub const GAUGE_PREFIX: &str = "fleet.";
/// Service name of those gauges.
const SERVICE: &str = crate::SERVER_SERVICE_NAME;

/// Fixed one-minute windows of requests per client address.
#[derive(Debug)]
pub(super) struct RateLimiter {
    per_window: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub(super) fn new(per_window: u32, window: Duration) -> Self {
        RateLimiter {
            per_window,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request; when over the limit, how long until the window ends.
    pub(super) fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
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
        // Each dependency's state, latency and since when, without its name or address,
        // in a stable order (by name, which is not shown).
        let mut targets: Vec<&Value> = p["targets"].as_array().into_iter().flatten().collect();
        targets.sort_by_key(|t| t["name"].as_str().unwrap_or_default().to_string());
        let targets: Vec<Value> = targets
            .into_iter()
            .map(|t| {
                let state = t["state"]
                    .as_str()
                    .filter(|s| matches!(*s, "up" | "down" | "blocked"))
                    .unwrap_or("unknown");
                json!({
                    "state": state,
                    "latency_ms": t["latency_ms"].as_f64().map(|ms| (ms * 100.0).round() / 100.0),
                    "since": t["since"].as_str().filter(|s| crate::query::parse_time("since", s, 0).is_ok()),
                })
            })
            .collect();
        out.insert(
            "probes".into(),
            json!({ "total": total, "up": up, "health_ratio": ratio(up, total), "targets": targets }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

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
                "probes": {"total": 2, "up": 1, "targets": [
                    {"name": "db", "state": "down", "latency_ms": null, "since": "2026-11-22T09:00:00Z"},
                    {"name": "api", "state": "up", "latency_ms": 1.23456, "since": "not a time"},
                ]},
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
        // Each dependency without its name, ordered by the name it does not show.
        let targets = &public["probes"]["targets"];
        assert_eq!(targets[0]["state"], "up");
        assert_eq!(targets[0]["latency_ms"], 1.23);
        assert_eq!(targets[0]["since"], Value::Null, "not a time: left out");
        assert_eq!(targets[1]["state"], "down");
        assert_eq!(targets[1]["since"], "2026-11-22T09:00:00Z");
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
