//! OTLP requests turned into rows, with per-item validation: an item with an invalid
//! id is rejected (and counted for OTLP partial success), the rest are kept, as rows and
//! as the accepted part of the request ([`Batch::request`]).

pub use crate::refusal::ItemRefusal;
use automagik_telemetry_core::exponential;
use automagik_telemetry_core::{SignalRequest, agent};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, HistogramDataPoint, Metric, SummaryDataPoint, exemplar, metric::Data,
    number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};

#[cfg(test)]
mod tests;

/// A stored span. Its [`Default`] is an empty span with valid JSON in the JSON fields.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRow {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// 16 hex digits, or empty for a root span.
    pub parent_span_id: String,
    /// Operation name.
    pub name: String,
    /// `service.name` of its resource.
    pub service_name: String,
    /// OTLP span kind.
    pub kind: i32,
    /// Start, ns since the epoch.
    pub start_time_unix_nano: u64,
    /// End, ns since the epoch.
    pub end_time_unix_nano: u64,
    /// OTLP status code.
    pub status_code: i32,
    /// Status message.
    pub status_message: String,
    /// Attributes, JSON object text.
    pub attributes: String,
    /// Events, JSON array text of `{name, time_unix_nano, attributes,
    /// dropped_attributes_count}` (rows stored before dropped counts were kept have none).
    pub events: String,
    /// Resource attributes, JSON object text.
    pub resource: String,
    /// W3C trace state (`key=value,...`), or empty.
    pub trace_state: String,
    /// OTLP span flags as sent: W3C trace flags in the low 8 bits (bit 0: sampled), bit
    /// 8 set when bit 9 says whether the parent is remote.
    pub flags: u32,
    /// Name of the instrumentation scope that made it, or empty.
    pub scope_name: String,
    /// Version of that scope, or empty.
    pub scope_version: String,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
    /// Events the sender dropped.
    pub dropped_events_count: u32,
    /// Links the sender dropped.
    pub dropped_links_count: u32,
    /// Links, JSON array text of `{trace_id, span_id, trace_state, attributes, flags,
    /// dropped_attributes_count}` (ids as lowercase hex).
    pub links: String,
}

impl Default for SpanRow {
    fn default() -> Self {
        SpanRow {
            trace_id: String::new(),
            span_id: String::new(),
            parent_span_id: String::new(),
            name: String::new(),
            service_name: String::new(),
            kind: 0,
            start_time_unix_nano: 0,
            end_time_unix_nano: 0,
            status_code: 0,
            status_message: String::new(),
            attributes: "{}".into(),
            events: "[]".into(),
            resource: "{}".into(),
            trace_state: String::new(),
            flags: 0,
            scope_name: String::new(),
            scope_version: String::new(),
            dropped_attributes_count: 0,
            dropped_events_count: 0,
            dropped_links_count: 0,
            links: "[]".into(),
        }
    }
}

/// A stored log record (events and errors included). Its [`Default`] is an empty record
/// with valid JSON in the JSON fields.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRow {
    /// ns since the epoch (observed time when the record has none).
    pub time_unix_nano: u64,
    /// When the record was observed (by the SDK or a collector), ns since the epoch; 0
    /// when not given (and for rows stored before it was kept).
    pub observed_time_unix_nano: u64,
    /// `service.name` of its resource.
    pub service_name: String,
    /// OTLP severity number.
    pub severity_number: i32,
    /// Severity text.
    pub severity_text: String,
    /// Body as text ([`body_text`]: a string as itself, a number or boolean as its JSON,
    /// bytes as hex, an array or map as JSON text), which text search reads; `None`
    /// without a body. [`LogRow::body_value`] gives it back structured.
    pub body: Option<String>,
    /// The body's OTLP type.
    pub body_type: BodyType,
    /// `event_name` (or the `event.name` attribute).
    pub event_name: Option<String>,
    /// Trace id, hex.
    pub trace_id: Option<String>,
    /// Span id, hex.
    pub span_id: Option<String>,
    /// W3C trace flags (the low 8 bits of the OTLP `flags`; bit 0: sampled).
    pub flags: u32,
    /// Name of the instrumentation scope that made it, or empty.
    pub scope_name: String,
    /// Version of that scope, or empty.
    pub scope_version: String,
    /// Attributes, JSON object text.
    pub attributes: String,
    /// Attributes the sender dropped.
    pub dropped_attributes_count: u32,
    /// Resource attributes, JSON object text.
    pub resource: String,
}

impl Default for LogRow {
    fn default() -> Self {
        LogRow {
            time_unix_nano: 0,
            observed_time_unix_nano: 0,
            service_name: String::new(),
            severity_number: 0,
            severity_text: String::new(),
            body: None,
            body_type: BodyType::String,
            event_name: None,
            trace_id: None,
            span_id: None,
            flags: 0,
            scope_name: String::new(),
            scope_version: String::new(),
            attributes: "{}".into(),
            dropped_attributes_count: 0,
            resource: "{}".into(),
        }
    }
}

