//! The agent conventions, read back from OTLP: which spans are agent runs and which
//! spans and events are their actions. The SDK's `AgentRun` writes them; the server's
//! stores and the ClickHouse rows read them here, so there is one definition.
//!
//! Spans are read through [`crate::genai`]'s one mapping (the OpenTelemetry GenAI
//! conventions, current and deprecated, OpenInference, Langfuse and our SDK's names):
//!
//! - A run: an agent span (`gen_ai.operation.name = invoke_agent`, OpenInference
//!   `AGENT`, Langfuse `agent`); its agent name (else the span name), `correlation_id`
//!   (else the trace id for a root span and `<trace id>-<span id>` for a span below
//!   another, so nested runs stay apart), `agent.quality_score`, session and user;
//!   failed when `agent.status = failed`, or without `agent.status` when the span status
//!   is an error (`error.message`, else the status message, is the error).
//! - A tool call: a tool span (`execute_tool`, OpenInference `TOOL`, Langfuse `tool`);
//!   its tool name (else the span name), `agent.action_id` (else `<trace id>-<span
//!   id>`), failed when the status is an error.
//! - An LLM call: a `chat`, `text_completion`, `generate_content` or `embeddings` span
//!   (and the OpenInference and Langfuse equivalents), returned as read.
//! - A decision, error, success or tool call reported as an event `agent.decision`,
//!   `agent.error`, `agent.success`, `agent.tool_call` carrying a `correlation_id`; its
//!   name is `gen_ai.tool.name`, `agent.choice` or `agent.message` (else the body).

use crate::genai::{self, GenAiSpan};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;

pub use crate::attrs::{number_attr, string_attr};

/// A run read from its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Correlation id.
    pub correlation_id: String,
    /// Agent name.
    pub agent_name: String,
    /// Whether it failed.
    pub failed: bool,
    /// Its error, when it failed.
    pub error: Option<String>,
    /// Quality score, when given.
    pub quality_score: Option<f64>,
    /// Session, when given.
    pub session_id: Option<String>,
    /// User, when given.
    pub user_id: Option<String>,
    /// Whether the span named its correlation id (else it was made from its ids).
    pub explicit_id: bool,
}

/// An action read from a span or an event.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// Unique id.
    pub action_id: String,
    /// The run it belongs to.
    pub correlation_id: String,
    /// Agent name (may be empty).
    pub agent_name: String,
    /// `tool_call`, `decision`, `error` or `success`.
    pub action_type: &'static str,
    /// Tool name, choice or message.
    pub name: String,
    /// Whether it failed.
    pub is_error: bool,
    /// When, ns.
    pub time_unix_nano: u64,
    /// How long, ns.
    pub duration_ns: u64,
    /// Whether its run was named (a `correlation_id`); else it is the trace id, and a
    /// reader may place it better.
    pub explicit_run: bool,
}

/// What a span is to the agent conventions.
#[derive(Clone, Debug, PartialEq)]
pub enum SpanRole {
    /// An agent run.
    Run(Run),
    /// A tool call.
    Action(Action),
    /// An LLM call, as read.
    LlmCall(Box<GenAiSpan>),
}

/// Reads a span; `trace_id` and `span_id` are its ids as hex.
pub fn from_span(span: &Span, trace_id: &str, span_id: &str) -> Option<SpanRole> {
    let g = genai::normalise_span(span)?;
    let status = span.status.as_ref();
    let status_error = status.is_some_and(|s| s.code == 2);
    let explicit = g.correlation_id.is_some();
    if g.operation.is_agent() {
        let failed = g.failed_status.unwrap_or(status_error);
        let correlation_id = match &g.correlation_id {
            Some(c) => c.clone(),
            None if span.parent_span_id.is_empty() => trace_id.to_string(),
            None => format!("{trace_id}-{span_id}"),
        };
        Some(SpanRole::Run(Run {
            correlation_id,
            agent_name: g.agent_name.clone().unwrap_or_else(|| span.name.clone()),
            failed,
            error: failed.then(|| {
                string_attr(&span.attributes, "error.message")
                    .or(status.map(|s| s.message.as_str()))
                    .unwrap_or_default()
                    .to_string()
            }),
            quality_score: g.quality_score,
            session_id: g.session_id,
            user_id: g.user_id,
            explicit_id: explicit,
        }))
    } else if g.operation.is_tool() {
        Some(SpanRole::Action(Action {
            // Span ids are unique within their trace only.
            action_id: g
                .action_id
                .clone()
                .unwrap_or_else(|| format!("{trace_id}-{span_id}")),
            correlation_id: g.correlation_id.unwrap_or_else(|| trace_id.to_string()),
            agent_name: g.agent_name.unwrap_or_default(),
            action_type: "tool_call",
            name: g.tool_name.unwrap_or_else(|| span.name.clone()),
            is_error: status_error,
            time_unix_nano: span.start_time_unix_nano,
            duration_ns: span
                .end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano),
            explicit_run: explicit,
        }))
    } else if g.operation.is_llm_call() {
        Some(SpanRole::LlmCall(Box::new(g)))
    } else {
        None
    }
}

