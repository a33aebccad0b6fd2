//! Query parameters against the real handlers over a real SQLite store: steps that
//! would divide by zero or overflow, the default step of long ranges, name listings
//! bounded by `limit`, and probe URLs whose secrets never show.

use automagik_telemetry_server::fleet::{Collector, Fleet};
use automagik_telemetry_server::probe::Target;
use automagik_telemetry_server::rows::{Batch, MetricPointRow, SpanRow};
use automagik_telemetry_server::runtime::jobs::Probes;
use automagik_telemetry_server::runtime::periodic::Job;
use automagik_telemetry_server::{AppState, SqliteStore, app};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tower::ServiceExt;

const SECOND: u64 = 1_000_000_000;
const HOUR: u64 = 3600 * SECOND;

fn state(dir: &std::path::Path) -> AppState {
    AppState::new(Arc::new(SqliteStore::open(dir).expect("open store")))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn now_ns() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(since.as_nanos()).expect("before 2554")
}

/// The status and body of `GET path`.
async fn get(state: &AppState, path: &str) -> (StatusCode, String) {
    let req = Request::get(path).body(Body::empty()).expect("request");
    let resp = app(state.clone()).oneshot(req).await.expect("response");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The JSON of `GET path`, which must answer 200.
async fn get_json(state: &AppState, path: &str) -> Value {
    let (status, body) = get(state, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// The `error` of `GET path`, which must answer 400.
async fn refusal(state: &AppState, path: &str) -> String {
    let (status, body) = get(state, path).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v["error"].as_str().expect("error").to_string()
}

/// A span of `service` numbered `n`, lasting 1 ms from `start`.
fn span(service: &str, n: u64, start: u64) -> SpanRow {
    SpanRow {
        trace_id: format!("{:032x}", n + 1),
        span_id: format!("{:016x}", n + 1),
        parent_span_id: String::new(),
        name: "op".into(),
        service_name: service.into(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000_000,
        status_code: 0,
        status_message: String::new(),
        attributes: "{}".into(),
        events: "[]".into(),
        resource: "{}".into(),
        ..SpanRow::default()
    }
}

#[test]
fn zero_and_absurd_steps_are_a_400_naming_step_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    runtime().block_on(async {
        for path in [
            "/api/v1/overview?step=0",
            "/api/v1/overview?step=0s",
            "/api/v1/overview?step=0.1ns",
            "/api/v1/overview?from=-7d&step=0",
            "/api/v1/overview?step=3651d",
            "/api/v1/overview?step=99999999999d",
            "/api/v1/overview/chart.svg?step=0s",
            "/api/v1/overview/chart.svg?from=-7d&step=0",
            "/api/v1/metrics/m/series?step=0",
            "/api/v1/metrics/m/series?step=0&group_by=k",
            "/api/v1/metrics/m/series?step=99999999999d&group_by=k",
            "/api/v1/metrics/m/chart.svg?step=0s",
            "/telemetry/history?metric=agents.healthy&step=0",
            "/telemetry/history?metric=agents.healthy&step=3651d",
        ] {
            let error = refusal(&state, path).await;
            assert!(error.starts_with("step:"), "{path}: {error}");
        }
        // The longest step accepted cuts any range into one step, without overflow.
        for path in [
            "/api/v1/overview?step=3650d",
            "/api/v1/overview?from=-30d&step=3650d",
            "/api/v1/metrics/m/series?agg=max&step=3650d",
            "/api/v1/metrics/m/series?agg=max&step=3650d&group_by=k",
            "/telemetry/history?metric=agents.healthy&step=3650d",
        ] {
            get_json(&state, path).await;
        }
        let (status, _) = get(&state, "/api/v1/overview/chart.svg?step=3650d").await;
        assert_eq!(status, StatusCode::OK);
        // A range of one instant at the end of time (u64::MAX ns): nothing overflows.
        let end = "2554-07-21T23:34:33.709551615Z";
        for path in [
            format!("/api/v1/overview?from={end}&to={end}"),
            format!("/api/v1/overview/chart.svg?from={end}&to={end}"),
            format!("/api/v1/metrics/m/chart.svg?agg=max&from={end}&to={end}"),
            format!("/api/v1/metrics/m/series?agg=max&group_by=k&from={end}&to={end}"),
            format!("/telemetry/history?metric=agents.healthy&from={end}&to={end}"),
        ] {
            let (status, body) = get(&state, &path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
    });
}

#[test]
fn long_ranges_without_a_step_get_one_in_whole_hours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let now = now_ns();
    state
        .store
        .insert(Batch {
            spans: vec![
                span("api", 0, now - 60 * HOUR),
                span("api", 1, now - 60 * SECOND),
            ],
            ..Default::default()
        })
        .expect("insert");
    runtime().block_on(async {
        // (range, step chosen): whole minutes up to two days, whole hours beyond.
        for (from, step_seconds, spans) in [
            ("-1h", 60.0, 1.0),
            ("-48h", 1440.0, 1.0),
            ("-49h", 3600.0, 1.0),
            ("-3d", 3600.0, 2.0),
            ("-7d", 7200.0, 2.0),
            ("-30d", 21_600.0, 2.0),
        ] {
            let path = format!("/api/v1/overview?from={from}");
            let v = get_json(&state, &path).await;
            assert_eq!(v["step_seconds"].as_f64(), Some(step_seconds), "{path}");
            assert_eq!(v["totals"]["spans"].as_f64(), Some(spans), "{path}");
            assert!(v["spans"].as_array().expect("spans").len() <= 10_000);
        }
        for (from, per) in [("-7d", "2h"), ("-3d", "1h"), ("-49h", "1h")] {
            let path = format!("/api/v1/overview/chart.svg?from={from}");
            let (status, svg) = get(&state, &path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {svg}");
            assert!(svg.contains(&format!("spans / {per}")), "{path}: {svg}");
        }
        // A step given that the range's rollups cannot serve is still refused.
        let error = refusal(&state, "/api/v1/overview?from=-7d&step=90m").await;
        assert!(
            error.starts_with("step: a whole number of hours"),
            "{error}"
        );
    });
}

#[test]
fn name_listings_hold_at_most_limit_names_and_say_when_more_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let now = now_ns();
    // 1,200 services with a span each (the last one busiest, with three) and 1,200
    // metric names.
    let mut spans: Vec<SpanRow> = (0..1200u64)
        .map(|i| span(&format!("svc-{i:04}"), i, now - 60 * SECOND))
        .collect();
    spans.extend((0..2u64).map(|i| span("svc-1199", 2000 + i, now - 60 * SECOND)));
    let metric_points = (0..1200u64)
        .map(|i| {
            MetricPointRow::number(
                format!("m.{i:04}"),
                "svc-0000",
                "gauge",
                now - 60 * SECOND,
                Some(1.0),
                "{}",
            )
        })
        .collect();
    state
        .store
        .insert(Batch {
            spans,
            metric_points,
            ..Default::default()
        })
        .expect("insert");
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|n| n.as_str().expect("name").to_string())
            .collect()
    };
    runtime().block_on(async {
        let v = get_json(&state, "/api/v1/services").await;
        let first = names(&v);
        assert_eq!(first.len(), 1000, "1000 by default");
        assert_eq!(first[0], "svc-0000");
        assert_eq!(first[999], "svc-0999", "the first names in order");
        assert_eq!(v["truncated"], true);
        for (limit, count, truncated) in [
            (1199, 1199, true),
            (1200, 1200, false),
            (10_000, 1200, false),
        ] {
            let v = get_json(&state, &format!("/api/v1/services?limit={limit}")).await;
            assert_eq!(names(&v).len(), count, "limit {limit}");
            assert_eq!(v["truncated"], truncated, "limit {limit}");
        }

        let v = get_json(&state, "/api/v1/metrics").await;
        let items = v["items"].as_array().expect("items");
        assert_eq!(items.len(), 1000);
        assert_eq!(items[0]["name"], "m.0000");
        assert_eq!(items[999]["name"], "m.0999");
        assert_eq!(v["truncated"], true);
        let v = get_json(&state, "/api/v1/metrics?limit=5").await;
        assert_eq!(v["items"].as_array().expect("items").len(), 5);
        assert_eq!(v["truncated"], true);
        let v = get_json(&state, "/api/v1/metrics?limit=1200").await;
        assert_eq!(v["items"].as_array().expect("items").len(), 1200);
        assert_eq!(v["truncated"], false);

        // The overview's services: the busiest first, as many as `limit`.
        let v = get_json(&state, "/api/v1/overview").await;
        let services = v["services"].as_array().expect("services");
        assert_eq!(services.len(), 1000);
        assert_eq!(services[0]["service_name"], "svc-1199");
        assert_eq!(services[0]["span_count"], 3);
        assert_eq!(v["services_truncated"], true);
        assert_eq!(
            v["totals"]["spans"].as_f64(),
            Some(1202.0),
            "totals count every service"
        );
        let v = get_json(&state, "/api/v1/overview?limit=1").await;
        assert_eq!(v["services"].as_array().expect("services").len(), 1);
        assert_eq!(v["services"][0]["service_name"], "svc-1199");
        let v = get_json(&state, "/api/v1/overview?limit=5000").await;
        assert_eq!(v["services"].as_array().expect("services").len(), 1200);
        assert_eq!(v["services_truncated"], false);

        for path in [
            "/api/v1/services?limit=0",
            "/api/v1/services?limit=10001",
            "/api/v1/services?limit=many",
            "/api/v1/metrics?limit=0",
            "/api/v1/metrics?limit=10001",
            "/api/v1/overview?limit=0",
            "/api/v1/overview?limit=10001",
        ] {
            let error = refusal(&state, path).await;
            assert_eq!(
                error, "limit: expected a whole number from 1 to 10000",
                "{path}"
            );
        }
        let error = refusal(&state, "/api/v1/services?limt=5").await;
        assert!(error.starts_with("unknown parameter"), "{error}");
    });
}

#[test]
fn secrets_in_probe_urls_show_nowhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut state = state(dir.path());
    let collectors: Vec<Arc<dyn Collector>> = vec![Arc::new(state.probes.clone())];
    state.fleet = Arc::new(Fleet::new(collectors, 60));
    let target = |url: &str| Target {
        critical: false,
        ..Target::url(url)
    };
    let mut probes = Probes {
        state: state.clone(),
        targets: vec![
            target("tcp://127.0.0.1:1?token=abc123"),
            target("tcp://user:pw123@127.0.0.1:1?API_KEY=def456&sig=ghi789"),
        ],
        timeout: Duration::from_secs(1),
        webhook: None,
        board: state.probes.clone(),
        last: Default::default(),
    };
    probes.run().expect("probe round stored");
    state
        .fleet
        .collect_and_store(state.store.as_ref())
        .expect("snapshot");
    let secrets = ["abc123", "pw123", "def456", "ghi789"];
    let shows_none = |what: &str, text: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what} shows {s}: {text}");
        }
    };

    // The `up` gauge's attributes, as stored.
    let points = state
        .store
        .metric_points("up", 0, u64::MAX >> 1, 10)
        .expect("points");
    assert_eq!(points.len(), 2);
    for p in &points {
        shows_none("the up gauge", p.attributes.as_str());
    }
    assert!(
        points
            .iter()
            .any(|p| p.attributes.contains("tcp://127.0.0.1:1?token=***")),
        "{points:?}"
    );

    runtime().block_on(async {
        let v = get_json(&state, "/api/v1/probes").await;
        let urls: Vec<&str> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| p["url"].as_str().expect("url"))
            .collect();
        assert!(urls.contains(&"tcp://127.0.0.1:1?token=***"), "{urls:?}");
        assert!(
            urls.contains(&"tcp://user:***@127.0.0.1:1?API_KEY=***&sig=***"),
            "{urls:?}"
        );
        for path in [
            "/api/v1/probes",
            "/api/v1/probes/graph.svg",
            "/telemetry/status",
            "/api/v1/metrics/up/series?group_by=target&agg=min",
            "/api/v1/metrics/up/chart.svg?group_by=target&agg=min",
        ] {
            let (status, body) = get(&state, path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            shows_none(path, body.as_str());
            assert!(body.contains("token=***"), "{path}: {body}");
        }
    });
}