impl LogRow {
    /// The body as JSON of its OTLP type ([`BodyType::value`]): a string stays a string,
    /// a map becomes an object, an array an array, a number or boolean one, bytes their
    /// hex string; `null` without a body.
    pub fn body_value(&self) -> Json {
        self.body
            .as_deref()
            .map_or(Json::Null, |text| self.body_type.value(text))
    }
}

/// One stored metric data point.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPointRow {
    /// Metric name.
    pub name: String,
    /// `service.name` of its resource.
    pub service_name: String,
    /// `sum` (monotonic: increases), `updown_sum` (a non-monotonic sum: current
    /// values), `gauge`, `histogram` (explicit buckets; exponential histograms are
    /// converted to them) or `summary` (count and sum as increases, with the quantiles
    /// the sender computed).
    pub kind: &'static str,
    /// Start of the interval, ns.
    pub start_time_unix_nano: u64,
    /// End of the interval, ns.
    pub time_unix_nano: u64,
    /// Sum and gauge value.
    pub value: Option<f64>,
    /// Histogram or summary count.
    pub count: Option<u64>,
    /// Histogram or summary sum.
    pub sum: Option<f64>,
    /// Histogram min (a summary's quantile 0 when it has one).
    pub min: Option<f64>,
    /// Histogram max (a summary's quantile 1 when it has one).
    pub max: Option<f64>,
    /// Histogram bucket counts.
    pub bucket_counts: Option<Vec<u64>>,
    /// Histogram bounds.
    pub explicit_bounds: Option<Vec<f64>>,
    /// Attributes, JSON object text.
    pub attributes: String,
    /// Exemplars, JSON array text of `{time_unix_nano, value, trace_id, span_id,
    /// attributes}` (ids as hex, empty when the exemplar has none); `[]` for none.
    pub exemplars: String,
    /// A summary's `(quantile, value)` pairs, by quantile; `None` for other kinds.
    pub quantiles: Option<Vec<(f64, f64)>>,
}

/// The stored kind name `kind` as one of [`MetricPointRow::kind`]'s names
/// (`histogram` for anything else).
pub fn metric_kind(kind: &str) -> &'static str {
    match kind {
        "sum" => "sum",
        "updown_sum" => "updown_sum",
        "gauge" => "gauge",
        "summary" => "summary",
        _ => "histogram",
    }
}

impl MetricPointRow {
    /// A sum or gauge point (no start time, no histogram fields).
    pub fn number(
        name: impl Into<String>,
        service_name: impl Into<String>,
        kind: &'static str,
        time_unix_nano: u64,
        value: Option<f64>,
        attributes: impl Into<String>,
    ) -> Self {
        MetricPointRow {
            name: name.into(),
            service_name: service_name.into(),
            kind,
            start_time_unix_nano: 0,
            time_unix_nano,
            value,
            count: None,
            sum: None,
            min: None,
            max: None,
            bucket_counts: None,
            explicit_bounds: None,
            attributes: attributes.into(),
            exemplars: "[]".into(),
            quantiles: None,
        }
    }

    /// [`MetricPointRow::quantiles`] as stored: JSON array text of `[quantile, value]`
    /// pairs, `None` without them.
    pub fn quantiles_json(&self) -> Option<String> {
        self.quantiles
            .as_ref()
            .map(|q| serde_json::to_string(q).unwrap_or_else(|_| "[]".into()))
    }
}

/// Exemplars as stored in [`MetricPointRow::exemplars`].
pub fn exemplars_json(exemplars: &[Exemplar]) -> String {
    if exemplars.is_empty() {
        return "[]".into();
    }
    let items: Vec<Json> = exemplars
        .iter()
        .map(|e| {
            let value = e.value.map(|v| match v {
                exemplar::Value::AsDouble(d) => d,
                exemplar::Value::AsInt(i) => i as f64,
            });
            serde_json::json!({
                "time_unix_nano": e.time_unix_nano.to_string(),
                "value": value.filter(|v| v.is_finite()),
                "trace_id": hex::encode(&e.trace_id),
                "span_id": hex::encode(&e.span_id),
                "attributes": attributes_to_json(&e.filtered_attributes),
            })
        })
        .collect();
    Json::Array(items).to_string()
}

/// An agent run: a span with `gen_ai.operation.name = invoke_agent`.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentRunRow {
    /// `correlation_id` attribute, or the trace id when the span has none.
    pub correlation_id: String,
    /// `gen_ai.agent.name`, or the span name.
    pub agent_name: String,
    /// `completed` or `failed` (`agent.status`, else the span status).
    pub status: String,
    /// `service.name` of its resource.
    pub service_name: String,
    /// The run's trace.
    pub trace_id: String,
    /// The run's span (hex), empty for a run not read from a span (the Kafka consumer's).
    pub span_id: String,
    /// The parent of the run's span (hex), empty for a root span; the parent run is the
    /// nearest agent span above it in the trace.
    pub parent_span_id: String,
    /// The session (`gen_ai.conversation.id`, `session.id`, `langfuse.session.id`), empty
    /// when none.
    pub session_id: String,
    /// The user (`user.id`, `langfuse.user.id`; hashed when our SDK sent it), empty when
    /// none.
    pub user_id: String,
    /// Start, ns.
    pub start_time_unix_nano: u64,
    /// End, ns.
    pub end_time_unix_nano: u64,
    /// `agent.quality_score` (0–1), when given.
    pub quality_score: Option<f64>,
    /// The error of a failed run.
    pub error: Option<String>,
    /// Attributes, JSON object text.
    pub attributes: String,
}

