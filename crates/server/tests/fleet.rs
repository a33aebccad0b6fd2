//! Fleet collectors and the orchestrator: real host readings, agents polled over HTTP
//! from a real server (Python's `http.server`), deployments computed across them, and a
//! hanging or failing collector that costs the snapshot nothing else. Then the
//! `/telemetry/*` endpoints through the real handlers over a real SQLite store: the
//! token scope each asks for, a collection stored as a chained snapshot that status
//! reads back (after a restart too), the exact public aggregates, the public rate
//! limit, history's parameters, and concurrent collections appending one link each.

use automagik_telemetry_server::fleet::chain::{self, GENESIS};
use automagik_telemetry_server::fleet::{
    AgentPoller, AgentTarget, AgentsCollector, Collector, DeploymentsCollector, DockerCollector,
    Fleet, HostCollector, collect,
};
use automagik_telemetry_server::rows::{Batch, MetricPointRow};
use automagik_telemetry_server::store::rfc3339;
use automagik_telemetry_server::{AppState, Auth, Scope, SqliteStore, StoreWrite, Token, app};
use automagik_telemetry_testkit::http::StaticServer;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tower::ServiceExt;

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
    let at = rfc3339;
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

const INGEST: &str = "fleet-ingest-token-0123456789";
const READ: &str = "fleet-read-token-0123456789";
const ADMIN: &str = "fleet-admin-token-0123456789";

/// A collector that gives the same result every round.
struct Fixed(&'static str, Value);

impl Collector for Fixed {
    fn name(&self) -> &str {
        self.0
    }
    fn collect(&self) -> Result<Value, String> {
        Ok(self.1.clone())
    }
}

/// Agents counted anew each round: `{total: n, healthy: n}` in the n-th round it runs.
#[derive(Default)]
struct Growing(AtomicU64);

impl Collector for Growing {
    fn name(&self) -> &str {
        "agents"
    }
    fn collect(&self) -> Result<Value, String> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(json!({"total": n, "healthy": n}))
    }
}

/// The handlers' state over a fresh SQLite store in `dir`, whose rounds run
/// `collectors` and whose public endpoint answers `per_minute` requests a minute.
fn fleet_state(
    dir: &std::path::Path,
    collectors: &[Arc<dyn Collector>],
    per_minute: u32,
) -> AppState {
    let mut state = AppState::new(Arc::new(SqliteStore::open(dir).expect("open the store")));
    state.fleet = Arc::new(Fleet::new(collectors.to_vec(), per_minute));
    state
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// What an endpoint answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    www_authenticate: Option<String>,
    /// The body as JSON, or as a JSON string when it is not JSON.
    body: Value,
}

