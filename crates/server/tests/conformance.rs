//! The storage conformance suite: one set of behaviours, written against the `Store`
//! trait, that every store runs — SQLite (in a temporary directory), PostgreSQL (a
//! fresh database on the machine's server per test) and ClickHouse (the real engine,
//! one per test).

use automagik_telemetry_core::exponential;
use automagik_telemetry_server::ingest::temporality::Temporality;
use automagik_telemetry_server::rollup::{
    GENAI_DIMENSIONS, GenAiAgg, GenAiKey, bucket_of, bucket_value_ns, quantile_ns,
};
use automagik_telemetry_server::rows::{
    self, AgentRunRow, Batch, BodyType, LlmCallRow, MetricPointRow, ScoreRow,
};
use automagik_telemetry_server::series::{self, Agg};
use automagik_telemetry_server::store::{GenAiRollupQuery, LlmCallQuery, ScoreQuery};
use automagik_telemetry_server::{
    ClickHouseStore, LogQuery, PostgresStore, RollupQuery, RunQuery, SqliteStore, Store, StoredRun,
    TraceQuery,
};
use automagik_telemetry_testkit::build::{any_kv, log_request, string_kv, trace_request};
use automagik_telemetry_testkit::clickhouse::ClickHouse;
use automagik_telemetry_testkit::pg::TestDatabase;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValueList, any_value::Value as V,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span};
use serde_json::{Value as Json, json};
use std::collections::HashSet;

/// 2023-11-14T22:00:00Z, a whole hour.
const T0: u64 = 1_699_999_200_000_000_000;
const MS: u64 = 1_000_000;
const MIN: u64 = 60_000_000_000;

fn tid(n: u8) -> Vec<u8> {
    let mut v = vec![0xab; 16];
    v[15] = n;
    v
}

fn sid(n: u16) -> Vec<u8> {
    let mut v = vec![0xcd; 8];
    v[6..].copy_from_slice(&n.to_be_bytes());
    v
}

fn span(name: &str, trace: u8, id: u16, parent: Option<u16>, start: u64, dur_ms: u64) -> Span {
    Span {
        trace_id: tid(trace),
        span_id: sid(id),
        parent_span_id: parent.map(sid).unwrap_or_default(),
        name: name.into(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + dur_ms * MS,
        attributes: vec![
            string_kv("http.route", "/users/{id}"),
            any_kv("http.status_code", V::IntValue(200)),
            any_kv("ratio", V::DoubleValue(0.25)),
            any_kv("cached", V::BoolValue(true)),
        ],
        ..Default::default()
    }
}

fn spans(service: &str, spans: Vec<Span>) -> Batch {
    rows::from_traces(&trace_request(service, spans))
}

fn log(time: u64, severity: i32, body: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: time,
        severity_number: severity,
        severity_text: "X".into(),
        body: Some(AnyValue {
            value: Some(V::StringValue(body.into())),
        }),
        ..Default::default()
    }
}

fn logs(service: &str, records: Vec<LogRecord>) -> Batch {
    rows::from_logs(&log_request(service, records))
}

fn json(text: &str) -> Json {
    serde_json::from_str(text).expect("stored JSON")
}

fn all_traces(store: &dyn Store, mut q: TraceQuery) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let page = store.traces(&q).expect("traces");
        seen.extend(page.items.iter().map(|t| t.root.trace_id.clone()));
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => return seen,
        }
    }
}

fn spans_round_trip(store: &dyn Store) {
    let mut root = span("GET /users/{id}", 1, 1, None, T0, 120);
    root.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    root.events = vec![span::Event {
        name: "exception".into(),
        time_unix_nano: T0 + 5 * MS,
        attributes: vec![string_kv("exception.type", "Timeout")],
        ..Default::default()
    }];
    let child = span("SELECT users", 1, 2, Some(1), T0 + MS, 30);
    store
        .insert(spans("api", vec![child.clone(), root]))
        .expect("insert");
    let got = store.trace(&hex::encode(tid(1))).expect("trace");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].name, "GET /users/{id}", "ordered by start time");
    assert_eq!(got[0].parent_span_id, "");
    assert_eq!(got[1].parent_span_id, hex::encode(sid(1)));
    assert_eq!(got[0].service_name, "api");
    assert_eq!(got[0].kind, 2);
    assert_eq!(got[0].start_time_unix_nano, T0, "ns timestamps exact");
    assert_eq!(got[0].end_time_unix_nano, T0 + 120 * MS);
    assert_eq!(
        (got[0].status_code, got[0].status_message.as_str()),
        (2, "boom")
    );
    assert_eq!(
        json(&got[0].attributes),
        json!({"http.route": "/users/{id}", "http.status_code": 200, "ratio": 0.25, "cached": true})
    );
    assert_eq!(
        json(&got[0].events),
        json!([{"name": "exception", "time_unix_nano": (T0 + 5 * MS).to_string(),
                "attributes": {"exception.type": "Timeout"}, "dropped_attributes_count": 0}])
    );
    assert_eq!(json(&got[0].links), json!([]));
    assert_eq!(json(&got[0].resource), json!({"service.name": "api"}));
    // Redelivery stores nothing twice.
    store.insert(spans("api", vec![child])).expect("again");
    assert_eq!(store.trace(&hex::encode(tid(1))).expect("trace").len(), 2);
    assert_eq!(store.stats().expect("stats").spans, 2);
    assert!(store.trace(&hex::encode(tid(9))).expect("none").is_empty());
}

