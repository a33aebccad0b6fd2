//! The agent event envelope of the Kafka topics, version 1: one JSON object per message,
//!
//! ```json
//! {"schema_version": 1, "event_id": "<uuid>", "event_type": "tool_call",
//!  "correlation_id": "<uuid>", "timestamp": "2026-11-22T10:00:00.000000001Z",
//!  "agent_name": "planner", "payload": {...}}
//! ```
//!
//! [`Envelope::parse`] validates a message (schema version, UUIDs, event type, the
//! payload's required fields and their types) and keeps unknown fields;
//! [`from_request`] derives the envelopes of the agent spans and events in an OTLP
//! request, as the SDK's `AgentRun` writes them (see [`crate::agent`]). Event ids are
//! derived from what they describe (a UUID v5 of the action id, or of the run and the
//! event type), so a record sent twice carries the same id and a consumer stores it
//! once.

use crate::agent::{SpanRole, number_attr, string_attr};
use crate::otlp::{SignalRequest, any_to_json};
use crate::time::{parse_rfc3339, rfc3339};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use serde_json::{Map, Value as Json, json};

/// The envelope version this build writes and accepts.
pub const SCHEMA_VERSION: u64 = 1;
/// Tool calls, decisions, errors and successes.
pub const TOPIC_ACTIONS: &str = "agent-actions";
/// Run starts, progress, completions and failures.
pub const TOPIC_EXECUTION: &str = "agent-execution-logs";
/// Routing decisions and manifest injections.
pub const TOPIC_ROUTING: &str = "agent-routing-decisions";
/// The three topics.
pub const TOPICS: [&str; 3] = [TOPIC_ACTIONS, TOPIC_EXECUTION, TOPIC_ROUTING];

/// The dead-letter topic of `topic`.
pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// What an envelope reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A run started (`user_prompt`, optional `parent_correlation_id`).
    ExecutionStarted,
    /// A run's progress (`stage`, `percent` 0–100).
    ExecutionProgress,
    /// A run completed (`quality_score` 0–1, `duration_ms`).
    ExecutionCompleted,
    /// A run failed (`error`, `duration_ms`).
    ExecutionFailed,
    /// A tool call (`action_id`, `tool_name`, `params`, `result` or `error`, `duration_ms`).
    ToolCall,
    /// A decision (`action_id`, `choice`, `alternatives`, `confidence`, `reasoning`).
    Decision,
    /// An error met (`action_id`, `message`, `kind`).
    Error,
    /// A success of a step (`action_id`, `message`).
    Success,
    /// A routing decision (`selected_agent`, `candidates`, `confidence`, `reason`).
    RoutingDecision,
    /// A manifest injected into a prompt (`manifest_id`, `sections`, `size_bytes`).
    ManifestInjection,
}

/// The type a payload field must have.
#[derive(Clone, Copy)]
enum Field {
    Text,
    Uuid,
    /// A number within the bounds.
    Number(f64, f64),
    /// A whole number, at least 0.
    Count,
    List,
    Any,
}

impl EventType {
    /// Every type.
    pub const ALL: [EventType; 10] = [
        EventType::ExecutionStarted,
        EventType::ExecutionProgress,
        EventType::ExecutionCompleted,
        EventType::ExecutionFailed,
        EventType::ToolCall,
        EventType::Decision,
        EventType::Error,
        EventType::Success,
        EventType::RoutingDecision,
        EventType::ManifestInjection,
    ];