/// `method path` with this `Authorization` header (if any) and body.
async fn call(
    state: &AppState,
    method: &str,
    path: &str,
    authorization: Option<String>,
    body: &str,
) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let req = req.body(Body::from(body.to_string())).expect("request");
    let resp = app(state.clone()).oneshot(req).await.expect("response");
    let (status, retry_after, www_authenticate) = {
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        (
            resp.status().as_u16(),
            header("retry-after"),
            header("www-authenticate"),
        )
    };
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Answer {
        status,
        retry_after,
        www_authenticate,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// `GET path` without a token.
async fn get(state: &AppState, path: &str) -> Answer {
    call(state, "GET", path, None, "").await
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

/// `(points, min, max)` over every bucket `GET /telemetry/history` gives for `metric`
/// over the last ten minutes.
async fn history(state: &AppState, metric: &str) -> (u64, Option<f64>, Option<f64>) {
    let path = format!("/telemetry/history?metric={metric}&from=-10m&step=10m");
    let a = get(state, &path).await;
    assert_eq!(a.status, 200, "{path}: {a:?}");
    assert_eq!(a.body["metric"], metric);
    let buckets = a.body["buckets"].as_array().expect("buckets");
    let count: u64 = buckets
        .iter()
        .map(|b| b["count"].as_u64().expect("count"))
        .sum();
    let min = buckets
        .iter()
        .filter_map(|b| b["min"].as_f64())
        .reduce(f64::min);
    let max = buckets
        .iter()
        .filter_map(|b| b["max"].as_f64())
        .reduce(f64::max);
    (count, min, max)
}

/// Status and history need a token with the read scope, collect one with the admin
/// scope (admin may do everything): no token, an unknown one, another scheme or a bare
/// secret is a 401 with its `WWW-Authenticate`, a token without the scope a 403 naming
/// it. The public aggregates need none and ignore one. A method a route does not have
/// is a 405, a path under `/telemetry/` that does not exist a 404.
#[test]
fn each_fleet_endpoint_asks_for_its_token_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut state = fleet_state(
        dir.path(),
        &[Arc::new(Fixed("agents", json!({"total": 1, "healthy": 1})))],
        60,
    );
    state.auth = Arc::new(Auth::new(vec![
        Token::new(INGEST, &[Scope::Ingest]),
        Token::new(READ, &[Scope::Read]),
        Token::new(ADMIN, &[Scope::Admin]),
    ]));
    runtime().block_on(async {
        let unauthenticated = json!({"error": "a valid bearer token is required"});
        for (method, path, scope) in [
            ("GET", "/telemetry/status", "read"),
            ("GET", "/telemetry/history?metric=agents.total", "read"),
            ("POST", "/telemetry/collect", "admin"),
        ] {
            for authorization in [
                None,
                bearer("unknown-token-0123456789"),
                Some(format!("Basic {READ}")),
                Some(READ.to_string()),
            ] {
                let a = call(&state, method, path, authorization.clone(), "").await;
                assert_eq!(a.status, 401, "{method} {path} {authorization:?}: {a:?}");
                assert_eq!(a.body, unauthenticated);
                assert_eq!(
                    a.www_authenticate.as_deref(),
                    Some("Bearer realm=\"automagik-telemetry\"")
                );
            }
            let (lacking, allowed) = if scope == "read" {
                (vec![INGEST], vec![READ, ADMIN])
            } else {
                (vec![INGEST, READ], vec![ADMIN])
            };
            for token in lacking {
                let a = call(&state, method, path, bearer(token), "").await;
                assert_eq!(a.status, 403, "{method} {path} {token}: {a:?}");
                assert_eq!(
                    a.body,
                    json!({"error": format!("this token lacks the {scope} scope")})
                );
                assert_eq!(a.www_authenticate, None);
            }
            for token in allowed {
                let a = call(&state, method, path, bearer(token), "").await;
                assert_eq!(a.status, 200, "{method} {path} {token}: {a:?}");
            }
        }
        // The scheme is case-insensitive.
        let a = call(
            &state,
            "GET",
            "/telemetry/status",
            Some(format!("bearer {READ}")),
            "",
        )
        .await;
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.body["snapshot"]["results"]["agents"]["total"], 1);

        for authorization in [None, bearer("unknown-token-0123456789"), bearer(INGEST)] {
            let a = call(&state, "GET", "/telemetry/public", authorization, "").await;
            assert_eq!(a.status, 200, "{a:?}");
            assert_eq!(a.body["agents"]["total"], 1, "{a:?}");
        }
        for (method, path) in [
            ("GET", "/telemetry/collect"),
            ("POST", "/telemetry/status"),
            ("DELETE", "/telemetry/history"),
            ("POST", "/telemetry/public"),
            ("PUT", "/telemetry/public"),
        ] {
            let a = call(&state, method, path, bearer(ADMIN), "").await;
            assert_eq!(a.status, 405, "{method} {path}: {a:?}");
        }
        let a = call(&state, "GET", "/telemetry/snapshots", bearer(ADMIN), "").await;
        assert_eq!(a.status, 404, "{a:?}");
    });
}

