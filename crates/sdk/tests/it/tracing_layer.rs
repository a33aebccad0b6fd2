//! `tracing` spans and events through the layer, nested with our own spans.

use crate::isolated;
use crate::otlp::{collect, str_attr};
use automagik_telemetry_testkit::OtlpReceiver;
use std::time::Duration;
use tracing_subscriber::prelude::*;

#[test]
fn tracing_spans_and_events_become_spans_and_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = OtlpReceiver::start();
    let t = isolated(dir.path(), &[])
        .endpoint(rx.endpoint())
        .build()
        .expect("build");
    let subscriber = tracing_subscriber::registry().with(t.tracing_layer());
    tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!(
            "handle_request",
            route = "/orders",
            user_email = tracing::field::Empty
        );
        let _o = outer.enter();
        outer.record("user_email", "carol@example.com");
        tracing::info!(items = 3, api_key = "sk-live-1234567890", "order placed");
        let inner = tracing::debug_span!("db_query", table = "orders");
        let _i = inner.enter();
        let _ours = t.span("serialize");
        tracing::warn!(target: "automagik_telemetry", "own diagnostics are not exported");
        tracing::error!(error = "connection reset", "query failed");
    });
    t.flush(Duration::from_secs(10)).expect("flush");
    let got = collect(&rx.accepted());

    let span = |n: &str| {
        got.spans
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("span {n}: {:?}", got.spans))
    };
    let outer = span("handle_request");
    let inner = span("db_query");
    let ours = span("serialize");
    assert!(outer.parent_span_id.is_empty());
    assert_eq!(inner.parent_span_id, outer.span_id);
    assert_eq!(
        ours.parent_span_id, inner.span_id,
        "our span nests inside the entered tracing span"
    );
    assert_eq!(ours.trace_id, outer.trace_id);
    assert_eq!(
        str_attr(&outer.attributes, "route").as_deref(),
        Some("/orders")
    );
    assert_eq!(
        str_attr(&outer.attributes, "user_email").as_deref(),
        Some("[REDACTED:email]")
    );
    assert_eq!(
        str_attr(&inner.attributes, "table").as_deref(),
        Some("orders")
    );

    assert_eq!(
        got.logs.len(),
        2,
        "own diagnostics are filtered: {:?}",
        got.logs
    );
    let placed = got
        .logs
        .iter()
        .find(|l| l.severity_number == 9)
        .expect("info log");
    assert_eq!(
        placed.body.as_ref().and_then(|b| b.value.clone()),
        Some(
            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                "order placed".into()
            )
        )
    );
    assert_eq!(
        str_attr(&placed.attributes, "api_key").as_deref(),
        Some("[REDACTED:secret]")
    );
    assert_eq!(placed.span_id, outer.span_id);
    let failed = got
        .logs
        .iter()
        .find(|l| l.severity_number == 17)
        .expect("error log");
    assert_eq!(failed.span_id, inner.span_id);
    assert_eq!(
        str_attr(&failed.attributes, "error").as_deref(),
        Some("connection reset")
    );
}
