//! Realistic trace traffic for the ingest bench, as OpenTelemetry SDKs send it: random
//! W3C trace ids (16 bytes) and span ids (8 bytes), three services with their own
//! resources (name, version, host, process id, SDK), 8 spans per trace (a server span
//! and its children), 20 attributes per span of which some are unique per span (a
//! request id, a client address, token counts, a statement with an id) and the others
//! drawn from small sets (method, route, status, region), and times within the last three
//! minutes, in no particular order.
//!
//! Building such a body costs a client core milliseconds, which would compete with the
//! server on a small machine. So a pool of bodies is built before the clock starts, and
//! each request takes the next body of the pool and writes fresh random trace ids over
//! its trace ids (every occurrence, so that parents and children stay one trace): every
//! span sent is new to the store, and its key as random as a real SDK's.

use automagik_telemetry_testkit::build::{any_kv, string_kv};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// Spans per trace.
pub const SPANS_PER_TRACE: usize = 8;

/// A small fast generator (xorshift64*): the bench needs spread, not cryptography.
pub struct Rng(u64);

impl Rng {
    /// Seeded; never zero.
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        out
    }
}

const SERVICES: [(&str, &str, &str); 3] = [
    ("checkout", "2.14.1", "checkout-7d9f8-abcde"),
    ("inventory", "0.9.3", "inventory-5c4b2-fghij"),
    ("assistant", "1.2.0", "assistant-6a1e3-klmno"),
];
const ROUTES: [&str; 8] = [
    "/api/v1/orders/{id}",
    "/api/v1/cart",
    "/api/v1/checkout",
    "/api/v1/items/{sku}",
    "/api/v1/search",
    "/healthz",
    "/api/v1/users/{id}/preferences",
    "/v1/chat/completions",
];
const CHILDREN: [&str; 7] = [
    "SELECT orders",
    "redis GET",
    "HTTP POST payments",
    "kafka publish order.placed",
    "chat gpt-4o-mini",
    "render template",
    "UPDATE inventory",
];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-south-1"];

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The 20 attributes of span `i` of a trace.
fn attributes(rng: &mut Rng, i: usize) -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
    let mut a = vec![
        // Unique per span.
        string_kv(
            "http.request_id",
            format!("{:016x}{:016x}", rng.next(), rng.next()),
        ),
        string_kv(
            "client.address",
            format!(
                "10.{}.{}.{}",
                rng.below(256),
                rng.below(256),
                rng.below(256)
            ),
        ),
        any_kv(
            "gen_ai.usage.input_tokens",
            any_value::Value::IntValue(rng.below(8000) as i64),
        ),
        any_kv(
            "gen_ai.usage.output_tokens",
            any_value::Value::IntValue(rng.below(2000) as i64),
        ),
        string_kv(
            "db.statement",
            format!("SELECT * FROM orders WHERE id = {}", rng.below(10_000_000)),
        ),
        any_kv(
            "messaging.message.body.size",
            any_value::Value::IntValue(rng.below(65_536) as i64),
        ),
        string_kv("session.id", format!("{:x}", rng.next())),
        // Repeated.
        string_kv("http.request.method", METHODS[rng.below(4) as usize]),
        string_kv("http.route", ROUTES[rng.below(8) as usize]),
        any_kv(
            "http.response.status_code",
            any_value::Value::IntValue([200, 200, 200, 201, 404, 500][rng.below(6) as usize]),
        ),
        string_kv("cloud.region", REGIONS[rng.below(3) as usize]),
        string_kv("deployment.environment.name", "production"),
        string_kv("network.protocol.version", "1.1"),
        string_kv("server.address", "api.internal"),
        any_kv("server.port", any_value::Value::IntValue(8080)),
        string_kv(
            "user_agent.original",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        ),
        any_kv("retry", any_value::Value::BoolValue(rng.below(20) == 0)),
        string_kv(
            "feature.flag",
            ["new-cart", "control", "beta-search"][rng.below(3) as usize],
        ),
        string_kv("span.index", i.to_string()),
    ];
    a.push(any_kv(
        "duration.budget_ms",
        any_value::Value::DoubleValue(rng.below(1000) as f64 / 10.0),
    ));
    a
}

