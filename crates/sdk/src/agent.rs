//! Agent telemetry: a run of an AI agent and its actions, emitted as spans and events
//! following the OpenTelemetry GenAI conventions plus a `correlation_id`.
//!
//! - The run is a span `invoke_agent <agent>` with `gen_ai.operation.name =
//!   invoke_agent`, `gen_ai.agent.name`, `correlation_id`, `agent.prompt`, and at its end
//!   `agent.status` (`completed` or `failed`) with `agent.quality_score` or
//!   `error.message`.
//! - A tool call is a child span `execute_tool <tool>` with `gen_ai.operation.name =
//!   execute_tool`, `gen_ai.tool.name`, `agent.action_id`, its parameters and its result
//!   (or an error status).
//! - An LLM call is a child span `chat <model>` (or another operation) with
//!   `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`,
//!   `gen_ai.response.model`, `gen_ai.usage.*` token counts, `gen_ai.input.messages` /
//!   `gen_ai.output.messages` and `gen_ai.response.finish_reasons`
//!   ([`AgentRun::llm_call`]).
//! - A score is a `gen_ai.evaluation.result` event on the run's span
//!   (`gen_ai.evaluation.name`, `gen_ai.evaluation.score.value`,
//!   `gen_ai.evaluation.explanation`; [`AgentRun::score`]).
//! - Progress, decisions, errors and successes are events `agent.progress`,
//!   `agent.decision`, `agent.error`, `agent.success` in the run's trace, each with the
//!   `correlation_id` and an `agent.action_id`; so are routing decisions and manifest
//!   injections (`agent.routing_decision`, `agent.manifest_injection`).
//!
//! Every string passes the redactor like any other attribute. The server turns these into
//! `/api/v1/agents/runs`.

use crate::span::Span;
use crate::telemetry::Telemetry;
use automagik_telemetry_core::{KeyValue, Severity, SpanKind, SpanStatus, Value};
use std::borrow::Cow;
use std::time::Instant;

/// A run of an agent. End it with [`AgentRun::complete`] or [`AgentRun::fail`]; a run
/// dropped without either is recorded as failed. Like a [`Span`], it belongs to the
/// thread that started it.
#[derive(Debug)]
pub struct AgentRun {
    telemetry: Telemetry,
    span: Span,
    agent: String,
    correlation_id: String,
    started: Instant,
    ended: bool,
}

/// A tool call in progress; finish it with [`ToolCall::ok`] or [`ToolCall::err`]. Dropped
/// unfinished, it is recorded as an error.
#[derive(Debug)]
pub struct ToolCall {
    span: Span,
    finished: bool,
}

/// An LLM call in progress, started by [`AgentRun::llm_call`]: set its figures, then end
/// it with [`LlmCall::ok`] or [`LlmCall::err`] (dropped unfinished, it is recorded as an
/// error). Its span measures the call's latency.
#[derive(Debug)]
pub struct LlmCall {
    span: Span,
    finished: bool,
}

fn new_action_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Telemetry {
    /// Starts a run of `agent` for `prompt`, with a new correlation id (a UUID).
    ///
    /// ```
    /// # let telemetry = automagik_telemetry::Telemetry::disabled();
    /// let run = telemetry.agent_run("planner", "Which orders shipped late?");
    /// run.progress("planning", 10.0);
    /// run.tool_call("run_sql", "SELECT id FROM orders WHERE late").ok("14 rows");
    /// run.decision("answer", ["answer", "ask_user"], 0.8, "the query answers it");
    /// run.success("answered");
    /// run.complete(0.9);
    /// ```
    pub fn agent_run(&self, agent: impl Into<String>, prompt: impl Into<String>) -> AgentRun {
        let id = if self.is_enabled() {
            uuid::Uuid::new_v4().to_string()
        } else {
            String::new()
        };
        self.agent_run_with_id(agent, prompt, id)
    }

    /// Starts a run with a correlation id given by the caller (for example one received
    /// with the request that started the run).
    pub fn agent_run_with_id(
        &self,
        agent: impl Into<String>,
        prompt: impl Into<String>,
        correlation_id: impl Into<String>,
    ) -> AgentRun {
        let agent = agent.into();
        let correlation_id = correlation_id.into();
        if !self.is_enabled() {
            // Nothing is recorded: no span name to build, no attributes to redact.
            return AgentRun {
                telemetry: self.clone(),
                span: self.span(""),
                agent,
                correlation_id,
                started: Instant::now(),
                ended: true,
            };
        }
        let mut span = self
            .span_builder(format!("invoke_agent {agent}"))
            .kind(SpanKind::Internal)
            .start();
        span.set_attribute("gen_ai.operation.name", "invoke_agent");
        span.set_attribute("gen_ai.agent.name", agent.clone());
        span.set_attribute("correlation_id", correlation_id.clone());
        span.set_attribute("agent.prompt", prompt.into());
        AgentRun {
            telemetry: self.clone(),
            span,
            agent,
            correlation_id,
            started: Instant::now(),
            ended: false,
        }
    }
}