/// Before any round, status, public and history say there is nothing. A collection
/// (its request body ignored) answers its id, position and hash; status then shows the
/// snapshot in full with the collectors' results and errors, and its link, whose hash is
/// over the previous hash and the body as stored. The next round links to it. Another
/// server over the same store reads the newest snapshot from the store, and its own
/// rounds continue the chain.
#[test]
fn a_collection_is_a_chained_snapshot_that_status_reads_back_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let agents = json!({"total": 2, "healthy": 1, "agents": [{"name": "a1"}, {"name": "a2"}]});
    let probes = json!({"total": 1, "up": 1, "targets": []});
    let state = fleet_state(
        dir.path(),
        &[
            Arc::new(Fixed("agents", agents.clone())),
            Arc::new(Fixed("probes", probes.clone())),
            Arc::new(Fails),
        ],
        60,
    );
    let results = json!({"agents": agents, "probes": probes});
    runtime().block_on(async {
        let a = get(&state, "/telemetry/status").await;
        assert_eq!(
            (a.status, a.body),
            (200, json!({"snapshot": null, "chain": null}))
        );
        let a = get(&state, "/telemetry/public").await;
        assert_eq!((a.status, a.body), (200, json!({"collected_at": null})));
        assert_eq!(history(&state, "agents.total").await, (0, None, None));

        let first = call(&state, "POST", "/telemetry/collect", None, "{not json").await;
        assert_eq!(first.status, 200, "{first:?}");
        let c = &first.body;
        let mut keys: Vec<&str> = c
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "collected_at",
                "duration_ms",
                "failed_collectors",
                "hash",
                "seq",
                "snapshot_id"
            ]
        );
        assert_eq!(c["seq"], 1);
        assert_eq!(c["failed_collectors"], 1);
        assert!(c["duration_ms"].as_f64().is_some(), "{c}");
        let id1 = c["snapshot_id"].as_str().expect("id").to_string();
        assert_eq!(
            uuid::Uuid::parse_str(&id1).map(|u| u.get_version_num()),
            Ok(4)
        );
        let h1 = c["hash"].as_str().expect("hash").to_string();
        assert!(
            h1.len() == 64
                && h1
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{h1}"
        );

        let status = get(&state, "/telemetry/status").await.body;
        let snap = &status["snapshot"];
        assert_eq!(snap["snapshot_id"], id1.as_str());
        assert_eq!(snap["collected_at"], c["collected_at"]);
        let at = snap["collected_at_unix_nano"].as_u64().expect("ns");
        assert_eq!(snap["collected_at"], rfc3339(at));
        assert_eq!(snap["results"], results);
        assert_eq!(
            snap["errors"],
            json!({"fails": "the source is unreachable"})
        );
        assert_eq!(
            status["chain"],
            json!({"seq": 1, "hash": h1.as_str(), "prev_hash": GENESIS})
        );
        // As stored: the same link, its hash over the previous one and the body.
        let link = state.store.last_snapshot().expect("read").expect("a link");
        assert_eq!(
            (link.seq, link.snapshot_id.as_str(), link.hash.as_str()),
            (1, id1.as_str(), h1.as_str())
        );
        assert_eq!(link.prev_hash, GENESIS);
        assert_eq!(link.hash, chain::hash(GENESIS, &link.body));
        let stored: Value = serde_json::from_str(&link.body).expect("stored JSON");
        assert_eq!(stored["results"], results);
        assert_eq!(stored["snapshot_id"], id1.as_str());

        let second = call(&state, "POST", "/telemetry/collect", None, "")
            .await
            .body;
        assert_eq!(second["seq"], 2);
        let status = get(&state, "/telemetry/status").await.body;
        assert_eq!(status["chain"]["seq"], 2);
        assert_eq!(status["chain"]["prev_hash"], h1.as_str());
        assert_eq!(status["chain"]["hash"], second["hash"]);
        assert_eq!(status["snapshot"]["snapshot_id"], second["snapshot_id"]);
        let links = state.store.snapshot_links(0, 10).expect("links");
        assert_eq!(links.len(), 2);
        assert_eq!(chain::verify(&links), None);

        // Another server over the same store: the newest snapshot comes from the store.
        let mut restarted = AppState::new(state.store.clone());
        restarted.fleet = Arc::new(Fleet::new(vec![], 60));
        let again = get(&restarted, "/telemetry/status").await.body;
        assert_eq!(again["chain"], status["chain"]);
        assert_eq!(again["snapshot"]["snapshot_id"], second["snapshot_id"]);
        assert_eq!(again["snapshot"]["results"], results);
        let public = get(&restarted, "/telemetry/public").await.body;
        assert_eq!(public["collectors"], json!({"ok": 2, "failed": 1}));
        assert_eq!(
            public["agents"],
            json!({"total": 2, "healthy": 1, "unhealthy": 1, "health_ratio": 0.5})
        );
        // Its own round (no collectors) continues the chain.
        let third = call(&restarted, "POST", "/telemetry/collect", None, "")
            .await
            .body;
        assert_eq!(third["seq"], 3);
        assert_eq!(third["failed_collectors"], 0);
        let status = get(&restarted, "/telemetry/status").await.body;
        assert_eq!(status["chain"]["prev_hash"], second["hash"]);
        assert_eq!(status["snapshot"]["results"], json!({}));
        assert_eq!(status["snapshot"]["errors"], json!({}));
        let links = state.store.snapshot_links(0, 10).expect("links");
        assert_eq!(links.len(), 3);
        assert_eq!(chain::verify(&links), None);
        // Links after a position, at most a limit.
        let page = state.store.snapshot_links(1, 1).expect("links");
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].seq, 2);
    });
}