    /// Its name in the envelope.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ExecutionStarted => "execution_started",
            EventType::ExecutionProgress => "execution_progress",
            EventType::ExecutionCompleted => "execution_completed",
            EventType::ExecutionFailed => "execution_failed",
            EventType::ToolCall => "tool_call",
            EventType::Decision => "decision",
            EventType::Error => "error",
            EventType::Success => "success",
            EventType::RoutingDecision => "routing_decision",
            EventType::ManifestInjection => "manifest_injection",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The topic it is published on.
    pub fn topic(self) -> &'static str {
        match self {
            EventType::ExecutionStarted
            | EventType::ExecutionProgress
            | EventType::ExecutionCompleted
            | EventType::ExecutionFailed => TOPIC_EXECUTION,
            EventType::ToolCall | EventType::Decision | EventType::Error | EventType::Success => {
                TOPIC_ACTIONS
            }
            EventType::RoutingDecision | EventType::ManifestInjection => TOPIC_ROUTING,
        }
    }

    /// Whether it is an action of a run (`tool_call`, `decision`, `error`, `success`).
    pub fn is_action(self) -> bool {
        self.topic() == TOPIC_ACTIONS
    }

    /// Required payload fields and their types.
    fn required(self) -> &'static [(&'static str, Field)] {
        use Field::*;
        const MS: Field = Number(0.0, f64::MAX);
        match self {
            EventType::ExecutionStarted => &[("user_prompt", Text)],
            EventType::ExecutionProgress => &[("stage", Text), ("percent", Number(0.0, 100.0))],
            EventType::ExecutionCompleted => {
                &[("quality_score", Number(0.0, 1.0)), ("duration_ms", MS)]
            }
            EventType::ExecutionFailed => &[("error", Text), ("duration_ms", MS)],
            EventType::ToolCall => &[
                ("action_id", Uuid),
                ("tool_name", Text),
                ("params", Any),
                ("duration_ms", MS),
            ],
            EventType::Decision => &[
                ("action_id", Uuid),
                ("choice", Text),
                ("alternatives", List),
                ("confidence", Number(0.0, 1.0)),
                ("reasoning", Text),
            ],
            EventType::Error => &[("action_id", Uuid), ("message", Text), ("kind", Text)],
            EventType::Success => &[("action_id", Uuid), ("message", Text)],
            EventType::RoutingDecision => &[
                ("selected_agent", Text),
                ("candidates", List),
                ("confidence", Number(0.0, 1.0)),
                ("reason", Text),
            ],
            EventType::ManifestInjection => &[
                ("manifest_id", Text),
                ("sections", List),
                ("size_bytes", Count),
            ],
        }
    }
}

/// Whether `s` is a UUID in its canonical text form (any version, any case).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A UUID (version 5 layout) derived from `name`: the same name, the same id.
pub fn derived_uuid(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut b: [u8; 16] = Sha256::digest(format!("automagik-telemetry/agent-event/{name}"))[..16]
        .try_into()
        .unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Why a message is not a valid envelope.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A valid envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// UUID; the consumer stores each once.
    pub event_id: String,
    /// What it reports.
    pub event_type: EventType,
    /// The run (UUID).
    pub correlation_id: String,
    /// When it happened, ns since the epoch.
    pub timestamp_unix_nano: u64,
    /// The agent.
    pub agent_name: String,
    /// The type's fields, and any others.
    pub payload: Map<String, Json>,
    /// Top-level fields this version does not know, kept as they came.
    pub extra: Map<String, Json>,
}

