//! Runs, sessions and usage read from any store: runs with their nested runs, LLM calls,
//! totals and scores ([`runs_with_totals`]), a call's messages ([`messages_of`]), and
//! the grouping of LLM calls for the usage and session views.

use super::runs::{Totals, assemble};
use crate::rows::{AgentActionRow, AgentRunRow, LlmCallRow, LogRow, ScoreRow, SpanRow};
use crate::store::{LlmCallQuery, LogQuery, RunQuery, ScoreQuery, Store, StoreError, StoredRun};
use automagik_telemetry_core::genai;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
};
use serde_json::{Value as Json, json};
use std::collections::{BTreeSet, HashMap};

/// Most runs of one trace read to place nested runs.
const MAX_RUNS_PER_TRACE: usize = 1_000;
/// Most LLM calls read for one page of runs.
const MAX_CALLS: usize = 20_000;

/// A run with what belongs to it.
#[derive(Clone, Debug)]
pub struct RunView {
    /// The run.
    pub run: StoredRun,
    /// The run above it in its trace (correlation id), when nested.
    pub parent: Option<String>,
    /// Its nested runs (correlation ids), oldest first.
    pub children: Vec<String>,
    /// Its own LLM calls, oldest first.
    pub calls: Vec<LlmCallRow>,
    /// Its own and its nested runs' totals.
    pub totals: Totals,
    /// Scores of the run and of its span (and of its trace, for a run at the top of it).
    pub scores: Vec<ScoreRow>,
}

/// Puts `runs` together with their trace: nested runs, LLM calls (placed through the
/// trace when ingest could not), actions, totals and scores.
pub fn runs_with_totals(
    store: &dyn Store,
    runs: Vec<StoredRun>,
) -> Result<Vec<RunView>, StoreError> {
    let traces: BTreeSet<String> = runs
        .iter()
        .map(|r| r.row.trace_id.clone())
        .filter(|t| !t.is_empty())
        .collect();
    // Every run of those traces (a page may hold a run without its parent or children).
    let mut all: HashMap<String, Vec<AgentRunRow>> = HashMap::new();
    for t in &traces {
        let page = store.runs(&RunQuery {
            trace_id: Some(t.clone()),
            limit: MAX_RUNS_PER_TRACE,
            ..Default::default()
        })?;
        all.insert(t.clone(), page.items.into_iter().map(|r| r.row).collect());
    }
    for r in &runs {
        let of_trace = all.entry(r.row.trace_id.clone()).or_default();
        if !of_trace
            .iter()
            .any(|x| x.correlation_id == r.row.correlation_id)
        {
            of_trace.push(r.row.clone());
        }
    }
    let calls = if traces.is_empty() {
        Vec::new()
    } else {
        store.llm_calls(&LlmCallQuery {
            trace_ids: traces.iter().cloned().collect(),
            limit: MAX_CALLS,
            ..Default::default()
        })?
    };
    let mut calls_by_trace: HashMap<&str, Vec<LlmCallRow>> = HashMap::new();
    for c in &calls {
        calls_by_trace
            .entry(c.trace_id.as_str())
            .or_default()
            .push(c.clone());
    }
    let mut placed: HashMap<String, (super::runs::Assembled, Vec<LlmCallRow>)> = HashMap::new();
    for (trace, trace_runs) in &all {
        let trace_calls = calls_by_trace.remove(trace.as_str()).unwrap_or_default();
        let ids: BTreeSet<&str> = trace_runs
            .iter()
            .map(|r| r.correlation_id.as_str())
            .collect();
        // The trace's span tree, only when some call could not be placed at ingest.
        let links: Vec<(String, String)> = if trace_calls
            .iter()
            .any(|c| !ids.contains(c.correlation_id.as_str()))
        {
            store
                .trace(trace)?
                .into_iter()
                .map(|s| (s.span_id, s.parent_span_id))
                .collect()
        } else {
            Vec::new()
        };
        let mut actions: HashMap<String, Vec<AgentActionRow>> = HashMap::new();
        for r in trace_runs {
            actions.insert(r.correlation_id.clone(), store.actions(&r.correlation_id)?);
        }
        // Tool calls that named no run and were not placed at ingest carry the trace id:
        // they belong to the run at the top of the trace.
        if !ids.contains(trace.as_str())
            && let Some(top) = trace_runs
                .iter()
                .filter(|r| r.parent_span_id.is_empty() || !has_run_above(r, trace_runs))
                .min_by_key(|r| r.start_time_unix_nano)
        {
            let orphans = store.actions(trace)?;
            actions
                .entry(top.correlation_id.clone())
                .or_default()
                .extend(orphans);
        }
        let out = assemble(trace_runs, &links, &trace_calls, &actions);
        for (id, a) in out {
            let own: Vec<LlmCallRow> = a.calls.iter().map(|i| trace_calls[*i].clone()).collect();
            placed.insert(id, (a, own));
        }
    }
    let targets: Vec<(String, String)> = runs
        .iter()
        .flat_map(|r| {
            [
                ("run".to_string(), r.row.correlation_id.clone()),
                ("trace".to_string(), r.row.trace_id.clone()),
                // A score given to the run's span (a `gen_ai.evaluation.result` event).
                (
                    "span".to_string(),
                    format!("{}-{}", r.row.trace_id, r.row.span_id),
                ),
            ]
        })
        .collect();
    let scores = if targets.is_empty() {
        Vec::new()
    } else {
        store.scores(&ScoreQuery {
            targets,
            name: None,
            limit: 10_000,
        })?
    };
    Ok(runs
        .into_iter()
        .map(|run| {
            let (a, calls) = placed.remove(&run.row.correlation_id).unwrap_or_default();
            let top = a.parent.is_none();
            let scores = scores
                .iter()
                .filter(|s| {
                    (s.target_kind == "run" && s.target_id == run.row.correlation_id)
                        || (s.target_kind == "span"
                            && !run.row.span_id.is_empty()
                            && s.target_id == format!("{}-{}", run.row.trace_id, run.row.span_id))
                        || (top && s.target_kind == "trace" && s.target_id == run.row.trace_id)
                })
                .cloned()
                .collect();
            RunView {
                run,
                parent: a.parent,
                children: a.children,
                calls,
                totals: a.totals,
                scores,
            }
        })
        .collect())
}

