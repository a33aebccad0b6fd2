//! Server ingest throughput over loopback HTTP: OTLP/HTTP protobuf, batches of 512
//! spans with 20 attributes each, on realistic traffic (`traffic/mod.rs`: random trace
//! and span ids, three services, 8 spans per trace, unique attribute values beside
//! repeated ones, times within the last minutes in no order; `INGEST_TRAFFIC=sequential`
//! sends the earlier pattern instead: sequential ids, one service, times 1 ms apart), into
//! the SQLite store (or, with
//! `INGEST_STORE=clickhouse`, the ClickHouse store on the real engine: chdb behind the
//! test support's HTTP adapter, or the server at `INGEST_CLICKHOUSE_URL`) — spans per second durably
//! stored (acknowledged after commit) and, in the same run, the decode-only ceiling
//! (protobuf decode + conversion to rows, nothing stored). Bounded in time; figures go
//! into docs/PERFORMANCE.md.
//!
//! Run: `cargo bench -p automagik-telemetry-server --bench ingest`
//! (`INGEST_SECONDS` sets the duration of each phase, default 10; `INGEST_CLIENTS` the
//! number of client threads, default 4; `INGEST_LOOKUP_SPANS` the store size for the
//! trace-by-id lookups, default 1,000,000; `INGEST_REDACT=off` stores without redaction
//! on ingest, which is on, `standard`, by default; `INGEST_REPORT_SECONDS`, default 10,
//! the interval of the stored rate printed while it runs, so that a long run shows the
//! rate at its start and at its end). The decode-only ceiling is also
//! measured with redaction (`standard`), so the two lines give its cost.

use automagik_telemetry_server::redaction::IngestRedactor;
use automagik_telemetry_server::server_metrics::ServerMetrics;
use automagik_telemetry_server::{AppState, ClickHouseStore, SqliteStore, Store, app, rows};
use automagik_telemetry_testkit::build::{any_kv, string_kv, trace_request};
use automagik_telemetry_testkit::clickhouse::ClickHouse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod traffic;

const SPANS: usize = 512;
/// Seed of the template request: a value that appears nowhere else in its bytes.
const TEMPLATE_SEED: u64 = 0xf00d_face_0000_0000;
const ATTRIBUTES: usize = 20;

/// Start of the spans of request `seed`, ns.
fn payload_time(seed: u64) -> u64 {
    1_760_000_000_000_000_000 + (seed % 1_000_000) * 1_000_000
}

