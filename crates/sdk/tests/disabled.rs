#![allow(unsafe_code)] // the counting allocator
//! A disabled client starts no thread, opens no socket and allocates nothing per call.
//! Its own test binary: it counts allocations with a global allocator and reads the
//! process's threads and file descriptors, which other tests would disturb.

use automagik_telemetry::{MetricKind, Severity, Telemetry};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn disabled_client_costs_nothing() {
    let (threads_before, sockets_before) = (threads(), sockets());
    let t = Telemetry::builder()
        .env_lookup(|k| (k == "AUTOMAGIK_TELEMETRY_ENABLED").then(|| "false".to_string()))
        .consent(true)
        .build()
        .expect("build");
    assert!(!t.is_enabled());
    assert!(
        t.consent_decision()
            .to_string()
            .contains("AUTOMAGIK_TELEMETRY_ENABLED")
    );
    assert_eq!(threads(), threads_before, "no thread started");
    assert_eq!(sockets(), sockets_before, "no socket opened");

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for i in 0..1000 {
        t.track_event("event", [("plan", "pro"), ("region", "eu")]);
        t.track_metric("m", f64::from(i), MetricKind::Counter, [("k", "v")]);
        t.track_log(Severity::Info, "log", [("k", "v")]);
        let mut span = t.span("span");
        span.set_attribute("k", "v");
        span.add_event("e", [("k", "v")]);
        let _clone = t.clone();
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(
        after - before,
        0,
        "allocations per call on a disabled client"
    );
    assert_eq!(t.stats().queued, 0);
    assert_eq!(threads(), threads_before);
}
