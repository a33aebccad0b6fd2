//! Fleet collectors and the orchestrator: real host readings, agents polled over HTTP
//! from a real server (Python's `http.server`), deployments computed across them, and a
//! hanging or failing collector that costs the snapshot nothing else.

use automagik_telemetry_server::fleet::{
    AgentTarget, AgentsCollector, Collector, DeploymentsCollector, DockerCollector, HostCollector,
    collect,
};
use automagik_telemetry_testkit::http::StaticServer;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Hangs;

impl Collector for Hangs {
    fn name(&self) -> &str {
        "hangs"
    }
    fn timeout(&self) -> Duration {
        Duration::from_millis(300)
    }
    fn collect(&self) -> Result<Value, String> {
        std::thread::sleep(Duration::from_secs(30));
        Ok(json!("too late"))
    }
}

struct Fails;

impl Collector for Fails {
    fn name(&self) -> &str {
        "fails"
    }
    fn collect(&self) -> Result<Value, String> {
        Err("the source is unreachable".into())
    }
}

#[test]
fn a_hanging_or_failing_collector_costs_the_snapshot_nothing_else() {
    let started = Instant::now();
    let snapshot = collect(&[
        Arc::new(Hangs),
        Arc::new(Fails),
        Arc::new(HostCollector),
        Arc::new(DockerCollector {
            socket: "/nonexistent/docker.sock".into(),
        }),
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cut at the timeouts"
    );
    assert!(snapshot.errors["hangs"].contains("timed out"));
    assert_eq!(snapshot.errors["fails"], "the source is unreachable");
    let host = &snapshot.results["host"];
    assert!(host["cpu"]["count"].as_u64().expect("cpus") >= 1);
    assert!(host["memory"]["total_bytes"].as_u64().expect("memory") > 0);
    assert!(host["disks"].as_array().is_some_and(|d| !d.is_empty()));
    assert!(host["network"].get("lo").is_some(), "{host}");
    assert_eq!(snapshot.results["docker"]["available"], false);
    assert_eq!(
        uuid::Uuid::parse_str(&snapshot.snapshot_id).map(|u| u.get_version_num()),
        Ok(4)
    );
    assert!(snapshot.collected_at.ends_with('Z'));
}

#[test]
fn agents_are_polled_and_deployments_computed_across_them() {
    let server = StaticServer::start(&[
        (
            "a1/health",
            json!({"status": "ok", "version": "1.10.0", "uptime_seconds": 3600, "metrics": {"queue_depth": 3}})
            .to_string(),
        ),
        (
            "a2/health",
            json!({"status": "ok", "version": "1.9.3", "uptime_seconds": 60})
            .to_string(),
        ),
        (
            "a3/health",
            json!({"status": "degraded", "version": "1.10.0"})
            .to_string(),
        ),
    ])
    .expect("start http.server");
    let closed = automagik_telemetry_testkit::free_port();
    let target = |name: &str, url: String| AgentTarget {
        name: name.into(),
        service: Some("checkout".into()),
        url,
    };
    let base = format!("http://127.0.0.1:{}", server.port);
    let targets = vec![
        target("a1", format!("{base}/a1/health")),
        target("a2", format!("{base}/a2/health")),
        target("a3", format!("{base}/a3/health")),
        target("a4", format!("http://127.0.0.1:{closed}/health")),
    ];
    let timeout = Duration::from_secs(5);
    let snapshot = collect(&[
        Arc::new(AgentsCollector {
            targets: targets.clone(),
            request_timeout: timeout,
        }),
        Arc::new(DeploymentsCollector {
            targets,
            request_timeout: timeout,
        }),
    ]);
    assert!(snapshot.errors.is_empty(), "{:?}", snapshot.errors);
    let agents = &snapshot.results["agents"];
    assert_eq!(
        (agents["total"].as_u64(), agents["healthy"].as_u64()),
        (Some(4), Some(2)),
        "a3 reports degraded, a4 is unreachable: {agents}"
    );
    let a1 = &agents["agents"][0];
    assert_eq!(a1["version"], "1.10.0");
    assert_eq!(a1["uptime_seconds"], 3600.0);
    assert_eq!(a1["metrics"]["queue_depth"], 3);
    assert_eq!(agents["agents"][3]["reachable"], false);
    let checkout = &snapshot.results["deployments"]["services"]["checkout"];
    assert_eq!(checkout["agents"], 3);
    assert_eq!(checkout["newest_version"], "1.10.0");
    let share = checkout["rollout_share"].as_f64().expect("share");
    assert!((share - 2.0 / 3.0).abs() < 1e-9, "{checkout}");
}