/// An agent action: a tool call span (`gen_ai.operation.name = execute_tool`) or an
/// `agent.decision` / `agent.error` / `agent.success` / `agent.tool_call` event.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentActionRow {
    /// `agent.action_id`, or `<trace id>-<span id>`; unique.
    pub action_id: String,
    /// The run it belongs to.
    pub correlation_id: String,
    /// `gen_ai.agent.name` when given.
    pub agent_name: String,
    /// `tool_call`, `decision`, `error` or `success`.
    pub action_type: String,
    /// Tool name, decision choice or message.
    pub name: String,
    /// Whether the action failed (an error, or a tool call with an error status).
    pub is_error: bool,
    /// When it happened, ns.
    pub time_unix_nano: u64,
    /// How long it took, ns (tool calls).
    pub duration_ns: u64,
    /// Attributes, JSON object text.
    pub attributes: String,
}

/// An LLM call: a span whose operation is `chat`, `text_completion`, `generate_content`
/// or `embeddings` (or their OpenInference and Langfuse equivalents), as
/// [`automagik_telemetry_core::genai`] normalises it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmCallRow {
    /// Its trace (hex).
    pub trace_id: String,
    /// Its span (hex); `(trace_id, span_id)` is unique.
    pub span_id: String,
    /// The parent span (hex), empty for a root span.
    pub parent_span_id: String,
    /// The run it belongs to when known at ingest (a `correlation_id` attribute, or the
    /// nearest agent span above it in the same request), else empty; readers resolve the
    /// rest through the trace.
    pub correlation_id: String,
    /// The agent (its own `gen_ai.agent.name`, or its run's), empty when unknown.
    pub agent_name: String,
    /// `service.name` of its resource.
    pub service_name: String,
    /// `chat`, `text_completion`, `generate_content`, `embeddings`, ...
    pub operation: String,
    /// Provider (`openai`, `anthropic`, ...), empty when unknown.
    pub provider: String,
    /// The requested model, empty when unknown.
    pub request_model: String,
    /// The model that answered, empty when unknown.
    pub response_model: String,
    /// Input tokens, cached ones included (the GenAI conventions' meaning).
    pub input_tokens: Option<u64>,
    /// Output tokens, reasoning ones included.
    pub output_tokens: Option<u64>,
    /// Input tokens read from the provider's cache.
    pub cache_read_tokens: Option<u64>,
    /// Input tokens written to the provider's cache.
    pub cache_write_tokens: Option<u64>,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: Option<u64>,
    /// Cost in USD: the span's own when it carries one, else from the price table;
    /// `None` for an unpriced model (never counted as zero).
    pub cost_usd: Option<f64>,
    /// Start, ns.
    pub start_time_unix_nano: u64,
    /// Duration, ns.
    pub duration_ns: u64,
    /// Time to the first token, ns, when given.
    pub time_to_first_token_ns: Option<u64>,
    /// Finish reasons, JSON array text (`[]` for none).
    pub finish_reasons: String,
    /// Whether the span's status is an error.
    pub is_error: bool,
    /// The session, empty when none.
    pub session_id: String,
    /// The user, empty when none.
    pub user_id: String,
}

/// A score: a judgement of a trace, span, run or session, from a person, a model or code.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreRow {
    /// Unique id (given by the client, or a UUID); storing the same id again replaces it.
    pub score_id: String,
    /// `trace`, `span`, `run` or `session`.
    pub target_kind: String,
    /// The target's id: a trace id, `<trace id>-<span id>`, a correlation id, a session id.
    pub target_id: String,
    /// What is judged (`quality`, `correctness`, ...).
    pub name: String,
    /// `numeric`, `categorical` or `boolean`.
    pub data_type: String,
    /// A numeric or boolean (1 or 0) value.
    pub value: Option<f64>,
    /// A categorical value.
    pub string_value: Option<String>,
    /// Free text.
    pub comment: Option<String>,
    /// `human`, `llm` or `code`.
    pub source: String,
    /// When it was given, ns.
    pub time_unix_nano: u64,
}

/// What one request turns into.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// Spans.
    pub spans: Vec<SpanRow>,
    /// Log records.
    pub logs: Vec<LogRow>,
    /// Metric data points.
    pub metric_points: Vec<MetricPointRow>,
    /// Agent runs found among the spans.
    pub agent_runs: Vec<AgentRunRow>,
    /// Agent actions found among the spans and events.
    pub agent_actions: Vec<AgentActionRow>,
    /// LLM calls found among the spans.
    pub llm_calls: Vec<LlmCallRow>,
    /// Scores (posted, or read from `gen_ai.evaluation.result` events and runs' quality).
    pub scores: Vec<ScoreRow>,
    /// Items refused, with the first reason.
    pub rejected: u64,
    /// Items refused, by category (they add up to `rejected`).
    pub rejected_by_reason: BTreeMap<ItemRefusal, u64>,
    /// Why the first refused item was refused, in words for the client (the OTLP
    /// partial success message).
    pub rejection: Option<String>,
    /// The accepted part of the OTLP request the rows above were read from (the refused
    /// items removed, and a span ending before its start ending at its start, as its row
    /// does), for stores that write OTLP-shaped rows straight from the request
    /// (ClickHouse). When set, the rows above are exactly this request's rows; `None` for
    /// rows the server builds itself.
    pub request: Option<SignalRequest>,
}

