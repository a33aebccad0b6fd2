//! SELECT results read back: the `JSONEachRow` rows of the store's queries, decoded into
//! the server's rows. Attribute maps come back as strings with a type map beside them
//! ([`join_attributes`] gives them their types again); 64-bit integers may come quoted
//! ([`de_u64`]).

use crate::rollup::{GenAiAgg, GenAiKey, HIST_BUCKETS};
use crate::rows::{
    AgentActionRow, AgentRunRow, BodyType, LlmCallRow, LogRow, MetricPointRow, ScoreRow, SpanRow,
};
use crate::store::{StoredLog, StoredRun};
use automagik_telemetry_core::clickhouse::{span_kind_code, status_code_of};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

/// The inverse of the encoder's attribute rule: typed JSON object text from the string
/// map and the type map.
pub(super) fn join_attributes(values: Map<String, Json>, types: &Map<String, Json>) -> String {
    let mut out = Map::with_capacity(values.len());
    for (k, v) in values {
        let text = match v {
            Json::String(s) => s,
            other => other.to_string(),
        };
        let typed = match types.get(&k).and_then(Json::as_str) {
            Some("int") => text.parse::<i64>().map(Json::from).ok(),
            Some("double") => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number),
            Some("bool") => text.parse::<bool>().map(Json::Bool).ok(),
            Some("json") => serde_json::from_str(&text).ok(),
            _ => None,
        };
        out.insert(k, typed.unwrap_or(Json::String(text)));
    }
    Json::Object(out).to_string()
}

/// A string map (no types) as JSON object text.
pub(super) fn strings(attrs: Map<String, Json>) -> String {
    join_attributes(attrs, &Map::new())
}