/// Span links (with typed attributes), trace state, flags, scope, resource and every
/// dropped count come back as sent, from a request and from rows the server builds.
fn span_links_and_otlp_fields_round_trip(store: &dyn Store) {
    let mut linked = span("consume", 2, 1, None, T0, 40);
    linked.trace_state = "vendor=v1,other=x".into();
    linked.flags = 0x301;
    linked.dropped_attributes_count = 3;
    linked.dropped_events_count = 4;
    linked.dropped_links_count = 5;
    linked.events = vec![span::Event {
        name: "retry".into(),
        time_unix_nano: T0 + MS,
        attributes: vec![any_kv("attempt", V::IntValue(2))],
        dropped_attributes_count: 1,
    }];
    linked.links = vec![
        span::Link {
            trace_id: tid(1),
            span_id: sid(1),
            trace_state: "upstream=1".into(),
            attributes: vec![
                string_kv("link.kind", "follows_from"),
                any_kv("batch.size", V::IntValue(12)),
                any_kv("sampled", V::BoolValue(true)),
            ],
            dropped_attributes_count: 2,
            flags: 0x101,
        },
        span::Link {
            trace_id: tid(3),
            span_id: sid(9),
            ..Default::default()
        },
    ];
    let mut request = trace_request("worker", vec![linked]);
    let rs = &mut request.resource_spans[0];
    rs.resource
        .get_or_insert_with(Default::default)
        .attributes
        .push(string_kv("service.version", "4.2.0"));
    rs.scope_spans[0].scope = Some(InstrumentationScope {
        name: "queue-consumer".into(),
        version: "0.9.1".into(),
        ..Default::default()
    });
    store.insert(rows::from_traces(&request)).expect("insert");
    let got = store.trace(&hex::encode(tid(2))).expect("trace");
    assert_eq!(got.len(), 1);
    let s = &got[0];
    assert_eq!(s.trace_state, "vendor=v1,other=x");
    assert_eq!(s.flags, 0x301, "trace flags and the is-remote bits");
    assert_eq!(
        (s.scope_name.as_str(), s.scope_version.as_str()),
        ("queue-consumer", "0.9.1")
    );
    assert_eq!(
        json(&s.resource),
        json!({"service.name": "worker", "service.version": "4.2.0"})
    );
    assert_eq!(
        (
            s.dropped_attributes_count,
            s.dropped_events_count,
            s.dropped_links_count
        ),
        (3, 4, 5)
    );
    assert_eq!(
        json(&s.events),
        json!([{"name": "retry", "time_unix_nano": (T0 + MS).to_string(),
                "attributes": {"attempt": 2}, "dropped_attributes_count": 1}])
    );
    let links = json!([
        {"trace_id": hex::encode(tid(1)), "span_id": hex::encode(sid(1)),
         "trace_state": "upstream=1",
         "attributes": {"link.kind": "follows_from", "batch.size": 12, "sampled": true},
         "flags": 0x101, "dropped_attributes_count": 2},
        {"trace_id": hex::encode(tid(3)), "span_id": hex::encode(sid(9)),
         "trace_state": "", "attributes": {}, "flags": 0, "dropped_attributes_count": 0},
    ]);
    assert_eq!(
        json(&s.links),
        links,
        "in order, with their attributes' types"
    );
    // The trace listing reads the same columns.
    let listed = store
        .traces(&TraceQuery {
            name: Some("consume".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("traces");
    assert_eq!(listed.items[0].root.links, s.links);

    // A span the server builds itself (no request behind it) keeps the same fields.
    let built = rows::SpanRow {
        trace_id: hex::encode(tid(4)),
        span_id: hex::encode(sid(1)),
        name: "built".into(),
        service_name: "worker".into(),
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + MS,
        trace_state: "k=v".into(),
        flags: 1,
        scope_name: "server".into(),
        dropped_links_count: 1,
        links: links.to_string(),
        ..Default::default()
    };
    store
        .insert(Batch {
            spans: vec![built],
            ..Default::default()
        })
        .expect("insert built");
    let got = store.trace(&hex::encode(tid(4))).expect("trace");
    assert_eq!(
        (
            got[0].trace_state.as_str(),
            got[0].flags,
            got[0].scope_name.as_str(),
            got[0].dropped_links_count
        ),
        ("k=v", 1, "server", 1)
    );
    assert_eq!(json(&got[0].links), links);
}

/// Log bodies of every OTLP type come back with their type, and structured; the
/// observed time, flags, scope and dropped count are kept; text search reads every body.
fn structured_log_bodies_and_log_fields_round_trip(store: &dyn Store) {
    let any = |v: V| Some(AnyValue { value: Some(v) });
    let map = V::KvlistValue(KeyValueList {
        values: vec![
            string_kv("user", "ada"),
            any_kv("n", V::IntValue(3)),
            any_kv(
                "nested",
                V::KvlistValue(KeyValueList {
                    values: vec![any_kv("ok", V::BoolValue(true))],
                }),
            ),
            any_kv(
                "tags",
                V::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(V::StringValue("a".into())),
                    }],
                }),
            ),
        ],
    });
    let bodies = vec![
        (
            any(V::StringValue("plain text".into())),
            BodyType::String,
            json!("plain text"),
        ),
        (
            any(map),
            BodyType::Kvlist,
            json!({"user": "ada", "n": 3, "nested": {"ok": true}, "tags": ["a"]}),
        ),
        (
            any(V::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(V::IntValue(1)),
                    },
                    AnyValue {
                        value: Some(V::StringValue("two".into())),
                    },
                ],
            })),
            BodyType::Array,
            json!([1, "two"]),
        ),
        (any(V::IntValue(-42)), BodyType::Int, json!(-42)),
        (any(V::DoubleValue(2.5)), BodyType::Double, json!(2.5)),
        (any(V::BoolValue(true)), BodyType::Bool, json!(true)),
        (
            any(V::BytesValue(vec![0xbe, 0xef])),
            BodyType::Bytes,
            json!("beef"),
        ),
        (None, BodyType::String, Json::Null),
    ];
    let records: Vec<LogRecord> = bodies
        .iter()
        .enumerate()
        .map(|(i, (body, ..))| LogRecord {
            time_unix_nano: T0 + i as u64 * MS,
            observed_time_unix_nano: T0 + i as u64 * MS + 7,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: body.clone(),
            flags: 1,
            dropped_attributes_count: i as u32,
            ..Default::default()
        })
        .collect();
    let mut request = log_request("api", records);
    request.resource_logs[0].scope_logs[0].scope = Some(InstrumentationScope {
        name: "app.logger".into(),
        version: "1.0".into(),
        ..Default::default()
    });
    // Without a time of its own, a record takes its observed time, and keeps it too.
    let mut observed_only = log(0, 13, "observed only");
    observed_only.observed_time_unix_nano = T0 + 100 * MS;
    request.resource_logs[0].scope_logs[0]
        .log_records
        .push(observed_only);
    store.insert(rows::from_logs(&request)).expect("insert");
    let mut got: Vec<_> = store
        .logs(&LogQuery {
            limit: 100,
            ..Default::default()
        })
        .expect("logs")
        .items
        .into_iter()
        .map(|l| l.row)
        .collect();
    got.reverse();
    assert_eq!(got.len(), bodies.len() + 1);
    for (i, (row, (_, body_type, value))) in got.iter().zip(&bodies).enumerate() {
        assert_eq!(row.body_type, *body_type, "record {i}");
        assert_eq!(row.body_value(), *value, "record {i}");
        assert_eq!(row.observed_time_unix_nano, T0 + i as u64 * MS + 7);
        assert_eq!(row.flags, 1);
        assert_eq!(row.dropped_attributes_count, i as u32);
        assert_eq!(
            (row.scope_name.as_str(), row.scope_version.as_str()),
            ("app.logger", "1.0")
        );
        assert_eq!(row.severity_text, "INFO");
    }
    let last = &got[bodies.len()];
    assert_eq!(
        (last.time_unix_nano, last.observed_time_unix_nano),
        (T0 + 100 * MS, T0 + 100 * MS)
    );
    assert_eq!(last.body.as_deref(), Some("observed only"));
    // Search reads the text of structured bodies: a map's keys and values.
    let found = |text: &str| {
        store
            .logs(&LogQuery {
                text: Some(text.into()),
                limit: 100,
                ..Default::default()
            })
            .expect("search")
            .items
            .into_iter()
            .map(|l| l.row.body_type)
            .collect::<Vec<_>>()
    };
    assert_eq!(found("ada"), vec![BodyType::Kvlist]);
    assert_eq!(found("two"), vec![BodyType::Array]);
    assert_eq!(found("plain"), vec![BodyType::String]);
}

fn trace_listing_filters_and_pages(store: &dyn Store) {
    // 30 traces, every 3rd in service "web", every 5th failing, durations 10..300 ms;
    // the timestamps repeat in pairs so pages must break ties.
    for i in 0..30u8 {
        let service = if i % 3 == 0 { "web" } else { "api" };
        let mut root = span(
            "op",
            i,
            100,
            None,
            T0 + u64::from(i / 2) * MS,
            10 * u64::from(i + 1),
        );
        if i % 5 == 0 {
            root.status = Some(Status {
                code: 2,
                message: String::new(),
            });
        }
        let child = span("child", i, 101, Some(100), T0 + 10 * MS, 1);
        store
            .insert(spans(service, vec![root, child]))
            .expect("insert");
    }
    // A span under a parent that is not stored (a remote parent) is a root.
    store
        .insert(spans(
            "edge",
            vec![span("remote", 31, 7, Some(999), T0 + 60 * MS, 5)],
        ))
        .expect("remote");
    let q = |f: &dyn Fn(&mut TraceQuery)| {
        let mut q = TraceQuery {
            limit: 7,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let listed = all_traces(store, q(&|_| {}));
    assert_eq!(listed.len(), 31, "every trace once, across pages");
    assert_eq!(listed.iter().collect::<HashSet<_>>().len(), 31);
    assert_eq!(listed[0], hex::encode(tid(31)), "newest first");
    let first = store.traces(&q(&|_| {})).expect("page");
    assert_eq!(first.items[0].span_count, 1);
    assert_eq!(first.items[1].span_count, 2);
    assert_eq!(
        all_traces(store, q(&|q| q.service = Some("web".into()))).len(),
        10
    );
    assert_eq!(all_traces(store, q(&|q| q.status_code = Some(2))).len(), 6);
    assert_eq!(
        all_traces(store, q(&|q| q.name = Some("remote".into()))).len(),
        1
    );
    assert_eq!(
        all_traces(store, q(&|q| q.min_duration_ns = Some(250 * MS))).len(),
        6,
        "250..300 ms"
    );
    assert_eq!(
        all_traces(
            store,
            q(&|q| {
                q.from = Some(T0 + 10 * MS);
                q.to = Some(T0 + 12 * MS);
            })
        )
        .len(),
        6,
        "starts at 10, 11, 12 ms, two traces each"
    );
}

fn log_listing_filters_and_pages(store: &dyn Store) {
    let mut records: Vec<LogRecord> = (0..25u64)
        .map(|i| {
            log(
                T0 + (i / 5) * MS,
                if i % 2 == 0 { 9 } else { 17 },
                &format!("line {i}"),
            )
        })
        .collect();
    records.push(log(T0 + 100 * MS, 13, "100% done_ok"));
    records.push(log(T0 + 101 * MS, 13, "1000 done"));
    let mut traced = log(T0 + 102 * MS, 9, "in a trace");
    traced.trace_id = tid(4);
    traced.span_id = sid(4);
    records.push(traced);
    let mut event = log(T0 + 103 * MS, 9, "");
    event.event_name = "user.signup".into();
    event.attributes = vec![string_kv("plan", "pro")];
    records.push(event);
    store.insert(logs("api", records)).expect("insert");
    store
        .insert(logs("web", vec![log(T0 + 200 * MS, 21, "fatal")]))
        .expect("insert");
    let all = |mut q: LogQuery| {
        let mut out = Vec::new();
        loop {
            let page = store.logs(&q).expect("logs");
            out.extend(page.items.into_iter().map(|l| l.row));
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => return out,
            }
        }
    };
    let base = LogQuery {
        limit: 4,
        ..Default::default()
    };
    let every = all(base.clone());
    assert_eq!(every.len(), 30);
    assert!(
        every
            .windows(2)
            .all(|w| w[0].time_unix_nano >= w[1].time_unix_nano)
    );
    assert_eq!(every[0].body.as_deref(), Some("fatal"));
    let q = |f: &dyn Fn(&mut LogQuery)| {
        let mut q = base.clone();
        f(&mut q);
        all(q)
    };
    assert_eq!(q(&|q| q.service = Some("web".into())).len(), 1);
    assert_eq!(
        q(&|q| q.severity_min = Some(17)).len(),
        13,
        "12 errors and the fatal"
    );
    // `%` and `_` in the search text are literal characters.
    let found = q(&|q| q.text = Some("0% done_".into()));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].body.as_deref(), Some("100% done_ok"));
    let traced = q(&|q| q.trace_id = Some(hex::encode(tid(4))));
    assert_eq!(traced.len(), 1);
    assert_eq!(
        traced[0].span_id.as_deref(),
        Some(hex::encode(sid(4)).as_str())
    );
    let events = q(&|q| q.events_only = true);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_name.as_deref(), Some("user.signup"));
    assert_eq!(json(&events[0].attributes), json!({"plan": "pro"}));
    assert_eq!(q(&|q| q.event_name = Some("user.signup".into())).len(), 1);
    assert_eq!(q(&|q| q.event_name = Some("other".into())).len(), 0);
    assert_eq!(
        q(&|q| {
            q.from = Some(T0 + MS);
            q.to = Some(T0 + 2 * MS);
        })
        .len(),
        10
    );
    let stats = store.stats().expect("stats");
    assert_eq!((stats.logs, stats.events), (30, 1));
    assert_eq!(
        store.services(1000).expect("services"),
        vec!["api".to_string(), "web".to_string()]
    );
    // The first `limit` names and one more, to tell that more exist.
    assert_eq!(
        store.services(0).expect("services"),
        vec!["api".to_string()]
    );
}