fn payload(seed: u64) -> Vec<u8> {
    let spans = (0..SPANS as u64)
        .map(|i| {
            let mut trace_id = [0u8; 16];
            trace_id[..8].copy_from_slice(&seed.to_be_bytes());
            trace_id[8..].copy_from_slice(&(i / 8 + 1).to_be_bytes());
            Span {
                trace_id: trace_id.to_vec(),
                span_id: ((seed << 16) | (i + 1)).to_be_bytes().to_vec(),
                name: format!("GET /api/v1/resource/{}", i % 16),
                kind: 2,
                start_time_unix_nano: 1_760_000_000_000_000_000
                    + (seed % 1_000_000) * 1_000_000
                    + i,
                end_time_unix_nano: 1_760_000_000_000_500_000 + (seed % 1_000_000) * 1_000_000 + i,
                attributes: (0..ATTRIBUTES)
                    .map(|a| {
                        let key = format!("attribute.key.{a}");
                        if a % 4 == 0 {
                            any_kv(&key, any_value::Value::IntValue((i * 31 + a as u64) as i64))
                        } else {
                            string_kv(&key, format!("value-{}-{}", a, i % 50))
                        }
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    trace_request("bench", spans).encode_to_vec()
}

fn main() {
    let seconds: u64 = std::env::var("INGEST_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    // Criterion-style flags from `cargo bench` are ignored; `cargo test --benches` passes none
    // and gets a short run.
    let seconds = if std::env::args().any(|a| a == "--bench") {
        seconds
    } else {
        1
    };
    let phase = Duration::from_secs(seconds);
    let client_threads: usize = std::env::var("INGEST_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let realistic = std::env::var("INGEST_TRAFFIC").as_deref() != Ok("sequential");
    let pool = realistic.then(|| Arc::new(traffic::Pool::new(96, SPANS, 0x5eed_f00d)));
    let payloads: Vec<Vec<u8>> = match &pool {
        Some(pool) => {
            let mut rng = traffic::Rng::new(7);
            (0..pool.len())
                .map(|n| {
                    let mut body = Vec::new();
                    pool.request(n, &mut rng, &mut body);
                    body
                })
                .collect()
        }
        None => (0..64).map(payload).collect(),
    };
    println!(
        "traffic: {}; payload: {SPANS} spans x {ATTRIBUTES} attributes, {} bytes protobuf per request",
        if realistic {
            "realistic (random ids, 3 services, 8 spans per trace, unique values)"
        } else {
            "sequential (sequential ids, one service)"
        },
        payloads[0].len()
    );

    // Decode-only ceiling on one thread.
    let started = Instant::now();
    let mut decoded = 0u64;
    while started.elapsed() < phase {
        for p in &payloads {
            let req = ExportTraceServiceRequest::decode(&p[..]).expect("decode");
            decoded += rows::from_traces(&req).spans.len() as u64;
        }
    }
    let ceiling = decoded as f64 / started.elapsed().as_secs_f64();
    println!("decode-only ceiling (one thread): {ceiling:.0} spans/s");
    // The same with redaction on ingest (`standard`, the default) before the rows.
    let redactor = IngestRedactor::standard();
    let scratch = ServerMetrics::default();
    let started = Instant::now();
    let mut redacted = 0u64;
    while started.elapsed() < phase {
        for p in &payloads {
            let mut req = ExportTraceServiceRequest::decode(&p[..]).expect("decode");
            redactor.traces(&mut req, &scratch);
            redacted += rows::from_traces(&req).spans.len() as u64;
        }
    }
    println!(
        "decode + redaction (standard) ceiling (one thread): {:.0} spans/s",
        redacted as f64 / started.elapsed().as_secs_f64()
    );
    let clickhouse = std::env::var("INGEST_STORE").as_deref() == Ok("clickhouse");
    if clickhouse {
        // What the ClickHouse store adds before the engine: the JSONEachRow bodies.
        let started = Instant::now();
        let (mut encoded, mut bytes) = (0u64, 0usize);
        while started.elapsed() < phase {
            for p in &payloads {
                let req = ExportTraceServiceRequest::decode(&p[..]).expect("decode");
                let batch = rows::from_traces(&req);
                for insert in ClickHouseStore::inserts(&batch) {
                    encoded += insert.count as u64;
                    bytes += insert.rows.len();
                }
            }
        }
        println!(
            "decode + ClickHouse rows ceiling (one thread): {:.0} spans/s, {} bytes of JSONEachRow per request",
            encoded as f64 / started.elapsed().as_secs_f64(),
            bytes as u64 * SPANS as u64 / encoded.max(1)
        );
    }

    // Stored over loopback HTTP: two client threads, fresh trace ids each request.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = None;
    // The engine's own HTTP address, for the parts count and the merge below.
    let mut engine_http = String::new();
    let store: Arc<dyn Store> = match clickhouse {
        true => {
            let url = std::env::var("INGEST_CLICKHOUSE_URL").unwrap_or_else(|_| {
                let started = ClickHouse::start().expect("start the ClickHouse engine");
                let url = format!("{}/bench", started.url);
                engine = Some(started);
                url
            });
            engine_http = url.trim_end_matches("/bench").to_string();
            println!("store: ClickHouse at {url}");
            // The payload's times are from 2025: keep them past the default TTL.
            Arc::new(ClickHouseStore::open(&url, 7300, 7300).expect("store"))
        }
        false => {
            println!("store: SQLite");
            Arc::new(SqliteStore::open(dir.path()).expect("store"))
        }
    };
    let mut state = AppState::new(store.clone());
    if std::env::var("INGEST_REDACT").as_deref() == Ok("off") {
        state.redactor = Arc::new(IngestRedactor::off());
    }
    println!("redaction on ingest: {}", state.redactor.mode().as_str());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(async move { axum::serve(listener, app(state)).await });

    // Every request is unique (a repeated span would be ignored by the store and flatter
    // the figure): one template body whose trace-id seed bytes are rewritten per request,
    // a copy and a few 8-byte writes instead of building protobuf on the clients' cores.
    let template = payload(TEMPLATE_SEED);
    let marker = TEMPLATE_SEED.to_be_bytes();
    let offsets: Arc<Vec<usize>> = Arc::new(
        template
            .windows(8)
            .enumerate()
            .filter(|(_, w)| *w == marker)
            .map(|(i, _)| i)
            .collect(),
    );
    assert_eq!(offsets.len(), SPANS, "one seed per trace id");
    // Start and end times (fixed64 fields 7 and 8) move on by 1 ms per request, as a
    // live service's would.
    let base = payload_time(TEMPLATE_SEED);
    let times: Arc<Vec<(usize, u64)>> = Arc::new(
        (0..SPANS as u64)
            .flat_map(|i| [(0x39u8, base + i), (0x41u8, base + 500_000 + i)])
            .map(|(tag, t)| {
                let mut needle = vec![tag];
                needle.extend_from_slice(&t.to_le_bytes());
                let at = template
                    .windows(9)
                    .position(|w| w == needle.as_slice())
                    .expect("timestamp in the template");
                (at + 1, t)
            })
            .collect(),
    );
    let template = Arc::new(template);
    let stored = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let written_before = written_bytes();
    let started = Instant::now();
    let report_every = Duration::from_secs(
        std::env::var("INGEST_REPORT_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10)
            .max(1),
    );
    let reporter = {
        let stored = stored.clone();
        std::thread::spawn(move || {
            let mut last = (Instant::now(), 0u64);
            while started.elapsed() + report_every <= phase {
                std::thread::sleep(report_every);
                let (now, total) = (Instant::now(), stored.load(Ordering::Relaxed));
                println!(
                    "  at {:>5.0} s: {:.0} spans/s over the last {:.0} s, {total} stored",
                    started.elapsed().as_secs_f64(),
                    (total - last.1) as f64 / (now - last.0).as_secs_f64(),
                    (now - last.0).as_secs_f64()
                );
                last = (now, total);
            }
        })
    };
    let clients: Vec<_> = (0..client_threads)
        .map(|c| {
            let (stored, next) = (stored.clone(), next.clone());
            let (template, offsets, times) = (template.clone(), offsets.clone(), times.clone());
            let pool = pool.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                let mut body = template.to_vec();
                let mut rng = traffic::Rng::new(0x1234_5678 + c as u64);
                // Each acknowledged request's time from send to its answer.
                let mut latencies = Vec::new();
                while started.elapsed() < phase {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if let Some(pool) = &pool {
                        pool.request(n as usize, &mut rng, &mut body);
                    } else {
                        let seed = TEMPLATE_SEED + 1 + n;
                        for &o in offsets.iter() {
                            body[o..o + 8].copy_from_slice(&seed.to_be_bytes());
                        }
                        let shift = (seed - TEMPLATE_SEED) * 1_000_000;
                        for &(o, t) in times.iter() {
                            body[o..o + 8].copy_from_slice(&(t + shift).to_le_bytes());
                        }
                    }
                    let sent = Instant::now();
                    let ok = agent
                        .post(format!("http://{addr}/v1/traces"))
                        .header("content-type", "application/x-protobuf")
                        .send(&body[..])
                        .is_ok_and(|r| r.status() == 200);
                    if ok {
                        latencies.push(sent.elapsed());
                        stored.fetch_add(SPANS as u64, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for c in clients {
        latencies.extend(c.join().expect("client"));
    }
    latencies.sort();
    reporter.join().expect("reporter");
    let elapsed = started.elapsed().as_secs_f64();
    let acknowledged = stored.load(Ordering::Relaxed);
    let rate = acknowledged as f64 / elapsed;
    let in_store = store.stats().expect("stats").spans;
    println!(
        "stored over loopback HTTP: {rate:.0} spans/s ({acknowledged} acknowledged in {elapsed:.1} s, {in_store} in the store, {:.0} % of the decode-only ceiling); {client_threads} client threads share the same 2 cores",
        100.0 * rate / ceiling
    );
    assert_eq!(in_store, acknowledged, "every acknowledged span is stored");
    if let (Some(before), Some(after)) = (written_before, written_bytes()) {
        println!(
            "written to disk while storing: {:.2} KB per stored span (write-ahead log and checkpoints; write_bytes of /proc/self/io)",
            (after - before) as f64 / acknowledged.max(1) as f64 / 1e3
        );
    }
    if !latencies.is_empty() {
        let ms = |q: f64| percentile(&latencies, q).as_secs_f64() * 1e3;
        println!(
            "latency of an acknowledged request ({SPANS} spans, {} requests): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            latencies.len(),
            ms(0.5),
            ms(0.99),
            ms(1.0)
        );
    }
    println!(
        "peak resident memory of the process (server and clients) after ingest: {:.0} MB",
        peak_rss_mb()
    );

    // Trace-by-id latency over HTTP once the store holds many spans: top up with direct
    // inserts (same shape of spans, 8 per trace) to the target, then time lookups of
    // random stored traces.
    let target: u64 = if std::env::args().any(|a| a == "--bench") {
        std::env::var("INGEST_LOOKUP_SPANS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000)
    } else {
        20_000
    };
    let mut seed = 1_000_000u64;
    let started = Instant::now();
    let mut loaded = in_store;
    while loaded < target || seed == 1_000_000 {
        let req = ExportTraceServiceRequest::decode(&payload(seed)[..]).expect("decode");
        store.insert(rows::from_traces(&req)).expect("insert");
        loaded += SPANS as u64;
        seed += 1;
    }
    let spans = store.stats().expect("stats").spans;
    println!(
        "loaded to {spans} spans in {:.1} s (direct inserts); database {:.0} MB",
        started.elapsed().as_secs_f64(),
        store.stats().expect("stats").bytes_on_disk as f64 / 1e6
    );
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    // One GET over HTTP: its body, its latency added to `latencies`.
    let timed_get = |latencies: &mut Vec<Duration>, url: &str| {
        let started = Instant::now();
        let mut resp = agent.get(url).call().expect("GET");
        let body = resp.body_mut().read_to_vec().expect("body");
        latencies.push(started.elapsed());
        body
    };
    let lookups = |label: &str| {
        let mut latencies = Vec::new();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let s = 1_000_000 + rng % (seed - 1_000_000);
            let t = 1 + (rng >> 32) % (SPANS as u64 / 8);
            let id = format!("{s:016x}{t:016x}");
            let body = timed_get(&mut latencies, &format!("http://{addr}/api/v1/traces/{id}"));
            assert!(body.len() > 1000, "a whole trace came back");
        }
        latencies.sort();
        let pct = |q: f64| percentile(&latencies, q);
        println!(
            "trace by id over HTTP with {spans} spans stored{label} (8 spans per trace, 2000 random lookups): p50 {:.2} ms, p99 {:.2} ms",
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3
        );
    };
    if engine.is_some() {
        let sql = |q: &str| {
            agent
                .post(&engine_http)
                .send(q)
                .expect("engine")
                .body_mut()
                .read_to_string()
                .expect("body")
        };
        let parts = "SELECT count() FROM system.parts WHERE active AND database = 'bench' \
                     AND table = 'otel_traces'";
        lookups(&format!(", {} parts", sql(parts).trim()));
        // What a server that has run a while sees: its parts merged in the background.
        sql("OPTIMIZE TABLE bench.otel_traces FINAL");
        sql("OPTIMIZE TABLE bench.otel_traces_trace_id_ts FINAL");
        lookups(&format!(", {} parts after merging", sql(parts).trim()));
    } else {
        lookups("");
    }
    // The dashboard's first page of traces (newest roots first), over HTTP, as the store
    // holds them now: all of them, and one service's.
    let listing = |query: &str| {
        let mut latencies = Vec::new();
        for _ in 0..50 {
            let url = format!("http://{addr}/api/v1/traces?limit=50{query}");
            let body = timed_get(&mut latencies, &url);
            assert!(body.starts_with(b"{"), "a page of traces came back");
        }
        latencies.sort();
        println!(
            "first page of 50 traces over HTTP{query} with {spans} spans stored (50 requests): p50 {:.2} ms, p99 {:.2} ms",
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3
        );
    };
    listing("");
    listing("&service=checkout");
    println!(
        "peak resident memory of the process at the end: {:.0} MB",
        peak_rss_mb()
    );
    drop(engine);
}

/// Bytes this process has caused to be written to storage so far; `None` where /proc
/// is not available.
fn written_bytes() -> Option<u64> {
    proc_self("io", "write_bytes")
}

/// The process's peak resident set (VmHWM), MB; 0 where /proc is not available.
fn peak_rss_mb() -> f64 {
    proc_self("status", "VmHWM").map_or(0.0, |kb| kb as f64 / 1e3)
}

/// The number after `field:` in /proc/self/`file`.
fn proc_self(file: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/self/{file}"))
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .strip_prefix(':')?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
}

/// The `q` quantile (0..=1) of sorted latencies.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}
