use super::*;
use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

const JWT: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

fn s(v: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    }
}

fn int(v: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(v)),
    }
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..Default::default()
    }
}

/// The string value of `key` in `attrs`.
fn get<'a>(attrs: &'a [KeyValue], key: &str) -> &'a any_value::Value {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .unwrap_or_else(|| panic!("{key} missing"))
}

fn text<'a>(attrs: &'a [KeyValue], key: &str) -> &'a str {
    match get(attrs, key) {
        any_value::Value::StringValue(s) => s.as_str(),
        other => panic!("{key}: not a string: {other:?}"),
    }
}

fn trace_request() -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "checkout for jane@example.com".into(),
        attributes: vec![
            kv("user.email", s("jane.doe@example.com")),
            kv(
                "http.url",
                s("https://api.example.com/v1/items?access_token=abcdef1234567890abcdef"),
            ),
            kv("card", s("4111 1111 1111 1111")),
            kv("password", s("hunter2")),
            kv("note", s("Authorization: Bearer abcdef0123456789")),
            kv("retries", int(3)),
            kv("prior", s("[REDACTED:email] and x@example.com")),
            kv("http.route", s("/checkout")),
        ],
        events: vec![Event {
            name: "mail sent to bob@example.org".into(),
            attributes: vec![kv("exception.message", s("no user jane@example.com"))],
            ..Default::default()
        }],
        links: vec![Link {
            trace_id: vec![3; 16],
            span_id: vec![4; 8],
            attributes: vec![kv("peer", s("a@example.com"))],
            ..Default::default()
        }],
        status: Some(Status {
            message: "card 4111 1111 1111 1111 declined".into(),
            code: 2,
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("checkout")),
                    kv("host.owner", s("ops@example.com")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "shop".into(),
                    attributes: vec![kv("team.mail", s("team@example.com"))],
                    ..Default::default()
                }),
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn log_request() -> ExportLogsServiceRequest {
    let body = AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: vec![
                kv("msg", s("login failed for jane.doe@example.com")),
                kv("password", s("hunter2")),
                kv(
                    "items",
                    AnyValue {
                        value: Some(any_value::Value::ArrayValue(ArrayValue {
                            values: vec![s("ok"), s("bob@example.org"), int(3)],
                        })),
                    },
                ),
                kv("auth", s(&format!("Authorization: Bearer {JWT}"))),
            ],
        })),
    };
    let hashed = "a".repeat(64);
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    LogRecord {
                        body: Some(body),
                        attributes: vec![kv("enduser.id", s("u-42")), kv("user.id", s(&hashed))],
                        event_name: "signup jane@example.com".into(),
                        ..Default::default()
                    },
                    LogRecord {
                        body: Some(s("card 4111-1111-1111-1111")),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metrics_request() -> ExportMetricsServiceRequest {
    let point = NumberDataPoint {
        attributes: vec![kv("customer", s("jane@example.com"))],
        exemplars: vec![Exemplar {
            filtered_attributes: vec![kv("token", s("abc"))],
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "orders".into(),
                        data: Some(Data::Sum(Sum {
                            data_points: vec![point],
                            ..Default::default()
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "latency".into(),
                        data: Some(Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                attributes: vec![kv("peer", s("bob@example.org"))],
                                ..Default::default()
                            }],
                            ..Default::default()
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn counted(metrics: &ServerMetrics, rule: &str) -> Option<u64> {
    let prefix = format!("automagik_telemetry_redactions_total{{rule=\"{rule}\"}} ");
    metrics.encode().lines().find_map(|l| {
        l.strip_prefix(prefix.as_str())
            .map(|n| n.trim().parse::<u64>().expect("count"))
    })
}

#[test]
fn every_part_of_a_span_is_redacted_with_typed_markers_and_counted() {
    let metrics = ServerMetrics::default();
    let mut req = trace_request();
    IngestRedactor::standard().traces(&mut req, &metrics);
    let rs = &req.resource_spans[0];
    let res = &rs.resource.as_ref().expect("resource").attributes;
    assert_eq!(text(res, "service.name"), "checkout");
    assert_eq!(text(res, "host.owner"), "[REDACTED:email]");
    let ss = &rs.scope_spans[0];
    let scope = &ss.scope.as_ref().expect("scope").attributes;
    assert_eq!(text(scope, "team.mail"), "[REDACTED:email]");
    let span = &ss.spans[0];
    assert_eq!(span.name, "checkout for [REDACTED:email]");
    let a = &span.attributes;
    assert_eq!(text(a, "user.email"), "[REDACTED:email]");
    assert_eq!(
        text(a, "http.url"),
        "https://api.example.com/v1/items?access_token=[REDACTED:token]"
    );
    assert_eq!(text(a, "card"), "[REDACTED:card]");
    assert_eq!(
        text(a, "password"),
        "[REDACTED:secret]",
        "a denied key, whole"
    );
    assert_eq!(text(a, "note"), "Authorization: Bearer [REDACTED:bearer]");
    assert_eq!(get(a, "retries"), &any_value::Value::IntValue(3));
    assert_eq!(text(a, "prior"), "[REDACTED:email] and [REDACTED:email]");
    assert_eq!(text(a, "http.route"), "/checkout");
    assert_eq!(span.events[0].name, "mail sent to [REDACTED:email]");
    assert_eq!(
        text(&span.events[0].attributes, "exception.message"),
        "no user [REDACTED:email]"
    );
    assert_eq!(text(&span.links[0].attributes, "peer"), "[REDACTED:email]");
    assert_eq!(
        span.status.as_ref().expect("status").message,
        "card [REDACTED:card] declined"
    );
    // Ids and times are untouched.
    assert_eq!(span.trace_id, vec![1u8; 16]);
    assert_eq!(span.span_id, vec![2u8; 8]);

    // Counted by rule: only what this request gained (the marker sent is not counted).
    assert_eq!(counted(&metrics, "email"), Some(8));
    assert_eq!(counted(&metrics, "card"), Some(2));
    assert_eq!(counted(&metrics, "token"), Some(1));
    assert_eq!(counted(&metrics, "bearer"), Some(1));
    assert_eq!(counted(&metrics, "secret"), Some(1));
    assert_eq!(counted(&metrics, "jwt"), None);

    // Redacting again changes nothing and counts nothing more.
    let once = req.clone();
    IngestRedactor::standard().traces(&mut req, &metrics);
    assert_eq!(req, once);
    assert_eq!(counted(&metrics, "email"), Some(8));
}

#[test]
fn log_bodies_are_redacted_inside_maps_and_arrays() {
    let metrics = ServerMetrics::default();
    let mut req = log_request();
    IngestRedactor::standard().logs(&mut req, &metrics);
    let records = &req.resource_logs[0].scope_logs[0].log_records;
    let body = match records[0].body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::KvlistValue(l)) => &l.values,
        other => panic!("a map body, got {other:?}"),
    };
    assert_eq!(text(body, "msg"), "login failed for [REDACTED:email]");
    assert_eq!(text(body, "password"), "[REDACTED:secret]");
    assert_eq!(text(body, "auth"), "Authorization: Bearer [REDACTED:jwt]");
    match get(body, "items") {
        any_value::Value::ArrayValue(a) => {
            assert_eq!(a.values, vec![s("ok"), s("[REDACTED:email]"), int(3)])
        }
        other => panic!("an array, got {other:?}"),
    }
    let attrs = &records[0].attributes;
    assert_eq!(text(attrs, "enduser.id"), "[REDACTED:user_id]", "no salt");
    assert_eq!(text(attrs, "user.id"), "a".repeat(64), "already hashed");
    assert_eq!(records[0].event_name, "signup [REDACTED:email]");
    assert_eq!(records[1].body, Some(s("card [REDACTED:card]")));
    assert_eq!(counted(&metrics, "email"), Some(3));
    assert_eq!(counted(&metrics, "jwt"), Some(1));
    assert_eq!(counted(&metrics, "secret"), Some(1));
    assert_eq!(counted(&metrics, "user_id"), Some(1));
    assert_eq!(counted(&metrics, "card"), Some(1));
}

#[test]
fn metric_point_and_exemplar_attributes_are_redacted() {
    let metrics = ServerMetrics::default();
    let mut req = metrics_request();
    IngestRedactor::standard().metrics(&mut req, &metrics);
    let m = &req.resource_metrics[0].scope_metrics[0].metrics;
    match &m[0].data {
        Some(Data::Sum(sum)) => {
            let p = &sum.data_points[0];
            assert_eq!(text(&p.attributes, "customer"), "[REDACTED:email]");
            assert_eq!(
                text(&p.exemplars[0].filtered_attributes, "token"),
                "[REDACTED:secret]"
            );
        }
        other => panic!("a sum, got {other:?}"),
    }
    match &m[1].data {
        Some(Data::Histogram(h)) => {
            assert_eq!(
                text(&h.data_points[0].attributes, "peer"),
                "[REDACTED:email]"
            );
        }
        other => panic!("a histogram, got {other:?}"),
    }
    assert_eq!(m[0].name, "orders");
    assert_eq!(counted(&metrics, "email"), Some(2));
}

#[test]
fn off_changes_nothing_and_counts_nothing() {
    let metrics = ServerMetrics::default();
    let off = IngestRedactor::off();
    assert_eq!(off.mode(), RedactMode::Off);
    let mut traces = trace_request();
    off.traces(&mut traces, &metrics);
    assert_eq!(traces, trace_request());
    let mut logs = log_request();
    off.logs(&mut logs, &metrics);
    assert_eq!(logs, log_request());
    let mut points = metrics_request();
    off.metrics(&mut points, &metrics);
    assert_eq!(points, metrics_request());
    assert!(!metrics.encode().contains("redactions_total{"));
}

#[test]
fn allow_listed_keys_are_kept_and_extra_rules_apply() {
    let config = RedactionConfig {
        allow_keys: vec!["user.email".into()],
        rules: vec![ExtraRule {
            name: "order".into(),
            pattern: r"ORD-\d{6}".into(),
        }],
        salt: Some("pepper".into()),
    };
    let r = IngestRedactor::new(RedactMode::Standard, &config).expect("redactor");
    let metrics = ServerMetrics::default();
    let mut req = trace_request();
    req.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(kv("order", s("order ORD-123456 shipped")));
    r.traces(&mut req, &metrics);
    let a = &req.resource_spans[0].scope_spans[0].spans[0].attributes;
    assert_eq!(text(a, "user.email"), "jane.doe@example.com");
    assert_eq!(text(a, "order"), "order [REDACTED:order] shipped");
    assert_eq!(counted(&metrics, "order"), Some(1));

    // With a salt, user ids are hashed: stable, and not the id.
    let mut logs = log_request();
    r.logs(&mut logs, &metrics);
    let attrs = &logs.resource_logs[0].scope_logs[0].log_records[0].attributes;
    let hashed = text(attrs, "enduser.id");
    assert!(is_hash(hashed) && hashed != "u-42", "{hashed}");
    let mut again = log_request();
    r.logs(&mut again, &metrics);
    assert_eq!(
        text(
            &again.resource_logs[0].scope_logs[0].log_records[0].attributes,
            "enduser.id"
        ),
        hashed
    );
}

#[test]
fn strict_redacts_personal_keys_whole_and_scans_identity_keys() {
    let mut req = trace_request();
    req.resource_spans[0]
        .resource
        .as_mut()
        .expect("resource")
        .attributes
        .push(kv("service.namespace", s("jane@example.com")));
    let mut standard = req.clone();
    let metrics = ServerMetrics::default();
    IngestRedactor::standard().traces(&mut standard, &metrics);
    let res = &standard.resource_spans[0]
        .resource
        .as_ref()
        .expect("resource")
        .attributes;
    assert_eq!(
        text(res, "service.namespace"),
        "jane@example.com",
        "identity kept"
    );

    let strict =
        IngestRedactor::new(RedactMode::Strict, &RedactionConfig::default()).expect("strict");
    strict.traces(&mut req, &metrics);
    let res = &req.resource_spans[0]
        .resource
        .as_ref()
        .expect("resource")
        .attributes;
    assert_eq!(text(res, "service.namespace"), "[REDACTED:email]");
    assert_eq!(text(res, "service.name"), "checkout");
    let a = &req.resource_spans[0].scope_spans[0].spans[0].attributes;
    assert_eq!(text(a, "user.email"), "[REDACTED:secret]");
    assert_eq!(text(a, "card"), "[REDACTED:card]");
}

#[test]
fn rule_names_that_cannot_be_markers_are_refused() {
    let long = "x".repeat(65);
    for name in ["", "a]b", "with space", long.as_str()] {
        let config = RedactionConfig {
            rules: vec![ExtraRule {
                name: name.to_string(),
                pattern: "x".into(),
            }],
            ..Default::default()
        };
        assert!(
            matches!(
                IngestRedactor::new(RedactMode::Standard, &config),
                Err(RedactionError::RuleName(_))
            ),
            "{name:?}"
        );
    }
    let config = RedactionConfig {
        rules: vec![ExtraRule {
            name: "bad".into(),
            pattern: "(".into(),
        }],
        ..Default::default()
    };
    assert!(matches!(
        IngestRedactor::new(RedactMode::Standard, &config),
        Err(RedactionError::Rules(_))
    ));
}