/// The server's own metric points (probes, fleet gauges) make no service of their own;
/// the same name on spans or logs does.
fn the_servers_own_metric_points_name_no_service(store: &dyn Store) {
    let own = automagik_telemetry_server::SERVER_SERVICE_NAME;
    store
        .insert(Batch {
            metric_points: vec![
                MetricPointRow::number(
                    "fleet.host.cpu.usage_percent",
                    own,
                    "gauge",
                    T0,
                    Some(3.5),
                    "{}",
                ),
                MetricPointRow::number("up", own, "gauge", T0, Some(1.0), r#"{"target":"db"}"#),
                point("queue.depth", T0, 1.0, "{}"),
            ],
            ..Default::default()
        })
        .expect("insert");
    assert_eq!(
        store.services(1000).expect("services"),
        vec!["api".to_string()]
    );
    store
        .insert(logs(own, vec![log(T0, 9, "started")]))
        .expect("insert");
    assert_eq!(
        store.services(1000).expect("services"),
        vec!["api".to_string(), own.to_string()]
    );
}

fn point(name: &str, time: u64, value: f64, attrs: &str) -> MetricPointRow {
    MetricPointRow::number(name, "api", "gauge", time, Some(value), attrs)
}

fn metrics_points_and_rollups(store: &dyn Store) {
    let first: Vec<_> = (0..10u64)
        .map(|i| {
            point(
                "queue.depth",
                T0 + i * 10_000 * MS,
                i as f64,
                r#"{"queue":"a"}"#,
            )
        })
        .collect();
    let mut second: Vec<_> = (0..5u64)
        .map(|i| {
            point(
                "queue.depth",
                T0 + i * 1_000 * MS,
                100.0 + i as f64,
                r#"{"queue":"b"}"#,
            )
        })
        .collect();
    second.push(MetricPointRow {
        kind: "histogram",
        value: None,
        count: Some(4),
        sum: Some(40.0),
        min: Some(1.0),
        max: Some(20.0),
        bucket_counts: Some(vec![1, 3]),
        explicit_bounds: Some(vec![5.0]),
        ..point("latency", T0, 0.0, "{}")
    });
    for points in [first, second] {
        store
            .insert(Batch {
                metric_points: points,
                ..Default::default()
            })
            .expect("insert");
    }
    let first: Vec<String> = store
        .metric_names(0)
        .expect("names")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(first, ["latency"], "the first `limit` names and one more");
    let names = store.metric_names(1000).expect("names");
    let names: Vec<_> = names
        .iter()
        .map(|m| (m.name.as_str(), m.kind.as_str(), m.points))
        .collect();
    assert_eq!(
        names,
        vec![("latency", "histogram", 1), ("queue.depth", "gauge", 15)]
    );
    let points = store
        .metric_points("queue.depth", T0, T0 + 30_000 * MS, 1000)
        .expect("points");
    assert_eq!(points.len(), 9, "0..30 s: four of a, all five of b");
    assert!(
        points
            .windows(2)
            .all(|w| w[0].time_unix_nano <= w[1].time_unix_nano)
    );
    // Points of the same time come in no promised order; find one by its value.
    let first_a = points
        .iter()
        .find(|p| p.value == Some(0.0))
        .expect("the first point of a");
    assert_eq!(json(&first_a.attributes)["queue"], "a");
    let capped = store
        .metric_points("queue.depth", 0, u64::MAX / 2, 3)
        .expect("cap");
    assert_eq!(capped.len(), 4, "max + 1 tells there is more");
    let rollups = store
        .metric_rollups(&RollupQuery {
            resolution: 60,
            from: T0,
            to: T0 + 10 * MIN,
            service: None,
            name: Some("queue.depth".into()),
        })
        .expect("rollups");
    // Minute 0: a at 0..50 s (6 points, 0..5) and all of b; minute 1: a at 60..90 s.
    assert_eq!(rollups.len(), 2);
    let (k, m) = &rollups[0];
    assert_eq!(
        (k.bucket, m.count, m.sum, m.min, m.max),
        (T0, 11, 15.0 + 510.0, 0.0, 104.0)
    );
    assert_eq!((rollups[1].1.count, rollups[1].1.max), (4, 9.0));
    let hourly = store
        .metric_rollups(&RollupQuery {
            resolution: 3600,
            from: T0,
            to: T0,
            service: Some("api".into()),
            name: Some("latency".into()),
        })
        .expect("hourly");
    assert_eq!(hourly.len(), 1);
    assert_eq!(
        (hourly[0].1.count, hourly[0].1.sum, hourly[0].1.max),
        (4, 40.0, 20.0)
    );
}

/// A request of one metric of `service`.
fn metric_request(service: &str, name: &str, data: Data) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", service)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: name.into(),
                    data: Some(data),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Stores `req` as ingest does: cumulative points as increases, exponential
/// histograms as explicit buckets.
fn ingest_metrics(
    store: &dyn Store,
    temporality: &Temporality,
    mut req: ExportMetricsServiceRequest,
) {
    let pending = temporality.begin_blocking(&mut req);
    let refused = exponential::check_request(&mut req);
    assert!(refused.is_empty(), "{refused:?}");
    store.insert(rows::into_metrics(req)).expect("insert");
    pending.commit();
}

fn metrics_of_every_kind_from_sdk_requests(store: &dyn Store) {
    let temporality = Temporality::new(T0);
    let cumulative = AggregationTemporality::Cumulative as i32;
    // A cumulative counter exported three times: 5, 12, 16.
    for (i, total) in [5, 12, 16].into_iter().enumerate() {
        let point = NumberDataPoint {
            start_time_unix_nano: T0 + MS,
            time_unix_nano: T0 + (i as u64 + 1) * MIN,
            value: Some(number_data_point::Value::AsInt(total)),
            ..Default::default()
        };
        let up_down = NumberDataPoint {
            value: Some(number_data_point::Value::AsInt([10, 15, 12][i])),
            ..point.clone()
        };
        for (name, monotonic, p) in [("requests", true, point), ("in_flight", false, up_down)] {
            let data = Data::Sum(Sum {
                data_points: vec![p],
                aggregation_temporality: cumulative,
                is_monotonic: monotonic,
            });
            ingest_metrics(store, &temporality, metric_request("api", name, data));
        }
    }
    let requests = store
        .metric_points("requests", T0, T0 + 10 * MIN, 100)
        .expect("points");
    let increases: Vec<f64> = requests.iter().filter_map(|p| p.value).collect();
    assert_eq!(increases, [5.0, 7.0, 4.0]);
    assert_eq!(requests[0].kind, "sum");
    let in_flight = store
        .metric_points("in_flight", T0, T0 + 10 * MIN, 100)
        .expect("points");
    assert_eq!(in_flight.len(), 3);
    assert_eq!(in_flight[2].kind, "updown_sum");
    let current = series::from_points(&in_flight, T0, 10 * MIN, Agg::Last, None);
    assert_eq!(current[0].1[0].value, 12.0);
    let kinds: Vec<(String, String)> = store
        .metric_names(100)
        .expect("names")
        .into_iter()
        .map(|m| (m.name, m.kind))
        .collect();
    assert!(
        kinds.contains(&("in_flight".into(), "updown_sum".into())),
        "{kinds:?}"
    );

    // An explicit-bucket histogram and an exponential one: buckets read back.
    let histogram = Data::Histogram(Histogram {
        data_points: vec![HistogramDataPoint {
            start_time_unix_nano: T0,
            time_unix_nano: T0 + MIN,
            count: 40,
            sum: Some(700.0),
            bucket_counts: vec![10, 10, 10, 10],
            explicit_bounds: vec![10.0, 20.0, 30.0],
            min: Some(1.0),
            max: Some(35.0),
            exemplars: vec![Exemplar {
                time_unix_nano: T0 + MIN - MS,
                value: Some(exemplar::Value::AsDouble(33.5)),
                trace_id: tid(9),
                span_id: sid(9),
                filtered_attributes: vec![string_kv("user.tier", "gold")],
            }],
            ..Default::default()
        }],
        aggregation_temporality: AggregationTemporality::Delta as i32,
    });
    ingest_metrics(
        store,
        &temporality,
        metric_request("api", "latency", histogram),
    );
    // The exemplar comes back with its trace and span ids, and only points with one.
    let with_exemplars = store
        .metric_exemplars("latency", T0, T0 + 10 * MIN, 10)
        .expect("exemplars");
    assert_eq!(with_exemplars.len(), 1);
    let exemplar = &json(&with_exemplars[0].exemplars)[0];
    assert_eq!(exemplar["trace_id"], hex::encode(tid(9)));
    assert_eq!(exemplar["span_id"], hex::encode(sid(9)));
    assert_eq!(exemplar["value"], 33.5);
    assert_eq!(exemplar["time_unix_nano"], (T0 + MIN - MS).to_string());
    assert_eq!(exemplar["attributes"]["user.tier"], "gold");
    assert!(
        store
            .metric_exemplars("requests", T0, T0 + 10 * MIN, 10)
            .expect("exemplars")
            .is_empty()
    );
    let exponential = Data::ExponentialHistogram(ExponentialHistogram {
        data_points: vec![ExponentialHistogramDataPoint {
            start_time_unix_nano: T0,
            time_unix_nano: T0 + MIN,
            count: 8,
            sum: Some(30.0),
            scale: 0,
            positive: Some(Buckets {
                offset: 0,
                bucket_counts: vec![2, 2, 4],
            }),
            min: Some(1.5),
            max: Some(8.0),
            ..Default::default()
        }],
        aggregation_temporality: AggregationTemporality::Delta as i32,
    });
    ingest_metrics(
        store,
        &temporality,
        metric_request("api", "sizes", exponential),
    );
    let latency = store
        .metric_points("latency", T0, T0 + 10 * MIN, 100)
        .expect("points");
    assert_eq!(
        latency[0].bucket_counts.as_deref(),
        Some(&[10, 10, 10, 10][..])
    );
    assert_eq!(
        latency[0].explicit_bounds.as_deref(),
        Some(&[10.0, 20.0, 30.0][..])
    );
    let median = series::from_points(&latency, T0, 10 * MIN, Agg::Quantile(500), None);
    assert_eq!(median[0].1[0].value, 20.0);
    // The same histogram again in another batch: the minute's rollup merges the buckets
    // (SQLite and PostgreSQL; ClickHouse's rollup views keep none, and its percentiles
    // read the raw rows).
    let again = Data::Histogram(Histogram {
        data_points: vec![HistogramDataPoint {
            start_time_unix_nano: T0,
            time_unix_nano: T0 + MIN + MS,
            count: 40,
            sum: Some(700.0),
            bucket_counts: vec![10, 10, 10, 10],
            explicit_bounds: vec![10.0, 20.0, 30.0],
            min: Some(1.0),
            max: Some(35.0),
            ..Default::default()
        }],
        aggregation_temporality: AggregationTemporality::Delta as i32,
    });
    ingest_metrics(store, &temporality, metric_request("api", "latency", again));
    let rollups = store
        .metric_rollups(&RollupQuery {
            resolution: 60,
            from: T0,
            to: T0 + 10 * MIN,
            service: None,
            name: Some("latency".into()),
        })
        .expect("rollups");
    assert_eq!(rollups.len(), 1);
    assert_eq!(rollups[0].1.count, 80);
    if !rollups[0].1.buckets.is_empty() {
        assert_eq!(
            rollups[0].1.buckets,
            [(10.0, 20), (20.0, 20), (30.0, 20), (f64::INFINITY, 20)]
        );
        let p75 = series::from_rollups(&rollups, T0, 10 * MIN, Agg::Quantile(750));
        assert_eq!(p75[0].value, 30.0);
    }
    let sizes = store
        .metric_points("sizes", T0, T0 + 10 * MIN, 100)
        .expect("points");
    // Scale 0: buckets (1, 2], (2, 4], (4, 8] after an empty one up to 1; the last one
    // open, ended by max.
    assert_eq!(sizes[0].kind, "histogram");
    assert_eq!(
        sizes[0].explicit_bounds.as_deref(),
        Some(&[1.0, 2.0, 4.0][..])
    );
    assert_eq!(sizes[0].bucket_counts.as_deref(), Some(&[0, 2, 2, 4][..]));
    let p75 = series::from_points(&sizes, T0, 10 * MIN, Agg::Quantile(750), None);
    assert_eq!(p75[0].1[0].value, 6.0, "half-way through (4, 8]");
}

fn summaries_are_stored_as_increases_with_their_quantiles(store: &dyn Store) {
    // A summary (as Prometheus client libraries and the Collector's Prometheus receiver
    // send them): cumulative count and sum, exported twice, with its quantiles.
    let temporality = Temporality::new(T0);
    let quantiles = |median: f64| {
        [
            (0.0, 1.0),
            (0.5, median),
            (0.99, median * 3.0),
            (1.0, 100.0),
        ]
        .into_iter()
        .map(|(quantile, value)| ValueAtQuantile { quantile, value })
        .collect()
    };
    for (i, (count, sum, median)) in [(10u64, 200.0, 15.0), (25, 650.0, 20.0)]
        .into_iter()
        .enumerate()
    {
        let data = Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                start_time_unix_nano: T0 + MS,
                time_unix_nano: T0 + (i as u64 + 1) * MIN,
                count,
                sum,
                quantile_values: quantiles(median),
                attributes: vec![string_kv("route", "/pay")],
                ..Default::default()
            }],
        });
        ingest_metrics(
            store,
            &temporality,
            metric_request("api", "rpc_seconds", data),
        );
    }
    let points = store
        .metric_points("rpc_seconds", T0, T0 + 10 * MIN, 100)
        .expect("points");
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].kind, "summary");
    let increases: Vec<(Option<u64>, Option<f64>)> =
        points.iter().map(|p| (p.count, p.sum)).collect();
    assert_eq!(
        increases,
        [(Some(10), Some(200.0)), (Some(15), Some(450.0))]
    );
    assert_eq!(
        points[1].quantiles.as_deref(),
        Some(&[(0.0, 1.0), (0.5, 20.0), (0.99, 60.0), (1.0, 100.0)][..])
    );
    assert_eq!((points[1].min, points[1].max), (Some(1.0), Some(100.0)));
    let kinds: Vec<(String, String)> = store
        .metric_names(100)
        .expect("names")
        .into_iter()
        .map(|m| (m.name, m.kind))
        .collect();
    assert!(
        kinds.contains(&("rpc_seconds".into(), "summary".into())),
        "{kinds:?}"
    );
    // Percentiles from the last summary of the step; count and mean from the increases.
    let at = |agg| series::from_points(&points, T0, 10 * MIN, agg, None)[0].1[0].value;
    assert_eq!(at(Agg::Quantile(500)), 20.0);
    assert_eq!(at(Agg::Quantile(990)), 60.0);
    assert_eq!(at(Agg::Count), 25.0);
    assert_eq!(at(Agg::Avg), 650.0 / 25.0);
    // The rollups add the increases.
    let rollups = store
        .metric_rollups(&RollupQuery {
            resolution: 3600,
            from: T0,
            to: T0 + 10 * MIN,
            service: None,
            name: Some("rpc_seconds".into()),
        })
        .expect("rollups");
    let count: u64 = rollups.iter().map(|r| r.1.count).sum();
    let sum: f64 = rollups.iter().map(|r| r.1.sum).sum();
    assert_eq!((count, sum), (25, 650.0));
}

