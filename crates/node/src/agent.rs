//! The agent run API: a run, its tool calls and its LLM calls, each held by a JavaScript
//! object until it is ended (a run or call collected unfinished is recorded as failed,
//! as the SDK does when one is dropped).

use crate::convert;
use crate::span::TraceContext;
use automagik_telemetry::{AgentRun, LlmCall, ToolCall, Value};
use napi_derive::napi;
use serde_json::Value as Json;

/// A run of an agent.
#[napi]
pub struct NativeAgentRun {
    run: Option<AgentRun>,
    correlation_id: String,
}

impl NativeAgentRun {
    /// Wraps a started run.
    pub fn new(run: AgentRun) -> Self {
        let correlation_id = run.correlation_id().to_string();
        NativeAgentRun {
            run: Some(run),
            correlation_id,
        }
    }
}

#[napi]
impl NativeAgentRun {
    /// The run's correlation id (empty when telemetry is disabled).
    #[napi]
    pub fn correlation_id(&self) -> String {
        self.correlation_id.clone()
    }

    /// The run span's identity; `null` when telemetry is disabled or the run has ended.
    #[napi]
    pub fn context(&self) -> Option<TraceContext> {
        self.run
            .as_ref()
            .and_then(AgentRun::span_context)
            .map(TraceContext::from)
    }

    /// Sets an attribute on the run's span.
    #[napi]
    pub fn set_attribute(&mut self, key: String, value: Option<Json>) {
        if let (Some(run), Some(value)) = (&mut self.run, value.and_then(convert::value)) {
            run.span().set_attribute(key, value);
        }
    }

    /// Reports progress: a stage and a percentage (0-100).
    #[napi]
    pub fn progress(&self, stage: String, percent: f64) {
        if let Some(run) = &self.run {
            run.progress(stage, percent);
        }
    }

    /// Starts a tool call with its parameters.
    #[napi]
    pub fn tool_call(&self, tool: String, params: Option<Json>) -> NativeToolCall {
        NativeToolCall {
            call: self.run.as_ref().map(|run| {
                let params = params
                    .and_then(convert::value)
                    .unwrap_or_else(|| Value::from(""));
                run.tool_call(tool, params)
            }),
        }
    }

    /// Records a decision: the choice, the alternatives, a confidence (0-1), the
    /// reasoning.
    #[napi]
    pub fn decision(
        &self,
        choice: String,
        alternatives: Vec<String>,
        confidence: f64,
        reasoning: String,
    ) {
        if let Some(run) = &self.run {
            run.decision(choice, alternatives, confidence, reasoning);
        }
    }

    /// Records a routing decision: the agent chosen among the candidates.
    #[napi]
    pub fn routing_decision(
        &self,
        selected_agent: String,
        candidates: Vec<String>,
        confidence: f64,
        reason: String,
    ) {
        if let Some(run) = &self.run {
            run.routing_decision(selected_agent, candidates, confidence, reason);
        }
    }

    /// Records a manifest injected into the agent's context.
    #[napi]
    pub fn manifest_injection(&self, manifest_id: String, sections: Vec<String>, size_bytes: f64) {
        if let Some(run) = &self.run {
            run.manifest_injection(manifest_id, sections, convert::count(size_bytes));
        }
    }

    /// Records an error the agent met (the run may still succeed).
    #[napi]
    pub fn error(&self, message: String, kind: String) {
        if let Some(run) = &self.run {
            run.error(message, kind);
        }
    }

    /// Records the success of one step.
    #[napi]
    pub fn success(&self, message: String) {
        if let Some(run) = &self.run {
            run.success(message);
        }
    }

    /// Starts an LLM call of `model` at `provider`.
    #[napi]
    pub fn llm_call(&self, provider: String, model: String) -> NativeLlmCall {
        NativeLlmCall {
            call: self.run.as_ref().map(|run| run.llm_call(provider, model)),
        }
    }

    /// Scores the run: a named value with a comment.
    #[napi]
    pub fn score(&self, name: String, value: f64, comment: String) {
        if let Some(run) = &self.run {
            run.score(name, value, comment);
        }
    }

    /// Ends the run as completed with a quality score (0-1).
    #[napi]
    pub fn complete(&mut self, quality_score: f64) {
        if let Some(run) = self.run.take() {
            run.complete(quality_score);
        }
    }

    /// Ends the run as failed.
    #[napi]
    pub fn fail(&mut self, error: String) {
        if let Some(run) = self.run.take() {
            run.fail(error);
        }
    }

    /// Whether the run has not ended yet.
    #[napi]
    pub fn is_open(&self) -> bool {
        self.run.is_some()
    }
}

/// A tool call in progress.
#[napi]
pub struct NativeToolCall {
    call: Option<ToolCall>,
}

#[napi]
impl NativeToolCall {
    /// Ends the call with its result.
    #[napi]
    pub fn ok(&mut self, result: Option<Json>) {
        if let Some(call) = self.call.take() {
            call.ok(result
                .and_then(convert::value)
                .unwrap_or_else(|| Value::from("")));
        }
    }

    /// Ends the call with an error.
    #[napi]
    pub fn err(&mut self, error: String) {
        if let Some(call) = self.call.take() {
            call.err(error);
        }
    }
}

/// An LLM call in progress.
#[napi]
pub struct NativeLlmCall {
    call: Option<LlmCall>,
}

#[napi]
impl NativeLlmCall {
    /// The operation when not a chat completion (`text_completion`, `embeddings`, ...).
    #[napi]
    pub fn operation(&mut self, operation: String) {
        if let Some(call) = &mut self.call {
            call.operation(operation);
        }
    }

    /// The model that answered, when it differs from the one asked for.
    #[napi]
    pub fn response_model(&mut self, model: String) {
        if let Some(call) = &mut self.call {
            call.response_model(model);
        }
    }

    /// Input tokens (cached ones included) and output tokens (reasoning included).
    #[napi]
    pub fn usage(&mut self, input_tokens: f64, output_tokens: f64) {
        if let Some(call) = &mut self.call {
            call.usage(convert::count(input_tokens), convert::count(output_tokens));
        }
    }

    /// Input tokens read from and written to the provider's cache.
    #[napi]
    pub fn cache(&mut self, read: f64, write: f64) {
        if let Some(call) = &mut self.call {
            call.cache(convert::count(read), convert::count(write));
        }
    }

    /// Output tokens spent on reasoning.
    #[napi]
    pub fn reasoning(&mut self, tokens: f64) {
        if let Some(call) = &mut self.call {
            call.reasoning(convert::count(tokens));
        }
    }

    /// The messages sent, as JSON text in the GenAI messages shape.
    #[napi]
    pub fn input_messages(&mut self, json: String) {
        if let Some(call) = &mut self.call {
            call.input_messages(json);
        }
    }

    /// The messages answered, as JSON text in the GenAI messages shape.
    #[napi]
    pub fn output_messages(&mut self, json: String) {
        if let Some(call) = &mut self.call {
            call.output_messages(json);
        }
    }

    /// Ends the call, with why the model stopped (`stop`, `length`, ...).
    #[napi]
    pub fn ok(&mut self, finish_reason: String) {
        if let Some(call) = self.call.take() {
            call.ok(finish_reason);
        }
    }

    /// Ends the call with an error.
    #[napi]
    pub fn err(&mut self, error: String) {
        if let Some(call) = self.call.take() {
            call.err(error);
        }
    }
}
