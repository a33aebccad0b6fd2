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
