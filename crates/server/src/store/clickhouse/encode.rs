//! Batches as `JSONEachRow` insert bodies, written by the one ClickHouse encoder of the
//! workspace ([`automagik_telemetry_core::clickhouse`], the SDK exporter's too): a batch
//! read from an OTLP request is encoded straight from the accepted request
//! ([`Batch::request`]); rows the server builds itself (its gauges, probe results, agent
//! runs read from Kafka) go through the same per-table row writers, their attribute JSON
//! read once.

use crate::rows::Batch;
use automagik_telemetry_core::clickhouse::{
    self, ActionColumns, Attributes, EventColumns, Insert, LinkColumns, LogColumns, MetricColumns,
    PointColumns, RunColumns, Schema, SpanColumns, action_row, log_row, metric_row, run_row,
    span_row,
};
use serde_json::Value as Json;

/// The bodies `batch` is inserted as, one per table.
pub(super) fn inserts(batch: &Batch) -> Vec<Insert> {
    match &batch.request {
        Some(request) => clickhouse::inserts(request),
        None => own_rows(batch),
    }
}

/// The columns of attributes kept as JSON object text (text that is not an object: no
/// attributes, rather than an error that loses the row).
pub(super) fn attribute_columns(text: &str) -> Attributes {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(object)) => Attributes::of_json(&object),
        _ => Attributes::of(&[]),
    }
}