/// Whether another run of the trace holds `r`'s parent span (a quick check: a parent
/// further up is found by [`assemble`]).
fn has_run_above(r: &AgentRunRow, runs: &[AgentRunRow]) -> bool {
    runs.iter().any(|x| x.span_id == r.parent_span_id)
}

/// A stored attribute object as OTLP attributes (strings, numbers, booleans, arrays and
/// objects), so that stored spans read through the same mapping as ingest.
pub fn key_values(attributes: &str) -> Vec<KeyValue> {
    let Ok(Json::Object(map)) = serde_json::from_str::<Json>(attributes) else {
        return Vec::new();
    };
    map.into_iter()
        .map(|(key, v)| KeyValue {
            key,
            value: Some(any_of(v, 0)),
            ..Default::default()
        })
        .collect()
}

fn any_of(v: Json, depth: usize) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        Json::Null => None,
        Json::Bool(b) => Some(V::BoolValue(b)),
        Json::Number(n) => Some(match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        }),
        Json::String(s) => Some(V::StringValue(s)),
        // Deeper than any attribute needs: kept as text.
        other if depth > 16 => Some(V::StringValue(other.to_string())),
        Json::Array(items) => Some(V::ArrayValue(ArrayValue {
            values: items.into_iter().map(|i| any_of(i, depth + 1)).collect(),
        })),
        Json::Object(map) => Some(V::KvlistValue(KeyValueList {
            values: map
                .into_iter()
                .map(|(key, v)| KeyValue {
                    key,
                    value: Some(any_of(v, depth + 1)),
                    ..Default::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
}

/// The conversation of an LLM call: system instructions, input and output messages in
/// the GenAI messages shape (`[{role, parts: [...]}]`), from the span's attributes
/// (GenAI, OpenInference, Langfuse) or, when it has none, from the GenAI events logged
/// under it (`gen_ai.user.message`, `gen_ai.choice`, ... as the openai-v2
/// instrumentation writes them by default).
pub fn messages_of(span: Option<&SpanRow>, events: &[&LogRow]) -> Json {
    let parse = |t: Option<String>| {
        t.and_then(|t| serde_json::from_str::<Json>(&t).ok())
            .unwrap_or(Json::Null)
    };
    if let Some(g) = span.and_then(|s| genai::normalise(&key_values(&s.attributes), &s.name))
        && (g.input_messages.is_some() || g.output_messages.is_some())
    {
        return json!({
            "system_instructions": parse(g.system_instructions),
            "input": parse(g.input_messages),
            "output": parse(g.output_messages),
        });
    }
    let mut input = Vec::new();
    let mut output = Vec::new();
    for e in events {
        let Some(name) = e.event_name.as_deref() else {
            continue;
        };
        let body = e.body_value();
        let role = match name {
            "gen_ai.system.message" => "system",
            "gen_ai.user.message" => "user",
            "gen_ai.assistant.message" => "assistant",
            "gen_ai.tool.message" => "tool",
            "gen_ai.choice" => {
                let message = body.get("message").cloned().unwrap_or(Json::Null);
                let mut m = event_message(
                    message
                        .get("role")
                        .and_then(Json::as_str)
                        .unwrap_or("assistant"),
                    &message,
                );
                if let Some(reason) = body.get("finish_reason") {
                    m["finish_reason"] = reason.clone();
                }
                output.push(m);
                continue;
            }
            _ => continue,
        };
        input.push(event_message(role, &body));
    }
    if input.is_empty() && output.is_empty() {
        return Json::Null;
    }
    json!({"system_instructions": Json::Null, "input": input, "output": output})
}

/// One event body (`{content}`, `{tool_calls: [...]}`, `{content, id}`) as a GenAI message.
fn event_message(role: &str, body: &Json) -> Json {
    let mut parts = Vec::new();
    match body.get("content") {
        Some(Json::String(text)) if role == "tool" => parts.push(json!({
            "type": "tool_call_response",
            "id": body.get("id").cloned().unwrap_or(Json::Null),
            "response": text,
        })),
        Some(Json::String(text)) => parts.push(json!({"type": "text", "content": text})),
        Some(other) if !other.is_null() => {
            parts.push(json!({"type": "text", "content": other.to_string()}))
        }
        _ => {}
    }
    for call in body
        .get("tool_calls")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .take(genai::MAX_TOOL_CALLS)
    {
        let function = call.get("function").cloned().unwrap_or(Json::Null);
        parts.push(json!({
            "type": "tool_call",
            "id": call.get("id").cloned().unwrap_or(Json::Null),
            "name": function.get("name").cloned().unwrap_or(Json::Null),
            "arguments": function.get("arguments").cloned().unwrap_or(Json::Null),
        }));
    }
    json!({"role": role, "parts": parts})
}

/// The GenAI events of a trace (for [`messages_of`]), by span id.
pub fn genai_events(
    store: &dyn Store,
    trace_id: &str,
) -> Result<HashMap<String, Vec<LogRow>>, StoreError> {
    let page = store.logs(&LogQuery {
        trace_id: Some(trace_id.to_string()),
        events_only: true,
        limit: 1_000,
        ..Default::default()
    })?;
    let mut out: HashMap<String, Vec<LogRow>> = HashMap::new();
    for l in page.items {
        let row = l.row;
        if let (Some(span), Some(name)) = (row.span_id.clone(), row.event_name.as_deref())
            && name.starts_with("gen_ai.")
        {
            out.entry(span).or_default().push(row);
        }
    }
    // Oldest first: the conversation's order.
    for events in out.values_mut() {
        events.sort_by_key(|e| (e.time_unix_nano, e.observed_time_unix_nano));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_attributes_read_back_through_the_mapping() {
        let kvs = key_values(
            r#"{"gen_ai.operation.name":"chat","gen_ai.usage.input_tokens":52,"gen_ai.request.model":"gpt-4o","x":[1,{"a":true}]}"#,
        );
        let g = genai::normalise(&kvs, "chat gpt-4o").expect("a GenAI span");
        assert!(g.operation.is_llm_call());
        assert_eq!(g.usage.input, Some(52));
        assert_eq!(g.request_model.as_deref(), Some("gpt-4o"));
        assert!(key_values("not json").is_empty());
    }

    #[test]
    fn messages_from_events_as_openai_v2_logs_them() {
        let event = |name: &str, body: &str| LogRow {
            event_name: Some(name.into()),
            body: Some(body.into()),
            body_type: crate::rows::BodyType::Kvlist,
            ..Default::default()
        };
        let events = [
            event("gen_ai.system.message", r#"{"content":"be brief"}"#),
            event("gen_ai.user.message", r#"{"content":"weather in Paris?"}"#),
            event(
                "gen_ai.choice",
                r#"{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}}"#,
            ),
        ];
        let refs: Vec<&LogRow> = events.iter().collect();
        let m = messages_of(None, &refs);
        assert_eq!(m["input"][0]["role"], "system");
        assert_eq!(m["input"][1]["parts"][0]["content"], "weather in Paris?");
        assert_eq!(m["output"][0]["parts"][0]["type"], "tool_call");
        assert_eq!(m["output"][0]["parts"][0]["name"], "get_weather");
        assert_eq!(m["output"][0]["finish_reason"], "tool_calls");
        assert_eq!(messages_of(None, &[]), Json::Null);
    }
}