/// Every collector kind the public view reads, with names, addresses, secrets and
/// custom metrics in them, and a failing collector: the public view is exactly the
/// aggregates, and each number of it is stored as a `fleet.*` gauge that history reads.
#[test]
fn the_public_view_is_exactly_the_aggregates_and_its_numbers_have_a_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = fleet_state(
        dir.path(),
        &[
            Arc::new(Fixed(
                "agents",
                json!({"total": 4, "healthy": 3, "agents": [
                    {"name": "payroll-agent-zx81", "url": "http://10.1.2.3:9000/health",
                     "metrics": {"cost_usd": 4242.42}}
                ]}),
            )),
            Arc::new(Fixed(
                "deployments",
                json!({"services": {
                    "vault-billing": {
                        "versions": {"1.2.0": 2, "1.2.0-sk_live_abc": 1},
                        "complete": false,
                    },
                    "search": {"versions": {"1.2.0": 1}, "complete": true},
                }}),
            )),
            Arc::new(Fixed(
                "docker",
                json!({"available": true, "total": 5, "running": 4,
                       "containers": [{"name": "secret-db", "image": "corp/secret:1"}]}),
            )),
            Arc::new(Fixed(
                "probes",
                json!({"total": 2, "up": 1, "targets": [
                    {"name": "zz-db", "url": "postgres://u:pw@db:5432", "state": "down",
                     "latency_ms": null, "since": "2026-01-02T03:04:05Z",
                     "reason": "connection refused"},
                    {"name": "aa-api", "url": "http://api.internal/health", "state": "up",
                     "latency_ms": 12.3456, "since": "2026-01-02T03:00:00Z"},
                ]}),
            )),
            Arc::new(Fails),
        ],
        60,
    );
    runtime().block_on(async {
        let collected = call(&state, "POST", "/telemetry/collect", None, "").await;
        assert_eq!(collected.status, 200, "{collected:?}");
        let public = get(&state, "/telemetry/public").await;
        assert_eq!(public.status, 200, "{public:?}");
        assert_eq!(
            public.body,
            json!({
                "collected_at": collected.body["collected_at"],
                "collectors": {"ok": 4, "failed": 1},
                "agents": {"total": 4, "healthy": 3, "unhealthy": 1, "health_ratio": 0.75},
                "deployments": {
                    "services": 2,
                    "rollouts_complete": 1,
                    "rollouts_in_progress": 1,
                    "versions": {
                        "1.2.0": {"agents": 3, "share": 0.75},
                        "other": {"agents": 1, "share": 0.25},
                    },
                },
                "containers": {"available": true, "total": 5, "running": 4},
                "probes": {
                    "total": 2,
                    "up": 1,
                    "health_ratio": 0.5,
                    // By the names they do not show.
                    "targets": [
                        {"state": "up", "latency_ms": 12.35, "since": "2026-01-02T03:00:00Z"},
                        {"state": "down", "latency_ms": null, "since": "2026-01-02T03:04:05Z"},
                    ],
                },
            })
        );
        for (metric, want) in [
            ("agents.healthy", (1, Some(3.0), Some(3.0))),
            ("agents.unhealthy", (1, Some(1.0), Some(1.0))),
            ("agents.health_ratio", (1, Some(0.75), Some(0.75))),
            ("collectors.failed", (1, Some(1.0), Some(1.0))),
            ("containers.available", (1, Some(1.0), Some(1.0))),
            ("containers.running", (1, Some(4.0), Some(4.0))),
            (
                "deployments.rollouts_in_progress",
                (1, Some(1.0), Some(1.0)),
            ),
            // One gauge per version, told apart by an attribute.
            ("deployments.version_share", (2, Some(0.25), Some(0.75))),
            ("probes.health_ratio", (1, Some(0.5), Some(0.5))),
            // Lists and texts are no gauges.
            ("probes.targets", (0, None, None)),
            ("collected_at", (0, None, None)),
        ] {
            assert_eq!(history(&state, metric).await, want, "{metric}");
        }
    });
}