fn span_rollups_merge_across_batches(store: &dyn Store) {
    // 100 spans of 1..=100 ms in two batches, the same minute; 10 failing.
    for half in 0..2u16 {
        let batch: Vec<Span> = (1..=50u16)
            .map(|i| {
                let n = half * 50 + i;
                let mut s = span(
                    "GET /",
                    (n % 200) as u8,
                    n,
                    None,
                    T0 + u64::from(n) * MS,
                    u64::from(n),
                );
                if n % 10 == 0 {
                    s.status = Some(Status {
                        code: 2,
                        message: String::new(),
                    });
                }
                s
            })
            .collect();
        store.insert(spans("api", batch)).expect("insert");
    }
    store
        .insert(spans(
            "api",
            vec![span("POST /", 250, 1, None, T0 + 2 * MIN, 7)],
        ))
        .expect("other op");
    let q = RollupQuery {
        resolution: 60,
        from: T0,
        to: T0 + 5 * MIN,
        service: Some("api".into()),
        name: None,
    };
    let rows = store.span_rollups(&q).expect("rollups");
    assert_eq!(rows.len(), 2);
    let (key, agg) = &rows[0];
    assert_eq!((key.operation.as_str(), key.bucket), ("GET /", T0));
    assert_eq!(
        (agg.count, agg.errors, agg.duration_sum_ns),
        (100, 10, 5050 * MS)
    );
    for (q, want) in [(0.5, 50.0), (0.95, 95.0), (0.99, 99.0)] {
        let got = quantile_ns(&agg.hist, q).expect("histogram") / MS as f64;
        assert!(
            (got / want - 1.0).abs() < 0.1,
            "p{q} = {got} ms, want {want}"
        );
    }
    let hourly = store
        .span_rollups(&RollupQuery {
            resolution: 3600,
            name: Some("GET /".into()),
            ..q
        })
        .expect("hourly");
    assert_eq!(hourly.len(), 1);
    assert_eq!(hourly[0].1.count, 100);
}

