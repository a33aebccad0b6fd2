//! Query parameters: the time, duration and cursor parsers on their own, then the read
//! endpoints of the real router (`automagik_telemetry_server::app`) over a SQLite store
//! holding a few rows, with the input as the query string (`http/params.rs` is private to
//! the router: this is how its checks are reached). The first byte chooses the endpoint
//! (modulo the number of [`ROUTES`]); the rest is the query string, bytes a URI cannot
//! hold percent-encoded.
//!
//! Checked: no request is answered 5xx (a handler that panics aborts the run); an RFC 3339
//! time read back from its own formatting is the same instant; a cursor read back from its
//! own text is the same cursor; percent-decoding never lengthens a string.
#![no_main]

use automagik_telemetry_core::parse::{parse_duration, percent_decode};
use automagik_telemetry_core::time::{parse_rfc3339, rfc3339};
use automagik_telemetry_server::query::{now_ns, parse_time, Cursor};
use automagik_telemetry_server::rows::{
    AgentActionRow, AgentRunRow, Batch, LlmCallRow, LogRow, MetricPointRow, SpanRow,
};
use automagik_telemetry_server::{app, AppState, SqliteStore, StoreWrite};
use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use std::fmt::Write;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

/// The read endpoints whose handlers parse query parameters.
const ROUTES: [&str; 18] = [
    "/api/v1/overview",
    "/api/v1/overview/chart.svg",
    "/api/v1/metrics/m/series",
    "/api/v1/metrics/m/chart.svg",
    "/api/v1/traces",
    "/api/v1/logs",
    "/api/v1/events",
    "/api/v1/services",
    "/api/v1/operations",
    "/api/v1/metrics",
    "/api/v1/agents/runs",
    "/telemetry/history",
    "/api/v1/metrics/latency/series",
    "/api/v1/metrics/latency/heatmap",
    "/api/v1/sessions",
    "/api/v1/genai/usage",
    "/api/v1/scores",
    "/api/v1/agents/runs/00262331-6790-46f4-b32a-4bef2942c8b0",
];

const SECOND: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * SECOND;

struct Server {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(dir.path()).expect("the SQLite store opens");
        StoreWrite::insert(&store, sample(now_ns())).expect("the sample rows are stored");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let router = {
            let _inside = runtime.enter();
            app(AppState::new(Arc::new(store)))
        };
        Server {
            runtime,
            router,
            _dir: dir,
        }
    })
}

