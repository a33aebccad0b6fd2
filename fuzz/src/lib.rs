//! What the fuzz targets share: the OTLP ingest path from a decompressed body to rows
//! and rollups, with the properties checked on the way (`otlp_protobuf` and `otlp_json`
//! differ only in the encoding).
//!
//! Beyond "no panic", [`otlp`] checks what the server's code documents:
//!
//! - the measure taken before decoding (`ingest::measure`) counts at least the items the
//!   decoder builds, so the item limit and the memory bound cannot be passed around;
//! - a body the measure refuses as malformed is refused by the decoder too;
//! - every item is either a row or refused and counted (`rows::Batch::rejected`), and
//!   the accepted request kept in the batch holds exactly the rows' items;
//! - ids are lowercase hex of their length, a span never ends before it starts, and
//!   every column documented as JSON text is JSON;
//! - the rollups count every span and agent action once per resolution, and their
//!   histograms round-trip through their stored form;
//! - the ClickHouse rows are one per line, and every agent event envelope the SDK would
//!   publish (`Envelope::check`) is one the consumer accepts (`Envelope::parse`).

use automagik_telemetry_core::SignalRequest;
use automagik_telemetry_core::agent_event::{self, Envelope};
use automagik_telemetry_core::clickhouse;
use automagik_telemetry_core::exponential;
use automagik_telemetry_core::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use automagik_telemetry_core::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use automagik_telemetry_core::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use automagik_telemetry_core::proto::tonic::metrics::v1::metric::Data;
use automagik_telemetry_server::Limits;
use automagik_telemetry_server::ingest::{self, Encoding, IngestError, OtlpRequest};
use automagik_telemetry_server::rollup::{
    HIST_BUCKETS, RESOLUTIONS, Rollups, hist_from_bytes, hist_to_bytes,
};
use automagik_telemetry_server::rows::Batch;
use std::collections::BTreeSet;

/// The limits the OTLP targets decode within: small enough that inputs of a few
/// kilobytes reach the refusals (an empty span is 2 bytes of protobuf and is charged
/// 528), large enough that most inputs decode.
pub fn limits() -> Limits {
    Limits {
        max_items: 1_000,
        max_decoded_bytes: 1 << 20,
        ..Limits::default()
    }
}

/// One fuzz input through the ingest path: its first byte chooses the signal (traces,
/// metrics, logs), the rest is the decompressed body in `encoding`.
pub fn otlp(encoding: Encoding, data: &[u8]) {
    let Some((&signal, body)) = data.split_first() else {
        return;
    };
    match signal % 3 {
        0 => request::<ExportTraceServiceRequest>(encoding, body),
        1 => request::<ExportMetricsServiceRequest>(encoding, body),
        _ => request::<ExportLogsServiceRequest>(encoding, body),
    }
}

fn request<T: Request>(encoding: Encoding, body: &[u8]) {
    let limits = limits();
    match ingest::decode_within::<T>(encoding, body, &limits) {
        Ok(req) => {
            let (measured, _) = ingest::measure::<T>(encoding, body, &limits)
                .expect("a request that was decoded was measured within the limits");
            let decoded = req.items();
            assert!(
                decoded <= measured,
                "{decoded} items decoded from a {} request measured as {measured} items",
                T::SIGNAL
            );
            let (records, refused_whole) = (req.records(), req.refused_whole());
            let batch = req.into_rows();
            check_batch::<T>(&batch, records, refused_whole);
        }
        // serde also reads a message written as a JSON array (its fields in order), which
        // is not OTLP JSON: the measure refuses it, as it should, where serde would not.
        Err(IngestError::Malformed(why))
            if encoding == Encoding::Json
                && (why.contains("must be a JSON object") || why.contains("not an array")) => {}
        Err(IngestError::Malformed(why)) => {
            assert!(
                !decodes::<T>(encoding, body),
                "refused as malformed ({why}), but the decoder accepts the {} request",
                T::SIGNAL
            );
        }
        Err(_) => {}
    }
}

/// Whether the decoder alone (no measure first) accepts `body`.
fn decodes<T: OtlpRequest>(encoding: Encoding, body: &[u8]) -> bool {
    match encoding {
        Encoding::Protobuf => <T as prost::Message>::decode(body).is_ok(),
        // The server reads OTLP JSON after rewriting proto field names and enum names.
        Encoding::Json => {
            let normalized = ingest::normalize_json(body);
            serde_json::from_slice::<T>(normalized.as_deref().unwrap_or(body)).is_ok()
        }
    }
}