/// A count kept in JSON (a number; anything else is 0).
fn count(v: &Json) -> u32 {
    v.as_u64()
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// A string kept in JSON (anything else is empty).
fn text(v: &Json) -> &str {
    v.as_str().unwrap_or_default()
}

/// The columns of attributes kept as a JSON object value (anything else: none).
fn attributes_of(v: &Json) -> Attributes {
    match v {
        Json::Object(object) => Attributes::of_json(object),
        _ => Attributes::of(&[]),
    }
}

/// Events kept as JSON text ([`crate::rows::SpanRow::events`]), as the `Events.*`
/// columns hold them: (time, name, attributes, dropped attribute count).
fn span_events(stored: &str) -> Vec<(u64, String, Attributes, u32)> {
    let events: Vec<Json> = serde_json::from_str(stored).unwrap_or_default();
    events
        .iter()
        .map(|e| {
            let time = &e["time_unix_nano"];
            let time = time
                .as_str()
                .and_then(|t| t.parse().ok())
                .or(time.as_u64())
                .unwrap_or(0);
            (
                time,
                text(&e["name"]).to_string(),
                attributes_of(&e["attributes"]),
                count(&e["dropped_attributes_count"]),
            )
        })
        .collect()
}

/// Links kept as JSON text ([`crate::rows::SpanRow::links`]), as the `Links.*` columns
/// hold them.
fn span_links(stored: &str) -> Vec<LinkColumns> {
    let links: Vec<Json> = serde_json::from_str(stored).unwrap_or_default();
    links
        .iter()
        .map(|l| LinkColumns {
            trace_id: text(&l["trace_id"]).to_string(),
            span_id: text(&l["span_id"]).to_string(),
            trace_state: text(&l["trace_state"]).to_string(),
            attributes: attributes_of(&l["attributes"]),
            flags: count(&l["flags"]),
            dropped_attributes_count: count(&l["dropped_attributes_count"]),
        })
        .collect()
}

/// The rows of a batch that did not come from a request, one body per table (empty ones
/// included).
fn own_rows(batch: &Batch) -> Vec<Insert> {
    let mut spans = Insert::new(Schema::TRACES);
    for s in &batch.spans {
        let attributes = attribute_columns(&s.attributes);
        let resource = attribute_values(&s.resource);
        let events = span_events(&s.events);
        spans.push(&span_row(&SpanColumns {
            trace_id: &s.trace_id,
            span_id: &s.span_id,
            parent_span_id: &s.parent_span_id,
            trace_state: &s.trace_state,
            flags: s.flags,
            name: &s.name,
            kind: s.kind,
            service_name: &s.service_name,
            resource: &resource,
            scope_name: &s.scope_name,
            scope_version: &s.scope_version,
            attributes: &attributes,
            dropped_attributes_count: s.dropped_attributes_count,
            start_time_unix_nano: s.start_time_unix_nano,
            end_time_unix_nano: s.end_time_unix_nano,
            status_code: s.status_code,
            status_message: &s.status_message,
            events: events
                .iter()
                .map(|(time, name, attributes, dropped)| EventColumns {
                    time_unix_nano: *time,
                    name,
                    attributes: attributes.clone(),
                    dropped_attributes_count: *dropped,
                })
                .collect(),
            dropped_events_count: s.dropped_events_count,
            links: span_links(&s.links),
            dropped_links_count: s.dropped_links_count,
        }));
    }
    let mut logs = Insert::new(Schema::LOGS);
    for l in &batch.logs {
        let attributes = attribute_columns(&l.attributes);
        let resource = attribute_values(&l.resource);
        logs.push(&log_row(&LogColumns {
            time_unix_nano: l.time_unix_nano,
            observed_time_unix_nano: l.observed_time_unix_nano,
            trace_id: l.trace_id.as_deref().unwrap_or(""),
            span_id: l.span_id.as_deref().unwrap_or(""),
            flags: l.flags,
            severity_text: &l.severity_text,
            severity_number: l.severity_number,
            service_name: &l.service_name,
            body: l.body.as_deref().unwrap_or(""),
            body_type: l.body_type,
            resource: &resource,
            scope_name: &l.scope_name,
            scope_version: &l.scope_version,
            attributes: &attributes,
            dropped_attributes_count: l.dropped_attributes_count,
            event_name: l.event_name.as_deref().unwrap_or(""),
        }));
    }
    let (mut gauges, mut sums, mut histograms, mut summaries) = (
        Insert::new(Schema::GAUGES),
        Insert::new(Schema::SUMS),
        Insert::new(Schema::HISTOGRAMS),
        Insert::new(Schema::SUMMARIES),
    );
    for m in &batch.metric_points {
        let attributes = attribute_columns(&m.attributes);
        let columns = MetricColumns {
            service_name: &m.service_name,
            name: &m.name,
            attributes: &attributes,
            start_time_unix_nano: m.start_time_unix_nano,
            time_unix_nano: m.time_unix_nano,
        };
        let (table, point) = match m.kind {
            "histogram" => (
                &mut histograms,
                PointColumns::Histogram {
                    count: m.count.unwrap_or(0),
                    sum: m.sum,
                    min: m.min,
                    max: m.max,
                    bucket_counts: m.bucket_counts.as_deref().unwrap_or_default(),
                    explicit_bounds: m.explicit_bounds.as_deref().unwrap_or_default(),
                },
            ),
            "summary" => (
                &mut summaries,
                PointColumns::Summary {
                    count: m.count.unwrap_or(0),
                    sum: m.sum.unwrap_or(f64::NAN),
                    quantiles: m.quantiles.as_deref().unwrap_or_default(),
                },
            ),
            "sum" => (&mut sums, PointColumns::Number(m.value)),
            _ => (&mut gauges, PointColumns::Number(m.value)),
        };
        table.push(&metric_row(&columns, &point));
    }
    let mut runs = Insert::new(Schema::AGENT_RUNS);
    for r in &batch.agent_runs {
        let attributes = attribute_columns(&r.attributes);
        runs.push(&run_row(&RunColumns {
            start_time_unix_nano: r.start_time_unix_nano,
            end_time_unix_nano: r.end_time_unix_nano,
            correlation_id: &r.correlation_id,
            agent_name: &r.agent_name,
            status: &r.status,
            service_name: &r.service_name,
            trace_id: &r.trace_id,
            quality_score: r.quality_score,
            error: r.error.as_deref(),
            attributes: &attributes,
        }));
    }
    let mut actions = Insert::new(Schema::AGENT_ACTIONS);
    for a in &batch.agent_actions {
        let attributes = attribute_columns(&a.attributes);
        actions.push(&action_row(&ActionColumns {
            time_unix_nano: a.time_unix_nano,
            action_id: &a.action_id,
            correlation_id: &a.correlation_id,
            agent_name: &a.agent_name,
            action_type: &a.action_type,
            name: &a.name,
            is_error: a.is_error,
            duration_ns: a.duration_ns,
            // The server's action rows carry neither.
            service_name: "",
            trace_id: "",
            attributes: &attributes,
        }));
    }
    vec![spans, logs, gauges, sums, histograms, summaries, runs, actions]
}

/// The string map of attributes kept as JSON object text (resources take no type map).
fn attribute_values(text: &str) -> Json {
    attribute_columns(text).values
}