/// A few rows of every kind, over the last few hours before `now`.
fn sample(now: u64) -> Batch {
    let spans = (0..24u64)
        .map(|i| {
            let start = now - (i + 1) * 7 * MINUTE;
            SpanRow {
                trace_id: format!("{:032x}", i / 2 + 1),
                span_id: format!("{:016x}", i + 1),
                parent_span_id: if i % 2 == 1 {
                    format!("{i:016x}")
                } else {
                    String::new()
                },
                name: format!("GET /items/{}", i % 3),
                service_name: if i % 3 == 0 { "worker" } else { "api" }.to_string(),
                kind: 2,
                start_time_unix_nano: start,
                end_time_unix_nano: start + (i + 1) * 3_000_000,
                status_code: if i % 5 == 0 { 2 } else { 0 },
                status_message: String::new(),
                attributes: format!(r#"{{"http.route":"/items","k":"v{}"}}"#, i % 4),
                events: "[]".into(),
                resource: r#"{"service.name":"api"}"#.into(),
                ..SpanRow::default()
            }
        })
        .collect();
    let logs = (0..12u64)
        .map(|i| LogRow {
            time_unix_nano: now - (i + 1) * 11 * MINUTE,
            service_name: "api".into(),
            severity_number: if i % 4 == 0 { 17 } else { 9 },
            severity_text: if i % 4 == 0 { "ERROR" } else { "INFO" }.into(),
            body: Some(format!("request {i} done")),
            event_name: (i % 3 == 0).then(|| "checkout.completed".to_string()),
            trace_id: Some(format!("{:032x}", i / 2 + 1)),
            span_id: Some(format!("{:016x}", i + 1)),
            attributes: r#"{"user.plan":"pro"}"#.into(),
            resource: r#"{"service.name":"api"}"#.into(),
            ..LogRow::default()
        })
        .collect();
    let mut metric_points: Vec<MetricPointRow> = (0..30u64)
        .flat_map(|i| {
            let at = now - (i + 1) * 5 * MINUTE;
            [
                MetricPointRow::number(
                    "m",
                    "api",
                    "gauge",
                    at,
                    Some(i as f64 / 3.0),
                    format!(r#"{{"k":"{}"}}"#, if i % 2 == 0 { "a" } else { "b" }),
                ),
                MetricPointRow::number("requests", "api", "sum", at, Some(1.0), "{}"),
                MetricPointRow::number(
                    "fleet.agents.healthy",
                    "automagik-telemetry",
                    "gauge",
                    at,
                    Some(3.0),
                    "{}",
                ),
            ]
        })
        .collect();
    metric_points.push(MetricPointRow {
        start_time_unix_nano: now - 10 * MINUTE,
        count: Some(6),
        sum: Some(42.0),
        min: Some(1.0),
        max: Some(20.0),
        bucket_counts: Some(vec![1, 2, 3]),
        explicit_bounds: Some(vec![5.0, 10.0]),
        ..MetricPointRow::number("latency", "api", "histogram", now - 5 * MINUTE, None, "{}")
    });
    let correlation_id = "00262331-6790-46f4-b32a-4bef2942c8b0".to_string();
    let agent_runs = vec![AgentRunRow {
        correlation_id: correlation_id.clone(),
        agent_name: "planner".into(),
        status: "completed".into(),
        service_name: "api".into(),
        trace_id: format!("{:032x}", 1),
        span_id: format!("{:016x}", 1),
        parent_span_id: String::new(),
        session_id: "conv-1".into(),
        user_id: String::new(),
        start_time_unix_nano: now - 30 * MINUTE,
        end_time_unix_nano: now - 29 * MINUTE,
        quality_score: Some(0.9),
        error: None,
        attributes: "{}".into(),
    }];
    let agent_actions = vec![AgentActionRow {
        action_id: "a1".into(),
        correlation_id,
        agent_name: "planner".into(),
        action_type: "tool_call".into(),
        name: "search".into(),
        is_error: false,
        time_unix_nano: now - 30 * MINUTE + SECOND,
        duration_ns: 15_000_000,
        attributes: "{}".into(),
    }];
    let llm_calls = (0..4u64)
        .map(|i| LlmCallRow {
            trace_id: format!("{:032x}", 1),
            span_id: format!("{:016x}", 10 + i),
            parent_span_id: format!("{:016x}", 1),
            operation: "chat".into(),
            provider: "openai".into(),
            request_model: "gpt-4o".into(),
            input_tokens: Some(100 * i),
            output_tokens: Some(10),
            cost_usd: (i % 2 == 0).then_some(0.001),
            start_time_unix_nano: now - 30 * MINUTE + i * SECOND,
            duration_ns: 40_000_000,
            finish_reasons: "[\"stop\"]".into(),
            session_id: "conv-1".into(),
            ..LlmCallRow::default()
        })
        .collect();
    Batch {
        spans,
        logs,
        metric_points,
        agent_runs,
        agent_actions,
        llm_calls,
        ..Batch::default()
    }
}

/// The parsers the read endpoints use, on their own.
fn parsers(text: &str) {
    for now in [0, 1_763_780_400_000_000_000, u64::MAX] {
        let _ = parse_time("from", text, now);
    }
    let _ = parse_duration("step", text);
    if let Some(ns) = parse_rfc3339(text) {
        let shown = rfc3339(ns);
        assert_eq!(parse_rfc3339(&shown), Some(ns), "{text:?} read as {shown}");
    }
    if let Some(cursor) = Cursor::decode(text) {
        assert_eq!(Cursor::decode(&cursor.encode()).as_ref(), Some(&cursor));
        if let Some(id) = cursor.id() {
            assert_eq!(Cursor::with_id(cursor.time, id), cursor);
        }
    }
    if let Some(decoded) = percent_decode(text) {
        assert!(decoded.len() <= text.len());
    }
}

/// `bytes` as a query string: unreserved characters, sub-delimiters, `:@/?` and `%` as
/// they are (so the input's own escapes, `&` and `=` reach the parser), every other byte
/// percent-encoded.
fn query(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    parsers(&String::from_utf8_lossy(data));

    let Some((&route, rest)) = data.split_first() else {
        return;
    };
    let uri = format!("{}?{}", ROUTES[usize::from(route) % ROUTES.len()], query(rest));
    let Ok(request) = Request::get(uri.as_str()).body(Body::empty()) else {
        return;
    };
    let server = server();
    let answer = server.runtime.block_on(server.router.clone().oneshot(request));
    let response = match answer {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let body = server
        .runtime
        .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .expect("the response body is read");
    assert!(
        !status.is_server_error(),
        "GET {uri}: {status}: {}",
        String::from_utf8_lossy(&body)
    );
});