/// The public endpoint answers each address its number of times a minute, then 429
/// with `Retry-After` (within the minute) and a JSON error; requests without a snapshot
/// count too, and the internal endpoints are not limited. A limit of 0 closes it: the
/// first request waits the whole minute.
#[test]
fn the_public_endpoint_is_rate_limited_and_a_zero_limit_closes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = fleet_state(dir.path(), &[], 2);
    let closed_dir = tempfile::tempdir().expect("tempdir");
    let closed = fleet_state(closed_dir.path(), &[], 0);
    runtime().block_on(async {
        for _ in 0..2 {
            let a = get(&state, "/telemetry/public").await;
            assert_eq!((a.status, &a.body), (200, &json!({"collected_at": null})));
            assert_eq!(a.retry_after, None);
        }
        let a = get(&state, "/telemetry/public").await;
        assert_eq!(a.status, 429, "{a:?}");
        assert_eq!(a.body, json!({"error": "too many requests; retry later"}));
        let wait: u64 = a
            .retry_after
            .as_deref()
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!((1..=60).contains(&wait), "{wait}");
        for _ in 0..5 {
            assert_eq!(get(&state, "/telemetry/status").await.status, 200);
        }

        let a = get(&closed, "/telemetry/public").await;
        assert_eq!(a.status, 429, "{a:?}");
        assert_eq!(a.retry_after.as_deref(), Some("60"));
    });
}

/// Without a range, history covers the last hour in 30 s buckets; each mistake in its
/// parameters is a 400 that says what is wrong.
#[test]
fn history_defaults_to_the_last_hour_and_refuses_bad_parameters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = fleet_state(dir.path(), &[], 60);
    runtime().block_on(async {
        let a = get(&state, "/telemetry/history?metric=agents.total").await;
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.body["step_seconds"], 30.0);
        assert_eq!(a.body["buckets"], json!([]));
        let time = |key: &str| {
            automagik_telemetry_core::time::parse_rfc3339(a.body[key].as_str().expect(key))
                .expect(key)
        };
        assert_eq!(time("to") - time("from"), 3_600_000_000_000);

        let time_error = |key: &str| {
            format!("{key}: expected RFC 3339 (2026-11-22T03:00:00Z) or a relative time like -1h")
        };
        for (query, want) in [
            (
                "",
                "metric is required, e.g. metric=agents.healthy".to_string(),
            ),
            (
                "?metric=%20",
                "metric is required, e.g. metric=agents.healthy".to_string(),
            ),
            (
                "?metric=x&from=-1h&to=-2h",
                "from must not be after to".to_string(),
            ),
            ("?metric=x&from=yesterday", time_error("from")),
            ("?metric=x&to=soon", time_error("to")),
            (
                "?metric=x&from=-30d&step=1s",
                "step: too small for the range (more than 10000 buckets)".to_string(),
            ),
            (
                "?metric=x&step=fast",
                "step: expected a duration such as 5s, 250ms, 2m, 1h or 7d \
                 (a bare number is seconds), got \"fast\""
                    .to_string(),
            ),
            (
                "?metric=x&limit=10",
                "unknown parameter \"limit\"; expected one of metric, from, to, step".to_string(),
            ),
        ] {
            let a = get(&state, &format!("/telemetry/history{query}")).await;
            assert_eq!(a.status, 400, "{query}: {a:?}");
            assert_eq!(a.body, json!({"error": want}), "{query}");
        }
    });
}

/// Four collections at once: rounds run one at a time, each appending one link, so
/// the n-th link holds the n-th round; the chain verifies, status shows the last, and
/// history has every round's gauge.
#[test]
fn concurrent_collections_append_one_link_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = fleet_state(dir.path(), &[Arc::new(Growing::default())], 60);
    let rt = runtime();
    let answers = rt.block_on(async {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let state = state.clone();
                tokio::spawn(async move {
                    call(&state, "POST", "/telemetry/collect", bearer(ADMIN), "").await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for h in handles {
            answers.push(h.await.expect("a collection"));
        }
        answers
    });
    let mut seqs: Vec<u64> = answers
        .iter()
        .map(|a| a.body["seq"].as_u64().unwrap_or_else(|| panic!("{a:?}")))
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let links = state.store.snapshot_links(0, 10).expect("links");
    assert_eq!(links.len(), 4);
    assert_eq!(chain::verify(&links), None);
    for link in &links {
        let body: Value = serde_json::from_str(&link.body).expect("stored JSON");
        assert_eq!(
            body["results"]["agents"]["total"], link.seq,
            "round {} is link {}",
            body["results"]["agents"]["total"], link.seq
        );
    }
    rt.block_on(async {
        let status = get(&state, "/telemetry/status").await.body;
        assert_eq!(status["chain"]["seq"], 4);
        assert_eq!(status["chain"]["hash"], links[3].hash.as_str());
        assert_eq!(status["snapshot"]["results"]["agents"]["total"], 4);
        assert_eq!(
            history(&state, "agents.total").await,
            (4, Some(1.0), Some(4.0))
        );
    });
}