impl Envelope {
    /// The topic it goes to.
    pub fn topic(&self) -> &'static str {
        self.event_type.topic()
    }

    /// Its JSON form.
    pub fn to_json(&self) -> Json {
        let mut out = self.extra.clone();
        out.insert("schema_version".into(), json!(SCHEMA_VERSION));
        out.insert("event_id".into(), json!(self.event_id));
        out.insert("event_type".into(), json!(self.event_type.as_str()));
        out.insert("correlation_id".into(), json!(self.correlation_id));
        out.insert("timestamp".into(), json!(rfc3339(self.timestamp_unix_nano)));
        out.insert("agent_name".into(), json!(self.agent_name));
        out.insert("payload".into(), Json::Object(self.payload.clone()));
        Json::Object(out)
    }

    /// The message body.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// The rules [`Envelope::parse`] applies, on an envelope built in memory: what a
    /// consumer would refuse, without serializing and parsing it again.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.agent_name.is_empty() {
            return Err(Invalid("agent_name must be a non-empty string".into()));
        }
        check_ids(&self.event_id, &self.correlation_id)?;
        check_payload(self.event_type, &self.payload).map_err(Invalid)
    }

    /// Validates a message; the reason names the first problem found.
    pub fn parse(message: &[u8]) -> Result<Envelope, Invalid> {
        let bad = |m: String| Err(Invalid(m));
        let value: Json = match serde_json::from_slice(message) {
            Ok(v) => v,
            Err(e) => return bad(format!("not JSON: {e}")),
        };
        let Json::Object(mut obj) = value else {
            return bad("not a JSON object".into());
        };
        match obj.remove("schema_version") {
            Some(v) if v.as_u64() == Some(SCHEMA_VERSION) => {}
            Some(v) => return bad(format!("unsupported schema_version {v}")),
            None => return bad("missing schema_version".into()),
        }
        let mut text = |key: &str| match obj.remove(key) {
            Some(Json::String(s)) if !s.is_empty() => Ok(s),
            Some(_) => Err(Invalid(format!("{key} must be a non-empty string"))),
            None => Err(Invalid(format!("missing {key}"))),
        };
        let event_id = text("event_id")?;
        let event_type = text("event_type")?;
        let correlation_id = text("correlation_id")?;
        let timestamp = text("timestamp")?;
        let agent_name = text("agent_name")?;
        check_ids(&event_id, &correlation_id)?;
        let Some(event_type) = EventType::parse(&event_type) else {
            return bad(format!("unknown event_type {event_type:?}"));
        };
        let Some(timestamp_unix_nano) = parse_rfc3339(&timestamp) else {
            return bad("timestamp is not RFC 3339".into());
        };
        let payload = match obj.remove("payload") {
            Some(Json::Object(p)) => p,
            Some(_) => return bad("payload must be an object".into()),
            None => return bad("missing payload".into()),
        };
        check_payload(event_type, &payload).map_err(Invalid)?;
        Ok(Envelope {
            event_id: event_id.to_ascii_lowercase(),
            event_type,
            correlation_id: correlation_id.to_ascii_lowercase(),
            timestamp_unix_nano,
            agent_name,
            payload,
            extra: obj,
        })
    }
}

fn check_ids(event_id: &str, correlation_id: &str) -> Result<(), Invalid> {
    for (key, v) in [("event_id", event_id), ("correlation_id", correlation_id)] {
        if v.is_empty() {
            return Err(Invalid(format!("{key} must be a non-empty string")));
        }
        if !is_uuid(v) {
            return Err(Invalid(format!("{key} is not a UUID")));
        }
    }
    Ok(())
}

fn check_payload(t: EventType, payload: &Map<String, Json>) -> Result<(), String> {
    let name = t.as_str();
    for (key, field) in t.required() {
        let Some(v) = payload.get(*key) else {
            return Err(format!("{name}: missing payload.{key}"));
        };
        let ok = match field {
            Field::Text => v.is_string(),
            Field::Uuid => v.as_str().is_some_and(is_uuid),
            Field::Number(lo, hi) => v.as_f64().is_some_and(|x| (*lo..=*hi).contains(&x)),
            Field::Count => v.as_u64().is_some(),
            Field::List => v.is_array(),
            Field::Any => true,
        };
        if !ok {
            let want = match field {
                Field::Text => "a string".to_string(),
                Field::Uuid => "a UUID".to_string(),
                Field::Number(lo, hi) if *hi == f64::MAX => format!("a number >= {lo}"),
                Field::Number(lo, hi) => format!("a number from {lo} to {hi}"),
                Field::Count => "a whole number >= 0".to_string(),
                Field::List => "an array".to_string(),
                Field::Any => String::new(),
            };
            return Err(format!("{name}: payload.{key} must be {want}"));
        }
    }
    if t == EventType::ToolCall && !payload.contains_key("result") && !payload.contains_key("error")
    {
        return Err("tool_call: payload needs result or error".into());
    }
    if t == EventType::ExecutionStarted
        && payload
            .get("parent_correlation_id")
            .is_some_and(|p| !p.is_null() && !p.as_str().is_some_and(is_uuid))
    {
        return Err("execution_started: payload.parent_correlation_id must be a UUID".into());
    }
    Ok(())
}

