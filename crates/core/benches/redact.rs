//! Redaction cost per string: clean strings (the common case) and strings holding PII.
//! Figures and the machine: docs/PERFORMANCE.md.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use automagik_telemetry_core::otlp::wire::encode_log;
use automagik_telemetry_core::{KeyValue, LogRecord, Redactor, Severity};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const CLEAN: [&str; 4] = [
    "pro",
    "eu-west-1",
    "/api/v1/orders/{id}",
    "Firefox 128 on Linux",
];

/// One unit of each hostile value, repeated to 16 KiB.
const HOSTILE: [(&str, &str); 12] = [
    ("card-like digit groups", "4111 1111 1111 1112 "),
    ("valid cards", "4111 1111 1111 1111 "),
    ("phone-like", "+1 (555) 010-0000 x"),
    ("e-mail fragments", "a@b.c "),
    ("e-mail near misses", "a@b@c@d@"),
    ("key=value secrets", "password=x "),
    ("key words without values", "password token secret "),
    ("IBAN near misses", "DE89 3704 0044 0532 0130 01 "),
    ("hex runs", "deadbeefcafebabe"),
    ("percent-encoded @", "a%40b%40c"),
    ("PEM begin without end", "-----BEGIN PRIVATE KEY-----"),
    ("IPv6-like", "fe80::1:2:3:4 "),
];

fn redact(c: &mut Criterion) {
    let r = Redactor::builder()
        .salt(b"bench".to_vec())
        .build()
        .expect("rules");
    let mut g = c.benchmark_group("redact");
    for s in CLEAN {
        g.bench_function(format!("clean {s:?}"), |b| {
            b.iter(|| black_box(r.redact_str(black_box(s))))
        });
    }
    g.bench_function("email", |b| {
        b.iter(|| black_box(r.redact_str(black_box("reach me at jane.doe@example.com"))))
    });
    g.bench_function("clean log line", |b| {
        let line = "GET /api/v1/orders/12345678 200 in 35 ms (cache hit, region eu-west-1)";
        b.iter(|| black_box(r.redact_str(black_box(line))))
    });
    g.bench_function("key=value log line", |b| {
        let line = "level=warn msg=\"login failed\" user=bob password=hunter2 tokens=42";
        b.iter(|| black_box(r.redact_str(black_box(line))))
    });
    g.bench_function("classify_key", |b| {
        b.iter(|| black_box(r.classify_key(black_box("http.route"))))
    });
    g.finish();

    // Values as a hostile client would craft them, at the largest size an attribute value
    // keeps (16 KiB): each the near miss or the match of one rule, repeated. What one such
    // value costs bounds the CPU a request of them can take on the server's ingest path.
    let mut g = c.benchmark_group("redact hostile 16 KiB");
    g.sample_size(10);
    for (name, unit) in HOSTILE {
        let text: String = unit.repeat(16 * 1024 / unit.len() + 1)[..16 * 1024].to_string();
        g.bench_function(name, |b| {
            b.iter(|| black_box(r.redact_str(black_box(&text))))
        });
    }
    g.finish();

    let log = LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        severity: Severity::Info,
        body: None,
        event_name: Some("checkout.completed".into()),
        attributes: CLEAN
            .iter()
            .enumerate()
            .map(|(i, v)| KeyValue::new(format!("k{i}"), *v))
            .collect(),
        dropped_attributes_count: 0,
        trace: None,
    };
    c.bench_function("encode_log_5_attrs", |b| {
        b.iter(|| black_box(encode_log(black_box(&log))))
    });
}

criterion_group!(benches, redact);
criterion_main!(benches);
