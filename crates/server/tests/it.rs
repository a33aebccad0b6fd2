//! The server against real clients: our SDK over HTTP, and hand-made bad requests.

use automagik_telemetry::{MetricKind, Severity, SpanKind, Telemetry};
use automagik_telemetry_server::{AppState, Limits, SqliteStore, StoreRead, app};
use automagik_telemetry_testkit::build::{string_kv, trace_request};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

fn state(dir: &std::path::Path) -> AppState {
    AppState {
        limits: Limits {
            max_body_bytes: 64 * 1024,
            max_decompressed_bytes: 256 * 1024,
            ..Limits::default()
        },
        ..AppState::new(Arc::new(SqliteStore::open(dir).expect("open store")))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app(state.clone()).oneshot(req).await.expect("response");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, body.to_vec())
}

fn post(path: &str, content_type: &str, encoding: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut b = Request::post(path).header("content-type", content_type);
    if let Some(e) = encoding {
        b = b.header("content-encoding", e);
    }
    b.body(Body::from(body)).expect("request")
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

fn span(name: &str, trace_id: Vec<u8>, span_id: Vec<u8>) -> Span {
    Span {
        trace_id,
        span_id,
        name: name.into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        attributes: vec![string_kv("k", "v")],
        ..Default::default()
    }
}

fn traces(spans: Vec<Span>) -> ExportTraceServiceRequest {
    trace_request("svc", spans)
}

/// Serves `state` on a loopback port of `rt`.
fn serve(rt: &tokio::runtime::Runtime, state: &AppState) -> std::net::SocketAddr {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server_app = app(state.clone());
    rt.spawn(async move { axum::serve(listener, server_app).await });
    addr
}

/// An SDK client of `project` sending to `addr`, isolated from the machine.
fn client(addr: std::net::SocketAddr, home: &std::path::Path, project: &str) -> Telemetry {
    Telemetry::builder()
        .env_lookup(|_| None)
        .home_dir(home)
        .state_dir(home)
        .consent(true)
        .project_name(project.to_string())
        .endpoint(format!("http://{addr}"))
        .build()
        .expect("client")
}

#[test]
fn sdk_to_server_to_query_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let rt = runtime();
    let addr = serve(&rt, &state);

    let home = tempfile::tempdir().expect("tempdir");
    let t = client(addr, home.path(), "checkout");
    let (trace_id, parent_id, child_id);
    {
        let parent = t.span_builder("GET /cart").kind(SpanKind::Server).start();
        let mut child = t.span("load-cart");
        child.set_attribute("cart.items", 3);
        child.add_event("cache.miss", [("key", "cart:42")]);
        t.track_log(Severity::Warn, "slow cart", [("ms", 250)]);
        trace_id = parent.context().expect("ctx").trace_id.to_string();
        parent_id = parent.context().expect("ctx").span_id.to_string();
        child_id = child.context().expect("ctx").span_id.to_string();
    }
    t.track_event("cart.viewed", [("plan", "pro")]);
    t.track_metric("carts", 1.0, MetricKind::Counter, [("region", "eu")]);
    t.flush(Duration::from_secs(10)).expect("flush");
    assert_eq!(
        t.stats().exported,
        5,
        "2 spans, 2 logs, 1 data point acknowledged"
    );

    rt.block_on(async {
        let (status, body) = call(&state, get(&format!("/api/v1/traces/{trace_id}"))).await;
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["trace_id"], trace_id);
        let spans = v["spans"].as_array().expect("spans");
        assert_eq!(spans.len(), 2);
        let parent = spans
            .iter()
            .find(|s| s["name"] == "GET /cart")
            .expect("parent");
        let child = spans
            .iter()
            .find(|s| s["name"] == "load-cart")
            .expect("child");
        assert_eq!(parent["span_id"], parent_id);
        assert!(parent["parent_span_id"].is_null());
        assert_eq!(child["span_id"], child_id);
        assert_eq!(child["parent_span_id"], parent_id);
        assert_eq!(parent["service_name"], "checkout");
        assert_eq!(parent["kind"], 2);
        assert_eq!(child["attributes"]["cart.items"], 3);
        assert_eq!(child["events"][0]["name"], "cache.miss");
        let start: u64 = parent["start_time_unix_nano"]
            .as_str()
            .expect("string")
            .parse()
            .expect("number");
        let end: u64 = parent["end_time_unix_nano"]
            .as_str()
            .expect("string")
            .parse()
            .expect("number");
        assert!(start > 1_700_000_000_000_000_000 && end >= start);

        let (_, body) = call(&state, get("/api/v1/stats")).await;
        let s: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            (
                s["spans"].as_u64(),
                s["logs"].as_u64(),
                s["events"].as_u64(),
                s["metric_points"].as_u64()
            ),
            (Some(2), Some(2), Some(1), Some(1))
        );
        assert!(s["bytes_on_disk"].as_u64().expect("size") > 0);

        let (_, body) = call(&state, get("/api/v1/services")).await;
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["items"], serde_json::json!(["checkout"]));

        let (status, _) = call(
            &state,
            get("/api/v1/traces/0123456789abcdef0123456789abcdef"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = call(&state, get("/api/v1/traces/not-an-id")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    });
    t.shutdown(Duration::from_secs(5)).expect("shutdown");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn bad_input_gets_its_4xx_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let valid = traces(vec![span("ok", vec![1; 16], vec![2; 8])]).encode_to_vec();
    let cases: Vec<(&str, Request<Body>, StatusCode)> = vec![
        (
            "truncated protobuf",
            post(
                "/v1/traces",
                "application/x-protobuf",
                None,
                valid[..valid.len() - 5].to_vec(),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "invalid JSON",
            post(
                "/v1/traces",
                "application/json",
                None,
                b"{\"resourceSpans\": [".to_vec(),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "gzip bomb",
            post(
                "/v1/traces",
                "application/x-protobuf",
                Some("gzip"),
                gzip(&vec![0u8; 4 * 1024 * 1024]),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "oversize body",
            post(
                "/v1/traces",
                "application/x-protobuf",
                None,
                vec![0x0a; 100 * 1024],
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "wrong content type",
            post("/v1/traces", "text/plain", None, valid.clone()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "corrupt gzip",
            post(
                "/v1/traces",
                "application/x-protobuf",
                Some("gzip"),
                b"not gzip".to_vec(),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown encoding",
            post(
                "/v1/traces",
                "application/x-protobuf",
                Some("br"),
                valid.clone(),
            ),
            StatusCode::BAD_REQUEST,
        ),
    ];
    let rt = runtime();
    rt.block_on(async {
        for (what, req, want) in cases {
            let (status, body) = call(&state, req).await;
            assert_eq!(status, want, "{what}");
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            assert!(
                v["error"].is_string(),
                "{what}: readable error, got {}",
                String::from_utf8_lossy(&body)
            );
        }
    });
    let stats = state.store.stats().expect("stats");
    assert_eq!(
        (stats.spans, stats.logs, stats.metric_points),
        (0, 0, 0),
        "nothing from bad requests is stored"
    );
}

#[test]
fn every_gzip_member_is_read_and_bytes_after_the_last_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let request = |name: &str, trace: u8, span_id: u8| {
        traces(vec![span(name, vec![trace; 16], vec![span_id; 8])]).encode_to_vec()
    };
    // Two members, as `gzip` writes for `cat a.gz b.gz`: one request of both.
    let members = [
        gzip(&request("first", 0x11, 1)),
        gzip(&request("second", 0x11, 2)),
    ]
    .concat();
    let garbage = [
        gzip(&request("garbage", 0x33, 1)),
        b"trailing bytes".to_vec(),
    ]
    .concat();
    let rt = runtime();
    rt.block_on(async {
        let (status, body) = call(
            &state,
            post(
                "/v1/traces",
                "application/x-protobuf",
                Some("gzip"),
                members,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let (status, body) = call(
            &state,
            post(
                "/v1/traces",
                "application/x-protobuf",
                Some("gzip"),
                garbage,
            ),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(&body)
        );
    });
    let names: Vec<String> = state
        .store
        .trace(&"11".repeat(16))
        .expect("trace")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["first", "second"]);
    assert!(
        state
            .store
            .trace(&"33".repeat(16))
            .expect("trace")
            .is_empty()
    );
}

#[test]
fn a_content_length_over_the_limit_is_413_before_the_body_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let req = Request::post("/v1/traces")
        .header("content-type", "application/x-protobuf")
        .header("content-length", "10000000000")
        .body(Body::empty())
        .expect("request");
    let (status, body) = runtime().block_on(call(&state, req));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("65536 bytes"),
        "{v}"
    );
}

#[test]
fn a_request_over_the_item_limit_is_413_naming_the_limit_in_both_encodings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = AppState {
        limits: Limits {
            max_items: 10,
            ..Limits::default()
        },
        ..AppState::new(Arc::new(SqliteStore::open(dir.path()).expect("open store")))
    };
    let spans = |trace: u8, n: u8| {
        traces(
            (1..=n)
                .map(|i| span("many", vec![trace; 16], vec![i; 8]))
                .collect(),
        )
    };
    let rt = runtime();
    rt.block_on(async {
        let over = spans(0x44, 11);
        for (content_type, body) in [
            ("application/x-protobuf", over.encode_to_vec()),
            ("application/json", serde_json::to_vec(&over).expect("json")),
        ] {
            let (status, body) = call(&state, post("/v1/traces", content_type, None, body)).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{content_type}");
            let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
            let message = v["error"].as_str().unwrap_or_default();
            assert!(message.contains("more than 10 items"), "{message}");
        }
        let (status, _) = call(
            &state,
            post(
                "/v1/traces",
                "application/x-protobuf",
                None,
                spans(0x55, 10).encode_to_vec(),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    });
    assert!(
        state
            .store
            .trace(&"44".repeat(16))
            .expect("trace")
            .is_empty()
    );
    assert_eq!(
        state.store.trace(&"55".repeat(16)).expect("trace").len(),
        10
    );
}

#[test]
fn invalid_items_are_partial_success_and_the_rest_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let req = traces(vec![
        span("good", vec![1; 16], vec![2; 8]),
        span("bad", vec![1; 3], vec![3; 8]),
    ]);
    let rt = runtime();
    let (status, body) = rt.block_on(call(
        &state,
        post(
            "/v1/traces",
            "application/x-protobuf",
            Some("gzip"),
            gzip(&req.encode_to_vec()),
        ),
    ));
    assert_eq!(status, StatusCode::OK);
    let resp = ExportTraceServiceResponse::decode(&body[..]).expect("protobuf response");
    let ps = resp.partial_success.expect("partial success");
    assert_eq!(ps.rejected_spans, 1);
    assert!(
        ps.error_message.contains("trace_id"),
        "{}",
        ps.error_message
    );
    assert_eq!(state.store.trace(&"01".repeat(16)).expect("trace").len(), 1);
    // Counted by its category, not by its message.
    let totals = state.metrics.ingest_totals();
    assert_eq!(
        totals["rejected_records"],
        serde_json::json!({"traces": {"invalid_trace_id": 1}}),
        "{totals}"
    );
    assert_eq!(totals["rejected_records_total"], 1, "{totals}");
}

#[test]
fn far_future_times_are_refused_per_item_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let mut beyond = span("beyond-2262", vec![4; 16], vec![1; 8]);
    beyond.start_time_unix_nano = u64::MAX - 10;
    beyond.end_time_unix_nano = u64::MAX;
    let mut next_year = span("next-year", vec![5; 16], vec![1; 8]);
    next_year.start_time_unix_nano =
        automagik_telemetry_testkit::now_ns() + 365 * 24 * 3600 * 1_000_000_000;
    next_year.end_time_unix_nano = next_year.start_time_unix_nano + 1;
    let good = span("now", vec![6; 16], vec![1; 8]);
    let rt = runtime();
    for (bad, reason) in [(beyond, "2^63"), (next_year, "days ahead")] {
        let req = traces(vec![bad, good.clone()]);
        let (status, body) = rt.block_on(call(
            &state,
            post(
                "/v1/traces",
                "application/x-protobuf",
                None,
                req.encode_to_vec(),
            ),
        ));
        assert_eq!(status, StatusCode::OK);
        let resp = ExportTraceServiceResponse::decode(&body[..]).expect("protobuf response");
        let ps = resp.partial_success.expect("partial success");
        assert_eq!(ps.rejected_spans, 1);
        assert!(ps.error_message.contains(reason), "{}", ps.error_message);
    }
    assert!(
        state
            .store
            .trace(&"04".repeat(16))
            .expect("trace")
            .is_empty()
    );
    assert!(
        state
            .store
            .trace(&"05".repeat(16))
            .expect("trace")
            .is_empty()
    );
    assert_eq!(state.store.trace(&"06".repeat(16)).expect("trace").len(), 1);
    let totals = state.metrics.ingest_totals();
    assert_eq!(
        totals["rejected_records"]["traces"]["timestamp_out_of_range"], 2,
        "{totals}"
    );
}

#[test]
fn json_ingest_and_data_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let state = state(dir.path());
        let json = serde_json::to_vec(&traces(vec![span("from-json", vec![7; 16], vec![8; 8])]))
            .expect("json");
        let rt = runtime();
        let (status, body) = rt.block_on(call(
            &state,
            post("/v1/traces", "application/json", None, json.clone()),
        ));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).expect("json reply"),
            serde_json::json!({})
        );
        // Delivered twice (a client retry): stored once.
        let (status, _) = rt.block_on(call(
            &state,
            post("/v1/traces", "application/json", None, json),
        ));
        assert_eq!(status, StatusCode::OK);
    }
    let reopened = SqliteStore::open(dir.path()).expect("reopen");
    let spans = reopened.trace(&"07".repeat(16)).expect("trace");
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "from-json");
    let attributes: serde_json::Value =
        serde_json::from_str(&spans[0].attributes).expect("stored JSON");
    assert_eq!(attributes["k"], "v");
}