/// What the checks need to know of each export request.
trait Request: OtlpRequest {
    /// Items as the limits count them: spans, span events and span links; log records;
    /// metric data points of every kind.
    fn items(&self) -> u64;
    /// Items that become rows when valid: spans; log records; data points of sums,
    /// gauges and histograms.
    fn records(&self) -> u64;
    /// Rows of the batch made of those items.
    fn rows(batch: &Batch) -> u64;
    /// Items refused whatever they hold (metrics of kinds not stored, or without data).
    fn refused_whole(&self) -> u64 {
        0
    }
    /// The request in a batch's accepted part, when it is of this signal.
    fn accepted(request: &SignalRequest) -> Option<&Self>;
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Request for ExportTraceServiceRequest {
    fn items(&self) -> u64 {
        self.resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| 1 + count(s.events.len()) + count(s.links.len()))
            .sum()
    }

    fn records(&self) -> u64 {
        self.resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| count(ss.spans.len()))
            .sum()
    }

    fn rows(batch: &Batch) -> u64 {
        count(batch.spans.len())
    }

    fn accepted(request: &SignalRequest) -> Option<&Self> {
        match request {
            SignalRequest::Traces(r) => Some(r),
            _ => None,
        }
    }
}

impl Request for ExportLogsServiceRequest {
    fn items(&self) -> u64 {
        self.records()
    }

    fn records(&self) -> u64 {
        self.resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .map(|sl| count(sl.log_records.len()))
            .sum()
    }

    fn rows(batch: &Batch) -> u64 {
        count(batch.logs.len())
    }

    fn accepted(request: &SignalRequest) -> Option<&Self> {
        match request {
            SignalRequest::Logs(r) => Some(r),
            _ => None,
        }
    }
}

impl Request for ExportMetricsServiceRequest {
    fn items(&self) -> u64 {
        self.resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(g)) => count(g.data_points.len()),
                Some(Data::Sum(s)) => count(s.data_points.len()),
                Some(Data::Histogram(h)) => count(h.data_points.len()),
                Some(Data::ExponentialHistogram(h)) => count(h.data_points.len()),
                Some(Data::Summary(s)) => count(s.data_points.len()),
                None => 0,
            })
            .sum()
    }

    fn records(&self) -> u64 {
        self.resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(g)) => count(g.data_points.len()),
                Some(Data::Sum(s)) => count(s.data_points.len()),
                Some(Data::Histogram(h)) => count(h.data_points.len()),
                Some(Data::Summary(s)) => count(s.data_points.len()),
                // Read in the explicit layout, when they can be.
                Some(Data::ExponentialHistogram(h)) => count(
                    h.data_points
                        .iter()
                        .filter(|p| exponential::check(p).is_ok())
                        .count(),
                ),
                _ => 0,
            })
            .sum()
    }

    fn refused_whole(&self) -> u64 {
        self.resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| match &m.data {
                Some(Data::ExponentialHistogram(h)) => count(
                    h.data_points
                        .iter()
                        .filter(|p| exponential::check(p).is_err())
                        .count(),
                ),
                None => 1,
                _ => 0,
            })
            .sum()
    }

    fn rows(batch: &Batch) -> u64 {
        count(batch.metric_points.len())
    }

    fn accepted(request: &SignalRequest) -> Option<&Self> {
        match request {
            SignalRequest::Metrics(r) => Some(r),
            _ => None,
        }
    }
}

/// `records` and `refused_whole`: [`Request::records`] and [`Request::refused_whole`] of
/// the request the batch was made from.
fn check_batch<T: Request>(batch: &Batch, records: u64, refused_whole: u64) {
    let rows = T::rows(batch);
    let request = batch
        .request
        .as_ref()
        .expect("a batch made from a request keeps its accepted part");
    let accepted = T::accepted(request).expect("the accepted part is of the request's signal");
    if T::SIGNAL == "metrics" {
        // Every sum, gauge, histogram and summary point is a row; the rest is refused
        // whole.
        assert_eq!(rows, records, "metric points stored");
        assert_eq!(batch.rejected, refused_whole, "metric points refused");
        assert_eq!(accepted.refused_whole(), 0, "refused metrics left in the request");
    } else {
        assert_eq!(
            rows + batch.rejected,
            records,
            "every {} item is a row or refused",
            T::SIGNAL
        );
    }
    assert_eq!(
        accepted.records(),
        rows,
        "the accepted {} request holds exactly the rows' items",
        T::SIGNAL
    );
    assert_eq!(
        batch.rejected > 0,
        batch.rejection.is_some(),
        "a refusal has a reason"
    );
    check_rows(batch);
    check_rollups(batch);
    check_request(request);
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn json(what: &str, text: &str) {
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        panic!("{what} is not JSON ({e}): {text:?}");
    }
}

