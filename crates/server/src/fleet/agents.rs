//! The agents' health URLs, polled once a round: [`AgentsCollector`] (status, version,
//! uptime, custom metrics) and [`DeploymentsCollector`] (version adoption and rollout
//! share per service across the same agents).

use super::collector::Collector;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An agent whose health URL is polled.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct AgentTarget {
    /// Name (unique).
    pub name: String,
    /// Service the agent belongs to (deployments group by it).
    #[serde(default)]
    pub service: Option<String>,
    /// Health URL answering JSON with `status`, `version`, `uptime_seconds` and
    /// optionally `metrics` (an object of numbers).
    pub url: String,
}

/// What one agent's health URL said.
fn poll_agent(agent: &ureq::Agent, target: &AgentTarget) -> Value {
    let started = Instant::now();
    let answer = agent
        .get(&target.url)
        .call()
        .map_err(|e| e.to_string())
        .and_then(|mut r| {
            let status = r.status().as_u16();
            let body: Value = r
                .body_mut()
                .with_config()
                .limit(1 << 20)
                .read_to_string()
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok())
                .ok_or_else(|| format!("HTTP {status}, the body is not JSON"))?;
            Ok((status, body))
        });
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    match answer {
        Ok((status, body)) => {
            let reported = body.get("status").and_then(Value::as_str);
            let healthy = (200..300).contains(&status)
                && reported.is_none_or(|s| matches!(s, "ok" | "healthy" | "up" | "pass"));
            json!({
                "name": target.name,
                "service": target.service,
                "reachable": true,
                "healthy": healthy,
                "http_status": status,
                "status": reported,
                "version": body.get("version").and_then(Value::as_str),
                "uptime_seconds": body.get("uptime_seconds").and_then(Value::as_f64),
                "metrics": body.get("metrics").filter(|m| m.is_object()).cloned().unwrap_or(json!({})),
                "latency_ms": latency_ms,
            })
        }
        Err(e) => json!({
            "name": target.name,
            "service": target.service,
            "reachable": false,
            "healthy": false,
            "error": e,
            "latency_ms": latency_ms,
        }),
    }
}

fn poll_all(targets: &[AgentTarget], timeout: Duration) -> Vec<Value> {
    let agent = crate::http_client::agent(timeout);
    std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| {
                let agent = &agent;
                s.spawn(move || poll_agent(agent, t))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

/// Polls the agents' health URLs, in parallel, for the agents and deployments collectors
/// of one round: whichever asks first polls, and the other, started at the same moment,
/// gets the same answers, so each agent is asked once a round.
#[derive(Debug)]
pub struct AgentPoller {
    targets: Vec<AgentTarget>,
    request_timeout: Duration,
    last: std::sync::Mutex<Option<(Instant, Vec<Value>)>>,
}

impl AgentPoller {
    /// A poller of `targets`, each request cut at `request_timeout`.
    pub fn new(targets: Vec<AgentTarget>, request_timeout: Duration) -> Self {
        AgentPoller {
            targets,
            request_timeout,
            last: std::sync::Mutex::new(None),
        }
    }

    /// What each agent answered this round.
    pub fn poll(&self) -> Vec<Value> {
        // The collectors of one round start within microseconds; rounds are at least
        // 100 ms apart.
        const SAME_ROUND: Duration = Duration::from_millis(50);
        let asked = Instant::now();
        // Held while polling: a concurrent caller waits for these answers.
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((started, answers)) = last.as_ref()
            && asked.saturating_duration_since(*started) < SAME_ROUND
        {
            return answers.clone();
        }
        let answers = poll_all(&self.targets, self.request_timeout);
        *last = Some((asked, answers.clone()));
        answers
    }
}

/// Polls every agent's health URL in parallel.
#[derive(Clone, Debug)]
pub struct AgentsCollector(pub Arc<AgentPoller>);

impl Collector for AgentsCollector {
    fn name(&self) -> &str {
        "agents"
    }

    fn collect(&self) -> Result<Value, String> {
        let agents = self.0.poll();
        let healthy = agents.iter().filter(|a| a["healthy"] == true).count();
        Ok(json!({
            "total": agents.len(),
            "healthy": healthy,
            "unhealthy": agents.len() - healthy,
            "agents": agents,
        }))
    }
}

/// Version adoption per service across the agents: which versions run, on how many
/// agents, and the share of the newest one (the rollout).
#[derive(Clone, Debug)]
pub struct DeploymentsCollector(pub Arc<AgentPoller>);

/// Orders versions numerically by their dotted parts (`1.10.0` after `1.9.3`), text
/// after numbers.
fn version_key(v: &str) -> Vec<(u64, String)> {
    v.trim_start_matches('v')
        .split(['.', '-', '+'])
        .map(|p| (p.parse().unwrap_or(0), p.to_string()))
        .collect()
}

/// Deployments from polled agents (see [`DeploymentsCollector`]).
pub fn deployments(agents: &[Value]) -> Value {
    let mut services: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for a in agents.iter().filter(|a| a["reachable"] == true) {
        let service = a["service"]
            .as_str()
            .or(a["name"].as_str())
            .unwrap_or("unknown")
            .to_string();
        let version = a["version"].as_str().unwrap_or("unknown").to_string();
        *services
            .entry(service)
            .or_default()
            .entry(version)
            .or_insert(0) += 1;
    }
    let out: BTreeMap<String, Value> = services
        .into_iter()
        .map(|(service, versions)| {
            let total: u64 = versions.values().sum();
            let newest = versions
                .keys()
                .filter(|v| *v != "unknown")
                .max_by_key(|v| version_key(v))
                .cloned();
            let shares: BTreeMap<&String, f64> = versions
                .iter()
                .map(|(v, n)| (v, *n as f64 / total as f64))
                .collect();
            let rollout = newest
                .as_ref()
                .and_then(|v| shares.get(v).copied())
                .unwrap_or(0.0);
            (
                service,
                json!({
                    "agents": total,
                    "versions": versions,
                    "shares": shares,
                    "newest_version": newest,
                    "rollout_share": rollout,
                    "complete": rollout >= 1.0,
                }),
            )
        })
        .collect();
    json!({ "services": out })
}

impl Collector for DeploymentsCollector {
    fn name(&self) -> &str {
        "deployments"
    }

    fn collect(&self) -> Result<Value, String> {
        Ok(deployments(&self.0.poll()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_compute_version_shares_and_rollout() {
        let agent = |name: &str, service: &str, version: &str| json!({"name": name, "service": service, "version": version, "reachable": true});
        let d = deployments(&[
            agent("a1", "api", "1.9.3"),
            agent("a2", "api", "1.10.0"),
            agent("a3", "api", "1.10.0"),
            agent("a4", "api", "1.10.0"),
            agent("w1", "worker", "2.0.0"),
            json!({"name": "gone", "service": "api", "reachable": false}),
        ]);
        let api = &d["services"]["api"];
        assert_eq!(api["agents"], 4, "unreachable agents are not counted");
        assert_eq!(api["newest_version"], "1.10.0", "numeric, not text, order");
        assert_eq!(api["rollout_share"], 0.75);
        assert_eq!(api["complete"], false);
        assert_eq!(d["services"]["worker"]["complete"], true);
    }
}