fn seed_logs(state: &AppState) {
    use automagik_telemetry_server::rows::{Batch, LogRow};
    let logs = (0..25u64)
        .map(|i| LogRow {
            time_unix_nano: 1_763_780_400_000_000_000 + i * 1_000_000_000,
            service_name: if i % 5 == 0 {
                "billing".into()
            } else {
                "checkout".into()
            },
            severity_number: if i % 3 == 0 { 17 } else { 9 },
            severity_text: if i % 3 == 0 {
                "ERROR".into()
            } else {
                "INFO".into()
            },
            body: Some(format!("message {i} 100%_done")),
            event_name: (i % 2 == 0).then(|| {
                if i % 4 == 0 {
                    "signup".to_string()
                } else {
                    "login".to_string()
                }
            }),
            trace_id: (i == 7).then(|| "ab".repeat(16)),
            span_id: (i == 7).then(|| "cd".repeat(8)),
            attributes: format!("{{\"i\":{i}}}"),
            resource: "{}".into(),
            ..LogRow::default()
        })
        .collect();
    state
        .store
        .insert(Batch {
            logs,
            ..Default::default()
        })
        .expect("insert");
}

async fn list(state: &AppState, path: &str) -> serde_json::Value {
    let (status, body) = call(state, get(path)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).expect("json")
}