fn agent_spans(correlation: &str, trace: u8, start: u64, failed: bool) -> Vec<Span> {
    let mut run = span("invoke_agent planner", trace, 1, None, start, 900);
    run.attributes = vec![
        string_kv("gen_ai.operation.name", "invoke_agent"),
        string_kv("gen_ai.agent.name", "planner"),
        string_kv("correlation_id", correlation),
        any_kv("agent.quality_score", V::DoubleValue(0.75)),
    ];
    if failed {
        run.status = Some(Status {
            code: 2,
            message: "tool failed".into(),
        });
    }
    let mut tool = span(
        "execute_tool search",
        trace,
        2,
        Some(1),
        start + 10 * MS,
        250,
    );
    tool.attributes = vec![
        string_kv("gen_ai.operation.name", "execute_tool"),
        string_kv("gen_ai.tool.name", "search"),
        string_kv("gen_ai.agent.name", "planner"),
        string_kv("correlation_id", correlation),
    ];
    vec![run, tool]
}

fn agent_runs_and_actions(store: &dyn Store) {
    let ids: Vec<String> = (0..5)
        .map(|i| format!("00000000-0000-4000-8000-00000000000{i}"))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        store
            .insert(spans(
                "agents",
                agent_spans(id, 50 + i as u8, T0 + i as u64 * MIN, i == 4),
            ))
            .expect("run");
    }
    let mut decision = log(T0 + 20 * MS, 9, "");
    decision.event_name = "agent.decision".into();
    decision.attributes = vec![
        string_kv("correlation_id", &ids[0]),
        string_kv("agent.action_id", "dec-1"),
        string_kv("agent.choice", "search"),
        string_kv("gen_ai.agent.name", "planner"),
    ];
    store
        .insert(logs("agents", vec![decision.clone()]))
        .expect("decision");
    store
        .insert(logs("agents", vec![decision]))
        .expect("redelivered decision");

    let page = store
        .runs(&RunQuery {
            limit: 2,
            ..Default::default()
        })
        .expect("runs");
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].row.correlation_id, ids[4], "newest first");
    assert_eq!(page.items[0].row.status, "failed");
    assert_eq!(page.items[0].row.error.as_deref(), Some("tool failed"));
    let rest = store
        .runs(&RunQuery {
            limit: 10,
            cursor: page.next,
            ..Default::default()
        })
        .expect("rest");
    assert_eq!(rest.items.len(), 3);
    assert!(rest.next.is_none());
    let failed = store
        .runs(&RunQuery {
            status: Some("failed".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("failed");
    assert_eq!(failed.items.len(), 1);
    let none = store
        .runs(&RunQuery {
            agent: Some("other".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("other agent");
    assert!(none.items.is_empty());

    let run = store.run(&ids[0]).expect("run").expect("found");
    assert_eq!(run.row.agent_name, "planner");
    assert_eq!(run.row.quality_score, Some(0.75));
    assert_eq!(
        run.row.end_time_unix_nano - run.row.start_time_unix_nano,
        900 * MS
    );
    assert_eq!(run.action_count, 2);
    let actions = store.actions(&ids[0]).expect("actions");
    let kinds: Vec<_> = actions
        .iter()
        .map(|a| (a.action_type.as_str(), a.name.as_str()))
        .collect();
    assert_eq!(kinds, vec![("tool_call", "search"), ("decision", "search")]);
    assert_eq!(actions[0].duration_ns, 250 * MS);
    assert!(store.run("no-such-run").expect("lookup").is_none());
    assert_eq!(store.stats().expect("stats").agent_actions, 6);

    let rollups = store
        .agent_rollups(&RollupQuery {
            resolution: 3600,
            from: T0,
            to: T0,
            service: Some("planner".into()),
            name: None,
        })
        .expect("agent rollups");
    let by_type: Vec<_> = rollups
        .iter()
        .map(|(k, v)| (k.action_type.as_str(), v.count, v.errors))
        .collect();
    // The decision was delivered twice; rollups count deliveries, runs and actions
    // are stored once.
    assert!(by_type.contains(&("run", 5, 1)), "{by_type:?}");
    assert!(by_type.contains(&("tool_call", 5, 0)), "{by_type:?}");
}

/// A run of trace 70 by `user-1`, started at `start`.
fn run_row(correlation: &str, span: &str, parent: &str, session: &str, start: u64) -> AgentRunRow {
    AgentRunRow {
        correlation_id: correlation.into(),
        agent_name: "planner".into(),
        status: "completed".into(),
        service_name: "agents".into(),
        trace_id: hex::encode(tid(70)),
        span_id: span.into(),
        parent_span_id: parent.into(),
        session_id: session.into(),
        user_id: "user-1".into(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + 900 * MS,
        quality_score: None,
        error: None,
        attributes: r#"{"k":"v"}"#.into(),
    }
}

/// A run's place: correlation id, span, parent span, session, user.
fn run_place(r: &StoredRun) -> (&str, &str, &str, &str, &str) {
    (
        r.row.correlation_id.as_str(),
        r.row.span_id.as_str(),
        r.row.parent_span_id.as_str(),
        r.row.session_id.as_str(),
        r.row.user_id.as_str(),
    )
}

/// A priced chat call of session `sess-1` by `user-1`.
fn llm_call(trace: u8, span: u16, parent: &str, start: u64) -> LlmCallRow {
    LlmCallRow {
        trace_id: hex::encode(tid(trace)),
        span_id: hex::encode(sid(span)),
        parent_span_id: parent.into(),
        correlation_id: String::new(),
        agent_name: "planner".into(),
        service_name: "agents".into(),
        operation: "chat".into(),
        provider: "openai".into(),
        request_model: "gpt-4o".into(),
        response_model: "gpt-4o-2024-08-06".into(),
        input_tokens: Some(1_200),
        output_tokens: Some(300),
        cache_read_tokens: Some(200),
        cache_write_tokens: Some(0),
        reasoning_tokens: Some(50),
        cost_usd: Some(0.0105),
        start_time_unix_nano: start,
        duration_ns: 800 * MS,
        time_to_first_token_ns: Some(120 * MS),
        finish_reasons: r#"["stop","length"]"#.into(),
        is_error: false,
        session_id: "sess-1".into(),
        user_id: "user-1".into(),
    }
}

/// Asserts that `got` is `want`, in order, every field equal (the finish reasons as
/// JSON: a store may write the array back with its own spacing).
fn assert_calls(got: Vec<LlmCallRow>, want: &[&LlmCallRow]) {
    let spans: Vec<&str> = got.iter().map(|c| c.span_id.as_str()).collect();
    let wanted: Vec<&str> = want.iter().map(|c| c.span_id.as_str()).collect();
    assert_eq!(spans, wanted, "which calls, newest first");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(json(&g.finish_reasons), json(&w.finish_reasons));
        let g = LlmCallRow {
            finish_reasons: w.finish_reasons.clone(),
            ..g.clone()
        };
        assert_eq!(&g, *w);
    }
}

/// Score targets as a [`ScoreQuery`] takes them.
fn targets(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(kind, id)| (kind.to_string(), id.to_string()))
        .collect()
}

/// A score of `target` given at `time`.
fn score(id: &str, (kind, target): (&str, &str), name: &str, time: u64) -> ScoreRow {
    ScoreRow {
        score_id: id.into(),
        target_kind: kind.into(),
        target_id: target.into(),
        name: name.into(),
        data_type: "numeric".into(),
        value: Some(0.8),
        string_value: None,
        comment: Some("well grounded".into()),
        source: "human".into(),
        time_unix_nano: time,
    }
}

/// Two runs nested in one trace, LLM calls (priced and not) and scores come back with
/// every field, by each filter, newest first; a retried request stores nothing twice and
/// a score stored again under its id replaces the first.
fn llm_calls_scores_and_nested_runs_round_trip(store: &dyn Store) {
    let trace = hex::encode(tid(70));
    let other_trace = hex::encode(tid(71));
    let (parent_span, child_span) = (hex::encode(sid(1)), hex::encode(sid(2)));
    let parent = run_row("run-parent", &parent_span, "", "", T0);
    let child = run_row(
        "run-child",
        &child_span,
        &parent_span,
        "sess-1",
        T0 + 5 * MS,
    );
    let priced = LlmCallRow {
        correlation_id: "run-child".into(),
        ..llm_call(70, 3, &child_span, T0 + 10 * MS)
    };
    // An unknown model: no cost (never a cost of zero), few counts, a failure.
    let unpriced = LlmCallRow {
        correlation_id: "run-parent".into(),
        operation: "text_completion".into(),
        provider: "acme".into(),
        request_model: "acme-large".into(),
        response_model: String::new(),
        input_tokens: Some(40),
        output_tokens: None,
        cache_read_tokens: None,
        cache_write_tokens: None,
        reasoning_tokens: None,
        cost_usd: None,
        time_to_first_token_ns: None,
        finish_reasons: "[]".into(),
        is_error: true,
        ..llm_call(70, 4, &parent_span, T0 + 1_000 * MS)
    };
    let elsewhere = LlmCallRow {
        agent_name: String::new(),
        operation: "embeddings".into(),
        request_model: "text-embedding-3-small".into(),
        response_model: "text-embedding-3-small".into(),
        output_tokens: Some(0),
        cost_usd: Some(0.5),
        finish_reasons: r#"["stop"]"#.into(),
        session_id: "sess-2".into(),
        user_id: "user-2".into(),
        ..llm_call(71, 1, "", T0 + 2 * MIN)
    };
    let quality = score("score-1", ("trace", trace.as_str()), "quality", T0 + MIN);
    let correct = ScoreRow {
        data_type: "boolean".into(),
        value: Some(1.0),
        comment: None,
        source: "code".into(),
        ..score("score-2", ("run", "run-child"), "correctness", T0 + 2 * MIN)
    };
    let tone = ScoreRow {
        data_type: "categorical".into(),
        value: None,
        string_value: Some("friendly".into()),
        source: "llm".into(),
        ..score("score-3", ("trace", trace.as_str()), "tone", T0 + 3 * MIN)
    };
    let batch = Batch {
        agent_runs: vec![parent, child],
        llm_calls: vec![priced.clone(), unpriced.clone(), elsewhere.clone()],
        scores: vec![quality.clone(), correct.clone(), tone.clone()],
        ..Default::default()
    };
    store.insert(batch.clone()).expect("insert");

    // Runs by session and by trace, with their place in the trace.
    let runs = |q: RunQuery| store.runs(&RunQuery { limit: 10, ..q }).expect("runs");
    let of_session = runs(RunQuery {
        session_id: Some("sess-1".into()),
        ..Default::default()
    });
    assert_eq!(
        of_session.items.iter().map(run_place).collect::<Vec<_>>(),
        vec![(
            "run-child",
            child_span.as_str(),
            parent_span.as_str(),
            "sess-1",
            "user-1"
        )]
    );
    let of_trace = runs(RunQuery {
        trace_id: Some(trace.clone()),
        ..Default::default()
    });
    assert_eq!(
        of_trace.items.iter().map(run_place).collect::<Vec<_>>(),
        vec![
            (
                "run-child",
                child_span.as_str(),
                parent_span.as_str(),
                "sess-1",
                "user-1"
            ),
            ("run-parent", parent_span.as_str(), "", "", "user-1"),
        ],
        "newest first"
    );
    let stored = &of_trace.items[1].row;
    assert_eq!(
        (stored.trace_id.as_str(), stored.agent_name.as_str()),
        (trace.as_str(), "planner")
    );
    assert_eq!(
        (stored.start_time_unix_nano, stored.end_time_unix_nano),
        (T0, T0 + 900 * MS)
    );
    assert_eq!(json(&stored.attributes), json!({"k": "v"}));
    let of_user = |user: &str| {
        runs(RunQuery {
            user_id: Some(user.into()),
            ..Default::default()
        })
        .items
        .len()
    };
    assert_eq!((of_user("user-1"), of_user("user-2")), (2, 0));
    assert!(
        runs(RunQuery {
            trace_id: Some(other_trace.clone()),
            ..Default::default()
        })
        .items
        .is_empty()
    );
    let one = store.run("run-child").expect("run").expect("found");
    assert_eq!(
        run_place(&one),
        (
            "run-child",
            child_span.as_str(),
            parent_span.as_str(),
            "sess-1",
            "user-1"
        )
    );

    // LLM calls by trace, session, user and time, every field as stored.
    let calls = |q: LlmCallQuery| store.llm_calls(&q).expect("llm calls");
    assert_calls(
        calls(LlmCallQuery {
            trace_ids: vec![trace.clone()],
            limit: 10,
            ..Default::default()
        }),
        &[&unpriced, &priced],
    );
    let both_traces = LlmCallQuery {
        trace_ids: vec![trace.clone(), other_trace.clone()],
        limit: 10,
        ..Default::default()
    };
    assert_calls(
        calls(both_traces.clone()),
        &[&elsewhere, &unpriced, &priced],
    );
    assert_calls(
        calls(LlmCallQuery {
            session_id: Some("sess-1".into()),
            limit: 10,
            ..Default::default()
        }),
        &[&unpriced, &priced],
    );
    assert_calls(
        calls(LlmCallQuery {
            user_id: Some("user-2".into()),
            limit: 10,
            ..Default::default()
        }),
        &[&elsewhere],
    );
    assert_calls(
        calls(LlmCallQuery {
            from: Some(T0 + 500 * MS),
            to: Some(T0 + MIN),
            limit: 10,
            ..Default::default()
        }),
        &[&unpriced],
    );
    assert_calls(
        calls(LlmCallQuery {
            limit: 1,
            ..Default::default()
        }),
        &[&elsewhere],
    );
    assert!(
        calls(LlmCallQuery {
            trace_ids: vec![hex::encode(tid(72))],
            limit: 10,
            ..Default::default()
        })
        .is_empty()
    );
    // A retried request stores no call (and no run) twice.
    store.insert(batch).expect("retried");
    assert_calls(calls(both_traces), &[&elsewhere, &unpriced, &priced]);
    assert_eq!(of_user("user-1"), 2);

    // A score stored again under its id replaces the first.
    let requality = ScoreRow {
        value: Some(0.3),
        comment: None,
        time_unix_nano: T0 + 4 * MIN,
        ..quality
    };
    store
        .insert(Batch {
            scores: vec![requality.clone()],
            ..Default::default()
        })
        .expect("score again");
    let scores = |targets: Vec<(String, String)>, name: Option<&str>, limit: usize| {
        store
            .scores(&ScoreQuery {
                targets,
                name: name.map(str::to_string),
                limit,
            })
            .expect("scores")
    };
    let of_trace = targets(&[("trace", trace.as_str())]);
    let of_both = targets(&[("trace", trace.as_str()), ("run", "run-child")]);
    assert_eq!(
        scores(of_trace, None, 10),
        vec![requality.clone(), tone.clone()]
    );
    assert_eq!(
        scores(of_both.clone(), None, 10),
        vec![requality.clone(), tone.clone(), correct.clone()]
    );
    assert_eq!(
        scores(of_both.clone(), Some("correctness"), 10),
        vec![correct]
    );
    assert_eq!(scores(of_both, None, 1), vec![requality.clone()]);
    assert_eq!(scores(Vec::new(), None, 10).len(), 3);
    assert!(
        scores(targets(&[("run", trace.as_str())]), None, 10).is_empty(),
        "a target is its kind and its id together"
    );

    // Calls go with the raw data; scores stay as long as rollups. (The windows are
    // inverted here to show which one each follows.)
    let purged = store
        .purge(T0 + 90 * 1_000 * MS, T0 + 150 * 1_000 * MS)
        .expect("purge");
    assert!(purged.raw >= 2, "{purged:?}");
    assert_calls(
        calls(LlmCallQuery {
            limit: 10,
            ..Default::default()
        }),
        &[&elsewhere],
    );
    assert_eq!(scores(Vec::new(), None, 10), vec![requality, tone]);
}

/// What a GenAI rollup row counts, but its cost: calls, errors, tokens (input, output,
/// cache read, cache write, reasoning), unpriced calls and total duration (ns).
type Usage = (u64, u64, [u64; 5], u64, u64);

fn usage(a: &GenAiAgg) -> Usage {
    (
        a.calls,
        a.errors,
        [
            a.input_tokens,
            a.output_tokens,
            a.cache_read_tokens,
            a.cache_write_tokens,
            a.reasoning_tokens,
        ],
        a.unpriced_calls,
        a.duration_sum_ns,
    )
}

/// Asserts that `rows` are `want` (bucket, key, usage, cost), in order, with one latency
/// in the histogram per call.
fn assert_usage(rows: &[(GenAiKey, GenAiAgg)], want: &[(u64, &str, Usage, f64)]) {
    let got: Vec<(u64, &str, Usage)> = rows
        .iter()
        .map(|(k, v)| (k.bucket, k.key.as_str(), usage(v)))
        .collect();
    let wanted: Vec<(u64, &str, Usage)> = want.iter().map(|(b, k, u, _)| (*b, *k, *u)).collect();
    assert_eq!(got, wanted);
    for ((k, v), (_, _, _, cost)) in rows.iter().zip(want) {
        assert!(
            (v.cost_usd - cost).abs() < 1e-12,
            "{k:?}: cost {} vs {cost}",
            v.cost_usd
        );
        assert_eq!(
            v.hist.iter().sum::<u64>(),
            v.calls,
            "{k:?}: a latency per call"
        );
    }
}

/// LLM calls of two batches (two models, one unpriced and failing, one without an
/// agent) come back from the GenAI rollups per dimension at 60 s and 3600 s, every sum
/// exact and the latency quantiles in the buckets of the known durations; retention
/// removes the old buckets.
fn genai_rollups_add_up(store: &dyn Store) {
    let a = llm_call(90, 1, "", T0 + 10_000 * MS);
    let b = LlmCallRow {
        agent_name: String::new(),
        provider: "acme".into(),
        request_model: "acme-large".into(),
        response_model: String::new(),
        input_tokens: Some(40),
        output_tokens: None,
        cache_read_tokens: None,
        cache_write_tokens: None,
        reasoning_tokens: None,
        cost_usd: None,
        is_error: true,
        session_id: "sess-2".into(),
        duration_ns: 200 * MS,
        ..llm_call(90, 2, "", T0 + 20_000 * MS)
    };
    let c = LlmCallRow {
        cost_usd: Some(0.02),
        duration_ns: 400 * MS,
        ..llm_call(91, 1, "", T0 + MIN + 5_000 * MS)
    };
    let d = LlmCallRow {
        request_model: "gpt-4o-mini".into(),
        response_model: "gpt-4o-mini".into(),
        input_tokens: Some(500),
        output_tokens: Some(50),
        cache_read_tokens: None,
        cache_write_tokens: None,
        reasoning_tokens: None,
        cost_usd: Some(0.001),
        session_id: "sess-2".into(),
        user_id: "user-2".into(),
        duration_ns: 300 * MS,
        ..llm_call(92, 1, "", T0 + 2 * MIN)
    };
    for calls in [vec![a, b], vec![c, d]] {
        store
            .insert(Batch {
                llm_calls: calls,
                ..Default::default()
            })
            .expect("insert");
    }
    // Rollups count deliveries, as span and agent rollups do (they are computed from
    // the batch, before the store knows which calls it had): a retried request is not
    // part of this test.
    let read = |resolution: u32, from: u64, to: u64, dimension: &str| {
        let mut rows = store
            .genai_rollups(&GenAiRollupQuery {
                resolution,
                from,
                to,
                dimension: dimension.into(),
            })
            .expect("genai rollups");
        assert!(
            rows.windows(2).all(|w| w[0].0.bucket <= w[1].0.bucket),
            "by bucket"
        );
        for (k, _) in &rows {
            assert_eq!(
                (k.resolution, k.dimension.as_str()),
                (resolution, dimension)
            );
            assert!(k.bucket >= from && k.bucket <= to, "{k:?}");
        }
        rows.sort_by(|x, y| (x.0.bucket, &x.0.key).cmp(&(y.0.bucket, &y.0.key)));
        rows
    };
    let gpt = "gpt-4o-2024-08-06";
    let (acme, mini) = (
        (1, 1, [40, 0, 0, 0, 0], 1, 200 * MS),
        (1, 0, [500, 50, 0, 0, 0], 0, 300 * MS),
    );
    let one_gpt = |ms: u64| (1, 0, [1_200, 300, 200, 0, 50], 0, ms * MS);
    let two_gpt = (2, 0, [2_400, 600, 400, 0, 100], 0, 1_200 * MS);
    let three_openai = (3, 0, [2_900, 650, 400, 0, 100], 0, 1_500 * MS);

    // Per minute, by model: the model that answered, else the one asked for.
    assert_usage(
        &read(60, T0, T0 + 5 * MIN, "model"),
        &[
            (T0, "acme-large", acme, 0.0),
            (T0, gpt, one_gpt(800), 0.0105),
            (T0 + MIN, gpt, one_gpt(400), 0.02),
            (T0 + 2 * MIN, "gpt-4o-mini", mini, 0.001),
        ],
    );
    assert_usage(
        &read(60, T0 + MIN, T0 + MIN, "model"),
        &[(T0 + MIN, gpt, one_gpt(400), 0.02)],
    );
    // Per hour, by every dimension; a call without an agent counts under "".
    let hourly = read(3600, T0, T0, "model");
    assert_usage(
        &hourly,
        &[
            (T0, "acme-large", acme, 0.0),
            (T0, gpt, two_gpt, 0.0305),
            (T0, "gpt-4o-mini", mini, 0.001),
        ],
    );
    assert_usage(
        &read(3600, T0, T0, "provider"),
        &[
            (T0, "acme", acme, 0.0),
            (T0, "openai", three_openai, 0.0315),
        ],
    );
    assert_usage(
        &read(3600, T0, T0, "agent"),
        &[(T0, "", acme, 0.0), (T0, "planner", three_openai, 0.0315)],
    );
    assert_usage(
        &read(3600, T0, T0, "session"),
        &[
            (T0, "sess-1", two_gpt, 0.0305),
            (T0, "sess-2", (2, 1, [540, 50, 0, 0, 0], 1, 500 * MS), 0.001),
        ],
    );
    let users = read(3600, T0, T0, "user");
    assert_usage(
        &users,
        &[
            (
                T0,
                "user-1",
                (3, 1, [2_440, 600, 400, 0, 100], 1, 1_400 * MS),
                0.0305,
            ),
            (T0, "user-2", mini, 0.001),
        ],
    );
    for dimension in GENAI_DIMENSIONS {
        let calls: u64 = read(3600, T0, T0, dimension)
            .iter()
            .map(|(_, v)| v.calls)
            .sum();
        assert_eq!(calls, 4, "{dimension}: each call once");
    }
    assert!(read(3600, T0, T0, "colour").is_empty());
    assert!(read(60, T0 + 3 * MIN, T0 + 5 * MIN, "model").is_empty());

    // Latency quantiles fall in the buckets of the known durations.
    let bucket = |ms: u64| Some(bucket_value_ns(bucket_of(ms * MS)));
    let gpt_hist = &hourly[1].1.hist;
    assert_eq!(quantile_ns(gpt_hist, 0.5), bucket(400));
    assert_eq!(quantile_ns(gpt_hist, 1.0), bucket(800));
    let user_hist = &users[0].1.hist;
    assert_eq!(quantile_ns(user_hist, 0.0), bucket(200));
    assert_eq!(quantile_ns(user_hist, 0.5), bucket(400));
    assert_eq!(quantile_ns(user_hist, 1.0), bucket(800));
    let p50 = quantile_ns(user_hist, 0.5).expect("histogram") / MS as f64;
    assert!((p50 / 400.0 - 1.0).abs() < 0.1, "p50 = {p50} ms");

    // Retention removes the buckets that start before its cut, and only those.
    let mut removed = 0;
    for _ in 0..10 {
        let purged = store.purge(0, T0 + MIN).expect("purge");
        assert_eq!(purged.raw, 0);
        if purged.rollups == 0 {
            break;
        }
        removed += purged.rollups;
    }
    assert!(removed > 0);
    assert_usage(
        &read(60, T0, T0 + 5 * MIN, "model"),
        &[
            (T0 + MIN, gpt, one_gpt(400), 0.02),
            (T0 + 2 * MIN, "gpt-4o-mini", mini, 0.001),
        ],
    );
    assert!(read(3600, T0, T0, "user").is_empty());
}

/// A run stored again without its place in the trace (as the Kafka consumer stores
/// runs) keeps the place it had, and the rest of the row is replaced. SQLite and
/// PostgreSQL only: ClickHouse replaces a run whole.
fn a_run_stored_again_without_its_place_keeps_it(store: &dyn Store) {
    let parent_span = hex::encode(sid(1));
    let child_span = hex::encode(sid(2));
    let child = run_row("run-child", &child_span, &parent_span, "sess-1", T0);
    let runs = |rows: Vec<AgentRunRow>| Batch {
        agent_runs: rows,
        ..Default::default()
    };
    store.insert(runs(vec![child.clone()])).expect("run");
    let bare = AgentRunRow {
        status: "failed".into(),
        span_id: String::new(),
        parent_span_id: String::new(),
        session_id: String::new(),
        user_id: String::new(),
        ..child.clone()
    };
    store.insert(runs(vec![bare])).expect("run again");
    let run = store.run("run-child").expect("run").expect("found");
    assert_eq!(run.row.status, "failed", "the rest is replaced");
    assert_eq!(
        run_place(&run),
        (
            "run-child",
            child_span.as_str(),
            parent_span.as_str(),
            "sess-1",
            "user-1"
        )
    );
    let moved = AgentRunRow {
        session_id: "sess-9".into(),
        ..child
    };
    store.insert(runs(vec![moved])).expect("a new session");
    let run = store.run("run-child").expect("run").expect("found");
    assert_eq!(run.row.session_id, "sess-9", "a new value replaces the old");
    assert_eq!(run.row.span_id, child_span);
}

fn retention_purges_old_rows_only(store: &dyn Store) {
    let old = T0;
    let new = T0 + 10 * 24 * 3600 * 1_000_000_000;
    store
        .insert(spans(
            "api",
            vec![
                span("old", 1, 1, None, old, 1),
                span("new", 2, 1, None, new, 1),
            ],
        ))
        .expect("spans");
    store
        .insert(logs("api", vec![log(old, 9, "old"), log(new, 9, "new")]))
        .expect("logs");
    store
        .insert(spans("agents", agent_spans("run-old", 3, old, false)))
        .expect("run");
    // Raw data before `new` goes; rollups are kept longer.
    let purged = store.purge(new, old).expect("purge");
    assert_eq!(
        purged.raw,
        1 + 2 + 1 + 1 + 1,
        "span, 2 agent spans, log, run, action"
    );
    assert_eq!(purged.rollups, 0);
    let stats = store.stats().expect("stats");
    assert_eq!((stats.spans, stats.logs, stats.agent_actions), (1, 1, 0));
    assert!(store.run("run-old").expect("run").is_none());
    let q = RollupQuery {
        resolution: 60,
        from: 0,
        to: u64::MAX / 2,
        service: None,
        name: None,
    };
    assert_eq!(store.span_rollups(&q).expect("rollups").len(), 4);
    let purged = store.purge(new, new).expect("purge rollups");
    assert_eq!(purged.raw, 0);
    assert!(purged.rollups > 0);
    let left = store.span_rollups(&q).expect("rollups");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0.operation, "new");
}

fn concurrent_writers_lose_nothing(store: &dyn Store) {
    std::thread::scope(|scope| {
        for w in 0..4u8 {
            scope.spawn(move || {
                for b in 0..10u16 {
                    let batch: Vec<Span> = (0..20u16)
                        .map(|i| span("GET /", w, b * 20 + i, None, T0 + u64::from(i) * MS, 3))
                        .collect();
                    store.insert(spans("api", batch)).expect("insert");
                }
            });
        }
    });
    assert_eq!(store.stats().expect("stats").spans, 800);
    let rows = store
        .span_rollups(&RollupQuery {
            resolution: 60,
            from: T0,
            to: T0,
            service: None,
            name: None,
        })
        .expect("rollups");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1.count, 800, "every batch merged into the rollup");
}

fn snapshots_form_a_hash_chain(store: &dyn Store) {
    use automagik_telemetry_server::fleet::chain;
    assert_eq!(store.last_snapshot().expect("last"), None);
    // Keys out of order and nested: stored as canonical JSON, byte for byte.
    let body = |i: u64| json!({"z": i, "results": {"b": [2, 1], "a": {"y": "é", "x": 0.5}}});
    // Appends from four threads at once still form one chain.
    std::thread::scope(|scope| {
        for w in 0..4u64 {
            scope.spawn(move || {
                for i in 0..3u64 {
                    let n = w * 3 + i;
                    store
                        .append_snapshot(&format!("snap-{n:02}"), T0 + n * MIN, &body(n))
                        .expect("append");
                }
            });
        }
    });
    let links = store.snapshot_links(0, 100).expect("links");
    assert_eq!(links.len(), 12);
    assert_eq!(chain::verify(&links), None, "an untouched chain verifies");
    assert_eq!(
        links.iter().map(|l| l.seq).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    let ids: HashSet<&str> = links.iter().map(|l| l.snapshot_id.as_str()).collect();
    assert_eq!(ids.len(), 12);
    let first: Json = json(&links[0].body);
    assert_eq!(links[0].body, chain::canonical(&first));
    assert_eq!(links[0].prev_hash, chain::GENESIS);
    // Paging after a position, and the newest link.
    let page = store.snapshot_links(10, 100).expect("page");
    assert_eq!(page.iter().map(|l| l.seq).collect::<Vec<_>>(), vec![11, 12]);
    assert_eq!(store.snapshot_links(0, 5).expect("limit").len(), 5);
    assert_eq!(store.last_snapshot().expect("last").as_ref(), links.last());
    // Retention never removes snapshots.
    store.purge(u64::MAX / 2, u64::MAX / 2).expect("purge");
    assert_eq!(store.snapshot_links(0, 100).expect("links").len(), 12);
}

macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;
            conformance!(@tests $open;
                spans_round_trip,
                span_links_and_otlp_fields_round_trip,
                structured_log_bodies_and_log_fields_round_trip,
                trace_listing_filters_and_pages,
                log_listing_filters_and_pages,
                the_servers_own_metric_points_name_no_service,
                metrics_points_and_rollups,
                metrics_of_every_kind_from_sdk_requests,
                summaries_are_stored_as_increases_with_their_quantiles,
                span_rollups_merge_across_batches,
                agent_runs_and_actions,
                llm_calls_scores_and_nested_runs_round_trip,
                genai_rollups_add_up,
                retention_purges_old_rows_only,
                concurrent_writers_lose_nothing,
                snapshots_form_a_hash_chain
            );
        }
    };
    (@tests $open:expr; $($test:ident),*) => {
        $(
            #[test]
            fn $test() {
                let (store, _guard) = $open;
                super::$test(&*store);
            }
        )*
    };
}