/// Reads an event (a log record with `event_name`, at `time_unix_nano`; `body` is its
/// body as text).
pub fn from_event(
    log: &LogRecord,
    event_name: &str,
    time_unix_nano: u64,
    body: Option<&str>,
) -> Option<Action> {
    let action_type = match event_name.strip_prefix("agent.")? {
        "tool_call" => "tool_call",
        "decision" => "decision",
        "error" => "error",
        "success" => "success",
        _ => return None,
    };
    let attr = |k| string_attr(&log.attributes, k);
    let correlation_id = attr("correlation_id")?;
    let name = ["gen_ai.tool.name", "agent.choice", "agent.message"]
        .iter()
        .find_map(|k| attr(k))
        .or(body)
        .unwrap_or_default();
    Some(Action {
        action_id: attr("agent.action_id").map_or_else(
            || format!("{correlation_id}:{action_type}:{time_unix_nano}"),
            str::to_string,
        ),
        correlation_id: correlation_id.to_string(),
        agent_name: attr("gen_ai.agent.name").unwrap_or_default().to_string(),
        action_type,
        name: name.to_string(),
        is_error: action_type == "error" || attr("error.message").is_some(),
        time_unix_nano,
        duration_ns: number_attr(&log.attributes, "agent.duration_ms")
            .map_or(0, |ms| (ms.max(0.0) * 1e6) as u64),
        explicit_run: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::Status;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn s(key: &str, value: &str) -> KeyValue {
        kv(key, any_value::Value::StringValue(value.into()))
    }

    #[test]
    fn runs_tool_calls_and_events() {
        let mut run = Span {
            name: "invoke_agent planner".into(),
            attributes: vec![
                s("gen_ai.operation.name", "invoke_agent"),
                kv("agent.quality_score", any_value::Value::DoubleValue(0.5)),
            ],
            status: Some(Status {
                code: 2,
                message: "boom".into(),
            }),
            ..Default::default()
        };
        let Some(SpanRole::Run(r)) = from_span(&run, "t", "s") else {
            panic!("a run")
        };
        assert_eq!(r.correlation_id, "t", "the trace id when no correlation_id");
        assert_eq!(r.agent_name, "invoke_agent planner");
        assert!(r.failed);
        assert_eq!(r.error.as_deref(), Some("boom"));
        assert_eq!(r.quality_score, Some(0.5));
        // agent.status wins over the span status.
        run.attributes.push(s("agent.status", "completed"));
        let Some(SpanRole::Run(r)) = from_span(&run, "t", "s") else {
            panic!("a run")
        };
        assert!(!r.failed && r.error.is_none());

        let tool = Span {
            name: "execute_tool x".into(),
            start_time_unix_nano: 10,
            end_time_unix_nano: 25,
            attributes: vec![
                s("gen_ai.operation.name", "execute_tool"),
                s("gen_ai.tool.name", "search"),
                s("correlation_id", "c1"),
            ],
            ..Default::default()
        };
        let Some(SpanRole::Action(a)) = from_span(&tool, "t", "s") else {
            panic!("an action")
        };
        assert_eq!(
            (
                a.action_id.as_str(),
                a.correlation_id.as_str(),
                a.name.as_str()
            ),
            ("t-s", "c1", "search")
        );
        assert_eq!(
            (a.action_type, a.duration_ns, a.is_error),
            ("tool_call", 15, false)
        );
        assert_eq!(from_span(&Span::default(), "t", "s"), None);

        let event = LogRecord {
            attributes: vec![s("correlation_id", "c1"), s("agent.choice", "b")],
            ..Default::default()
        };
        let a = from_event(&event, "agent.decision", 7, None).expect("a decision");
        assert_eq!(
            (a.action_type, a.name.as_str(), a.action_id.as_str()),
            ("decision", "b", "c1:decision:7")
        );
        assert!(
            from_event(&event, "agent.progress", 7, None).is_none(),
            "not an action"
        );
        assert!(
            from_event(&LogRecord::default(), "agent.error", 7, None).is_none(),
            "no run"
        );
        let err = from_event(&event, "agent.error", 7, Some("body")).expect("an error");
        assert!(err.is_error);
    }
}