/// One request of `spans` spans (a multiple of [`SPANS_PER_TRACE`]) from one of the
/// services, and the trace ids in it.
fn body(rng: &mut Rng, service: usize, spans: usize) -> (Vec<u8>, Vec<[u8; 16]>) {
    let now = now_nanos();
    let mut trace_ids = Vec::new();
    let mut out = Vec::with_capacity(spans);
    for _ in 0..spans / SPANS_PER_TRACE {
        let trace_id: [u8; 16] = rng.bytes();
        trace_ids.push(trace_id);
        let root_id: [u8; 8] = rng.bytes();
        // Within the last three minutes, in no order.
        let start = now - 1_000_000 * (1 + rng.below(180_000));
        let root_duration = 1_000_000 * (1 + rng.below(500));
        for i in 0..SPANS_PER_TRACE {
            let (span_id, parent, name, kind, s, e) = if i == 0 {
                (
                    root_id,
                    Vec::new(),
                    format!("GET {}", ROUTES[rng.below(8) as usize]),
                    2,
                    start,
                    start + root_duration,
                )
            } else {
                let s = start + rng.below(root_duration / 2);
                let e = s + rng.below(root_duration / 2).max(1);
                (
                    rng.bytes(),
                    root_id.to_vec(),
                    CHILDREN[(i - 1) % CHILDREN.len()].to_string(),
                    3,
                    s,
                    e,
                )
            };
            out.push(Span {
                trace_id: trace_id.to_vec(),
                span_id: span_id.to_vec(),
                parent_span_id: parent,
                name,
                kind,
                start_time_unix_nano: s,
                end_time_unix_nano: e,
                attributes: attributes(rng, i),
                status: (rng.below(50) == 0).then(|| Status {
                    code: 2,
                    message: "upstream timed out".into(),
                }),
                flags: 0x101,
                ..Default::default()
            });
        }
    }
    let (name, version, host) = SERVICES[service % SERVICES.len()];
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    string_kv("service.name", name),
                    string_kv("service.version", version),
                    string_kv("host.name", host),
                    any_kv(
                        "process.pid",
                        any_value::Value::IntValue(1000 + service as i64),
                    ),
                    string_kv("telemetry.sdk.name", "opentelemetry"),
                    string_kv("telemetry.sdk.language", "python"),
                    string_kv("telemetry.sdk.version", "1.45.2"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: out,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    (request.encode_to_vec(), trace_ids)
}

/// A pool of request bodies, and where each holds its trace ids.
pub struct Pool {
    bodies: Vec<(Vec<u8>, Vec<Vec<usize>>)>,
}

impl Pool {
    /// `size` bodies of `spans` spans each, from the three services in turn.
    pub fn new(size: usize, spans: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let bodies = (0..size)
            .map(|i| {
                let (bytes, ids) = body(&mut rng, i, spans);
                let index: HashMap<[u8; 16], usize> =
                    ids.iter().enumerate().map(|(n, id)| (*id, n)).collect();
                let mut at = vec![Vec::new(); ids.len()];
                for (offset, window) in bytes.windows(16).enumerate() {
                    if let Some(&n) = <&[u8; 16]>::try_from(window)
                        .ok()
                        .and_then(|w| index.get(w))
                    {
                        at[n].push(offset);
                    }
                }
                assert!(
                    at.iter().all(|o| o.len() == SPANS_PER_TRACE),
                    "each trace id found once per span"
                );
                (bytes, at)
            })
            .collect();
        Pool { bodies }
    }

    /// Bodies in the pool.
    pub fn len(&self) -> usize {
        self.bodies.len()
    }

    /// Body `n` (modulo the pool) into `out`, with fresh random trace ids.
    pub fn request(&self, n: usize, rng: &mut Rng, out: &mut Vec<u8>) {
        let (bytes, at) = &self.bodies[n % self.bodies.len()];
        out.clear();
        out.extend_from_slice(bytes);
        for offsets in at {
            let id: [u8; 16] = rng.bytes();
            for &o in offsets {
                out[o..o + 16].copy_from_slice(&id);
            }
        }
    }
}