fn attr_json(kvs: &[KeyValue], key: &str) -> Option<Json> {
    kvs.iter()
        .rev()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .map(any_to_json)
}

/// Envelopes of the agent runs, tool calls and events of an OTLP request, in the
/// order they occur in it. Metrics, and spans and logs that are not agent telemetry,
/// give none. Envelopes whose ids are not UUIDs are built as they are; publishing
/// validates them (and sends those that fail to the dead-letter topic).
pub fn from_request(request: &SignalRequest) -> Vec<Envelope> {
    let mut out = Vec::new();
    match request {
        SignalRequest::Traces(t) => {
            for span in t
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                from_span(span, &mut out);
            }
        }
        SignalRequest::Logs(_) | SignalRequest::EncodedLogs(_) => {
            let decoded;
            let l = match request {
                SignalRequest::EncodedLogs(e) => {
                    decoded = e.decode();
                    &decoded
                }
                SignalRequest::Logs(l) => l,
                _ => return out,
            };
            for log in l
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| &s.log_records)
            {
                from_log(log, &mut out);
            }
        }
        SignalRequest::Metrics(_) => {}
    }
    out
}

fn envelope(
    event_type: EventType,
    id_key: &str,
    correlation_id: &str,
    at: u64,
    agent: &str,
    payload: Map<String, Json>,
) -> Envelope {
    Envelope {
        event_id: derived_uuid(&format!("{}:{id_key}", event_type.as_str())),
        event_type,
        correlation_id: correlation_id.to_string(),
        timestamp_unix_nano: at,
        agent_name: agent.to_string(),
        payload,
        extra: Map::new(),
    }
}

fn from_span(span: &opentelemetry_proto::tonic::trace::v1::Span, out: &mut Vec<Envelope>) {
    let attrs = &span.attributes;
    let attr = |k| string_attr(attrs, k);
    // Envelopes need the run's own id: no falling back to the trace id here.
    let Some(correlation_id) = attr("correlation_id") else {
        return;
    };
    let agent = attr("gen_ai.agent.name").unwrap_or_default();
    let span_ms = span
        .end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano) as f64
        / 1e6;
    match crate::agent::from_span(span, "", "") {
        Some(SpanRole::Run(run)) => {
            let mut started = Map::new();
            started.insert(
                "user_prompt".into(),
                json!(attr("agent.prompt").unwrap_or_default()),
            );
            if let Some(parent) = attr("agent.parent_correlation_id") {
                started.insert("parent_correlation_id".into(), json!(parent));
            }
            out.push(envelope(
                EventType::ExecutionStarted,
                correlation_id,
                correlation_id,
                span.start_time_unix_nano,
                agent,
                started,
            ));
            let duration_ms = number_attr(attrs, "agent.duration_ms").unwrap_or(span_ms);
            let (event_type, payload) = if run.failed {
                (
                    EventType::ExecutionFailed,
                    json!({"error": run.error.unwrap_or_default(), "duration_ms": duration_ms}),
                )
            } else {
                (
                    EventType::ExecutionCompleted,
                    json!({
                        "quality_score": run.quality_score.unwrap_or(0.0),
                        "duration_ms": duration_ms,
                    }),
                )
            };
            if let Json::Object(payload) = payload {
                out.push(envelope(
                    event_type,
                    correlation_id,
                    correlation_id,
                    span.end_time_unix_nano,
                    agent,
                    payload,
                ));
            }
        }
        Some(SpanRole::Action(call)) => {
            let mut payload = Map::new();
            payload.insert("action_id".into(), json!(call.action_id));
            payload.insert("tool_name".into(), json!(call.name));
            payload.insert(
                "params".into(),
                attr_json(attrs, "gen_ai.tool.call.arguments").unwrap_or(Json::Null),
            );
            if call.is_error {
                let error = attr("error.message")
                    .or(span.status.as_ref().map(|s| s.message.as_str()))
                    .unwrap_or_default();
                payload.insert("error".into(), json!(error));
            } else {
                payload.insert(
                    "result".into(),
                    attr_json(attrs, "gen_ai.tool.call.result").unwrap_or(Json::Null),
                );
            }
            payload.insert("duration_ms".into(), json!(span_ms));
            out.push(envelope(
                EventType::ToolCall,
                &call.action_id,
                correlation_id,
                span.start_time_unix_nano,
                agent,
                payload,
            ));
        }
        Some(SpanRole::LlmCall(_)) | None => {}
    }
}

