//! SDK hot paths. Figures and the machine they came from: docs/PERFORMANCE.md.
//!
//! - `track_event`: an enabled client with 5 string attributes, all passing the
//!   redactor (one of them holds an e-mail address that is replaced):
//!   `caller_*` is the caller's own cost (the exporter is blocked, so the background
//!   thread takes nothing off the queue meanwhile); `steady_state_*` runs with the
//!   background thread consuming on the other core, which adds cross-core traffic on
//!   the queue and cross-thread frees. And a disabled client.
//!   Beside them, `opentelemetry_sdk`'s log path: a log record with the same event name
//!   and five attributes emitted through its batch processor to an exporter that does
//!   nothing (it redacts nothing).
//! - `span`: create + end of one span, ours next to `opentelemetry_sdk` with its batch
//!   processor and an exporter that does nothing, so the two are read side by side.
//!
//! Both pipelines export to exporters that discard, so what is measured is the
//! caller's cost plus whatever the background thread takes from the other core.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use automagik_telemetry::{ExportError, ExportOutcome, Exporter, Telemetry};
use automagik_telemetry_core::SignalRequest;
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{Tracer, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{BatchLogProcessor, LogBatch, LogExporter, SdkLoggerProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};
use std::hint::black_box;
use std::time::{Duration, Instant};

struct Discard;
impl Exporter for Discard {
    fn name(&self) -> &'static str {
        "discard"
    }
    fn export(
        &mut self,
        request: &SignalRequest,
        _deadline: Instant,
    ) -> Result<ExportOutcome, ExportError> {
        black_box(request);
        Ok(ExportOutcome::default())
    }
}

#[derive(Debug)]
struct OtelDiscard;
impl SpanExporter for OtelDiscard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

#[derive(Debug)]
struct OtelLogDiscard;
impl LogExporter for OtelLogDiscard {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        black_box(&batch);
        Ok(())
    }
}

/// Blocks in its first export until released.
struct Blocked(std::sync::mpsc::Receiver<()>);
impl Exporter for Blocked {
    fn name(&self) -> &'static str {
        "blocked"
    }
    fn export(&mut self, _: &SignalRequest, _: Instant) -> Result<ExportOutcome, ExportError> {
        let _ = self.0.recv();
        Ok(ExportOutcome::default())
    }
}

fn client(queue_size: usize, exporter: impl Exporter) -> Telemetry {
    let dir = std::env::temp_dir().join("automagik-telemetry-bench");
    Telemetry::builder()
        .env_lookup(|_| None)
        .home_dir(&dir)
        .state_dir(&dir)
        .consent(true)
        .project_name("bench")
        .queue_size(queue_size)
        .batch_size(512usize)
        .exporter(exporter)
        .build()
        .expect("client")
}

fn enabled_client() -> Telemetry {
    client(1_000_000, Discard)
}

fn five_attributes(t: &Telemetry) {
    t.track_event(
        "checkout.completed",
        [
            ("plan", "pro"),
            ("region", "eu-west-1"),
            ("http.route", "/api/v1/orders/{id}"),
            ("browser", "Firefox 128 on Linux"),
            ("customer", "reach me at jane.doe@example.com"),
        ],
    )
}

fn track_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("track_event");
    g.bench_function("caller_5_string_attrs_redacted", |b| {
        b.iter_custom(|iters| {
            // A fresh client per sample whose queue holds every iteration: nothing is
            // dropped and nothing is consumed while the clock runs.
            let (release, blocked) = std::sync::mpsc::channel();
            let t = client(iters as usize + 1, Blocked(blocked));
            let start = Instant::now();
            for _ in 0..iters {
                five_attributes(&t);
            }
            let elapsed = start.elapsed();
            assert_eq!(t.stats().dropped_total(), 0);
            drop(release);
            t.shutdown(Duration::from_secs(60)).ok();
            elapsed
        })
    });
    let t = enabled_client();
    g.bench_function("steady_state_5_string_attrs_redacted", |b| {
        b.iter(|| five_attributes(&t))
    });
    let stats = t.stats();
    eprintln!(
        "track_event enabled: {} queued, {} dropped",
        stats.queued,
        stats.dropped_total()
    );
    t.shutdown(Duration::from_secs(30)).ok();

    let provider = SdkLoggerProvider::builder()
        .with_log_processor(BatchLogProcessor::builder(OtelLogDiscard).build())
        .build();
    let logger = provider.logger("bench");
    g.bench_function("opentelemetry_sdk_log_5_string_attrs", |b| {
        b.iter(|| {
            let mut record = logger.create_log_record();
            record.set_event_name("checkout.completed");
            record.set_severity_number(Severity::Info);
            record.add_attribute("plan", "pro");
            record.add_attribute("region", "eu-west-1");
            record.add_attribute("http.route", "/api/v1/orders/{id}");
            record.add_attribute("browser", "Firefox 128 on Linux");
            record.add_attribute("customer", "reach me at jane.doe@example.com");
            logger.emit(record);
        })
    });
    provider.shutdown().ok();

    let disabled = Telemetry::builder()
        .env_lookup(|_| None)
        .build()
        .expect("client");
    assert!(!disabled.is_enabled());
    g.bench_function("disabled", |b| {
        b.iter(|| {
            black_box(&disabled).track_event(
                "checkout.completed",
                [
                    ("plan", "pro"),
                    ("region", "eu-west-1"),
                    ("http.route", "/x"),
                    ("browser", "ff"),
                    ("customer", "c"),
                ],
            )
        })
    });
    g.finish();
}

fn span(c: &mut Criterion) {
    let mut g = c.benchmark_group("span_create_end");
    let t = enabled_client();
    g.bench_function("automagik_telemetry", |b| {
        b.iter(|| {
            let s = t.span("operation");
            black_box(&s);
        })
    });
    t.shutdown(Duration::from_secs(30)).ok();

    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(OtelDiscard).build())
        .build();
    let tracer = provider.tracer("bench");
    g.bench_function("opentelemetry_sdk_batch_processor", |b| {
        b.iter(|| {
            let s = tracer.start("operation");
            black_box(&s);
        })
    });
    provider.shutdown().ok();
    g.finish();
}

criterion_group!(benches, track_event, span);
criterion_main!(benches);