impl Batch {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.spans.len() + self.logs.len() + self.metric_points.len()
    }

    /// Whether there is nothing to store.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
            && self.agent_runs.is_empty()
            && self.agent_actions.is_empty()
            && self.llm_calls.is_empty()
            && self.scores.is_empty()
    }

    /// Refuses one item for `reason`; `why` says it to the client.
    pub(crate) fn reject(&mut self, reason: ItemRefusal, why: String) {
        self.rejected += 1;
        *self.rejected_by_reason.entry(reason).or_insert(0) += 1;
        self.rejection.get_or_insert(why);
    }
}

pub use automagik_telemetry_core::otlp::{BodyType, any_to_json, attributes_to_json, body_text};

pub(crate) fn write_json_str(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs that need no escape are copied whole: every byte escaped is ASCII, so each
    // cut is on a character boundary.
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            use std::fmt::Write;
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn write_any(v: Option<&AnyValue>, out: &mut String) {
    use std::fmt::Write;
    match v.and_then(|v| v.value.as_ref()) {
        None => out.push_str("null"),
        Some(any_value::Value::StringValue(s)) => write_json_str(s, out),
        Some(any_value::Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(any_value::Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(any_value::Value::DoubleValue(d)) if d.is_finite() => {
            let _ = write!(out, "{}", Json::from(*d));
        }
        Some(any_value::Value::DoubleValue(d)) => write_json_str(&d.to_string(), out),
        Some(any_value::Value::ArrayValue(a)) => {
            out.push('[');
            for (i, item) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_any(Some(item), out);
            }
            out.push(']');
        }
        Some(any_value::Value::KvlistValue(kv)) => write_attributes(&kv.values, out),
        Some(any_value::Value::BytesValue(b)) => write_json_str(&hex::encode(b), out),
        #[allow(unreachable_patterns)]
        Some(_) => out.push_str("null"),
    }
}

fn write_attributes(kvs: &[KeyValue], out: &mut String) {
    out.push('{');
    for (i, kv) in kvs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_str(&kv.key, out);
        out.push(':');
        write_any(kv.value.as_ref(), out);
    }
    out.push('}');
}

/// Attributes as JSON object text, written straight from the protobuf values: what
/// [`attributes_to_json`] gives, without building the intermediate map. A repeated key
/// appears twice; JSON readers keep the last, as [`attributes_to_json`] does.
pub fn attributes_json(kvs: &[KeyValue]) -> String {
    let mut out = String::with_capacity(2 + kvs.len() * 32);
    write_attributes(kvs, &mut out);
    out
}

fn action_row(a: agent::Action, attributes: String) -> AgentActionRow {
    AgentActionRow {
        action_id: a.action_id,
        correlation_id: a.correlation_id,
        agent_name: a.agent_name,
        action_type: a.action_type.to_string(),
        name: a.name,
        is_error: a.is_error,
        time_unix_nano: a.time_unix_nano,
        duration_ns: a.duration_ns,
        attributes,
    }
}

fn service_name(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| agent::string_attr(&r.attributes, "service.name"))
        .unwrap_or("unknown_service")
        .to_string()
}

fn resource_json(r: Option<&Resource>) -> String {
    r.map_or_else(|| "{}".to_string(), |r| attributes_json(&r.attributes))
}

/// `bytes` as hex, or why they are not a valid `what` (refused as `reason`).
fn hex_id(
    bytes: &[u8],
    len: usize,
    what: &str,
    reason: ItemRefusal,
) -> Result<String, (ItemRefusal, String)> {
    if bytes.len() != len {
        return Err((
            reason,
            format!("{what} must be {len} bytes, got {}", bytes.len()),
        ));
    }
    if bytes.iter().all(|b| *b == 0) {
        return Err((reason, format!("{what} must not be all zeros")));
    }
    Ok(hex::encode(bytes))
}

fn events_json(events: &[span::Event]) -> String {
    use std::fmt::Write;
    let mut out = String::from("[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        write_json_str(&e.name, &mut out);
        let _ = write!(
            out,
            ",\"time_unix_nano\":\"{}\",\"attributes\":",
            e.time_unix_nano
        );
        write_attributes(&e.attributes, &mut out);
        let _ = write!(
            out,
            ",\"dropped_attributes_count\":{}}}",
            e.dropped_attributes_count
        );
    }
    out.push(']');
    out
}