/// Reads a JSON value that ClickHouse may quote (64-bit integers) as a `u64`.
pub(super) fn de_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        N(u64),
        S(String),
    }
    match N::deserialize(d)? {
        N::N(n) => Ok(n),
        N::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

/// Reads a nullable JSON value that ClickHouse may quote (64-bit integers) as an
/// `Option<u64>`.
pub(super) fn de_opt_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        N(u64),
        S(String),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(None),
        Some(N::N(n)) => Ok(Some(n)),
        Some(N::S(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// A span as [`SPAN_COLUMNS`] select it.
#[derive(Deserialize)]
pub(super) struct SpanOut {
    #[serde(deserialize_with = "de_u64")]
    t: u64,
    #[serde(rename = "TraceId")]
    trace_id: String,
    #[serde(rename = "SpanId")]
    span_id: String,
    #[serde(rename = "ParentSpanId")]
    parent_span_id: String,
    #[serde(rename = "SpanName")]
    name: String,
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(rename = "SpanKind")]
    kind: String,
    #[serde(deserialize_with = "de_u64", rename = "Duration")]
    duration: u64,
    #[serde(rename = "StatusCode")]
    status_code: String,
    #[serde(rename = "StatusMessage")]
    status_message: String,
    #[serde(rename = "SpanAttributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "SpanAttributeTypes")]
    types: Map<String, Json>,
    #[serde(rename = "ResourceAttributes")]
    resource: Map<String, Json>,
    event_times: Vec<Json>,
    #[serde(rename = "Events.Name")]
    event_names: Vec<String>,
    #[serde(rename = "Events.Attributes")]
    event_attributes: Vec<Map<String, Json>>,
    #[serde(rename = "EventsAttributeTypes")]
    event_types: Vec<Map<String, Json>>,
    #[serde(rename = "EventsDroppedAttributesCount")]
    event_dropped: Vec<u32>,
    #[serde(rename = "TraceState")]
    trace_state: String,
    #[serde(rename = "Flags")]
    flags: u32,
    #[serde(rename = "ScopeName")]
    scope_name: String,
    #[serde(rename = "ScopeVersion")]
    scope_version: String,
    #[serde(rename = "DroppedAttributesCount")]
    dropped_attributes: u32,
    #[serde(rename = "DroppedEventsCount")]
    dropped_events: u32,
    #[serde(rename = "DroppedLinksCount")]
    dropped_links: u32,
    #[serde(rename = "Links.TraceId")]
    link_trace_ids: Vec<String>,
    #[serde(rename = "Links.SpanId")]
    link_span_ids: Vec<String>,
    #[serde(rename = "Links.TraceState")]
    link_trace_states: Vec<String>,
    #[serde(rename = "Links.Attributes")]
    link_attributes: Vec<Map<String, Json>>,
    #[serde(rename = "LinksAttributeTypes")]
    link_types: Vec<Map<String, Json>>,
    #[serde(rename = "LinksFlags")]
    link_flags: Vec<u32>,
    #[serde(rename = "LinksDroppedAttributesCount")]
    link_dropped: Vec<u32>,
}

/// The columns a span is selected with, as [`SpanOut`] reads them.
pub(super) const SPAN_COLUMNS: &str = "toUnixTimestamp64Nano(Timestamp) AS t, TraceId, SpanId, ParentSpanId, \
     SpanName, ServiceName, SpanKind, Duration, StatusCode, StatusMessage, SpanAttributes, \
     SpanAttributeTypes, ResourceAttributes, \
     arrayMap(x -> toString(toUnixTimestamp64Nano(x)), `Events.Timestamp`) AS event_times, \
     `Events.Name`, `Events.Attributes`, EventsAttributeTypes, EventsDroppedAttributesCount, \
     TraceState, Flags, ScopeName, ScopeVersion, DroppedAttributesCount, DroppedEventsCount, \
     DroppedLinksCount, `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`, \
     LinksAttributeTypes, LinksFlags, LinksDroppedAttributesCount";

/// The `i`th entry of one of our arrays beside `Events.*` or `Links.*`, or the default
/// where it is shorter (a row written before it existed, or by a writer that leaves it
/// out).
fn nth<T: Clone + Default>(values: &[T], i: usize) -> T {
    values.get(i).cloned().unwrap_or_default()
}

impl SpanOut {
    /// The span.
    pub(super) fn row(self) -> SpanRow {
        let no_types = Map::new();
        let events: Vec<Json> = self
            .event_names
            .into_iter()
            .zip(self.event_times)
            .zip(self.event_attributes)
            .enumerate()
            .map(|(i, ((name, time), attributes))| {
                let types = self.event_types.get(i).unwrap_or(&no_types);
                let attributes: Json =
                    serde_json::from_str(&join_attributes(attributes, types)).unwrap_or_default();
                json!({
                    "name": name,
                    "time_unix_nano": time,
                    "attributes": attributes,
                    "dropped_attributes_count": nth(&self.event_dropped, i),
                })
            })
            .collect();
        let links: Vec<Json> = self
            .link_trace_ids
            .into_iter()
            .zip(self.link_attributes)
            .enumerate()
            .map(|(i, (trace_id, attributes))| {
                let types = self.link_types.get(i).unwrap_or(&no_types);
                let attributes: Json =
                    serde_json::from_str(&join_attributes(attributes, types)).unwrap_or_default();
                json!({
                    "trace_id": trace_id,
                    "span_id": nth(&self.link_span_ids, i),
                    "trace_state": nth(&self.link_trace_states, i),
                    "attributes": attributes,
                    "flags": nth(&self.link_flags, i),
                    "dropped_attributes_count": nth(&self.link_dropped, i),
                })
            })
            .collect();
        SpanRow {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            name: self.name,
            service_name: self.service_name,
            kind: span_kind_code(&self.kind),
            start_time_unix_nano: self.t,
            end_time_unix_nano: self.t + self.duration,
            status_code: status_code_of(&self.status_code),
            status_message: self.status_message,
            attributes: join_attributes(self.attributes, &self.types),
            events: Json::Array(events).to_string(),
            resource: strings(self.resource),
            trace_state: self.trace_state,
            flags: self.flags,
            scope_name: self.scope_name,
            scope_version: self.scope_version,
            dropped_attributes_count: self.dropped_attributes,
            dropped_events_count: self.dropped_events,
            dropped_links_count: self.dropped_links,
            links: Json::Array(links).to_string(),
        }
    }
}

/// A log record as the log listing selects it (with its [`LOG_ID`] as `id`).
#[derive(Deserialize)]
pub(super) struct LogOut {
    #[serde(deserialize_with = "de_u64")]
    t: u64,
    #[serde(deserialize_with = "de_u64")]
    id: u64,
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(rename = "SeverityNumber")]
    severity_number: i32,
    #[serde(rename = "SeverityText")]
    severity_text: String,
    #[serde(rename = "Body")]
    body: String,
    #[serde(rename = "EventName")]
    event_name: String,
    #[serde(rename = "TraceId")]
    trace_id: String,
    #[serde(rename = "SpanId")]
    span_id: String,
    #[serde(rename = "LogAttributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "LogAttributeTypes")]
    types: Map<String, Json>,
    #[serde(rename = "ResourceAttributes")]
    resource: Map<String, Json>,
    #[serde(deserialize_with = "de_u64")]
    observed: u64,
    #[serde(rename = "BodyType")]
    body_type: String,
    #[serde(rename = "TraceFlags")]
    flags: u32,
    #[serde(rename = "ScopeName")]
    scope_name: String,
    #[serde(rename = "ScopeVersion")]
    scope_version: String,
    #[serde(rename = "DroppedAttributesCount")]
    dropped_attributes: u32,
}

/// The columns a log record is selected with, as [`LogOut`] reads them (with its
/// [`LOG_ID`] as `id`).
pub(super) const LOG_COLUMNS: &str = "toUnixTimestamp64Nano(Timestamp) AS t, ServiceName, \
     SeverityNumber, SeverityText, Body, EventName, TraceId, SpanId, LogAttributes, \
     LogAttributeTypes, ResourceAttributes, toUnixTimestamp64Nano(ObservedTimestamp) AS observed, \
     BodyType, TraceFlags, ScopeName, ScopeVersion, DroppedAttributesCount";

impl LogOut {
    /// The record with its id.
    pub(super) fn stored(self) -> StoredLog {
        StoredLog {
            id: self.id as i64,
            row: LogRow {
                time_unix_nano: self.t,
                observed_time_unix_nano: self.observed,
                service_name: self.service_name,
                severity_number: self.severity_number,
                severity_text: self.severity_text,
                body: Some(self.body).filter(|b| !b.is_empty()),
                body_type: BodyType::from_name(&self.body_type),
                event_name: Some(self.event_name).filter(|e| !e.is_empty()),
                trace_id: Some(self.trace_id).filter(|t| !t.is_empty()),
                span_id: Some(self.span_id).filter(|s| !s.is_empty()),
                flags: self.flags,
                scope_name: self.scope_name,
                scope_version: self.scope_version,
                attributes: join_attributes(self.attributes, &self.types),
                dropped_attributes_count: self.dropped_attributes,
                resource: strings(self.resource),
            },
        }
    }
}

/// The hash that orders log records of the same nanosecond.
pub(super) const LOG_ID: &str = "cityHash64(ServiceName, SeverityNumber, SeverityText, Body, TraceId, SpanId, \
     EventName, toString(LogAttributes))";

/// An agent run as [`RUN_COLUMNS`] select it.
#[derive(Deserialize)]
pub(super) struct RunOut {
    #[serde(deserialize_with = "de_u64")]
    t: u64,
    #[serde(deserialize_with = "de_u64")]
    end: u64,
    #[serde(deserialize_with = "de_u64")]
    id: u64,
    #[serde(rename = "CorrelationId")]
    correlation_id: String,
    #[serde(rename = "AgentName")]
    agent_name: String,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(rename = "TraceId")]
    trace_id: String,
    #[serde(rename = "SpanId")]
    span_id: String,
    #[serde(rename = "ParentSpanId")]
    parent_span_id: String,
    #[serde(rename = "SessionId")]
    session_id: String,
    #[serde(rename = "UserId")]
    user_id: String,
    #[serde(rename = "QualityScore")]
    quality_score: Option<f64>,
    #[serde(rename = "Error")]
    error: Option<String>,
    #[serde(rename = "Attributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "AttributeTypes")]
    types: Map<String, Json>,
}