impl AgentRun {
    /// The run's correlation id.
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// The run's span (to add attributes).
    pub fn span(&mut self) -> &mut Span {
        &mut self.span
    }

    /// The run span's context (trace and span id), to start child spans from or to
    /// propagate; `None` when telemetry is disabled.
    pub fn span_context(&self) -> Option<automagik_telemetry_core::SpanContext> {
        self.span.context()
    }

    fn event(&self, name: &'static str, severity: Severity, mut attributes: Vec<KeyValue>) {
        let Some(active) = &self.telemetry.inner else {
            return;
        };
        attributes.push(KeyValue::new("correlation_id", self.correlation_id.clone()));
        attributes.push(KeyValue::new("gen_ai.agent.name", self.agent.clone()));
        attributes.push(KeyValue::new("agent.action_id", new_action_id()));
        let trace = self.span.context().map(|c| (c.trace_id, c.span_id));
        active.emit_log(severity, None, Some(Cow::Borrowed(name)), attributes, trace);
    }

    /// A child span of the run's span for `operation`, with the run's agent and
    /// correlation id.
    fn child(&self, name: String, kind: SpanKind, operation: &'static str) -> Span {
        let mut builder = self.telemetry.span_builder(name).kind(kind);
        if let Some(parent) = self.span.context() {
            builder = builder.parent(parent);
        }
        let mut span = builder.start();
        span.set_attribute("gen_ai.operation.name", operation);
        span.set_attribute("gen_ai.agent.name", self.agent.clone());
        span.set_attribute("correlation_id", self.correlation_id.clone());
        span
    }

    /// Reports progress: a stage name and a percentage (clamped to 0–100).
    pub fn progress(&self, stage: impl Into<String>, percent: f64) {
        self.event(
            "agent.progress",
            Severity::Info,
            vec![
                KeyValue::new("agent.stage", stage.into()),
                KeyValue::new("agent.percent", percent.clamp(0.0, 100.0)),
            ],
        );
    }

    /// Starts a tool call with its parameters (any attribute value; strings and maps are
    /// redacted like everything else).
    pub fn tool_call(&self, tool: impl Into<String>, params: impl Into<Value>) -> ToolCall {
        if !self.telemetry.is_enabled() {
            return ToolCall {
                span: self.telemetry.span(""),
                finished: true,
            };
        }
        let tool = tool.into();
        let mut span = self.child(
            format!("execute_tool {tool}"),
            SpanKind::Internal,
            "execute_tool",
        );
        span.set_attribute("gen_ai.tool.name", tool);
        span.set_attribute("agent.action_id", new_action_id());
        span.set_attribute("gen_ai.tool.call.arguments", params.into());
        ToolCall {
            span,
            finished: false,
        }
    }

    /// Starts an LLM call of `model` at `provider` (`openai`, `anthropic`, ...), a chat
    /// completion unless [`LlmCall::operation`] says otherwise.
    ///
    /// ```
    /// # let telemetry = automagik_telemetry::Telemetry::disabled();
    /// let run = telemetry.agent_run("planner", "Which orders shipped late?");
    /// let mut call = run.llm_call("openai", "gpt-4o");
    /// call.input_messages(r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#)
    ///     .usage(52, 17)
    ///     .cache(16, 0);
    /// call.ok("stop");
    /// run.score("helpfulness", 0.8, "answered the question");
    /// run.complete(0.9);
    /// ```
    pub fn llm_call(&self, provider: impl Into<String>, model: impl Into<String>) -> LlmCall {
        if !self.telemetry.is_enabled() {
            return LlmCall {
                span: self.telemetry.span(""),
                finished: true,
            };
        }
        let model = model.into();
        let mut span = self.child(format!("chat {model}"), SpanKind::Client, "chat");
        span.set_attribute("gen_ai.provider.name", provider.into());
        span.set_attribute("gen_ai.request.model", model);
        LlmCall {
            span,
            finished: false,
        }
    }