/// Links as JSON array text (see [`SpanRow::links`]). Ids are hex as sent, whatever
/// their length: a link to a malformed id does not cost the span.
fn links_json(links: &[span::Link]) -> String {
    use std::fmt::Write;
    let mut out = String::from("[");
    for (i, l) in links.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"trace_id\":");
        write_json_str(&hex::encode(&l.trace_id), &mut out);
        out.push_str(",\"span_id\":");
        write_json_str(&hex::encode(&l.span_id), &mut out);
        out.push_str(",\"trace_state\":");
        write_json_str(&l.trace_state, &mut out);
        out.push_str(",\"attributes\":");
        write_attributes(&l.attributes, &mut out);
        let _ = write!(
            out,
            ",\"flags\":{},\"dropped_attributes_count\":{}}}",
            l.flags, l.dropped_attributes_count
        );
    }
    out.push(']');
    out
}

/// Name and version of a scope (empty without one).
fn scope_of(scope: Option<&InstrumentationScope>) -> (String, String) {
    scope.map_or_else(Default::default, |s| (s.name.clone(), s.version.clone()))
}

/// Spans of a traces request, and a copy of the request without the refused spans
/// ([`into_traces`] keeps the request itself).
pub fn from_traces(req: &ExportTraceServiceRequest) -> Batch {
    into_traces(req.clone())
}

/// An LLM call read from a span: its row, without its run yet.
fn llm_call_row(
    g: &automagik_telemetry_core::genai::GenAiSpan,
    span: &opentelemetry_proto::tonic::trace::v1::Span,
    ids: (&str, &str, &str),
    service: &str,
) -> LlmCallRow {
    let (trace_id, span_id, parent_span_id) = ids;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    LlmCallRow {
        trace_id: trace_id.to_string(),
        span_id: span_id.to_string(),
        parent_span_id: parent_span_id.to_string(),
        correlation_id: text(&g.correlation_id),
        agent_name: text(&g.agent_name),
        service_name: service.to_string(),
        operation: g.operation.as_str().to_string(),
        provider: text(&g.provider),
        request_model: text(&g.request_model),
        response_model: text(&g.response_model),
        input_tokens: g.usage.input,
        output_tokens: g.usage.output,
        cache_read_tokens: g.usage.cache_read,
        cache_write_tokens: g.usage.cache_write,
        reasoning_tokens: g.usage.reasoning,
        cost_usd: g.cost_usd,
        start_time_unix_nano: span.start_time_unix_nano,
        duration_ns: span
            .end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano),
        time_to_first_token_ns: g.time_to_first_token_ns,
        finish_reasons: serde_json::to_string(&g.finish_reasons).unwrap_or_else(|_| "[]".into()),
        is_error: span.status.as_ref().is_some_and(|s| s.code == 2),
        session_id: text(&g.session_id),
        user_id: text(&g.user_id),
    }
}

/// Places the request's tool calls and LLM calls that name no run in the run of the
/// nearest agent span above them in this request, and gives LLM calls and nested runs
/// the agent, session and user of their run when they carry none; `explicit` lists the
/// actions that named their run.
fn place_in_runs(batch: &mut Batch, explicit: &[bool]) {
    if batch.llm_calls.is_empty() && batch.agent_actions.is_empty() && batch.agent_runs.len() < 2 {
        return;
    }
    // The request's span tree, borrowed from its rows (the spans are put back below).
    let spans = std::mem::take(&mut batch.spans);
    let links: HashMap<(&str, &str), &str> = spans
        .iter()
        .map(|s| {
            (
                (s.trace_id.as_str(), s.span_id.as_str()),
                s.parent_span_id.as_str(),
            )
        })
        .collect();
    place_with(batch, &links, explicit);
    batch.spans = spans;
}

fn place_with(batch: &mut Batch, links: &HashMap<(&str, &str), &str>, explicit: &[bool]) {
    let runs: HashMap<(&str, &str), usize> = batch
        .agent_runs
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.trace_id.as_str(), r.span_id.as_str()), i))
        .collect();
    // The nearest run above a span (itself excluded), within this request.
    let nearest = |trace: &str, span: &str| -> Option<usize> {
        let mut at: &str = links.get(&(trace, span))?;
        for _ in 0..links.len() {
            if at.is_empty() {
                return None;
            }
            if let Some(i) = runs.get(&(trace, at)) {
                return Some(*i);
            }
            at = links.get(&(trace, at))?;
        }
        None
    };
    let run_of: Vec<Option<usize>> = batch
        .llm_calls
        .iter()
        .map(|c| nearest(&c.trace_id, &c.span_id))
        .collect();
    let action_runs: Vec<Option<usize>> = batch
        .agent_actions
        .iter()
        .map(|a| {
            a.action_id
                .split_once('-')
                .and_then(|(trace, span)| nearest(trace, span))
        })
        .collect();
    let parents: Vec<Option<usize>> = batch
        .agent_runs
        .iter()
        .map(|r| nearest(&r.trace_id, &r.span_id))
        .collect();
    let snapshot: Vec<(String, String, String, String)> = batch
        .agent_runs
        .iter()
        .map(|r| {
            (
                r.correlation_id.clone(),
                r.agent_name.clone(),
                r.session_id.clone(),
                r.user_id.clone(),
            )
        })
        .collect();
    let fill = |slot: &mut String, from: &str| {
        if slot.is_empty() {
            *slot = from.to_string();
        }
    };
    for (r, parent) in batch.agent_runs.iter_mut().zip(&parents) {
        if let Some((_, _, session, user)) = parent.and_then(|p| snapshot.get(p)) {
            fill(&mut r.session_id, session);
            fill(&mut r.user_id, user);
        }
    }
    for (c, run) in batch.llm_calls.iter_mut().zip(&run_of) {
        if let Some((id, agent, session, user)) = run.and_then(|i| snapshot.get(i)) {
            fill(&mut c.correlation_id, id);
            fill(&mut c.agent_name, agent);
            fill(&mut c.session_id, session);
            fill(&mut c.user_id, user);
        }
    }
    for ((a, run), named) in batch
        .agent_actions
        .iter_mut()
        .zip(&action_runs)
        .zip(explicit)
    {
        if let (false, Some((id, agent, _, _))) = (named, run.and_then(|i| snapshot.get(i))) {
            a.correlation_id = id.clone();
            fill(&mut a.agent_name, agent);
        }
    }
}

