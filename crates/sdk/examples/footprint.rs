//! Reports the memory held by 10,000 queued events and the compression ratio of a
//! realistic batch. Figures go into docs/PERFORMANCE.md.
//!
//! Run: `cargo run --release -p automagik-telemetry --example footprint`

use automagik_telemetry::export::compress;
use automagik_telemetry::{Compression, ExportError, ExportOutcome, Exporter, Telemetry};
use automagik_telemetry_core::otlp::{DEFAULT_HISTOGRAM_BOUNDS, to_requests};
use automagik_telemetry_core::{
    EncodedLog, KeyValue, LogRecord, Origin, Record, Severity, SignalRequest,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

struct Tracking;
static HELD: AtomicIsize = AtomicIsize::new(0);

// The only unsafe code: a counting wrapper around the system allocator.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Blocks in its first export until the measurement is done, so records stay queued.
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

const EVENTS: usize = 10_000;

fn held() -> isize {
    HELD.load(Ordering::Relaxed)
}

fn queued_memory() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("automagik-telemetry-footprint");
    let (release, blocked) = std::sync::mpsc::channel();
    let at_start = held();
    // Default batch size (100) and queue size (10,000).
    let t = Telemetry::builder()
        .env_lookup(|_| None)
        .home_dir(&dir)
        .state_dir(&dir)
        .consent(true)
        .exporter(Blocked(blocked))
        .build()?;
    std::thread::sleep(Duration::from_millis(50));
    let at_rest = held();
    for i in 0..EVENTS {
        t.track_event(
            "checkout.completed",
            [
                ("plan", Cow::Borrowed("pro")),
                ("region", Cow::Borrowed("eu-west-1")),
                ("http.route", Cow::Borrowed("/api/v1/orders/{id}")),
                ("browser", Cow::Borrowed("Firefox 128 on Linux")),
                ("order.id", Cow::Owned(format!("ord-{i:08}"))),
            ],
        );
    }
    // The worker holds one batch of 100 in its blocked export; the rest wait in the queue.
    std::thread::sleep(Duration::from_millis(200));
    let loaded = held();
    let stats = t.stats();
    println!(
        "client at rest (an empty queue, redaction rules compiled): {} bytes = {:.2} MB",
        at_rest - at_start,
        (at_rest - at_start) as f64 / 1e6
    );
    println!(
        "{} queued events (5 string attributes, one owned; {} in the queue, the rest in the blocked batch) add {} bytes = {:.2} MB, {} bytes/event; dropped {}",
        stats.queued,
        stats.queue_depth,
        loaded - at_rest,
        (loaded - at_rest) as f64 / 1e6,
        (loaded - at_rest) / EVENTS as isize,
        stats.dropped_total()
    );
    for _ in 0..=EVENTS / 100 {
        let _ = release.send(());
    }
    t.shutdown(Duration::from_secs(10))?;
    Ok(())
}

fn compression_ratio() -> std::io::Result<()> {
    let origin = Origin::new(
        &[
            KeyValue::new("service.name", "checkout"),
            KeyValue::new("service.version", "1.2.3"),
            KeyValue::new("telemetry.sdk.name", "automagik-telemetry"),
        ],
        "automagik-telemetry",
        "0.1.0",
    );
    let plans = ["free", "pro", "team", "enterprise"];
    let routes = [
        "/api/v1/orders",
        "/api/v1/cart",
        "/api/v1/login",
        "/api/v1/search",
    ];
    let records: Vec<Record> = (0..100u64)
        .map(|i| {
            Record::Log(EncodedLog::new(&LogRecord {
                time_unix_nano: 1_760_000_000_000_000_000 + i * 1_234_567,
                severity: Severity::Info,
                body: None,
                event_name: Some(Cow::Borrowed("checkout.completed")),
                attributes: vec![
                    KeyValue::new("plan", plans[(i % 4) as usize]),
                    KeyValue::new("http.route", routes[(i % 3) as usize]),
                    KeyValue::new("region", "eu-west-1"),
                    KeyValue::new("order.id", format!("ord-{:08}", 1000 + i * 7)),
                    KeyValue::new("amount_cents", (i as i64 * 397) % 10_000),
                ],
                dropped_attributes_count: 0,
                trace: None,
            }))
        })
        .collect();
    let request = to_requests(&origin, records, DEFAULT_HISTOGRAM_BOUNDS).remove(0);
    for (label, body) in [
        ("protobuf", request.encode_protobuf()),
        ("json", request.encode_json()),
    ] {
        let plain = body.len();
        for (name, c) in [("gzip", Compression::Gzip), ("zstd", Compression::Zstd)] {
            let (out, _) = compress(body.clone(), c, 0)?;
            println!(
                "batch of 100 events, {label}: {plain} bytes, {name} {} bytes ({:.1}% smaller)",
                out.len(),
                100.0 * (1.0 - out.len() as f64 / plain as f64)
            );
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    queued_memory()?;
    compression_ratio()?;
    Ok(())
}