    /// Scores the run: a named numeric judgement (for example 0–1) with a comment, as a
    /// `gen_ai.evaluation.result` event on the run's span.
    pub fn score(&self, name: impl Into<String>, value: f64, comment: impl Into<String>) {
        let mut attributes = vec![
            KeyValue::new("gen_ai.evaluation.name", name.into()),
            KeyValue::new("gen_ai.evaluation.score.value", value),
        ];
        let comment = comment.into();
        if !comment.is_empty() {
            attributes.push(KeyValue::new("gen_ai.evaluation.explanation", comment));
        }
        self.event("gen_ai.evaluation.result", Severity::Info, attributes);
    }

    /// Records a decision: the choice, the alternatives considered, a confidence (0–1)
    /// and the reasoning.
    pub fn decision<I, S>(
        &self,
        choice: impl Into<String>,
        alternatives: I,
        confidence: f64,
        reasoning: impl Into<String>,
    ) where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let alternatives: Vec<Value> = alternatives
            .into_iter()
            .map(|a| Value::from(a.into()))
            .collect();
        self.event(
            "agent.decision",
            Severity::Info,
            vec![
                KeyValue::new("agent.choice", choice.into()),
                KeyValue::new("agent.alternatives", alternatives),
                KeyValue::new("agent.confidence", confidence.clamp(0.0, 1.0)),
                KeyValue::new("agent.reasoning", reasoning.into()),
            ],
        );
    }

    /// Records a routing decision: the agent chosen among the candidates, with a
    /// confidence (0–1) and the reason.
    pub fn routing_decision<I, S>(
        &self,
        selected_agent: impl Into<String>,
        candidates: I,
        confidence: f64,
        reason: impl Into<String>,
    ) where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let candidates: Vec<Value> = candidates
            .into_iter()
            .map(|c| Value::from(c.into()))
            .collect();
        self.event(
            "agent.routing_decision",
            Severity::Info,
            vec![
                KeyValue::new("agent.selected_agent", selected_agent.into()),
                KeyValue::new("agent.candidates", candidates),
                KeyValue::new("agent.confidence", confidence.clamp(0.0, 1.0)),
                KeyValue::new("agent.reason", reason.into()),
            ],
        );
    }

    /// Records a manifest injected into the agent's context: its id, the sections
    /// included and its size.
    pub fn manifest_injection<I, S>(
        &self,
        manifest_id: impl Into<String>,
        sections: I,
        size_bytes: u64,
    ) where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let sections: Vec<Value> = sections
            .into_iter()
            .map(|c| Value::from(c.into()))
            .collect();
        self.event(
            "agent.manifest_injection",
            Severity::Info,
            vec![
                KeyValue::new("agent.manifest_id", manifest_id.into()),
                KeyValue::new("agent.sections", sections),
                KeyValue::new("agent.size_bytes", size_bytes as i64),
            ],
        );
    }

    /// Records an error the agent met (the run may still succeed).
    pub fn error(&self, message: impl Into<String>, kind: impl Into<String>) {
        self.event(
            "agent.error",
            Severity::Error,
            vec![
                KeyValue::new("agent.message", message.into()),
                KeyValue::new("error.type", kind.into()),
            ],
        );
    }

    /// Records a success of one step.
    pub fn success(&self, message: impl Into<String>) {
        self.event(
            "agent.success",
            Severity::Info,
            vec![KeyValue::new("agent.message", message.into())],
        );
    }

    /// Ends the run as completed with a quality score (clamped to 0–1).
    pub fn complete(mut self, quality_score: f64) {
        if self.ended {
            return;
        }
        self.span.set_attribute("agent.status", "completed");
        self.span
            .set_attribute("agent.quality_score", quality_score.clamp(0.0, 1.0));
        self.span.set_attribute(
            "agent.duration_ms",
            self.started.elapsed().as_secs_f64() * 1e3,
        );
        self.span.set_status(SpanStatus::Ok);
        self.ended = true;
    }

    /// Ends the run as failed.
    pub fn fail(mut self, error: impl Into<String>) {
        if !self.ended {
            self.end_failed(error.into());
        }
    }

    fn end_failed(&mut self, error: String) {
        self.span.set_attribute("agent.status", "failed");
        self.span.set_attribute("error.message", error.clone());
        self.span.set_attribute(
            "agent.duration_ms",
            self.started.elapsed().as_secs_f64() * 1e3,
        );
        self.span.set_status(SpanStatus::Error(error.into()));
        self.ended = true;
    }
}