fn check_rows(batch: &Batch) {
    for s in &batch.spans {
        assert!(is_hex(&s.trace_id, 32), "trace_id {:?}", s.trace_id);
        assert!(is_hex(&s.span_id, 16), "span_id {:?}", s.span_id);
        assert!(
            s.parent_span_id.is_empty() || is_hex(&s.parent_span_id, 16),
            "parent_span_id {:?}",
            s.parent_span_id
        );
        assert!(
            s.end_time_unix_nano >= s.start_time_unix_nano,
            "a span row ends before it starts"
        );
        json("span attributes", &s.attributes);
        json("span events", &s.events);
        json("span resource", &s.resource);
    }
    for l in &batch.logs {
        if let Some(t) = &l.trace_id {
            assert!(is_hex(t, 32), "log trace_id {t:?}");
        }
        if let Some(s) = &l.span_id {
            assert!(is_hex(s, 16), "log span_id {s:?}");
        }
        json("log attributes", &l.attributes);
        json("log resource", &l.resource);
    }
    for p in &batch.metric_points {
        json("metric point attributes", &p.attributes);
    }
    for r in &batch.agent_runs {
        assert!(
            r.end_time_unix_nano >= r.start_time_unix_nano,
            "an agent run ends before it starts"
        );
        json("agent run attributes", &r.attributes);
    }
    for a in &batch.agent_actions {
        json("agent action attributes", &a.attributes);
    }
}

fn check_rollups(batch: &Batch) {
    let rollups = Rollups::of(batch);
    let actions = count(batch.agent_runs.len()) + count(batch.agent_actions.len());
    for resolution in RESOLUTIONS {
        let spans: u64 = rollups
            .spans
            .iter()
            .filter(|(k, _)| k.resolution == resolution)
            .map(|(_, a)| a.count)
            .sum();
        assert_eq!(
            spans,
            count(batch.spans.len()),
            "spans in the {resolution} s rollups"
        );
        let agents: u64 = rollups
            .agents
            .iter()
            .filter(|(k, _)| k.resolution == resolution)
            .map(|(_, a)| a.count)
            .sum();
        assert_eq!(
            agents, actions,
            "agent runs and actions in the {resolution} s rollups"
        );
    }
    for (key, agg) in &rollups.spans {
        assert!(
            agg.errors <= agg.count,
            "more errors than spans in {key:?}"
        );
        assert!(agg.hist.len() <= HIST_BUCKETS, "histogram of {key:?}");
        assert_eq!(
            agg.hist.iter().sum::<u64>(),
            agg.count,
            "histogram of {key:?} counts its spans"
        );
        let used = agg.hist.iter().rposition(|n| *n > 0).map_or(0, |i| i + 1);
        assert_eq!(
            hist_from_bytes(&hist_to_bytes(&agg.hist)).as_slice(),
            &agg.hist[..used],
            "histogram of {key:?} through its stored form"
        );
    }
    for (key, agg) in &rollups.agents {
        assert!(agg.errors <= agg.count, "more errors than actions in {key:?}");
    }
}

fn check_request(request: &SignalRequest) {
    if let SignalRequest::Traces(t) = request {
        for s in t
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
        {
            assert!(
                s.end_time_unix_nano >= s.start_time_unix_nano,
                "an accepted span ends before it starts"
            );
        }
    }
    for insert in clickhouse::inserts(request) {
        assert_eq!(
            insert.rows.lines().count(),
            insert.count,
            "one JSONEachRow line per row of {}",
            insert.table
        );
    }
    for envelope in agent_event::from_request(request) {
        if envelope.check().is_err() {
            // Published as it is and dead-lettered by the SDK: nothing more to hold.
            continue;
        }
        check_envelope_round_trip(&envelope);
    }
}

/// An envelope that passes [`Envelope::check`] is one [`Envelope::parse`] accepts, with
/// the same header (ids lowercase once parsed).
pub fn check_envelope_round_trip(envelope: &Envelope) {
    let bytes = envelope.to_bytes();
    let parsed = match Envelope::parse(&bytes) {
        Ok(parsed) => parsed,
        Err(e) => panic!(
            "an envelope that passes check() is refused by parse(): {e}: {}",
            String::from_utf8_lossy(&bytes)
        ),
    };
    assert_eq!(parsed.event_id, envelope.event_id.to_ascii_lowercase());
    assert_eq!(
        parsed.correlation_id,
        envelope.correlation_id.to_ascii_lowercase()
    );
    assert_eq!(parsed.event_type, envelope.event_type);
    assert_eq!(parsed.timestamp_unix_nano, envelope.timestamp_unix_nano);
    assert_eq!(parsed.agent_name, envelope.agent_name);
    assert_eq!(
        parsed.payload.keys().collect::<BTreeSet<_>>(),
        envelope.payload.keys().collect::<BTreeSet<_>>(),
        "payload fields"
    );
    assert_eq!(
        parsed.extra.keys().collect::<BTreeSet<_>>(),
        envelope.extra.keys().collect::<BTreeSet<_>>(),
        "unknown fields kept"
    );
}
