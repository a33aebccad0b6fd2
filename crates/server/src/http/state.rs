//! [`AppState`], the state every handler shares, and the request [`Limits`].

use crate::alerts::Alerts;
use crate::auth::Auth;
use crate::fleet::{Fleet, ProbesCollector};
use crate::redaction::IngestRedactor;
use crate::server_metrics::ServerMetrics;
use crate::store::Store;
use std::sync::Arc;

/// What one OTLP request may cost, on both transports and in both encodings: as sent, once
/// decompressed, and once decoded, so that no request within them takes more than a
/// bounded amount of memory. A request over any of them is refused before it is decoded,
/// with a message naming the limit (HTTP 413, gRPC `INVALID_ARGUMENT`, neither retried
/// by OTLP exporters).
///
/// # The bound
///
/// The decoded size is not measured after the fact but bounded before decoding, by a
/// scan of the decompressed bytes (`ingest::cost`): each element of a repeated field is
/// charged twice the size of its struct (a `Vec` grown by pushing holds at most twice
/// its length, and two spare slots and one allocation per non-empty `Vec`), each
/// non-empty string or bytes field its length and one allocation (32 bytes), each
/// repeated number 16 bytes; OTLP JSON is also charged the buffers serde fills for the
/// objects it decodes in two passes (`AnyValue`, `Metric`, `NumberDataPoint`,
/// `Exemplar`). Struct sizes on 64-bit targets: `Span` 264 bytes (the largest),
/// `ExponentialHistogramDataPoint` 208, `LogRecord` 184, `HistogramDataPoint` 176,
/// `Metric` 136, `Link` 104, `NumberDataPoint` 88, `KeyValue` 64, `Event` 64,
/// `AnyValue` 32.
///
/// Worst cases: an empty span is 2 bytes of protobuf (its tag and a zero length) and is
/// charged 528 bytes, 264 per byte on the wire, which is why the decompressed limit alone
/// bounds nothing (64 KB of gzip, 33 million empty spans, decoded into 4.4 GB). With the
/// defaults a request holds at most 100,000 items and its decoded form at most 96 MiB, so
/// while a request is decoded it takes at most 96 MiB plus its decompressed bytes
/// (32 MiB): 128 MiB over HTTP, where the compressed body is released first, and 160 MiB
/// over gRPC, where tonic keeps the compressed message (at most 32 MiB) beside the
/// decompressed one.
/// An ordinary large batch, 10,000 spans with 20 attributes each (about 10 MB of
/// protobuf), is charged about 54 MB and holds 10 % of the items allowed.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body as sent (compressed), in bytes; a larger `Content-Length` is
    /// refused before the body is read. Default 16 MiB.
    pub max_body_bytes: usize,
    /// Largest body after decompression, in bytes (over gRPC, also the largest message
    /// as sent). Default 32 MiB.
    pub max_decompressed_bytes: usize,
    /// Most items one request may hold: spans, span events and span links, log records,
    /// metric data points. Default 100,000.
    pub max_items: usize,
    /// Most memory, in bytes, the decoded request may take, as bounded before decoding
    /// (see "The bound" above). Default 96 MiB.
    pub max_decoded_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 32 * 1024 * 1024,
            max_items: 100_000,
            max_decoded_bytes: 96 * 1024 * 1024,
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// Where data goes.
    pub store: Arc<dyn Store>,
    /// Request limits.
    pub limits: Limits,
    /// Tokens and their scopes (none: open).
    pub auth: Arc<Auth>,
    /// The server's own metrics.
    pub metrics: Arc<ServerMetrics>,
    /// Alert rules and their states.
    pub alerts: Arc<Alerts>,
    /// Fleet collection and its newest snapshot.
    pub fleet: Arc<Fleet>,
    /// The probed targets' last states (empty without probes).
    pub probes: ProbesCollector,
    /// Redaction on ingest, applied to every decoded request before it is stored.
    pub redactor: Arc<IngestRedactor>,
}

impl AppState {
    /// State over `store` with default limits, no tokens, fresh metrics and `standard`
    /// redaction.
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            limits: Limits::default(),
            auth: Arc::new(Auth::default()),
            metrics: Arc::new(ServerMetrics::default()),
            alerts: Arc::new(Alerts::default()),
            fleet: Arc::new(Fleet::default()),
            probes: ProbesCollector::default(),
            redactor: Arc::new(IngestRedactor::standard()),
        }
    }
}