impl Drop for AgentRun {
    fn drop(&mut self) {
        if !self.ended {
            self.end_failed("the run ended without complete() or fail()".into());
        }
    }
}

impl ToolCall {
    /// Ends the call with its result.
    pub fn ok(mut self, result: impl Into<Value>) {
        self.span
            .set_attribute("gen_ai.tool.call.result", result.into());
        self.span.set_status(SpanStatus::Ok);
        self.finished = true;
    }

    /// Ends the call with an error.
    pub fn err(mut self, error: impl Into<String>) {
        let error = error.into();
        self.span.set_attribute("error.message", error.clone());
        self.span.set_status(SpanStatus::Error(error.into()));
        self.finished = true;
    }
}

impl LlmCall {
    /// The operation when not a chat completion: `text_completion`, `generate_content`
    /// or `embeddings`.
    pub fn operation(&mut self, operation: impl Into<String>) -> &mut Self {
        self.span
            .set_attribute("gen_ai.operation.name", operation.into());
        self
    }

    /// The model that answered (a dated snapshot, say), when it differs from the one
    /// asked for.
    pub fn response_model(&mut self, model: impl Into<String>) -> &mut Self {
        self.span
            .set_attribute("gen_ai.response.model", model.into());
        self
    }

    /// Input tokens (cached ones included) and output tokens (reasoning included).
    pub fn usage(&mut self, input_tokens: u64, output_tokens: u64) -> &mut Self {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.span
            .set_attribute("gen_ai.usage.input_tokens", n(input_tokens));
        self.span
            .set_attribute("gen_ai.usage.output_tokens", n(output_tokens));
        self
    }

    /// Input tokens read from and written to the provider's cache (part of the input).
    pub fn cache(&mut self, read: u64, write: u64) -> &mut Self {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.span
            .set_attribute("gen_ai.usage.cache_read.input_tokens", n(read));
        self.span
            .set_attribute("gen_ai.usage.cache_write.input_tokens", n(write));
        self
    }

    /// Output tokens spent on reasoning (part of the output).
    pub fn reasoning(&mut self, tokens: u64) -> &mut Self {
        self.span.set_attribute(
            "gen_ai.usage.reasoning.output_tokens",
            i64::try_from(tokens).unwrap_or(i64::MAX),
        );
        self
    }

    /// The messages sent, as JSON text in the GenAI messages shape
    /// (`[{"role": "user", "parts": [{"type": "text", "content": "..."}]}]`); redacted
    /// like any attribute.
    pub fn input_messages(&mut self, json: impl Into<String>) -> &mut Self {
        self.span
            .set_attribute("gen_ai.input.messages", json.into());
        self
    }

    /// The messages answered, as JSON text in the same shape.
    pub fn output_messages(&mut self, json: impl Into<String>) -> &mut Self {
        self.span
            .set_attribute("gen_ai.output.messages", json.into());
        self
    }

    /// Ends the call, with why the model stopped (`stop`, `length`, `tool_calls`, ...).
    pub fn ok(mut self, finish_reason: impl Into<String>) {
        self.span.set_attribute(
            "gen_ai.response.finish_reasons",
            Value::Array(vec![Value::from(finish_reason.into())]),
        );
        self.span.set_status(SpanStatus::Ok);
        self.finished = true;
    }

    /// Ends the call with an error.
    pub fn err(mut self, error: impl Into<String>) {
        let error = error.into();
        self.span.set_attribute("error.message", error.clone());
        self.span.set_status(SpanStatus::Error(error.into()));
        self.finished = true;
    }
}

impl Drop for LlmCall {
    fn drop(&mut self) {
        if !self.finished {
            self.span
                .set_status(SpanStatus::Error("the LLM call was not finished".into()));
        }
    }
}

impl Drop for ToolCall {
    fn drop(&mut self) {
        if !self.finished {
            self.span
                .set_status(SpanStatus::Error("the tool call was not finished".into()));
        }
    }
}
