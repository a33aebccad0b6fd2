//! Batches as `JSONEachRow` insert bodies, written by the one ClickHouse encoder of the
//! workspace ([`automagik_telemetry_core::clickhouse`], the SDK exporter's too): a batch
//! read from an OTLP request is encoded straight from the accepted request
//! ([`Batch::request`]); rows the server builds itself (its gauges, probe results, agent
//! runs read from Kafka) go through the same per-table row writers, their attribute JSON
//! read once. Agent runs, LLM calls and scores are the server's own rows whatever their
//! source (it resolves a run's session, user and nesting, and the calls and scores are
//! never in a request as such): they are written from the batch's rows, so ClickHouse
//! holds what the other stores hold.

use crate::rows::{AgentRunRow, Batch, LlmCallRow, ScoreRow};
use automagik_telemetry_core::clickhouse::{
    self, ActionColumns, Attributes, EventColumns, Insert, LinkColumns, LogColumns, MetricColumns,
    PointColumns, RunColumns, Schema, SpanColumns, action_row, log_row, metric_row, run_row,
    span_row,
};
use automagik_telemetry_core::time::rfc3339;
use serde_json::{Value as Json, json};

/// The bodies `batch` is inserted as, one per table (from a request: only those with
/// rows).
pub(super) fn inserts(batch: &Batch) -> Vec<Insert> {
    match &batch.request {
        Some(request) => {
            let mut out = clickhouse::inserts(request);
            out.retain(|i| i.table != Schema::AGENT_RUNS);
            out.extend(
                [
                    runs(&batch.agent_runs),
                    llm_calls(&batch.llm_calls),
                    scores(&batch.scores),
                ]
                .into_iter()
                .filter(|i| i.count > 0),
            );
            out
        }
        None => own_rows(batch),
    }
}

/// The rows of `automagik_agent_runs`.
fn runs(rows: &[AgentRunRow]) -> Insert {
    let mut runs = Insert::new(Schema::AGENT_RUNS);
    for r in rows {
        let attributes = attribute_columns(&r.attributes);
        runs.push(&run_row(&RunColumns {
            start_time_unix_nano: r.start_time_unix_nano,
            end_time_unix_nano: r.end_time_unix_nano,
            correlation_id: &r.correlation_id,
            agent_name: &r.agent_name,
            status: &r.status,
            service_name: &r.service_name,
            trace_id: &r.trace_id,
            span_id: &r.span_id,
            parent_span_id: &r.parent_span_id,
            session_id: &r.session_id,
            user_id: &r.user_id,
            quality_score: r.quality_score,
            error: r.error.as_deref(),
            attributes: &attributes,
        }));
    }
    runs
}

/// Finish reasons kept as JSON array text ([`LlmCallRow::finish_reasons`]) as the
/// `Array(String)` column holds them: strings as they are, other values as their JSON
/// text; text that is not an array, none.
pub(super) fn finish_reasons(text: &str) -> Vec<String> {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Json::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A row of `automagik_llm_calls` (a non-finite cost is written as none).
pub(super) fn llm_call_row(c: &LlmCallRow) -> Json {
    let mut row = json!({
        "Timestamp": rfc3339(c.start_time_unix_nano),
        "TraceId": c.trace_id,
        "SpanId": c.span_id,
        "ParentSpanId": c.parent_span_id,
        "CorrelationId": c.correlation_id,
        "AgentName": c.agent_name,
        "ServiceName": c.service_name,
        "Operation": c.operation,
        "Provider": c.provider,
        "RequestModel": c.request_model,
        "ResponseModel": c.response_model,
    });
    let more = json!({
        "InputTokens": c.input_tokens,
        "OutputTokens": c.output_tokens,
        "CacheReadTokens": c.cache_read_tokens,
        "CacheWriteTokens": c.cache_write_tokens,
        "ReasoningTokens": c.reasoning_tokens,
        "CostUsd": c.cost_usd.filter(|v| v.is_finite()),
        "Duration": c.duration_ns,
        "TimeToFirstToken": c.time_to_first_token_ns,
        "FinishReasons": finish_reasons(&c.finish_reasons),
        "IsError": c.is_error,
        "SessionId": c.session_id,
        "UserId": c.user_id,
    });
    if let (Json::Object(row), Json::Object(more)) = (&mut row, more) {
        row.extend(more);
    }
    row
}

/// The rows of `automagik_llm_calls`.
fn llm_calls(rows: &[LlmCallRow]) -> Insert {
    let mut calls = Insert::new(Schema::LLM_CALLS);
    for c in rows {
        calls.push(&llm_call_row(c));
    }
    calls
}

/// A row of `automagik_scores` (a non-finite value is written as none).
pub(super) fn score_row(s: &ScoreRow) -> Json {
    json!({
        "Timestamp": rfc3339(s.time_unix_nano),
        "ScoreId": s.score_id,
        "TargetKind": s.target_kind,
        "TargetId": s.target_id,
        "Name": s.name,
        "DataType": s.data_type,
        "Value": s.value.filter(|v| v.is_finite()),
        "StringValue": s.string_value,
        "Comment": s.comment,
        "Source": s.source,
    })
}

/// The rows of `automagik_scores`.
fn scores(rows: &[ScoreRow]) -> Insert {
    let mut scores = Insert::new(Schema::SCORES);
    for s in rows {
        scores.push(&score_row(s));
    }
    scores
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
    let runs = runs(&batch.agent_runs);
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
    vec![
        spans,
        logs,
        gauges,
        sums,
        histograms,
        summaries,
        runs,
        actions,
        llm_calls(&batch.llm_calls),
        scores(&batch.scores),
    ]
}

/// The string map of attributes kept as JSON object text (resources take no type map).
fn attribute_values(text: &str) -> Json {
    attribute_columns(text).values
}
