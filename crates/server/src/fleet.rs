//! Fleet telemetry: collectors behind one trait and an orchestrator that runs them in
//! parallel, each within its own timeout, into one snapshot
//! `{snapshot_id, collected_at, duration_ms, results, errors}`. A collector that fails
//! or hangs only adds an entry to `errors`; the others' results are kept.
//!
//! Collectors: [`HostCollector`] (CPU, memory, disks, network of this machine),
//! [`AgentsCollector`] (polls configured health URLs: status, version, uptime, custom
//! metrics), [`DeploymentsCollector`] (version adoption and rollout share per service
//! across the same agents) and [`DockerCollector`] (containers from the Docker Engine API
//! on its unix socket; a machine without the socket is reported as such, not as an
//! error).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A source of fleet data. `collect` may block; the orchestrator runs it on a thread
/// of its own and stops waiting at [`Collector::timeout`].
pub trait Collector: Send + Sync {
    /// Key of its result in the snapshot.
    fn name(&self) -> &str;
    /// How long the orchestrator waits for it.
    fn timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
    /// Its result, or why there is none.
    fn collect(&self) -> Result<Value, String>;
}

/// One collection round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// UUID v4.
    pub snapshot_id: String,
    /// RFC 3339.
    pub collected_at: String,
    /// The same instant, ns.
    pub collected_at_unix_nano: u64,
    /// How long the round took.
    pub duration_ms: f64,
    /// Results by collector name.
    pub results: BTreeMap<String, Value>,
    /// Errors by collector name (failures and timeouts).
    pub errors: BTreeMap<String, String>,
}

/// Runs every collector in parallel and waits for each up to its own timeout.
/// Collectors still running then are left to finish on their own; their results are
/// dropped and their timeout recorded.
pub fn collect(collectors: &[Arc<dyn Collector>]) -> Snapshot {
    let started = Instant::now();
    let now = crate::query::now_ns();
    let pending: Vec<_> = collectors
        .iter()
        .map(|c| {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let collector = c.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("collector-{}", c.name()))
                .spawn(move || {
                    let _ = tx.send(collector.collect());
                });
            (c.clone(), rx, spawned.is_ok())
        })
        .collect();
    let mut results = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for (c, rx, spawned) in pending {
        let name = c.name().to_string();
        if !spawned {
            errors.insert(name, "could not start a thread".into());
            continue;
        }
        let deadline = started + c.timeout();
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Ok(v)) => {
                results.insert(name, v);
            }
            Ok(Err(e)) => {
                errors.insert(name, e);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                errors.insert(name, format!("timed out after {:?}", c.timeout()));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                errors.insert(name, "the collector panicked".into());
            }
        }
    }
    Snapshot {
        snapshot_id: uuid::Uuid::new_v4().to_string(),
        collected_at: crate::store::rfc3339(now),
        collected_at_unix_nano: now,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        results,
        errors,
    }
}

/// CPU, memory, disks and network interfaces of this machine.
#[derive(Debug, Default)]
pub struct HostCollector;

impl Collector for HostCollector {
    fn name(&self) -> &str {
        "host"
    }

    fn collect(&self) -> Result<Value, String> {
        use sysinfo::{Disks, Networks, System};
        let mut sys = System::new();
        sys.refresh_cpu_usage();
        // CPU usage is a difference between two readings.
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.max(Duration::from_millis(200)));
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        let load = System::load_average();
        let disks: Vec<Value> = Disks::new_with_refreshed_list()
            .iter()
            .map(|d| {
                json!({
                    "mount_point": d.mount_point().display().to_string(),
                    "total_bytes": d.total_space(),
                    "available_bytes": d.available_space(),
                })
            })
            .collect();
        let networks: BTreeMap<String, Value> = Networks::new_with_refreshed_list()
            .iter()
            .map(|(name, n)| {
                (
                    name.clone(),
                    json!({
                        "received_bytes": n.total_received(),
                        "transmitted_bytes": n.total_transmitted(),
                    }),
                )
            })
            .collect();
        Ok(json!({
            "hostname": System::host_name(),
            "os": System::long_os_version(),
            "uptime_seconds": System::uptime(),
            "cpu": {
                "count": sys.cpus().len(),
                "usage_percent": sys.global_cpu_usage(),
                "load_1m": load.one,
                "load_5m": load.five,
                "load_15m": load.fifteen,
            },
            "memory": {
                "total_bytes": sys.total_memory(),
                "used_bytes": sys.used_memory(),
                "available_bytes": sys.available_memory(),
            },
            "disks": disks,
            "network": networks,
        }))
    }
}

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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
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

