//! Batches as `JSONEachRow` insert bodies, written by the one ClickHouse encoder of the
//! workspace ([`automagik_telemetry_core::clickhouse`], the SDK exporter's too): a batch
//! read from an OTLP request is encoded straight from the accepted request
//! ([`Batch::request`]); rows the server builds itself (its gauges, probe results, agent
//! runs read from Kafka) go through the same per-table row writers, their attribute JSON
//! read once.

use crate::rows::Batch;
use automagik_telemetry_core::clickhouse::{
    self, ActionColumns, Attributes, EventColumns, Insert, LogColumns, MetricColumns, PointColumns,
    RunColumns, Schema, SpanColumns, action_row, log_row, metric_row, run_row, span_row,
};
use serde_json::{Value as Json, json};

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

/// Events kept as JSON text (`[{"name", "time_unix_nano", "attributes"}]`), as the
/// `Events.*` columns hold them.
fn span_events(text: &str) -> Vec<(u64, String, Json)> {
    let events: Vec<Json> = serde_json::from_str(text).unwrap_or_default();
    events
        .iter()
        .map(|e| {
            let time = &e["time_unix_nano"];
            let time = time
                .as_str()
                .and_then(|t| t.parse().ok())
                .or(time.as_u64())
                .unwrap_or(0);
            let name = e["name"].as_str().unwrap_or_default().to_string();
            let attributes = match &e["attributes"] {
                Json::Object(object) => Attributes::of_json(object).values,
                _ => json!({}),
            };
            (time, name, attributes)
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
            name: &s.name,
            kind: s.kind,
            service_name: &s.service_name,
            resource: &resource,
            attributes: &attributes,
            start_time_unix_nano: s.start_time_unix_nano,
            end_time_unix_nano: s.end_time_unix_nano,
            status_code: s.status_code,
            status_message: &s.status_message,
            events: events
                .iter()
                .map(|(time, name, attributes)| EventColumns {
                    time_unix_nano: *time,
                    name,
                    attributes: attributes.clone(),
                })
                .collect(),
        }));
    }
    let mut logs = Insert::new(Schema::LOGS);
    for l in &batch.logs {
        let attributes = attribute_columns(&l.attributes);
        let resource = attribute_values(&l.resource);
        logs.push(&log_row(&LogColumns {
            time_unix_nano: l.time_unix_nano,
            trace_id: l.trace_id.as_deref().unwrap_or(""),
            span_id: l.span_id.as_deref().unwrap_or(""),
            severity_text: &l.severity_text,
            severity_number: l.severity_number,
            service_name: &l.service_name,
            body: l.body.as_deref().unwrap_or(""),
            resource: &resource,
            attributes: &attributes,
            event_name: l.event_name.as_deref().unwrap_or(""),
        }));
    }
    let (mut gauges, mut sums, mut histograms) = (
        Insert::new(Schema::GAUGES),
        Insert::new(Schema::SUMS),
        Insert::new(Schema::HISTOGRAMS),
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
    vec![spans, logs, gauges, sums, histograms, runs, actions]
}

/// The string map of attributes kept as JSON object text (resources take no type map).
fn attribute_values(text: &str) -> Json {
    attribute_columns(text).values
}