impl RunOut {
    /// The run's correlation id.
    pub(super) fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// The run with its id and how many actions it has.
    pub(super) fn stored(self, action_count: u64) -> StoredRun {
        StoredRun {
            id: self.id as i64,
            action_count,
            row: AgentRunRow {
                correlation_id: self.correlation_id,
                agent_name: self.agent_name,
                status: self.status,
                service_name: self.service_name,
                trace_id: self.trace_id,
                span_id: self.span_id,
                parent_span_id: self.parent_span_id,
                session_id: self.session_id,
                user_id: self.user_id,
                start_time_unix_nano: self.t,
                end_time_unix_nano: self.end,
                quality_score: self.quality_score,
                error: self.error,
                attributes: join_attributes(self.attributes, &self.types),
            },
        }
    }
}

/// The columns a run is selected with, as [`RunOut`] reads them.
pub(super) const RUN_COLUMNS: &str = "toUnixTimestamp64Nano(Timestamp) AS t, \
     toUnixTimestamp64Nano(EndTimestamp) AS end, cityHash64(CorrelationId) AS id, CorrelationId, \
     AgentName, Status, ServiceName, TraceId, SpanId, ParentSpanId, SessionId, UserId, \
     QualityScore, Error, Attributes, AttributeTypes";

/// An agent action as the actions query selects it.
#[derive(Deserialize)]
pub(super) struct ActionOut {
    #[serde(deserialize_with = "de_u64")]
    t: u64,
    #[serde(rename = "ActionId")]
    action_id: String,
    #[serde(rename = "CorrelationId")]
    correlation_id: String,
    #[serde(rename = "AgentName")]
    agent_name: String,
    #[serde(rename = "ActionType")]
    action_type: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "IsError")]
    is_error: bool,
    #[serde(deserialize_with = "de_u64", rename = "DurationNs")]
    duration_ns: u64,
    #[serde(rename = "Attributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "AttributeTypes")]
    types: Map<String, Json>,
}