/// Containers from the Docker Engine API on its unix socket.
#[derive(Clone, Debug)]
pub struct DockerCollector {
    /// Usually `/var/run/docker.sock`.
    pub socket: std::path::PathBuf,
}

impl Default for DockerCollector {
    fn default() -> Self {
        DockerCollector {
            socket: "/var/run/docker.sock".into(),
        }
    }
}

/// Containers of a `GET /containers/json?all=1` answer, summarised.
pub fn containers(list: &Value) -> Value {
    let items: Vec<Value> = list
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    json!({
                        "id": c["Id"].as_str().map(|id| id.chars().take(12).collect::<String>()),
                        "name": c["Names"][0].as_str().map(|n| n.trim_start_matches('/')),
                        "image": c["Image"],
                        "state": c["State"],
                        "status": c["Status"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let running = items.iter().filter(|c| c["state"] == "running").count();
    json!({
        "available": true,
        "total": items.len(),
        "running": running,
        "containers": items,
    })
}

impl Collector for DockerCollector {
    fn name(&self) -> &str {
        "docker"
    }

    fn collect(&self) -> Result<Value, String> {
        use std::io::{Read, Write};
        if !self.socket.exists() {
            return Ok(json!({
                "available": false,
                "reason": format!("no Docker socket at {}", self.socket.display()),
            }));
        }
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket)
            .map_err(|e| format!("cannot connect to {}: {e}", self.socket.display()))?;
        stream
            .set_read_timeout(Some(self.timeout()))
            .map_err(|e| e.to_string())?;
        // HTTP/1.0: the engine closes the connection after its answer.
        stream
            .write_all(b"GET /containers/json?all=1 HTTP/1.0\r\nHost: docker\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream
            .take(16 << 20)
            .read_to_end(&mut answer)
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or("the Docker engine's answer has no body")?;
        let ok = head.starts_with("HTTP/1.") && head.split(' ').nth(1) == Some("200");
        if !ok {
            return Err(format!(
                "the Docker engine answered {}",
                head.lines().next().unwrap_or("")
            ));
        }
        let list: Value = serde_json::from_str(body.trim())
            .map_err(|e| format!("the Docker engine's answer is not JSON: {e}"))?;
        Ok(containers(&list))
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

    #[test]
    fn docker_containers_are_summarised_and_a_missing_socket_is_not_an_error() {
        let list = json!([
            {"Id": "0123456789abcdef", "Names": ["/web"], "Image": "nginx", "State": "running", "Status": "Up 2 hours"},
            {"Id": "fedcba9876543210", "Names": ["/job"], "Image": "busybox", "State": "exited", "Status": "Exited (0)"}
        ]);
        let c = containers(&list);
        assert_eq!(
            (c["total"].as_u64(), c["running"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(c["containers"][0]["id"], "0123456789ab");
        assert_eq!(c["containers"][0]["name"], "web");
        let absent = DockerCollector {
            socket: "/nonexistent/docker.sock".into(),
        }
        .collect()
        .expect("absent is a result");
        assert_eq!(absent["available"], false);
    }
}

/// The hash chain over stored snapshots: each link is SHA-256 over the previous link's
/// hash and the snapshot's canonical JSON (object keys sorted, no spaces), so changing,
/// removing or reordering a stored snapshot breaks every later link.
pub mod chain {
    use serde_json::Value;
    use sha2::{Digest, Sha256};

    /// The hash before the first snapshot.
    pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    /// One stored link: the snapshot as stored and the hashes stored beside it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Link {
        /// Position in the chain, from 1.
        pub seq: u64,
        /// The snapshot's id.
        pub snapshot_id: String,
        /// The snapshot's canonical JSON.
        pub body: String,
        /// The previous link's hash.
        pub prev_hash: String,
        /// This link's hash.
        pub hash: String,
    }

    /// A value's canonical JSON: keys sorted at every depth, no whitespace.
    pub fn canonical(value: &Value) -> String {
        fn sorted(v: &Value) -> Value {
            match v {
                Value::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    Value::Object(
                        keys.into_iter()
                            .map(|k| (k.clone(), sorted(&map[k])))
                            .collect(),
                    )
                }
                Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
                other => other.clone(),
            }
        }
        sorted(value).to_string()
    }

    /// The hash of a link.
    pub fn hash(prev_hash: &str, body: &str) -> String {
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(b"\n");
        h.update(body.as_bytes());
        hex::encode(h.finalize())
    }

    /// The link that follows `prev` (or starts the chain) for `snapshot`.
    pub fn next(prev: Option<&Link>, snapshot_id: &str, snapshot: &Value) -> Link {
        let prev_hash = prev.map_or(GENESIS.to_string(), |p| p.hash.clone());
        let body = canonical(snapshot);
        Link {
            seq: prev.map_or(1, |p| p.seq + 1),
            snapshot_id: snapshot_id.to_string(),
            hash: hash(&prev_hash, &body),
            prev_hash,
            body,
        }
    }

    /// Why the chain breaks at a link.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Broken {
        /// The link's position.
        pub seq: u64,
        /// Its snapshot id.
        pub snapshot_id: String,
        /// What is wrong.
        pub reason: String,
    }

    /// Checks a chain link by link, in stored order, from its first link; it can be fed
    /// one page at a time.
    #[derive(Clone, Debug)]
    pub struct Verifier {
        checked: u64,
        expected_prev: String,
    }

    impl Default for Verifier {
        fn default() -> Self {
            Verifier {
                checked: 0,
                expected_prev: GENESIS.to_string(),
            }
        }
    }

    impl Verifier {
        /// Checks the next link; why it breaks the chain, if it does.
        pub fn check(&mut self, link: &Link) -> Option<Broken> {
            let position = self.checked + 1;
            let broken = |reason: String| {
                Some(Broken {
                    seq: link.seq,
                    snapshot_id: link.snapshot_id.clone(),
                    reason,
                })
            };
            if link.seq != position {
                return broken(format!(
                    "position {position} holds link {}: a snapshot before it was removed or moved",
                    link.seq
                ));
            }
            if link.prev_hash != self.expected_prev {
                return broken("its previous hash is not the hash of the link before it: a snapshot before it was removed, moved or altered".into());
            }
            if hash(&link.prev_hash, &link.body) != link.hash {
                return broken(
                    "its content does not match its hash: the snapshot was altered".into(),
                );
            }
            self.checked = position;
            self.expected_prev.clone_from(&link.hash);
            None
        }

        /// Links checked and found intact.
        pub fn checked(&self) -> u64 {
            self.checked
        }

        /// The hash of the last intact link (the genesis hash before any).
        pub fn head(&self) -> &str {
            &self.expected_prev
        }
    }

    /// Checks links in stored order; the first broken one, if any.
    pub fn verify(links: &[Link]) -> Option<Broken> {
        let mut verifier = Verifier::default();
        links.iter().find_map(|l| verifier.check(l))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::json;

        fn chain(n: usize) -> Vec<Link> {
            let mut links: Vec<Link> = Vec::new();
            for i in 0..n {
                let link = next(
                    links.last(),
                    &format!("s{i}"),
                    &json!({"i": i, "b": {"z": 1, "a": [2, 1]}}),
                );
                links.push(link);
            }
            links
        }

        #[test]
        fn canonical_json_sorts_keys_at_every_depth() {
            assert_eq!(
                canonical(&json!({"b": 1, "a": {"d": [{"y": 1, "x": 2}], "c": null}})),
                r#"{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}"#
            );
        }

        #[test]
        fn an_untouched_chain_verifies_and_each_tampering_is_named() {
            let links = chain(4);
            assert_eq!(verify(&links), None);
            // Altered content.
            let mut altered = links.clone();
            altered[2].body = altered[2].body.replace("\"i\":2", "\"i\":20");
            assert_eq!(verify(&altered).map(|b| b.snapshot_id), Some("s2".into()));
            // Removed.
            let mut removed = links.clone();
            removed.remove(1);
            assert_eq!(verify(&removed).map(|b| b.snapshot_id), Some("s2".into()));
            // Reordered.
            let mut reordered = links.clone();
            reordered.swap(1, 2);
            assert_eq!(verify(&reordered).map(|b| b.snapshot_id), Some("s2".into()));
            // Altered and re-hashed alone: the next link no longer follows it.
            let mut rehashed = links.clone();
            rehashed[1].body = rehashed[1].body.replace("\"i\":1", "\"i\":10");
            rehashed[1].hash = hash(&rehashed[1].prev_hash, &rehashed[1].body);
            assert_eq!(verify(&rehashed).map(|b| b.snapshot_id), Some("s2".into()));
        }
    }
}
