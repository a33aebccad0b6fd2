//! Fleet collectors and the orchestrator: real host readings, agents polled over HTTP
//! from a real server (Python's `http.server`), deployments computed across them, and a
//! hanging or failing collector that costs the snapshot nothing else.

use automagik_telemetry_server::fleet::{
    AgentPoller, AgentTarget, AgentsCollector, Collector, DeploymentsCollector, DockerCollector,
    HostCollector, collect,
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
    let poller = Arc::new(AgentPoller::new(targets, Duration::from_secs(5)));
    let snapshot = collect(&[
        Arc::new(AgentsCollector(poller.clone())),
        Arc::new(DeploymentsCollector(poller)),
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

/// `/telemetry/history` over a known series: points of `fleet.agents.healthy` at known
/// times, cut into one-minute buckets.
#[test]
fn history_returns_the_buckets_of_a_known_series() {
    use automagik_telemetry_server::rows::{Batch, MetricPointRow};
    use automagik_telemetry_server::{AppState, SqliteStore, StoreWrite, app};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    const S: u64 = 1_000_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(dir.path()).expect("open"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    // A whole minute half an hour ago.
    let t0 = (now - 1800 * S) / (60 * S) * (60 * S);
    let point = |name: &str, at: u64, v: f64| {
        MetricPointRow::number(name, "automagik-telemetry", "gauge", at, Some(v), "{}")
    };
    let healthy = "fleet.agents.healthy";
    store
        .insert(Batch {
            metric_points: vec![
                point(healthy, t0 - 30 * S, 100.0), // before the range
                point(healthy, t0, 1.0),
                point(healthy, t0 + 20 * S, 3.0),
                point(healthy, t0 + 40 * S, 5.0),
                point(healthy, t0 + 60 * S, 4.0),
                point(healthy, t0 + 150 * S, 10.0),
                point(healthy, t0 + 179 * S, 20.0),
                point(healthy, t0 + 200 * S, 100.0), // after the range
                point("fleet.agents.total", t0 + 10 * S, 50.0), // another metric
            ],
            ..Default::default()
        })
        .expect("insert");
    let state = AppState::new(store);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let get = |path: String| {
        let app = app(state.clone());
        rt.block_on(async move {
            let resp = app
                .oneshot(Request::get(&path).body(Body::empty()).expect("request"))
                .await
                .expect("response");
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("body");
            (
                status,
                serde_json::from_slice::<Value>(&body).expect("json body"),
            )
        })
    };
    let at = automagik_telemetry_server::store::rfc3339;
    let range = format!("from={}&to={}", at(t0), at(t0 + 179 * S));
    for metric in ["agents.healthy", "fleet.agents.healthy"] {
        let (status, v) = get(format!(
            "/telemetry/history?metric={metric}&{range}&step=1m"
        ));
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["metric"], "agents.healthy");
        assert_eq!(v["step_seconds"], 60.0);
        let buckets: Vec<(String, u64, f64, f64, f64)> = v["buckets"]
            .as_array()
            .expect("buckets")
            .iter()
            .map(|b| {
                (
                    b["time_unix_nano"].as_str().expect("time").to_string(),
                    b["count"].as_u64().expect("count"),
                    b["min"].as_f64().expect("min"),
                    b["max"].as_f64().expect("max"),
                    b["avg"].as_f64().expect("avg"),
                )
            })
            .collect();
        assert_eq!(
            buckets,
            vec![
                (t0.to_string(), 3, 1.0, 5.0, 3.0),
                ((t0 + 60 * S).to_string(), 1, 4.0, 4.0, 4.0),
                ((t0 + 120 * S).to_string(), 2, 10.0, 20.0, 15.0),
            ]
        );
    }
    // Thirty-second steps split the first minute.
    let (_, v) = get(format!(
        "/telemetry/history?metric=agents.healthy&{range}&step=30s"
    ));
    let counts: Vec<u64> = v["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b["count"].as_u64().expect("count"))
        .collect();
    assert_eq!(counts, vec![2, 1, 1, 2]);
    for (query, want) in [
        (format!("{range}&step=1m"), "metric is required"),
        (format!("metric=x&{range}&step=500ms"), "at least 1s"),
        (format!("metric=x&{range}&bucket=1m"), "unknown parameter"),
    ] {
        let (status, v) = get(format!("/telemetry/history?{query}"));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            v["error"].as_str().expect("error").contains(want),
            "{query}: {v}"
        );
    }
}