impl ActionOut {
    /// The action.
    pub(super) fn row(self) -> AgentActionRow {
        AgentActionRow {
            action_id: self.action_id,
            correlation_id: self.correlation_id,
            agent_name: self.agent_name,
            action_type: self.action_type,
            name: self.name,
            is_error: self.is_error,
            time_unix_nano: self.t,
            duration_ns: self.duration_ns,
            attributes: join_attributes(self.attributes, &self.types),
        }
    }
}

/// An LLM call as [`LLM_CALL_COLUMNS`] select it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LlmCallOut {
    #[serde(rename = "t", deserialize_with = "de_u64")]
    t: u64,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    correlation_id: String,
    agent_name: String,
    service_name: String,
    operation: String,
    provider: String,
    request_model: String,
    response_model: String,
    #[serde(deserialize_with = "de_opt_u64")]
    input_tokens: Option<u64>,
    #[serde(deserialize_with = "de_opt_u64")]
    output_tokens: Option<u64>,
    #[serde(deserialize_with = "de_opt_u64")]
    cache_read_tokens: Option<u64>,
    #[serde(deserialize_with = "de_opt_u64")]
    cache_write_tokens: Option<u64>,
    #[serde(deserialize_with = "de_opt_u64")]
    reasoning_tokens: Option<u64>,
    cost_usd: Option<f64>,
    #[serde(deserialize_with = "de_u64")]
    duration: u64,
    #[serde(deserialize_with = "de_opt_u64")]
    time_to_first_token: Option<u64>,
    finish_reasons: Vec<String>,
    is_error: bool,
    session_id: String,
    user_id: String,
}

/// The columns an LLM call is selected with, as [`LlmCallOut`] reads them.
pub(super) const LLM_CALL_COLUMNS: &str = "toUnixTimestamp64Nano(Timestamp) AS t, TraceId, SpanId, \
     ParentSpanId, CorrelationId, AgentName, ServiceName, Operation, Provider, RequestModel, \
     ResponseModel, InputTokens, OutputTokens, CacheReadTokens, CacheWriteTokens, \
     ReasoningTokens, CostUsd, Duration, TimeToFirstToken, FinishReasons, IsError, SessionId, \
     UserId";