fn field(v: &serde_json::Value, key: &str) -> Vec<i64> {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["attributes"][key].as_i64().expect("i"))
        .collect()
}

#[test]
fn logs_and_events_page_newest_first_with_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    seed_logs(&state);
    runtime().block_on(async {
        // Paging: newest first, every record exactly once.
        let mut seen = Vec::new();
        let mut path = "/api/v1/logs?limit=10".to_string();
        loop {
            let page = list(&state, &path).await;
            seen.extend(field(&page, "i"));
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/logs?limit=10&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, (0..25).rev().collect::<Vec<_>>());

        let first = list(&state, "/api/v1/logs?limit=1").await;
        assert_eq!(first["items"][0]["time"], "2025-11-22T03:00:24.000000000Z");
        assert_eq!(first["items"][0]["body"], "message 24 100%_done");

        // Filters.
        assert_eq!(
            field(&list(&state, "/api/v1/logs?severity_min=error").await, "i"),
            vec![24, 21, 18, 15, 12, 9, 6, 3, 0]
        );
        assert_eq!(
            field(&list(&state, "/api/v1/logs?service=billing").await, "i"),
            vec![20, 15, 10, 5, 0]
        );
        assert_eq!(
            field(
                &list(
                    &state,
                    &format!("/api/v1/logs?trace_id={}", "AB".repeat(16))
                )
                .await,
                "i"
            ),
            vec![7]
        );
        assert_eq!(
            field(&list(&state, "/api/v1/logs?q=message%201%20").await, "i"),
            vec![1]
        );
        // LIKE wildcards in the search text are literal.
        assert_eq!(
            field(&list(&state, "/api/v1/logs?q=%25_d").await, "i").len(),
            25
        );
        assert_eq!(
            field(&list(&state, "/api/v1/logs?q=x%25").await, "i").len(),
            0
        );
        assert_eq!(
            field(
                &list(
                    &state,
                    "/api/v1/logs?from=2025-11-22T03:00:20Z&to=2025-11-22T03:00:22Z"
                )
                .await,
                "i"
            ),
            vec![22, 21, 20]
        );
        assert_eq!(
            field(&list(&state, "/api/v1/logs?from=-1h").await, "i").len(),
            0,
            "seeded a year ago"
        );

        // Events.
        assert_eq!(
            field(&list(&state, "/api/v1/events?name=signup").await, "i"),
            vec![24, 20, 16, 12, 8, 4, 0]
        );
        assert_eq!(
            field(&list(&state, "/api/v1/events?limit=3").await, "i"),
            vec![24, 22, 20]
        );

        // Bad parameters are refused, naming the parameter.
        for bad in [
            "/api/v1/logs?sevrity_min=error",
            "/api/v1/logs?limit=0",
            "/api/v1/logs?limit=5000",
            "/api/v1/logs?from=yesterday",
            "/api/v1/logs?cursor=bogus",
            "/api/v1/logs?severity_min=loud",
            "/api/v1/events?severity_min=error",
        ] {
            let (status, body) = call(&state, get(bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(
                serde_json::from_slice::<serde_json::Value>(&body).expect("json")["error"]
                    .is_string()
            );
        }
    });
}

#[test]
fn trace_listing_by_root_span_with_filters_and_paging() {
    use automagik_telemetry_server::rows::{Batch, SpanRow};
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let t0 = 1_763_780_400_000_000_000u64;
    let row = |trace: &str,
               span: &str,
               parent: &str,
               name: &str,
               service: &str,
               start: u64,
               ms: u64,
               status: i32| SpanRow {
        trace_id: trace.repeat(16),
        span_id: span.repeat(8),
        parent_span_id: parent.to_string(),
        name: name.into(),
        service_name: service.into(),
        kind: 2,
        start_time_unix_nano: t0 + start * 1_000_000_000,
        end_time_unix_nano: t0 + start * 1_000_000_000 + ms * 1_000_000,
        status_code: status,
        status_message: String::new(),
        attributes: "{}".into(),
        events: "[]".into(),
        resource: "{}".into(),
        ..SpanRow::default()
    };
    let spans = vec![
        row("aa", "01", "", "GET /a", "checkout", 1, 500, 2),
        row("aa", "02", &"01".repeat(8), "db", "checkout", 1, 100, 0),
        row("aa", "03", &"02".repeat(8), "cache", "checkout", 1, 5, 0),
        row("bb", "04", "", "GET /b", "billing", 2, 10, 1),
        // Its parent lives in another process: it is the root of what is stored.
        row("cc", "05", &"ff".repeat(8), "consume", "worker", 3, 50, 0),
    ];
    state
        .store
        .insert(Batch {
            spans,
            ..Default::default()
        })
        .expect("insert");
    runtime().block_on(async {
        let all = list(&state, "/api/v1/traces").await;
        let names: Vec<&str> = all["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, vec!["consume", "GET /b", "GET /a"]);
        let a = &all["items"][2];
        assert_eq!(a["trace_id"], "aa".repeat(16));
        assert_eq!(a["span_count"], 3);
        assert_eq!(a["duration_ms"], 500.0);
        assert_eq!(a["status_code"], 2);

        let names = |v: serde_json::Value| -> Vec<String> {
            v["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["name"].as_str().expect("name").to_string())
                .collect()
        };
        assert_eq!(
            names(list(&state, "/api/v1/traces?status=error").await),
            vec!["GET /a"]
        );
        assert_eq!(
            names(list(&state, "/api/v1/traces?service=billing").await),
            vec!["GET /b"]
        );
        assert_eq!(
            names(list(&state, "/api/v1/traces?min_duration_ms=40").await),
            vec!["consume", "GET /a"]
        );
        assert_eq!(
            names(list(&state, "/api/v1/traces?name=GET%20/b").await),
            vec!["GET /b"]
        );
        assert_eq!(
            names(list(&state, "/api/v1/traces?to=2025-11-22T03:00:02Z").await),
            vec!["GET /b", "GET /a"]
        );

        let mut seen = Vec::new();
        let mut path = "/api/v1/traces?limit=1".to_string();
        loop {
            let page = list(&state, &path).await;
            seen.extend(names(page.clone()));
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/traces?limit=1&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, vec!["consume", "GET /b", "GET /a"]);

        for bad in [
            "/api/v1/traces?status=broken",
            "/api/v1/traces?min_duration_ms=-1",
            "/api/v1/traces?servce=x",
        ] {
            assert_eq!(
                call(&state, get(bad)).await.0,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    });
}

fn with_auth(req: Request<Body>, token: Option<&str>) -> Request<Body> {
    let (mut parts, body) = req.into_parts();
    if let Some(t) = token {
        parts.headers.insert(
            "authorization",
            format!("Bearer {t}").parse().expect("header value"),
        );
    }
    Request::from_parts(parts, body)
}

#[test]
fn tokens_and_scopes_guard_every_route() {
    use automagik_telemetry_server::{Auth, Scope, Token};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut state = state(dir.path());
    state.auth = Arc::new(Auth::new(vec![
        Token::new("ingest-token-0123456789", &[Scope::Ingest]),
        Token::new("read-token-0123456789", &[Scope::Read]),
        Token::new("admin-token-0123456789", &[Scope::Admin]),
    ]));
    let body = || traces(vec![span("auth", vec![7; 16], vec![7; 8])]).encode_to_vec();
    let ingest = |token| {
        with_auth(
            post("/v1/traces", "application/x-protobuf", None, body()),
            token,
        )
    };
    let rt = runtime();
    rt.block_on(async {
        for (token, want) in [
            (None, StatusCode::UNAUTHORIZED),
            (Some("wrong-token-0123456789"), StatusCode::UNAUTHORIZED),
            (Some("read-token-0123456789"), StatusCode::FORBIDDEN),
        ] {
            let (status, body) = call(&state, ingest(token)).await;
            assert_eq!(status, want, "{token:?}");
            let v: serde_json::Value = serde_json::from_slice(&body).expect("json error");
            assert!(v["error"].is_string());
        }
        let resp = app(state.clone()).oneshot(ingest(None)).await.expect("response");
        assert!(resp.headers().contains_key("www-authenticate"));
        assert_eq!(state.store.stats().expect("stats").spans, 0, "nothing stored from refused requests");

        assert_eq!(call(&state, ingest(Some("ingest-token-0123456789"))).await.0, StatusCode::OK);
        assert_eq!(call(&state, ingest(Some("admin-token-0123456789"))).await.0, StatusCode::OK);
        let read = |token| with_auth(get("/api/v1/stats"), token);
        assert_eq!(call(&state, read(None)).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(&state, read(Some("ingest-token-0123456789"))).await.0, StatusCode::FORBIDDEN);
        let (status, body) = call(&state, read(Some("read-token-0123456789"))).await;
        assert_eq!(status, StatusCode::OK);
        let stats: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(stats["spans"], 1, "the same span twice is stored once");
        let metrics = |token| with_auth(get("/metrics"), token);
        assert_eq!(call(&state, metrics(Some("read-token-0123456789"))).await.0, StatusCode::FORBIDDEN);
        let (status, text) = call(&state, metrics(Some("admin-token-0123456789"))).await;
        assert_eq!(status, StatusCode::OK);
        let text = String::from_utf8(text).expect("utf-8");
        assert!(text.contains("automagik_telemetry_ingest_accepted_records_total{signal=\"traces\"} 2"), "{text}");
        assert!(text.contains("automagik_telemetry_ingest_rejected_requests_total{signal=\"traces\",reason=\"unauthorized\"} 4"), "{text}");
        // Health stays open for probes.
        assert_eq!(call(&state, get("/healthz")).await.0, StatusCode::OK);
        assert_eq!(call(&state, get("/readyz")).await.0, StatusCode::OK);
    });
}

#[test]
fn overload_answers_503_with_retry_after_and_loses_no_acknowledged_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    // One batch may wait for the writer; more concurrent batches are refused.
    let store = Arc::new(SqliteStore::open_with_queue(dir.path(), 1).expect("store"));
    let state = AppState::new(store.clone());
    let rt = runtime();
    let addr = serve(&rt, &state);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for client in 0..16u8 {
            let results = &results;
            scope.spawn(move || {
                for n in 0..15u8 {
                    let spans = (0..100u16)
                        .map(|i| {
                            let mut s = span(
                                "load",
                                vec![client + 1, n + 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                                vec![0; 8],
                            );
                            s.span_id = (u64::from(i) + 1).to_be_bytes().to_vec();
                            s
                        })
                        .collect();
                    let resp = ureq::post(format!("http://{addr}/v1/traces"))
                        .header("content-type", "application/x-protobuf")
                        .config()
                        .http_status_as_error(false)
                        .build()
                        .send(traces(spans).encode_to_vec())
                        .expect("response");
                    let retry_after = resp.headers().get("retry-after").is_some();
                    results.lock().expect("lock").push((
                        client,
                        n,
                        resp.status().as_u16(),
                        retry_after,
                    ));
                }
            });
        }
    });
    let results = results.into_inner().expect("results");
    let refused: Vec<_> = results.iter().filter(|r| r.2 == 503).collect();
    assert!(
        !refused.is_empty(),
        "16 concurrent clients must overload a one-slot queue"
    );
    assert!(refused.iter().all(|r| r.3), "every 503 carries Retry-After");
    for (client, n, status, _) in &results {
        assert!(matches!(status, 200 | 503), "status {status}");
        let trace = hex::encode([
            *client + 1,
            *n + 1,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
        ]);
        let stored = store.trace(&trace).expect("trace").len();
        let want = if *status == 200 { 100 } else { 0 };
        assert_eq!(stored, want, "batch {client}/{n} answered {status}");
    }
}

#[test]
fn metric_series_runs_and_operations_over_http() {
    use automagik_telemetry_server::rows;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let now = automagik_telemetry_server::query::now_ns();
    let minute = 60_000_000_000u64;
    let start = now - now % minute - 10 * minute;
    let point = |t: u64, v: f64, queue: &str| {
        rows::MetricPointRow::number(
            "queue.depth",
            "api",
            "gauge",
            t,
            Some(v),
            format!(r#"{{"queue":"{queue}"}}"#),
        )
    };
    let histogram = |t: u64, counts: Vec<u64>| rows::MetricPointRow {
        count: Some(counts.iter().sum()),
        sum: Some(1.0),
        bucket_counts: Some(counts),
        explicit_bounds: Some(vec![10.0, 100.0]),
        ..rows::MetricPointRow::number("latency", "api", "histogram", t, None, "{}")
    };
    let points = vec![
        point(start, 2.0, "a"),
        point(start + 1_000_000_000, 4.0, "b"),
        point(start + minute, 10.0, "a"),
        histogram(start, vec![1, 2, 0]),
        histogram(start + 1_000_000_000, vec![0, 1, 0]),
        histogram(start + minute, vec![0, 0, 5]),
    ];
    state
        .store
        .insert(rows::Batch {
            metric_points: points,
            ..Default::default()
        })
        .expect("insert");
    let mut run = span("invoke_agent planner", vec![9; 16], vec![1; 8]);
    run.start_time_unix_nano = start;
    run.end_time_unix_nano = start + 5_000_000;
    run.attributes = vec![
        string_kv("gen_ai.operation.name", "invoke_agent"),
        string_kv("gen_ai.agent.name", "planner"),
        string_kv("correlation_id", "run-1"),
    ];
    state
        .store
        .insert(rows::from_traces(&traces(vec![run])))
        .expect("run");
    let rt = runtime();
    rt.block_on(async {
        let v = list(&state, "/api/v1/metrics").await;
        assert_eq!(v["items"][1]["name"], "queue.depth");
        assert_eq!(v["items"][1]["kind"], "gauge");
        // A histogram's heatmap: its buckets per step, the open last bound null.
        let h = list(
            &state,
            &format!(
                "/api/v1/metrics/latency/heatmap?from={}&step=1m",
                automagik_telemetry_server::store::rfc3339(start)
            ),
        )
        .await;
        assert_eq!(h["bounds"], serde_json::json!([10.0, 100.0, null]), "{h}");
        let counts: Vec<&serde_json::Value> = h["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| &s["counts"])
            .collect();
        assert_eq!(
            counts,
            [&serde_json::json!([1, 3, 0]), &serde_json::json!([0, 0, 5])]
        );
        let (status, _) = call(&state, get("/api/v1/metrics/queue.depth/heatmap?from=-1h")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a gauge has no buckets");
        let v = list(
            &state,
            "/api/v1/metrics/queue.depth/series?from=-1h&step=1m&agg=max",
        )
        .await;
        assert_eq!(v["source"], "rollup_1m");
        let pts = v["series"][0]["points"].as_array().expect("points").clone();
        let values: Vec<f64> = pts
            .iter()
            .map(|p| p["value"].as_f64().expect("value"))
            .collect();
        assert_eq!(values, vec![4.0, 10.0]);
        let v = list(
            &state,
            "/api/v1/metrics/queue.depth/series?from=-1h&step=1h&agg=avg",
        )
        .await;
        assert_eq!(v["source"], "rollup_1h");
        // A gauge is a current value: by default its last value, read from raw points.
        let v = list(
            &state,
            "/api/v1/metrics/queue.depth/series?from=-1h&step=1h",
        )
        .await;
        assert_eq!(
            (v["agg"].as_str(), v["source"].as_str()),
            (Some("last"), Some("raw"))
        );
        let v = list(
            &state,
            "/api/v1/metrics/queue.depth/series?from=-1h&step=1m&group_by=queue&agg=sum",
        )
        .await;
        assert_eq!(v["source"], "raw");
        let series = v["series"].as_array().expect("series");
        assert_eq!(series.len(), 2);
        let a = series
            .iter()
            .find(|s| s["group"]["queue"] == "a")
            .expect("a");
        assert_eq!(a["points"].as_array().expect("points").len(), 2);
        for bad in [
            // Rollups are per minute: a rollup series steps in whole minutes (a raw one,
            // such as a gauge's default `last`, in whole seconds).
            "/api/v1/metrics/queue.depth/series?step=90s&agg=avg",
            "/api/v1/metrics/queue.depth/series?agg=median",
            "/api/v1/metrics/queue.depth/series?from=-1h&to=-2h",
            "/api/v1/metrics/queue.depth/series?step=1s&from=-30d",
            "/api/v1/metrics/queue.depth/series?bogus=1",
        ] {
            assert_eq!(
                call(&state, get(bad)).await.0,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }

        let v = list(&state, "/api/v1/agents/runs?agent=planner").await;
        assert_eq!(v["items"][0]["correlation_id"], "run-1");
        assert_eq!(v["items"][0]["status"], "completed");
        assert_eq!(v["items"][0]["duration_ms"], 5.0);
        let v = list(&state, "/api/v1/agents/runs/run-1").await;
        assert_eq!(v["agent_name"], "planner");
        assert!(v["actions"].as_array().expect("actions").is_empty());
        assert_eq!(
            call(&state, get("/api/v1/agents/runs/none")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&state, get("/api/v1/agents/runs?status=meh")).await.0,
            StatusCode::BAD_REQUEST
        );

        let v = list(&state, "/api/v1/operations?from=-1h").await;
        let op = &v["items"][0];
        assert_eq!(op["operation"], "invoke_agent planner");
        assert_eq!(op["span_count"], 1);
        let p50 = op["p50_ms"].as_f64().expect("p50");
        assert!((p50 / 5.0 - 1.0).abs() < 0.1, "p50 {p50}");
    });
}

#[test]
fn sdk_agent_run_shows_in_the_runs_api_with_its_four_action_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path());
    let rt = runtime();
    let addr = serve(&rt, &state);
    let home = tempfile::tempdir().expect("tempdir");
    let t = client(addr, home.path(), "agents");
    let (ok_id, failed_id);
    {
        let run = t.agent_run(
            "researcher",
            "find the cheapest flight for jane@example.com",
        );
        ok_id = run.correlation_id().to_string();
        run.progress("planning", 10.0);
        run.tool_call("search_flights", "LIS->NYC").ok("3 results");
        run.tool_call("book", "flight 2").err("card declined");
        run.decision(
            "flight 2",
            ["flight 1", "flight 2", "flight 3"],
            0.8,
            "cheapest direct",
        );
        run.error("payment provider timeout", "timeout");
        run.success("booked on the second attempt");
        run.complete(0.9);
    }
    {
        let run = t.agent_run_with_id("researcher", "nothing", "given-correlation-id");
        failed_id = run.correlation_id().to_string();
        run.fail("no results");
    }
    let llm_id;
    {
        let run = t.agent_run("writer", "draft a reply");
        llm_id = run.correlation_id().to_string();
        let mut call = run.llm_call("openai", "gpt-4o");
        call.response_model("gpt-4o-2024-08-06")
            .usage(1_000, 200)
            .cache(400, 0)
            .reasoning(50)
            .input_messages(r#"[{"role":"user","parts":[{"type":"text","content":"draft it"}]}]"#)
            .output_messages(
                r#"[{"role":"assistant","parts":[{"type":"text","content":"Dear ..."}]}]"#,
            );
        call.ok("stop");
        let mut unknown = run.llm_call("acme", "unknown-model");
        unknown.usage(10, 10);
        unknown.ok("stop");
        run.score("helpfulness", 0.7, "clear");
        run.complete(0.8);
    }
    t.flush(Duration::from_secs(10)).expect("flush");
    rt.block_on(async {
        let v = list(&state, "/api/v1/agents/runs?agent=researcher").await;
        let items = v["items"].as_array().expect("items");
        assert_eq!(items.len(), 2);
        let failed = items
            .iter()
            .find(|r| r["correlation_id"] == failed_id)
            .expect("failed run");
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["error"], "no results");
        assert_eq!(failed_id, "given-correlation-id");
        let run = list(&state, &format!("/api/v1/agents/runs/{ok_id}")).await;
        assert_eq!(run["status"], "completed");
        assert_eq!(run["quality_score"], 0.9);
        assert_eq!(
            run["attributes"]["agent.prompt"], "find the cheapest flight for [REDACTED:email]",
            "the prompt passes the redactor"
        );
        let actions = run["actions"].as_array().expect("actions");
        let mut types: Vec<&str> = actions
            .iter()
            .map(|a| a["action_type"].as_str().expect("type"))
            .collect();
        types.sort_unstable();
        assert_eq!(
            types,
            ["decision", "error", "success", "tool_call", "tool_call"]
        );
        let book = actions
            .iter()
            .find(|a| a["name"] == "book")
            .expect("book call");
        assert_eq!(book["is_error"], true);
        let decision = actions
            .iter()
            .find(|a| a["action_type"] == "decision")
            .expect("decision");
        assert_eq!(decision["name"], "flight 2");
        assert_eq!(decision["attributes"]["agent.alternatives"][2], "flight 3");
        // Tool calls are children of the run's span, in its trace.
        let trace = list(
            &state,
            &format!(
                "/api/v1/traces/{}",
                run["trace_id"].as_str().expect("trace")
            ),
        )
        .await;
        assert_eq!(trace["spans"].as_array().expect("spans").len(), 3);
        let progress = list(&state, "/api/v1/events?name=agent.progress").await;
        assert_eq!(
            progress["items"][0]["attributes"]["agent.stage"],
            "planning"
        );
        assert_eq!(progress["items"][0]["trace_id"], run["trace_id"]);

        // LLM calls and scores of the SDK: priced (gpt-4o: 600 uncached input at $2.50,
        // 400 cached at $1.25, 200 output at $10 per million), an unknown model unpriced.
        let run = list(&state, &format!("/api/v1/agents/runs/{llm_id}")).await;
        let totals = &run["totals"];
        assert_eq!(totals["llm_calls"], 2);
        assert_eq!(totals["input_tokens"], 1_010);
        assert_eq!(totals["cache_read_tokens"], 400);
        assert_eq!(totals["reasoning_tokens"], 50);
        assert_eq!(totals["unpriced_calls"], 1);
        let want = 600.0 * 2.5e-6 + 400.0 * 1.25e-6 + 200.0 * 10e-6;
        let cost = totals["cost_usd"].as_f64().expect("cost");
        assert!((cost - want).abs() < 1e-12, "{cost} != {want}");
        let calls = run["llm_calls"].as_array().expect("calls");
        assert_eq!(
            calls[0]["messages"]["output"][0]["parts"][0]["content"],
            "Dear ..."
        );
        assert_eq!(calls[1]["cost_usd"], serde_json::Value::Null);
        let mut names: Vec<&str> = run["scores"]
            .as_array()
            .expect("scores")
            .iter()
            .map(|s| s["name"].as_str().expect("name"))
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["helpfulness", "quality"]);
    });
}

/// What a header of a response is, as text.
async fn head(state: &AppState, req: Request<Body>) -> (StatusCode, String, String, String) {
    let resp = app(state.clone()).oneshot(req).await.expect("response");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (status, content_type, csp) = (
        resp.status(),
        header("content-type"),
        header("content-security-policy"),
    );
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        content_type,
        csp,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[test]
fn dashboard_pages_are_open_and_their_data_follow_the_read_token() {
    use automagik_telemetry_server::fleet::ProbeState;
    use automagik_telemetry_server::{Auth, Scope, Token};
    use opentelemetry_proto::tonic::trace::v1::Status;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut state = state(dir.path());
    state.auth = Arc::new(Auth::new(vec![
        Token::new("ingest-token-0123456789", &[Scope::Ingest]),
        Token::new("read-token-0123456789", &[Scope::Read]),
    ]));
    let read = |path: &str| with_auth(get(path), Some("read-token-0123456789"));
    let now = automagik_telemetry_testkit::now_ns();
    let spans: Vec<Span> = (1..=3u8)
        .map(|i| Span {
            start_time_unix_nano: now - 2_000_000_000,
            end_time_unix_nano: now - 1_000_000_000,
            status: (i == 3).then(|| Status {
                code: 2,
                message: "failed".into(),
            }),
            ..span("op", vec![i; 16], vec![i; 8])
        })
        .collect();
    let rt = runtime();
    rt.block_on(async {
        // The pages and assets hold no data: open, under a strict content policy.
        for (path, kind) in [
            ("/", "text/html"),
            ("/status", "text/html"),
            ("/assets/app.js", "text/javascript"),
            ("/assets/view.js", "text/javascript"),
            ("/assets/status.js", "text/javascript"),
            ("/assets/app.css", "text/css"),
        ] {
            let (status, content_type, csp, body) = head(&state, get(path)).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(content_type.starts_with(kind), "{path}: {content_type}");
            assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
            assert!(!body.is_empty());
        }
        let (_, _, _, index) = head(&state, get("/")).await;
        assert!(
            index.contains("/assets/app.js") && !index.contains("http"),
            "no other origin"
        );
        assert_eq!(
            call(&state, get("/assets/missing.js")).await.0,
            StatusCode::NOT_FOUND
        );

        // Their data: the read scope.
        let ingest = with_auth(
            post(
                "/v1/traces",
                "application/x-protobuf",
                None,
                traces(spans).encode_to_vec(),
            ),
            Some("ingest-token-0123456789"),
        );
        assert_eq!(call(&state, ingest).await.0, StatusCode::OK);
        for path in [
            "/api/v1/overview",
            "/api/v1/overview/chart.svg",
            "/api/v1/metrics/up/chart.svg",
            "/api/v1/probes",
            "/api/v1/probes/graph.svg",
        ] {
            assert_eq!(
                call(&state, get(path)).await.0,
                StatusCode::UNAUTHORIZED,
                "{path}"
            );
        }
        let (status, body) = call(&state, read("/api/v1/overview?from=-1h")).await;
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["totals"]["spans"], 3.0);
        assert_eq!(v["totals"]["errors"], 1.0);
        assert!((v["totals"]["error_rate"].as_f64().expect("rate") - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(v["services"][0]["service_name"], "svc");
        assert_eq!(v["services"][0]["error_count"], 1);
        assert_eq!(v["ingest"]["accepted"]["traces"], 3);
        assert_eq!(v["ingest"]["rejected_requests"], serde_json::json!({}));
        assert_eq!(
            call(&state, read("/api/v1/overview?step=90s")).await.0,
            StatusCode::BAD_REQUEST,
            "rollups are per minute"
        );

        let (status, content_type, _, svg) = head(&state, read("/api/v1/overview/chart.svg")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "image/svg+xml");
        assert!(
            svg.starts_with("<svg") && svg.contains("spans / 1m"),
            "{svg}"
        );
        assert!(
            svg.contains("<circle") || svg.contains("<polyline"),
            "{svg}"
        );
        let (_, _, _, empty) = head(&state, read("/api/v1/metrics/none/chart.svg?agg=max")).await;
        assert!(empty.contains("no data in this range"), "{empty}");

        state.probes.replace([
            ProbeState {
                name: "db".into(),
                url: "tcp://127.0.0.1:1".into(),
                state: "down".into(),
                reason: Some("connection refused".into()),
                critical: true,
                ..Default::default()
            },
            ProbeState {
                name: "api".into(),
                url: "http://127.0.0.1:2/".into(),
                state: "blocked".into(),
                reason: Some("blocked by db".into()),
                depends_on: vec!["db".into()],
                critical: true,
                ..Default::default()
            },
        ]);
        let (_, body) = call(&state, read("/api/v1/probes")).await;
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!((v["total"].as_u64(), v["up"].as_u64()), (Some(2), Some(0)));
        assert_eq!(v["items"][0]["name"], "db", "root causes first");
        assert_eq!(v["items"][1]["depends_on"], serde_json::json!(["db"]));
        let (_, _, _, graph) = head(&state, read("/api/v1/probes/graph.svg")).await;
        assert!(graph.contains(r#"data-from="api" data-to="db""#), "{graph}");
    });
}