/// Spans of a traces request, and the request without the refused spans.
pub fn into_traces(mut accepted: ExportTraceServiceRequest) -> Batch {
    let mut batch = Batch::default();
    let mut explicit_actions: Vec<bool> = Vec::new();
    for rs in &mut accepted.resource_spans {
        let resource = resource_json(rs.resource.as_ref());
        let service = service_name(rs.resource.as_ref());
        for ss in &mut rs.scope_spans {
            let (scope_name, scope_version) = scope_of(ss.scope.as_ref());
            ss.spans.retain_mut(|span| {
                let ids = hex_id(&span.trace_id, 16, "trace_id", ItemRefusal::InvalidTraceId)
                    .and_then(|t| {
                        let s = hex_id(&span.span_id, 8, "span_id", ItemRefusal::InvalidSpanId)?;
                        Ok((t, s))
                    });
                let parent = if span.parent_span_id.is_empty() {
                    Ok(String::new())
                } else {
                    hex_id(
                        &span.parent_span_id,
                        8,
                        "parent_span_id",
                        ItemRefusal::InvalidParentSpanId,
                    )
                };
                let ((trace_id, span_id), parent_span_id) = match (ids, parent) {
                    (Ok(ids), Ok(p)) => (ids, p),
                    (Err((reason, e)), _) | (_, Err((reason, e))) => {
                        batch.reject(reason, format!("span {:?}: {e}", span.name));
                        return false;
                    }
                };
                let status = span.status.clone().unwrap_or_default();
                let attributes = attributes_json(&span.attributes);
                let end = span.end_time_unix_nano.max(span.start_time_unix_nano);
                match agent::from_span(span, &trace_id, &span_id) {
                    Some(agent::SpanRole::Run(run)) => {
                        if let Some(quality) = run.quality_score.filter(|q| q.is_finite()) {
                            batch.scores.push(ScoreRow {
                                score_id: format!("{}:quality", run.correlation_id),
                                target_kind: "run".into(),
                                target_id: run.correlation_id.clone(),
                                name: "quality".into(),
                                data_type: "numeric".into(),
                                value: Some(quality),
                                string_value: None,
                                comment: None,
                                source: "code".into(),
                                time_unix_nano: end,
                            });
                        }
                        batch.agent_runs.push(AgentRunRow {
                            correlation_id: run.correlation_id,
                            agent_name: run.agent_name,
                            status: if run.failed { "failed" } else { "completed" }.to_string(),
                            service_name: service.clone(),
                            trace_id: trace_id.clone(),
                            span_id: span_id.clone(),
                            parent_span_id: parent_span_id.clone(),
                            session_id: run.session_id.unwrap_or_default(),
                            user_id: run.user_id.unwrap_or_default(),
                            start_time_unix_nano: span.start_time_unix_nano,
                            end_time_unix_nano: end,
                            quality_score: run.quality_score,
                            error: run.error,
                            attributes: attributes.clone(),
                        })
                    }
                    Some(agent::SpanRole::Action(action)) => {
                        explicit_actions.push(action.explicit_run);
                        batch
                            .agent_actions
                            .push(action_row(action, attributes.clone()));
                    }
                    Some(agent::SpanRole::LlmCall(g)) => batch.llm_calls.push(llm_call_row(
                        &g,
                        span,
                        (&trace_id, &span_id, &parent_span_id),
                        &service,
                    )),
                    None => {}
                }
                batch.spans.push(SpanRow {
                    trace_id,
                    span_id,
                    parent_span_id,
                    name: span.name.clone(),
                    service_name: service.clone(),
                    kind: span.kind,
                    start_time_unix_nano: span.start_time_unix_nano,
                    end_time_unix_nano: end,
                    status_code: status.code,
                    status_message: status.message,
                    attributes,
                    events: events_json(&span.events),
                    resource: resource.clone(),
                    trace_state: span.trace_state.clone(),
                    flags: span.flags,
                    scope_name: scope_name.clone(),
                    scope_version: scope_version.clone(),
                    dropped_attributes_count: span.dropped_attributes_count,
                    dropped_events_count: span.dropped_events_count,
                    dropped_links_count: span.dropped_links_count,
                    links: links_json(&span.links),
                });
                span.end_time_unix_nano = end;
                true
            });
        }
    }
    place_in_runs(&mut batch, &explicit_actions);
    batch.request = Some(SignalRequest::Traces(accepted));
    batch
}