impl LlmCallOut {
    /// The call.
    pub(super) fn row(self) -> LlmCallRow {
        LlmCallRow {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            correlation_id: self.correlation_id,
            agent_name: self.agent_name,
            service_name: self.service_name,
            operation: self.operation,
            provider: self.provider,
            request_model: self.request_model,
            response_model: self.response_model,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_tokens: self.cache_read_tokens,
            cache_write_tokens: self.cache_write_tokens,
            reasoning_tokens: self.reasoning_tokens,
            cost_usd: self.cost_usd,
            start_time_unix_nano: self.t,
            duration_ns: self.duration,
            time_to_first_token_ns: self.time_to_first_token,
            finish_reasons: serde_json::to_string(&self.finish_reasons)
                .unwrap_or_else(|_| "[]".into()),
            is_error: self.is_error,
            session_id: self.session_id,
            user_id: self.user_id,
        }
    }
}

/// A score as [`SCORE_COLUMNS`] select it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ScoreOut {
    #[serde(rename = "t", deserialize_with = "de_u64")]
    t: u64,
    score_id: String,
    target_kind: String,
    target_id: String,
    name: String,
    data_type: String,
    value: Option<f64>,
    string_value: Option<String>,
    comment: Option<String>,
    source: String,
}

/// The columns a score is selected with, as [`ScoreOut`] reads them.
pub(super) const SCORE_COLUMNS: &str = "toUnixTimestamp64Nano(Timestamp) AS t, ScoreId, TargetKind, \
     TargetId, Name, DataType, Value, StringValue, Comment, Source";

impl ScoreOut {
    /// The score.
    pub(super) fn row(self) -> ScoreRow {
        ScoreRow {
            score_id: self.score_id,
            target_kind: self.target_kind,
            target_id: self.target_id,
            name: self.name,
            data_type: self.data_type,
            value: self.value,
            string_value: self.string_value,
            comment: self.comment,
            source: self.source,
            time_unix_nano: self.t,
        }
    }
}

/// A latency histogram as `sumMap` answers it (bucket indexes, and counts that may come
/// quoted), indexed by bucket; an index past the last bucket counts in the last.
pub(super) fn histogram((buckets, counts): &(Vec<usize>, Vec<Json>)) -> Vec<u64> {
    let mut hist: Vec<u64> = Vec::new();
    for (bucket, n) in buckets.iter().zip(counts) {
        let n = n.as_u64().or_else(|| n.as_str()?.parse().ok()).unwrap_or(0);
        let bucket = (*bucket).min(HIST_BUCKETS - 1);
        if hist.len() <= bucket {
            hist.resize(bucket + 1, 0);
        }
        hist[bucket] = hist[bucket].saturating_add(n);
    }
    hist
}

/// A GenAI rollup row of one bucket and key, as [`GENAI_ROLLUP_COLUMNS`] select it.
#[derive(Deserialize)]
pub(super) struct GenAiRollupOut {
    #[serde(deserialize_with = "de_u64")]
    b: u64,
    k: String,
    #[serde(deserialize_with = "de_u64")]
    calls: u64,
    #[serde(deserialize_with = "de_u64")]
    errors: u64,
    #[serde(deserialize_with = "de_u64")]
    input_tokens: u64,
    #[serde(deserialize_with = "de_u64")]
    output_tokens: u64,
    #[serde(deserialize_with = "de_u64")]
    cache_read_tokens: u64,
    #[serde(deserialize_with = "de_u64")]
    cache_write_tokens: u64,
    #[serde(deserialize_with = "de_u64")]
    reasoning_tokens: u64,
    /// `null` only for a sum past the largest float (ClickHouse writes infinity so).
    cost_usd: Option<f64>,
    #[serde(deserialize_with = "de_u64")]
    unpriced_calls: u64,
    #[serde(deserialize_with = "de_u64")]
    duration_sum: u64,
    hist: (Vec<usize>, Vec<Json>),
}