fn from_log(log: &opentelemetry_proto::tonic::logs::v1::LogRecord, out: &mut Vec<Envelope>) {
    let attrs = &log.attributes;
    let attr = |k| string_attr(attrs, k);
    let Some(name) = log.event_name.strip_prefix("agent.") else {
        return;
    };
    let Some(correlation_id) = attr("correlation_id") else {
        return;
    };
    let agent = attr("gen_ai.agent.name").unwrap_or_default();
    let at = if log.time_unix_nano > 0 {
        log.time_unix_nano
    } else {
        log.observed_time_unix_nano
    };
    let action_id = attr("agent.action_id").unwrap_or_default();
    let text = |k| json!(attr(k).unwrap_or_default());
    let (event_type, id_key, payload) = match name {
        "progress" => (
            EventType::ExecutionProgress,
            format!("{correlation_id}:{at}:{action_id}"),
            json!({
                "stage": text("agent.stage"),
                "percent": number_attr(attrs, "agent.percent").unwrap_or(0.0),
            }),
        ),
        "decision" => (
            EventType::Decision,
            action_id.to_string(),
            json!({
                "action_id": action_id,
                "choice": text("agent.choice"),
                "alternatives": attr_json(attrs, "agent.alternatives").unwrap_or(json!([])),
                "confidence": number_attr(attrs, "agent.confidence").unwrap_or(0.0),
                "reasoning": text("agent.reasoning"),
            }),
        ),
        "error" => (
            EventType::Error,
            action_id.to_string(),
            json!({
                "action_id": action_id,
                "message": text("agent.message"),
                "kind": text("error.type"),
            }),
        ),
        "success" => (
            EventType::Success,
            action_id.to_string(),
            json!({"action_id": action_id, "message": text("agent.message")}),
        ),
        "routing_decision" => (
            EventType::RoutingDecision,
            format!("{correlation_id}:{action_id}"),
            json!({
                "selected_agent": text("agent.selected_agent"),
                "candidates": attr_json(attrs, "agent.candidates").unwrap_or(json!([])),
                "confidence": number_attr(attrs, "agent.confidence").unwrap_or(0.0),
                "reason": text("agent.reason"),
            }),
        ),
        "manifest_injection" => (
            EventType::ManifestInjection,
            format!("{correlation_id}:{action_id}"),
            json!({
                "manifest_id": text("agent.manifest_id"),
                "sections": attr_json(attrs, "agent.sections").unwrap_or(json!([])),
                "size_bytes": number_attr(attrs, "agent.size_bytes").map_or(0, |n| n.max(0.0) as u64),
            }),
        ),
        _ => return,
    };
    if let Json::Object(payload) = payload {
        out.push(envelope(
            event_type,
            &id_key,
            correlation_id,
            at,
            agent,
            payload,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "0f8e2a1c-7b3d-4e5f-9a6b-1c2d3e4f5a6b";
    const ACTION: &str = "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f";

    fn message(event_type: &str, payload: Json) -> Json {
        json!({
            "schema_version": 1,
            "event_id": derived_uuid("x"),
            "event_type": event_type,
            "correlation_id": RUN,
            "timestamp": "2026-11-22T10:00:00.000000001Z",
            "agent_name": "planner",
            "payload": payload,
        })
    }

    fn parse(v: &Json) -> Result<Envelope, Invalid> {
        Envelope::parse(v.to_string().as_bytes())
    }

    #[test]
    fn derived_ids_are_stable_uuids() {
        let a = derived_uuid("tool_call:1");
        assert!(is_uuid(&a), "{a}");
        assert_eq!(a, derived_uuid("tool_call:1"));
        assert_ne!(a, derived_uuid("tool_call:2"));
        assert_eq!(&a[14..15], "5");
        assert!(!is_uuid("0f8e2a1c7b3d4e5f9a6b1c2d3e4f5a6b"));
        assert!(!is_uuid("0f8e2a1c-7b3d-4e5f-9a6b-1c2d3e4f5a6g"));
    }

    #[test]
    fn valid_envelopes_round_trip_and_keep_unknown_fields() {
        let mut m = message(
            "tool_call",
            json!({"action_id": ACTION, "tool_name": "sql", "params": {"q": 1},
                   "result": "ok", "duration_ms": 12.5, "cost_usd": 0.01}),
        );
        m["trace_id"] = json!("abc");
        let e = parse(&m).expect("valid");
        assert_eq!(e.event_type, EventType::ToolCall);
        assert_eq!(e.topic(), TOPIC_ACTIONS);
        assert_eq!(e.timestamp_unix_nano, 1_795_341_600_000_000_001);
        assert_eq!(e.payload["cost_usd"], 0.01);
        assert_eq!(e.extra["trace_id"], "abc");
        assert_eq!(e.to_json(), m);
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn invalid_envelopes_name_their_problem() {
        let good = || {
            message(
                "decision",
                json!({"action_id": ACTION, "choice": "a", "alternatives": ["a", "b"],
                       "confidence": 0.7, "reasoning": "r"}),
            )
        };
        assert!(parse(&good()).is_ok());
        type Change = Box<dyn Fn(&mut Json)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|m| m["schema_version"] = json!(2)),
                "schema_version",
            ),
            (
                Box::new(|m| m["event_id"] = json!("not-a-uuid")),
                "event_id is not a UUID",
            ),
            (
                Box::new(|m| m["correlation_id"] = json!(7)),
                "correlation_id must be",
            ),
            (
                Box::new(|m| m["event_type"] = json!("teleport")),
                "unknown event_type",
            ),
            (
                Box::new(|m| m["timestamp"] = json!("yesterday")),
                "RFC 3339",
            ),
            (
                Box::new(|m| m["payload"]["confidence"] = json!(1.5)),
                "payload.confidence",
            ),
            (
                Box::new(|m| m["payload"]["action_id"] = json!("x")),
                "payload.action_id must be a UUID",
            ),
            (
                Box::new(|m| {
                    m["payload"].as_object_mut().map(|p| p.remove("choice"));
                }),
                "missing payload.choice",
            ),
            (
                Box::new(|m| m["payload"] = json!([])),
                "payload must be an object",
            ),
        ];
        for (change, want) in cases {
            let mut m = good();
            change(&mut m);
            let err = parse(&m).expect_err(want);
            assert!(err.0.contains(want), "{want}: {err}");
        }
        assert!(Envelope::parse(b"{not json").is_err());
        // `check` on an envelope in memory says what `parse` says of its bytes.
        let mut built = parse(&good()).expect("valid");
        assert_eq!(built.check(), Ok(()));
        built.payload.insert("confidence".into(), json!(2));
        assert_eq!(
            built.check(),
            Envelope::parse(&built.to_bytes()).map(|_| ())
        );
        built.correlation_id = "run-7".into();
        assert_eq!(
            built.check().expect_err("not a UUID").0,
            "correlation_id is not a UUID"
        );
        let no_outcome = message(
            "tool_call",
            json!({"action_id": ACTION, "tool_name": "t", "params": null, "duration_ms": 1}),
        );
        assert!(
            parse(&no_outcome)
                .expect_err("no outcome")
                .0
                .contains("result or error")
        );
    }
}