/// The score a `gen_ai.evaluation.result` event gives (OpenTelemetry GenAI conventions):
/// `gen_ai.evaluation.name`, `gen_ai.evaluation.score.value` (numeric) or
/// `gen_ai.evaluation.score.label` (categorical), `gen_ai.evaluation.explanation`; its
/// target is the span the event names, else its trace. `None` without a name, a value
/// or a target.
fn evaluation_score(
    log: &opentelemetry_proto::tonic::logs::v1::LogRecord,
    trace_id: Option<&str>,
    span_id: Option<&str>,
    time_unix_nano: u64,
) -> Option<ScoreRow> {
    let attr = |k| agent::string_attr(&log.attributes, k);
    let name = attr("gen_ai.evaluation.name")?;
    let value = agent::number_attr(&log.attributes, "gen_ai.evaluation.score.value")
        .filter(|v| v.is_finite());
    let label = attr("gen_ai.evaluation.score.label");
    if value.is_none() && label.is_none() {
        return None;
    }
    let trace = trace_id?;
    let (target_kind, target_id) = match span_id {
        Some(span) => ("span", format!("{trace}-{span}")),
        None => ("trace", trace.to_string()),
    };
    Some(ScoreRow {
        score_id: format!("{target_id}:{name}:{time_unix_nano}"),
        target_kind: target_kind.into(),
        target_id,
        name: name.to_string(),
        data_type: if value.is_some() {
            "numeric"
        } else {
            "categorical"
        }
        .into(),
        value,
        string_value: label.map(str::to_string),
        comment: attr("gen_ai.evaluation.explanation").map(str::to_string),
        source: "llm".into(),
        time_unix_nano,
    })
}

/// Log records of a logs request, and a copy of the request without the refused records
/// ([`into_logs`] keeps the request itself).
pub fn from_logs(req: &ExportLogsServiceRequest) -> Batch {
    into_logs(req.clone())
}

/// Log records of a logs request, and the request without the refused records.
pub fn into_logs(mut accepted: ExportLogsServiceRequest) -> Batch {
    let mut batch = Batch::default();
    for rl in &mut accepted.resource_logs {
        let resource = resource_json(rl.resource.as_ref());
        let service = service_name(rl.resource.as_ref());
        for sl in &mut rl.scope_logs {
            let (scope_name, scope_version) = scope_of(sl.scope.as_ref());
            sl.log_records.retain(|log| {
                let trace_id = (!log.trace_id.is_empty())
                    .then(|| hex_id(&log.trace_id, 16, "trace_id", ItemRefusal::InvalidTraceId));
                let span_id = (!log.span_id.is_empty())
                    .then(|| hex_id(&log.span_id, 8, "span_id", ItemRefusal::InvalidSpanId));
                let (trace_id, span_id) = match (trace_id.transpose(), span_id.transpose()) {
                    (Ok(t), Ok(s)) => (t, s),
                    (Err((reason, e)), _) | (_, Err((reason, e))) => {
                        batch.reject(reason, format!("log record: {e}"));
                        return false;
                    }
                };
                let attributes = attributes_json(&log.attributes);
                let event_name = Some(log.event_name.clone())
                    .filter(|n| !n.is_empty())
                    .or_else(|| {
                        agent::string_attr(&log.attributes, "event.name").map(str::to_string)
                    });
                let (body, body_type) = match log.body.as_ref().and_then(body_text) {
                    Some((text, body_type)) => (Some(text), body_type),
                    None => (None, BodyType::String),
                };
                let time_unix_nano = if log.time_unix_nano != 0 {
                    log.time_unix_nano
                } else {
                    log.observed_time_unix_nano
                };
                if let Some(action) = event_name
                    .as_deref()
                    .and_then(|n| agent::from_event(log, n, time_unix_nano, body.as_deref()))
                {
                    batch
                        .agent_actions
                        .push(action_row(action, attributes.clone()));
                }
                if event_name.as_deref() == Some("gen_ai.evaluation.result")
                    && let Some(score) = evaluation_score(
                        log,
                        trace_id.as_deref(),
                        span_id.as_deref(),
                        time_unix_nano,
                    )
                {
                    batch.scores.push(score);
                }
                batch.logs.push(LogRow {
                    time_unix_nano,
                    observed_time_unix_nano: log.observed_time_unix_nano,
                    service_name: service.clone(),
                    severity_number: log.severity_number,
                    severity_text: log.severity_text.clone(),
                    body,
                    body_type,
                    event_name,
                    trace_id,
                    span_id,
                    flags: log.flags & 0xff,
                    scope_name: scope_name.clone(),
                    scope_version: scope_version.clone(),
                    attributes,
                    dropped_attributes_count: log.dropped_attributes_count,
                    resource: resource.clone(),
                });
                true
            });
        }
    }
    batch.request = Some(SignalRequest::Logs(accepted));
    batch
}