/// The columns of a GenAI rollup read, merged per bucket (`b`, Unix seconds) and key
/// (`k`), as [`GenAiRollupOut`] reads them: the query groups by `b, k`.
pub(super) const GENAI_ROLLUP_COLUMNS: &str = "toUnixTimestamp(Bucket) AS b, Key AS k, \
     sum(Calls) AS calls, sum(Errors) AS errors, sum(InputTokens) AS input_tokens, \
     sum(OutputTokens) AS output_tokens, sum(CacheReadTokens) AS cache_read_tokens, \
     sum(CacheWriteTokens) AS cache_write_tokens, sum(ReasoningTokens) AS reasoning_tokens, \
     sum(CostUsd) AS cost_usd, sum(UnpricedCalls) AS unpriced_calls, \
     sum(DurationSum) AS duration_sum, sumMap(DurationHistogram) AS hist";

impl GenAiRollupOut {
    /// The row as a rollup key of `resolution` and `dimension`, and its aggregate.
    pub(super) fn row(self, resolution: u32, dimension: &str) -> (GenAiKey, GenAiAgg) {
        let hist = histogram(&self.hist);
        (
            GenAiKey {
                resolution,
                bucket: self.b.saturating_mul(1_000_000_000),
                dimension: dimension.to_string(),
                key: self.k,
            },
            GenAiAgg {
                calls: self.calls,
                errors: self.errors,
                input_tokens: self.input_tokens,
                output_tokens: self.output_tokens,
                cache_read_tokens: self.cache_read_tokens,
                cache_write_tokens: self.cache_write_tokens,
                reasoning_tokens: self.reasoning_tokens,
                cost_usd: self.cost_usd.unwrap_or(f64::INFINITY),
                unpriced_calls: self.unpriced_calls,
                duration_sum_ns: self.duration_sum,
                hist,
            },
        )
    }
}

/// A metric point as the points query selects it (gauges, sums and histograms in one
/// shape).
#[derive(Deserialize)]
pub(super) struct PointOut {
    kind: String,
    #[serde(rename = "MetricName")]
    name: String,
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(deserialize_with = "de_u64")]
    start: u64,
    #[serde(deserialize_with = "de_u64")]
    t: u64,
    value: Option<f64>,
    #[serde(deserialize_with = "de_u64")]
    count: u64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    bucket_counts: Vec<Json>,
    explicit_bounds: Vec<Option<f64>>,
    #[serde(rename = "Attributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "AttributeTypes")]
    types: Map<String, Json>,
    #[serde(flatten)]
    exemplars: ExemplarColumns,
    #[serde(default)]
    q_levels: Vec<Option<f64>>,
    #[serde(default)]
    q_values: Vec<Option<f64>>,
}

impl PointOut {
    /// The point; bucket counts and bounds only for histograms.
    pub(super) fn row(self) -> MetricPointRow {
        let histogram = self.kind == "histogram";
        let summary = self.kind == "summary";
        let exemplars = self.exemplars.text();
        let mut quantiles: Vec<(f64, f64)> = self
            .q_levels
            .iter()
            .zip(&self.q_values)
            .filter_map(|(q, v)| Some(((*q)?, (*v)?)))
            .filter(|(q, v)| (0.0..=1.0).contains(q) && v.is_finite())
            .collect();
        quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
        quantiles.dedup_by(|a, b| a.0 == b.0);
        let at = |level: f64| quantiles.iter().find(|(q, _)| *q == level).map(|(_, v)| *v);
        let (min, max) = if summary {
            (at(0.0), at(1.0))
        } else {
            (self.min, self.max)
        };
        MetricPointRow {
            exemplars,
            kind: crate::rows::metric_kind(&self.kind),
            name: self.name,
            service_name: self.service_name,
            start_time_unix_nano: self.start,
            time_unix_nano: self.t,
            value: self.value,
            count: (histogram || summary).then_some(self.count),
            sum: self.sum.filter(|s| s.is_finite()),
            min,
            max,
            bucket_counts: histogram.then(|| {
                self.bucket_counts
                    .iter()
                    .map(|b| b.as_u64().or_else(|| b.as_str()?.parse().ok()).unwrap_or(0))
                    .collect()
            }),
            explicit_bounds: histogram.then(|| {
                self.explicit_bounds
                    .iter()
                    .map(|b| b.unwrap_or(f64::NAN))
                    .collect()
            }),
            attributes: join_attributes(self.attributes, &self.types),
            quantiles: summary.then_some(quantiles),
        }
    }
}