fn sqlite() -> (Box<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open sqlite");
    (Box::new(store), dir)
}

fn postgres() -> (Box<dyn Store>, TestDatabase) {
    let db = TestDatabase::create().expect("create a test database on the PostgreSQL server");
    let store = PostgresStore::open(&db.url, 4).expect("open postgres");
    (Box::new(store), db)
}

/// The real ClickHouse engine, one per test. The conformance data is from 2023: raw
/// rows are kept 20 years here (the TTL, not the test, would otherwise remove them).
fn clickhouse() -> (Box<dyn Store>, ClickHouse) {
    let engine = ClickHouse::start().expect("start the ClickHouse engine");
    let store = ClickHouseStore::open(&format!("{}/conformance", engine.url), 7300, 7300)
        .expect("open clickhouse");
    (Box::new(store), engine)
}

conformance!(sqlite_store, sqlite());
conformance!(postgres_store, postgres());
conformance!(clickhouse_store, clickhouse());

/// Behaviours of the relational stores only.
mod sqlite_relational {
    use super::*;
    conformance!(@tests sqlite(); a_run_stored_again_without_its_place_keeps_it);
}

/// Behaviours of the relational stores only.
mod postgres_relational {
    use super::*;
    conformance!(@tests postgres(); a_run_stored_again_without_its_place_keeps_it);
}