/// A summary point: its count and sum (increases once converted), its quantiles by
/// quantile (non-finite ones left out), min and max from its quantiles 0 and 1.
fn summary_row(m: &Metric, service: &str, p: &SummaryDataPoint) -> MetricPointRow {
    let mut quantiles: Vec<(f64, f64)> = p
        .quantile_values
        .iter()
        .filter(|q| {
            q.quantile.is_finite() && (0.0..=1.0).contains(&q.quantile) && q.value.is_finite()
        })
        .map(|q| (q.quantile, q.value))
        .collect();
    quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
    quantiles.dedup_by(|a, b| a.0 == b.0);
    let at = |level: f64| quantiles.iter().find(|(q, _)| *q == level).map(|(_, v)| *v);
    MetricPointRow {
        name: m.name.clone(),
        service_name: service.to_string(),
        kind: "summary",
        start_time_unix_nano: p.start_time_unix_nano,
        time_unix_nano: p.time_unix_nano,
        value: None,
        count: Some(p.count),
        sum: p.sum.is_finite().then_some(p.sum),
        min: at(0.0),
        max: at(1.0),
        bucket_counts: None,
        explicit_bounds: None,
        attributes: attributes_json(&p.attributes),
        exemplars: "[]".into(),
        quantiles: Some(quantiles),
    }
}

/// Data points of a metrics request (sums, gauges, histograms, summaries; other kinds are rejected),
/// and a copy of the request without the refused metrics ([`into_metrics`] keeps the
/// request itself).
pub fn from_metrics(req: &ExportMetricsServiceRequest) -> Batch {
    into_metrics(req.clone())
}

/// As [`from_metrics`], keeping the request itself (without the refused metrics).
pub fn into_metrics(mut accepted: ExportMetricsServiceRequest) -> Batch {
    let req = &accepted;
    let mut batch = Batch::default();
    for rm in &req.resource_metrics {
        let service = service_name(rm.resource.as_ref());
        for m in rm.scope_metrics.iter().flat_map(|sm| &sm.metrics) {
            let number = |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint, kind| {
                let value = p.value.map(|v| match v {
                    number_data_point::Value::AsDouble(d) => d,
                    number_data_point::Value::AsInt(i) => i as f64,
                });
                MetricPointRow {
                    start_time_unix_nano: p.start_time_unix_nano,
                    exemplars: exemplars_json(&p.exemplars),
                    ..MetricPointRow::number(
                        m.name.clone(),
                        service.clone(),
                        kind,
                        p.time_unix_nano,
                        value,
                        attributes_json(&p.attributes),
                    )
                }
            };
            let histogram_row = |p: &HistogramDataPoint| MetricPointRow {
                name: m.name.clone(),
                service_name: service.clone(),
                kind: "histogram",
                start_time_unix_nano: p.start_time_unix_nano,
                time_unix_nano: p.time_unix_nano,
                value: None,
                count: Some(p.count),
                sum: p.sum,
                min: p.min,
                max: p.max,
                bucket_counts: Some(p.bucket_counts.clone()),
                explicit_bounds: Some(p.explicit_bounds.clone()),
                attributes: attributes_json(&p.attributes),
                exemplars: exemplars_json(&p.exemplars),
                quantiles: None,
            };
            match &m.data {
                // A non-monotonic sum (an up-down counter) is a current value.
                Some(Data::Sum(s)) => batch.metric_points.extend(
                    s.data_points
                        .iter()
                        .map(|p| number(p, if s.is_monotonic { "sum" } else { "updown_sum" })),
                ),
                Some(Data::Gauge(g)) => batch
                    .metric_points
                    .extend(g.data_points.iter().map(|p| number(p, "gauge"))),
                Some(Data::Histogram(h)) => batch
                    .metric_points
                    .extend(h.data_points.iter().map(histogram_row)),
                // Read in the explicit layout at their own boundaries.
                Some(Data::ExponentialHistogram(h)) => {
                    for p in &h.data_points {
                        match exponential::point(p.clone()) {
                            Ok(explicit) => batch.metric_points.push(histogram_row(&explicit)),
                            Err(e) => batch.reject(
                                ItemRefusal::InvalidHistogram,
                                format!("metric {:?}: {e}", m.name),
                            ),
                        }
                    }
                }
                Some(Data::Summary(s)) => batch
                    .metric_points
                    .extend(s.data_points.iter().map(|p| summary_row(m, &service, p))),
                None => batch.reject(
                    ItemRefusal::NoData,
                    format!("metric {:?} has no data", m.name),
                ),
            }
        }
    }
    for sm in accepted
        .resource_metrics
        .iter_mut()
        .flat_map(|rm| &mut rm.scope_metrics)
    {
        for m in &mut sm.metrics {
            if let Some(Data::ExponentialHistogram(h)) = &mut m.data {
                h.data_points.retain(|p| exponential::check(p).is_ok());
            }
        }
        sm.metrics.retain(|m| {
            matches!(
                m.data,
                Some(
                    Data::Sum(_)
                        | Data::Gauge(_)
                        | Data::Histogram(_)
                        | Data::ExponentialHistogram(_)
                        | Data::Summary(_)
                )
            )
        });
    }
    batch.request = Some(SignalRequest::Metrics(accepted));
    batch
}