/// A row of the exponential histogram table, as `points` reads it.
#[derive(Deserialize)]
pub(super) struct ExponentialOut {
    #[serde(rename = "MetricName")]
    name: String,
    #[serde(rename = "ServiceName")]
    service_name: String,
    #[serde(deserialize_with = "de_u64")]
    start: u64,
    #[serde(deserialize_with = "de_u64")]
    pub(super) t: u64,
    #[serde(deserialize_with = "de_u64")]
    count: u64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    scale: i32,
    #[serde(deserialize_with = "de_u64")]
    zero_count: u64,
    zero_threshold: Option<f64>,
    positive_offset: i32,
    positive: Vec<Json>,
    negative_offset: i32,
    negative: Vec<Json>,
    #[serde(rename = "Attributes")]
    attributes: Map<String, Json>,
    #[serde(rename = "AttributeTypes")]
    types: Map<String, Json>,
    #[serde(flatten)]
    exemplars: ExemplarColumns,
}

/// The exemplar columns every point read carries.
#[derive(Deserialize, Default)]
pub(super) struct ExemplarColumns {
    #[serde(default)]
    ex_time: Vec<String>,
    #[serde(default)]
    ex_value: Vec<Option<f64>>,
    #[serde(default)]
    ex_trace: Vec<String>,
    #[serde(default)]
    ex_span: Vec<String>,
    #[serde(default)]
    ex_attributes: Vec<Map<String, Json>>,
}

impl ExemplarColumns {
    /// The exemplars as [`MetricPointRow::exemplars`] holds them.
    fn text(&self) -> String {
        if self.ex_time.is_empty() {
            return "[]".into();
        }
        let items: Vec<Json> = self
            .ex_time
            .iter()
            .enumerate()
            .map(|(i, time)| {
                json!({
                    "time_unix_nano": time,
                    "value": self.ex_value.get(i).copied().flatten().filter(|v| v.is_finite()),
                    "trace_id": self.ex_trace.get(i).cloned().unwrap_or_default(),
                    "span_id": self.ex_span.get(i).cloned().unwrap_or_default(),
                    "attributes": self.ex_attributes.get(i).cloned().unwrap_or_default(),
                })
            })
            .collect();
        Json::Array(items).to_string()
    }
}

fn counts(values: &[Json]) -> Vec<u64> {
    values
        .iter()
        .map(|b| b.as_u64().or_else(|| b.as_str()?.parse().ok()).unwrap_or(0))
        .collect()
}

impl ExponentialOut {
    /// The point in the explicit layout at its own boundaries, as the relational stores
    /// keep it (`None` for a point that cannot be converted, which ingest refuses).
    pub(super) fn row(self) -> Option<MetricPointRow> {
        use automagik_telemetry_core::exponential;
        use opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint;
        use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        let point = exponential::point(ExponentialHistogramDataPoint {
            count: self.count,
            sum: finite(self.sum),
            scale: self.scale,
            zero_count: self.zero_count,
            zero_threshold: finite(self.zero_threshold).unwrap_or(0.0),
            positive: Some(Buckets {
                offset: self.positive_offset,
                bucket_counts: counts(&self.positive),
            }),
            negative: Some(Buckets {
                offset: self.negative_offset,
                bucket_counts: counts(&self.negative),
            }),
            ..Default::default()
        })
        .ok()?;
        Some(MetricPointRow {
            name: self.name,
            service_name: self.service_name,
            kind: "histogram",
            start_time_unix_nano: self.start,
            time_unix_nano: self.t,
            value: None,
            count: Some(self.count),
            sum: finite(self.sum),
            min: finite(self.min),
            max: finite(self.max),
            bucket_counts: Some(point.bucket_counts),
            explicit_bounds: Some(point.explicit_bounds),
            attributes: join_attributes(self.attributes, &self.types),
            exemplars: self.exemplars.text(),
            quantiles: None,
        })
    }
}
