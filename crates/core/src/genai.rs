//! One reading of GenAI and agent spans, whichever instrumentation wrote them: the
//! OpenTelemetry GenAI conventions (current and deprecated names), OpenInference,
//! Langfuse and our SDK, normalised into [`GenAiSpan`].
//!
//! The mapping is data: [`MAPPINGS`] lists every source attribute with its convention,
//! the field it fills and how its value is read. Within a field the entries are in
//! precedence order, so the first present one wins: current GenAI, then deprecated
//! GenAI, then OpenInference, then Langfuse, then our SDK. `docs/GENAI.md` documents the
//! table; a test keeps the two in step.
//!
//! Tokens: [`Usage::input`] counts every input token, cached ones included, and
//! [`Usage::output`] every output token, reasoning included, as the GenAI conventions
//! define them; [`Usage::cache_read`], [`Usage::cache_write`] and [`Usage::reasoning`]
//! are parts of those totals, so a price table can price cached tokens apart without
//! counting them twice. Langfuse's usage buckets, which are disjoint, are summed to
//! those totals.
//!
//! Messages: [`GenAiSpan::input_messages`] and [`GenAiSpan::output_messages`] are JSON
//! text in the GenAI messages shape (`[{"role": .., "parts": [{"type": "text",
//! "content": ..}, ..]}]`): GenAI's own attributes are kept as sent; OpenInference's
//! flattened lists, `input.value`/`output.value` and Langfuse's input and output are
//! rebuilt into it, within [`MAX_MESSAGES`], [`MAX_TOOL_CALLS`] and [`MAX_PARTS`].

use crate::otlp::any_to_json;
use crate::time::parse_rfc3339;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as V};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Map, Value as Json, json};
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

/// At most this many messages are rebuilt from one attribute (and finish reasons kept).
pub const MAX_MESSAGES: usize = 1_000;
/// At most this many tool calls are rebuilt per message.
pub const MAX_TOOL_CALLS: usize = 100;
/// At most this many content parts are rebuilt per message.
pub const MAX_PARTS: usize = 100;

/// The convention that defines a source attribute. The order of the variants is the
/// precedence: an earlier convention wins when several give the same field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Convention {
    /// The current OpenTelemetry GenAI semantic conventions.
    GenAi,
    /// Deprecated or renamed OpenTelemetry GenAI names.
    GenAiDeprecated,
    /// Arize's OpenInference semantic conventions.
    OpenInference,
    /// Langfuse's OpenTelemetry attributes.
    Langfuse,
    /// What our SDK writes beside the GenAI conventions.
    Sdk,
}

impl Convention {
    /// The name used in `docs/GENAI.md`.
    pub const fn name(self) -> &'static str {
        match self {
            Convention::GenAi => "OpenTelemetry GenAI",
            Convention::GenAiDeprecated => "OpenTelemetry GenAI (deprecated)",
            Convention::OpenInference => "OpenInference",
            Convention::Langfuse => "Langfuse",
            Convention::Sdk => "Automagik SDK",
        }
    }
}

/// A field of [`GenAiSpan`] that a source attribute fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// [`GenAiSpan::operation`].
    Operation,
    /// [`GenAiSpan::provider`].
    Provider,
    /// [`GenAiSpan::request_model`].
    RequestModel,
    /// [`GenAiSpan::response_model`].
    ResponseModel,
    /// [`Usage::input`].
    InputTokens,
    /// [`Usage::output`].
    OutputTokens,
    /// [`Usage::total`].
    TotalTokens,
    /// [`Usage::cache_read`].
    CacheReadTokens,
    /// [`Usage::cache_write`].
    CacheWriteTokens,
    /// [`Usage::reasoning`].
    ReasoningTokens,
    /// [`GenAiSpan::cost_usd`].
    CostUsd,
    /// [`GenAiSpan::session_id`].
    SessionId,
    /// [`GenAiSpan::user_id`].
    UserId,
    /// [`GenAiSpan::trace_name`].
    TraceName,
    /// [`GenAiSpan::agent_id`].
    AgentId,
    /// [`GenAiSpan::agent_name`].
    AgentName,
    /// [`GenAiSpan::tool_name`].
    ToolName,
    /// [`GenAiSpan::tool_call_id`].
    ToolCallId,
    /// [`GenAiSpan::tool_arguments`].
    ToolArguments,
    /// [`GenAiSpan::tool_result`].
    ToolResult,
    /// [`GenAiSpan::input_messages`].
    InputMessages,
    /// [`GenAiSpan::output_messages`].
    OutputMessages,
    /// [`GenAiSpan::system_instructions`].
    SystemInstructions,
    /// [`GenAiSpan::finish_reasons`].
    FinishReasons,
    /// [`GenAiSpan::time_to_first_token_ns`].
    TimeToFirstToken,
    /// [`GenAiSpan::completion_start_time_unix_nano`].
    CompletionStartTime,
    /// [`GenAiSpan::correlation_id`].
    CorrelationId,
    /// [`GenAiSpan::action_id`].
    ActionId,
    /// [`GenAiSpan::quality_score`].
    QualityScore,
    /// [`GenAiSpan::failed_status`].
    FailedStatus,
}

impl Field {
    /// The field's path in [`GenAiSpan`], as `docs/GENAI.md` names it.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Operation => "operation",
            Field::Provider => "provider",
            Field::RequestModel => "request_model",
            Field::ResponseModel => "response_model",
            Field::InputTokens => "usage.input",
            Field::OutputTokens => "usage.output",
            Field::TotalTokens => "usage.total",
            Field::CacheReadTokens => "usage.cache_read",
            Field::CacheWriteTokens => "usage.cache_write",
            Field::ReasoningTokens => "usage.reasoning",
            Field::CostUsd => "cost_usd",
            Field::SessionId => "session_id",
            Field::UserId => "user_id",
            Field::TraceName => "trace_name",
            Field::AgentId => "agent_id",
            Field::AgentName => "agent_name",
            Field::ToolName => "tool_name",
            Field::ToolCallId => "tool_call_id",
            Field::ToolArguments => "tool_arguments",
            Field::ToolResult => "tool_result",
            Field::InputMessages => "input_messages",
            Field::OutputMessages => "output_messages",
            Field::SystemInstructions => "system_instructions",
            Field::FinishReasons => "finish_reasons",
            Field::TimeToFirstToken => "time_to_first_token_ns",
            Field::CompletionStartTime => "completion_start_time_unix_nano",
            Field::CorrelationId => "correlation_id",
            Field::ActionId => "action_id",
            Field::QualityScore => "quality_score",
            Field::FailedStatus => "failed_status",
        }
    }
}

/// How a source attribute's value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A non-empty string (an integer is taken as its decimal text).
    Text,
    /// A token count: a non-negative finite number given as an int, a double or a
    /// numeric string (fractions are dropped).
    Count,
    /// A non-negative finite number given as an int, a double or a numeric string.
    Number,
    /// A [`Shape::Number`] plus the named attribute when present (OpenInference's
    /// prompt and completion costs).
    NumberPlus(&'static str),
    /// A non-negative duration in seconds, read as nanoseconds.
    Seconds,
    /// An RFC 3339 timestamp, possibly JSON-quoted, read as nanoseconds since the epoch.
    Timestamp,
    /// A list of strings: a string array, a JSON array text or one string.
    TextList,
    /// Content kept as JSON text: a string as sent, a structured value as JSON.
    Json,
    /// Content rebuilt into GenAI messages: plain text becomes one message; JSON with
    /// chat messages (`[{"role", "content"}]`, `{"messages": [..]}`, `{"choices": [..]}`)
    /// is converted; other JSON is kept as the text of one message.
    Messages,
    /// OpenInference's flattened message list under this prefix
    /// (`<prefix>.<i>.message.role`, `.content`, `.tool_calls.<j>.tool_call.*`, ...).
    FlattenedMessages,
    /// Langfuse's `usage_details` JSON object (disjoint buckets, summed).
    UsageDetails,
    /// Langfuse's `cost_details` JSON object: `total`, else the sum of the others.
    CostDetails,
    /// An operation name (GenAI), span kind (OpenInference) or observation type
    /// (Langfuse).
    Operation,
    /// `failed` is a failure; any other value is not.
    Status,
}

/// Which spans a source attribute is read on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every span.
    Any,
    /// Tool spans only (where a generic input or output is the tool's arguments or
    /// result).
    ToolOnly,
    /// Every span but tool spans.
    NotTool,
}

impl Scope {
    fn applies(self, is_tool: bool) -> bool {
        match self {
            Scope::Any => true,
            Scope::ToolOnly => is_tool,
            Scope::NotTool => !is_tool,
        }
    }
}

/// One source attribute of the mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The attribute's name (for [`Shape::FlattenedMessages`], the prefix).
    pub attribute: &'static str,
    /// The convention that defines it.
    pub convention: Convention,
    /// The field it fills.
    pub field: Field,
    /// How its value is read.
    pub shape: Shape,
    /// Which spans it is read on.
    pub scope: Scope,
}

const fn map(
    attribute: &'static str,
    convention: Convention,
    field: Field,
    shape: Shape,
    scope: Scope,
) -> Mapping {
    Mapping {
        attribute,
        convention,
        field,
        shape,
        scope,
    }
}

use Convention::{GenAi, GenAiDeprecated, Langfuse, OpenInference, Sdk};

/// The mapping: every source attribute, grouped by field, in precedence order within a
/// field (the first present one wins).
#[rustfmt::skip]
pub const MAPPINGS: &[Mapping] = &[
    map("gen_ai.operation.name", GenAi, Field::Operation, Shape::Operation, Scope::Any),
    map("openinference.span.kind", OpenInference, Field::Operation, Shape::Operation, Scope::Any),
    map("langfuse.observation.type", Langfuse, Field::Operation, Shape::Operation, Scope::Any),
    map("gen_ai.provider.name", GenAi, Field::Provider, Shape::Text, Scope::Any),
    map("gen_ai.system", GenAiDeprecated, Field::Provider, Shape::Text, Scope::Any),
    map("llm.provider", OpenInference, Field::Provider, Shape::Text, Scope::Any),
    map("llm.system", OpenInference, Field::Provider, Shape::Text, Scope::Any),
    map("gen_ai.request.model", GenAi, Field::RequestModel, Shape::Text, Scope::Any),
    map("llm.request.model_name", OpenInference, Field::RequestModel, Shape::Text, Scope::Any),
    map("gen_ai.response.model", GenAi, Field::ResponseModel, Shape::Text, Scope::Any),
    map("llm.response.model_name", OpenInference, Field::ResponseModel, Shape::Text, Scope::Any),
    map("llm.model_name", OpenInference, Field::ResponseModel, Shape::Text, Scope::Any),
    map("embedding.model_name", OpenInference, Field::ResponseModel, Shape::Text, Scope::Any),
    map("langfuse.observation.model.name", Langfuse, Field::ResponseModel, Shape::Text, Scope::Any),
    map("gen_ai.usage.input_tokens", GenAi, Field::InputTokens, Shape::Count, Scope::Any),
    map("gen_ai.usage.prompt_tokens", GenAiDeprecated, Field::InputTokens, Shape::Count, Scope::Any),
    map("llm.token_count.prompt", OpenInference, Field::InputTokens, Shape::Count, Scope::Any),
    map("langfuse.observation.usage_details", Langfuse, Field::InputTokens, Shape::UsageDetails, Scope::Any),
    map("gen_ai.usage.output_tokens", GenAi, Field::OutputTokens, Shape::Count, Scope::Any),
    map("gen_ai.usage.completion_tokens", GenAiDeprecated, Field::OutputTokens, Shape::Count, Scope::Any),
    map("llm.token_count.completion", OpenInference, Field::OutputTokens, Shape::Count, Scope::Any),
    map("langfuse.observation.usage_details", Langfuse, Field::OutputTokens, Shape::UsageDetails, Scope::Any),
    map("llm.token_count.total", OpenInference, Field::TotalTokens, Shape::Count, Scope::Any),
    map("langfuse.observation.usage_details", Langfuse, Field::TotalTokens, Shape::UsageDetails, Scope::Any),
    map("gen_ai.usage.cache_read.input_tokens", GenAi, Field::CacheReadTokens, Shape::Count, Scope::Any),
    map("llm.token_count.prompt_details.cache_read", OpenInference, Field::CacheReadTokens, Shape::Count, Scope::Any),
    map("langfuse.observation.usage_details", Langfuse, Field::CacheReadTokens, Shape::UsageDetails, Scope::Any),
    map("gen_ai.usage.cache_write.input_tokens", GenAi, Field::CacheWriteTokens, Shape::Count, Scope::Any),
    map("gen_ai.usage.cache_creation.input_tokens", GenAiDeprecated, Field::CacheWriteTokens, Shape::Count, Scope::Any),
    map("llm.token_count.prompt_details.cache_write", OpenInference, Field::CacheWriteTokens, Shape::Count, Scope::Any),
    map("langfuse.observation.usage_details", Langfuse, Field::CacheWriteTokens, Shape::UsageDetails, Scope::Any),
    map("gen_ai.usage.reasoning.output_tokens", GenAi, Field::ReasoningTokens, Shape::Count, Scope::Any),
    map("llm.token_count.completion_details.reasoning", OpenInference, Field::ReasoningTokens, Shape::Count, Scope::Any),
    map("langfuse.observation.usage_details", Langfuse, Field::ReasoningTokens, Shape::UsageDetails, Scope::Any),
    map("llm.cost.total", OpenInference, Field::CostUsd, Shape::Number, Scope::Any),
    map("llm.cost.prompt", OpenInference, Field::CostUsd, Shape::NumberPlus("llm.cost.completion"), Scope::Any),
    map("llm.cost.completion", OpenInference, Field::CostUsd, Shape::Number, Scope::Any),
    map("langfuse.observation.cost_details", Langfuse, Field::CostUsd, Shape::CostDetails, Scope::Any),
    map("gen_ai.usage.cost", Langfuse, Field::CostUsd, Shape::Number, Scope::Any),
    map("gen_ai.conversation.id", GenAi, Field::SessionId, Shape::Text, Scope::Any),
    map("session.id", OpenInference, Field::SessionId, Shape::Text, Scope::Any),
    map("langfuse.session.id", Langfuse, Field::SessionId, Shape::Text, Scope::Any),
    map("user.id", OpenInference, Field::UserId, Shape::Text, Scope::Any),
    map("langfuse.user.id", Langfuse, Field::UserId, Shape::Text, Scope::Any),
    map("langfuse.trace.name", Langfuse, Field::TraceName, Shape::Text, Scope::Any),
    map("gen_ai.agent.id", GenAi, Field::AgentId, Shape::Text, Scope::Any),
    map("gen_ai.agent.name", GenAi, Field::AgentName, Shape::Text, Scope::Any),
    map("agent.name", OpenInference, Field::AgentName, Shape::Text, Scope::Any),
    map("gen_ai.tool.name", GenAi, Field::ToolName, Shape::Text, Scope::Any),
    map("tool.name", OpenInference, Field::ToolName, Shape::Text, Scope::Any),
    map("gen_ai.tool.call.id", GenAi, Field::ToolCallId, Shape::Text, Scope::Any),
    map("tool.id", OpenInference, Field::ToolCallId, Shape::Text, Scope::Any),
    map("tool_call.id", OpenInference, Field::ToolCallId, Shape::Text, Scope::Any),
    map("gen_ai.tool.call.arguments", GenAi, Field::ToolArguments, Shape::Json, Scope::Any),
    map("input.value", OpenInference, Field::ToolArguments, Shape::Json, Scope::ToolOnly),
    map("langfuse.observation.input", Langfuse, Field::ToolArguments, Shape::Json, Scope::ToolOnly),
    map("gen_ai.tool.call.result", GenAi, Field::ToolResult, Shape::Json, Scope::Any),
    map("output.value", OpenInference, Field::ToolResult, Shape::Json, Scope::ToolOnly),
    map("langfuse.observation.output", Langfuse, Field::ToolResult, Shape::Json, Scope::ToolOnly),
    map("gen_ai.input.messages", GenAi, Field::InputMessages, Shape::Json, Scope::Any),
    map("gen_ai.prompt", GenAiDeprecated, Field::InputMessages, Shape::Messages, Scope::Any),
    map("llm.input_messages", OpenInference, Field::InputMessages, Shape::FlattenedMessages, Scope::Any),
    map("input.value", OpenInference, Field::InputMessages, Shape::Messages, Scope::NotTool),
    map("langfuse.observation.input", Langfuse, Field::InputMessages, Shape::Messages, Scope::NotTool),
    map("agent.prompt", Sdk, Field::InputMessages, Shape::Messages, Scope::Any),
    map("gen_ai.output.messages", GenAi, Field::OutputMessages, Shape::Json, Scope::Any),
    map("gen_ai.completion", GenAiDeprecated, Field::OutputMessages, Shape::Messages, Scope::Any),
    map("llm.output_messages", OpenInference, Field::OutputMessages, Shape::FlattenedMessages, Scope::Any),
    map("output.value", OpenInference, Field::OutputMessages, Shape::Messages, Scope::NotTool),
    map("langfuse.observation.output", Langfuse, Field::OutputMessages, Shape::Messages, Scope::NotTool),
    map("gen_ai.system_instructions", GenAi, Field::SystemInstructions, Shape::Json, Scope::Any),
    map("gen_ai.response.finish_reasons", GenAi, Field::FinishReasons, Shape::TextList, Scope::Any),
    map("llm.finish_reason", OpenInference, Field::FinishReasons, Shape::TextList, Scope::Any),
    map("gen_ai.response.time_to_first_chunk", GenAi, Field::TimeToFirstToken, Shape::Seconds, Scope::Any),
    map("langfuse.observation.completion_start_time", Langfuse, Field::CompletionStartTime, Shape::Timestamp, Scope::Any),
    map("correlation_id", Sdk, Field::CorrelationId, Shape::Text, Scope::Any),
    map("agent.action_id", Sdk, Field::ActionId, Shape::Text, Scope::Any),
    map("agent.quality_score", Sdk, Field::QualityScore, Shape::Number, Scope::Any),
    map("agent.status", Sdk, Field::FailedStatus, Shape::Status, Scope::Any),
];

/// Langfuse `usage_details` keys counted as cache reads (each also counts as input).
pub const LANGFUSE_CACHE_READ_KEYS: &[&str] = &[
    "input_cached_tokens",
    "input_cache_read",
    "cache_read_input_tokens",
    "input_cached_text_tokens",
    "input_cached_audio_tokens",
];
/// Langfuse `usage_details` keys counted as cache writes (each also counts as input).
pub const LANGFUSE_CACHE_WRITE_KEYS: &[&str] = &[
    "input_cache_creation",
    "input_cache_creation_5m",
    "input_cache_creation_1h",
    "input_cache_write",
    "cache_creation_input_tokens",
];
/// Langfuse `usage_details` keys counted as reasoning (each also counts as output).
pub const LANGFUSE_REASONING_KEYS: &[&str] = &["output_reasoning_tokens", "output_reasoning"];

/// Attribute name prefixes of every source that can give a span a GenAI meaning (an
/// operation, a model, a provider, tokens or a cost): a span without any is skipped
/// before the mapping is read.
const GENAI_PREFIXES: &[&str] = &[
    "gen_ai.",
    "llm.",
    "openinference.",
    "langfuse.",
    "embedding.",
];

/// What a GenAI span does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A chat completion (also OpenInference `LLM` and Langfuse `generation`).
    Chat,
    /// A legacy text completion.
    TextCompletion,
    /// A multimodal content generation (Gemini).
    GenerateContent,
    /// An embeddings call (also OpenInference `EMBEDDING`, Langfuse `embedding`).
    Embeddings,
    /// A tool call (also OpenInference `TOOL`, Langfuse `tool`).
    ExecuteTool,
    /// An agent run (also OpenInference `AGENT`, Langfuse `agent`).
    InvokeAgent,
    /// The creation of an agent (not a run).
    CreateAgent,
    /// A workflow of agents and steps (not an agent run).
    InvokeWorkflow,
    /// Anything else, by its name: other GenAI operation names as sent; OpenInference
    /// kinds and Langfuse types in lower case (`chain`, `retriever`, ...); `unknown`
    /// for a span with a model, a provider, tokens or a cost but no operation.
    Other(String),
}

impl Operation {
    /// The operation for a GenAI `gen_ai.operation.name` value.
    pub fn from_name(name: &str) -> Operation {
        match name {
            "chat" => Operation::Chat,
            "text_completion" => Operation::TextCompletion,
            "generate_content" => Operation::GenerateContent,
            "embeddings" => Operation::Embeddings,
            "execute_tool" => Operation::ExecuteTool,
            "invoke_agent" => Operation::InvokeAgent,
            "create_agent" => Operation::CreateAgent,
            "invoke_workflow" => Operation::InvokeWorkflow,
            other => Operation::Other(other.to_string()),
        }
    }

    /// The operation for an OpenInference `openinference.span.kind` (any case).
    pub fn from_openinference_kind(kind: &str) -> Operation {
        let kind = kind.to_ascii_lowercase();
        let known = match kind.as_str() {
            "llm" => Some(Operation::Chat),
            "embedding" => Some(Operation::Embeddings),
            "tool" => Some(Operation::ExecuteTool),
            "agent" => Some(Operation::InvokeAgent),
            _ => None,
        };
        known.unwrap_or(Operation::Other(kind))
    }

    /// The operation for a Langfuse `langfuse.observation.type` (any case); `None` for
    /// the generic `span` and `event`, which say nothing of GenAI.
    pub fn from_langfuse_type(kind: &str) -> Option<Operation> {
        let kind = kind.to_ascii_lowercase();
        let known = match kind.as_str() {
            "span" | "event" | "" => return None,
            "generation" => Some(Operation::Chat),
            "embedding" => Some(Operation::Embeddings),
            "tool" => Some(Operation::ExecuteTool),
            "agent" => Some(Operation::InvokeAgent),
            _ => None,
        };
        Some(known.unwrap_or(Operation::Other(kind)))
    }

    /// The GenAI name of the operation (`chat`, `invoke_agent`, ...; the name itself for
    /// [`Operation::Other`]).
    pub fn as_str(&self) -> &str {
        match self {
            Operation::Chat => "chat",
            Operation::TextCompletion => "text_completion",
            Operation::GenerateContent => "generate_content",
            Operation::Embeddings => "embeddings",
            Operation::ExecuteTool => "execute_tool",
            Operation::InvokeAgent => "invoke_agent",
            Operation::CreateAgent => "create_agent",
            Operation::InvokeWorkflow => "invoke_workflow",
            Operation::Other(name) => name.as_str(),
        }
    }

    /// A call to a model: chat, text completion, content generation or embeddings.
    pub fn is_llm_call(&self) -> bool {
        matches!(
            self,
            Operation::Chat
                | Operation::TextCompletion
                | Operation::GenerateContent
                | Operation::Embeddings
        )
    }

    /// An agent run: `invoke_agent` (OpenInference `AGENT` and Langfuse `agent` read as
    /// it). `create_agent` and `invoke_workflow` are not runs.
    pub fn is_agent(&self) -> bool {
        matches!(self, Operation::InvokeAgent)
    }

    /// A tool call.
    pub fn is_tool(&self) -> bool {
        matches!(self, Operation::ExecuteTool)
    }
}

/// Token counts, each present only when the span carries it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens, cached ones (read and written) included.
    pub input: Option<u64>,
    /// All output tokens, reasoning included.
    pub output: Option<u64>,
    /// The total as reported (OpenInference, Langfuse); see [`Usage::total_tokens`].
    pub total: Option<u64>,
    /// Input tokens served from a cache (part of [`Usage::input`]).
    pub cache_read: Option<u64>,
    /// Input tokens written to a cache (part of [`Usage::input`]).
    pub cache_write: Option<u64>,
    /// Output tokens spent on reasoning (part of [`Usage::output`]).
    pub reasoning: Option<u64>,
}

impl Usage {
    /// No count at all.
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }

    /// The reported total, else input plus output when either is known.
    pub fn total_tokens(&self) -> Option<u64> {
        self.total.or_else(|| match (self.input, self.output) {
            (None, None) => None,
            (i, o) => Some(i.unwrap_or(0).saturating_add(o.unwrap_or(0))),
        })
    }

    /// Input that is smaller than its cached parts cannot include them (some
    /// instrumentations report Anthropic's uncached input alone): they are added.
    fn include_cache(&mut self) {
        let cached = self
            .cache_read
            .unwrap_or(0)
            .saturating_add(self.cache_write.unwrap_or(0));
        if let Some(input) = self.input
            && input < cached
        {
            self.input = Some(input.saturating_add(cached));
        }
    }
}

/// A span read through [`MAPPINGS`].
#[derive(Clone, Debug, PartialEq)]
pub struct GenAiSpan {
    /// What the span does.
    pub operation: Operation,
    /// The provider (`openai`, `aws.bedrock`, ...).
    pub provider: Option<String>,
    /// The model asked for.
    pub request_model: Option<String>,
    /// The model that answered.
    pub response_model: Option<String>,
    /// Token counts.
    pub usage: Usage,
    /// The cost in USD, only when the span carries one.
    pub cost_usd: Option<f64>,
    /// The conversation or session.
    pub session_id: Option<String>,
    /// The user (our SDK sends it hashed).
    pub user_id: Option<String>,
    /// Langfuse's trace name.
    pub trace_name: Option<String>,
    /// The agent's id.
    pub agent_id: Option<String>,
    /// The agent's name (the span name is the caller's fallback for a run).
    pub agent_name: Option<String>,
    /// The tool's name (the span name is the caller's fallback for a tool call).
    pub tool_name: Option<String>,
    /// The tool call's id.
    pub tool_call_id: Option<String>,
    /// The tool call's arguments, as JSON text (or the text sent).
    pub tool_arguments: Option<String>,
    /// The tool call's result, as JSON text (or the text sent).
    pub tool_result: Option<String>,
    /// The input messages, as JSON text in the GenAI messages shape.
    pub input_messages: Option<String>,
    /// The output messages, as JSON text in the GenAI messages shape.
    pub output_messages: Option<String>,
    /// The system instructions given apart from the messages, as JSON text.
    pub system_instructions: Option<String>,
    /// Why the model stopped, one per choice (at most [`MAX_MESSAGES`]).
    pub finish_reasons: Vec<String>,
    /// Time to the first token or chunk, ns ([`normalise_span`] also derives it from
    /// Langfuse's completion start time).
    pub time_to_first_token_ns: Option<u64>,
    /// When the completion started (Langfuse), ns since the epoch.
    pub completion_start_time_unix_nano: Option<u64>,
    /// Our SDK's correlation id of the run.
    pub correlation_id: Option<String>,
    /// Our SDK's action id of a tool call.
    pub action_id: Option<String>,
    /// Our SDK's quality score of a run.
    pub quality_score: Option<f64>,
    /// Our SDK's `agent.status`: `Some(true)` for `failed`, `Some(false)` otherwise.
    pub failed_status: Option<bool>,
}

impl GenAiSpan {
    /// The model that answered, else the one asked for.
    pub fn model(&self) -> Option<&str> {
        self.response_model
            .as_deref()
            .or(self.request_model.as_deref())
    }
}

/// Reads a span's attributes through [`MAPPINGS`]; `None` for a span with no GenAI
/// meaning (no operation, model, provider, token count or cost). Without an operation
/// attribute, a span named `<operation> ...` (`chat gpt-4o`) with a model is that GenAI
/// operation; a span with only a model, a provider, tokens or a cost is
/// `Other("unknown")`.
pub fn normalise(attributes: &[KeyValue], span_name: &str) -> Option<GenAiSpan> {
    if !attributes.iter().any(|kv| is_genai_key(&kv.key)) {
        return None;
    }
    let a = Attrs::new(attributes);
    let request_model = sources(Field::RequestModel, false).find_map(|m| a.text(m));
    let response_model = sources(Field::ResponseModel, false).find_map(|m| a.text(m));
    let provider = sources(Field::Provider, false).find_map(|m| a.text(m));
    let count = |field| sources(field, false).find_map(|m| a.count(m));
    let mut usage = Usage {
        input: count(Field::InputTokens),
        output: count(Field::OutputTokens),
        total: count(Field::TotalTokens),
        cache_read: count(Field::CacheReadTokens),
        cache_write: count(Field::CacheWriteTokens),
        reasoning: count(Field::ReasoningTokens),
    };
    usage.include_cache();
    let cost_usd = sources(Field::CostUsd, false).find_map(|m| a.number(m));
    let has_model = request_model.is_some() || response_model.is_some();
    let operation = sources(Field::Operation, false)
        .find_map(|m| a.operation(m))
        .or_else(|| {
            has_model
                .then(|| operation_from_span_name(span_name))
                .flatten()
        });
    let operation = match operation {
        Some(op) => op,
        None if has_model || provider.is_some() || cost_usd.is_some() || !usage.is_empty() => {
            Operation::Other("unknown".to_string())
        }
        None => return None,
    };
    let tool = operation.is_tool();
    let text = |field| sources(field, tool).find_map(|m| a.text(m));
    let content = |field, role| sources(field, tool).find_map(|m| a.content(m, role));
    let nanos = |field| sources(field, tool).find_map(|m| a.nanos(m));
    let number = |field| sources(field, tool).find_map(|m| a.number(m));
    Some(GenAiSpan {
        provider,
        request_model,
        response_model,
        usage,
        cost_usd,
        session_id: text(Field::SessionId),
        user_id: text(Field::UserId),
        trace_name: text(Field::TraceName),
        agent_id: text(Field::AgentId),
        agent_name: text(Field::AgentName),
        tool_name: text(Field::ToolName),
        tool_call_id: text(Field::ToolCallId),
        tool_arguments: content(Field::ToolArguments, "user"),
        tool_result: content(Field::ToolResult, "assistant"),
        input_messages: content(Field::InputMessages, "user"),
        output_messages: content(Field::OutputMessages, "assistant"),
        system_instructions: content(Field::SystemInstructions, "system"),
        finish_reasons: sources(Field::FinishReasons, tool)
            .find_map(|m| a.list(m))
            .unwrap_or_default(),
        time_to_first_token_ns: nanos(Field::TimeToFirstToken),
        completion_start_time_unix_nano: nanos(Field::CompletionStartTime),
        correlation_id: text(Field::CorrelationId),
        action_id: text(Field::ActionId),
        quality_score: number(Field::QualityScore),
        failed_status: sources(Field::FailedStatus, tool).find_map(|m| a.flag(m)),
        operation,
    })
}

/// [`normalise`] for a whole span; also derives the time to first token from Langfuse's
/// completion start time when no convention gives it directly.
pub fn normalise_span(span: &Span) -> Option<GenAiSpan> {
    let mut g = normalise(&span.attributes, &span.name)?;
    let start = span.start_time_unix_nano;
    if g.time_to_first_token_ns.is_none()
        && start > 0
        && let Some(first) = g.completion_start_time_unix_nano
        && first >= start
    {
        g.time_to_first_token_ns = Some(first - start);
    }
    Some(g)
}

fn is_genai_key(key: &str) -> bool {
    GENAI_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The mappings of a field that apply, in precedence order.
fn sources(field: Field, is_tool: bool) -> impl Iterator<Item = &'static Mapping> {
    SOURCES
        .get(&(field, is_tool))
        .into_iter()
        .flatten()
        .copied()
}

/// [`sources`] of every field, for a tool span and for another, found once instead of
/// by a pass over every mapping for each field of each span.
static SOURCES: LazyLock<HashMap<(Field, bool), Vec<&'static Mapping>>> = LazyLock::new(|| {
    let mut sources: HashMap<(Field, bool), Vec<&'static Mapping>> = HashMap::new();
    for is_tool in [false, true] {
        for m in MAPPINGS.iter().filter(|m| m.scope.applies(is_tool)) {
            sources.entry((m.field, is_tool)).or_default().push(m);
        }
    }
    sources
});

/// The attributes some mapping reads by name (not by prefix): the only ones
/// [`Attrs::any`] looks among.
static MAPPED_KEYS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    MAPPINGS
        .iter()
        .filter(|m| m.shape != Shape::FlattenedMessages)
        .map(|m| m.attribute)
        .collect()
});

/// `<operation> <model>`: the GenAI span name, when it starts with a known operation.
fn operation_from_span_name(name: &str) -> Option<Operation> {
    match Operation::from_name(name.split(' ').next()?) {
        Operation::Other(_) => None,
        op => Some(op),
    }
}

/// A span's attributes, with Langfuse's usage details parsed at most once.
struct Attrs<'a> {
    kvs: &'a [KeyValue],
    /// The attributes of `kvs` whose key is in [`MAPPED_KEYS`], in order.
    mapped: Vec<&'a KeyValue>,
    usage: OnceCell<LangfuseUsage>,
}

impl<'a> Attrs<'a> {
    fn new(kvs: &'a [KeyValue]) -> Self {
        Attrs {
            kvs,
            mapped: kvs
                .iter()
                .filter(|kv| MAPPED_KEYS.contains(kv.key.as_str()))
                .collect(),
            usage: OnceCell::new(),
        }
    }

    /// The value of an attribute some mapping names (a repeated key keeps its last value).
    fn any(&self, key: &str) -> Option<&AnyValue> {
        self.mapped
            .iter()
            .rev()
            .find(|kv| kv.key == key)?
            .value
            .as_ref()
    }

    fn number_of(&self, key: &str) -> Option<f64> {
        let number = match self.any(key)?.value.as_ref()? {
            V::DoubleValue(d) => *d,
            V::IntValue(i) => *i as f64,
            V::StringValue(s) => s.parse().ok()?,
            _ => return None,
        };
        non_negative(number)
    }

    fn text(&self, m: &Mapping) -> Option<String> {
        match m.shape {
            Shape::Text => match self.any(m.attribute)?.value.as_ref()? {
                V::StringValue(s) if !s.is_empty() => Some(s.clone()),
                V::IntValue(i) => Some(i.to_string()),
                _ => None,
            },
            _ => None,
        }
    }

    fn count(&self, m: &Mapping) -> Option<u64> {
        match m.shape {
            Shape::Count => self.number_of(m.attribute).map(|n| n as u64),
            Shape::UsageDetails => {
                let u = self
                    .usage
                    .get_or_init(|| LangfuseUsage::read(self.any(m.attribute)));
                match m.field {
                    Field::InputTokens => u.input,
                    Field::OutputTokens => u.output,
                    Field::TotalTokens => u.total,
                    Field::CacheReadTokens => u.cache_read,
                    Field::CacheWriteTokens => u.cache_write,
                    Field::ReasoningTokens => u.reasoning,
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn number(&self, m: &Mapping) -> Option<f64> {
        match m.shape {
            Shape::Number => self.number_of(m.attribute),
            Shape::NumberPlus(other) => {
                let n = self.number_of(m.attribute)?;
                Some(n + self.number_of(other).unwrap_or(0.0))
            }
            Shape::CostDetails => cost_details(self.any(m.attribute)?),
            _ => None,
        }
    }

    fn content(&self, m: &Mapping, role: &str) -> Option<String> {
        match m.shape {
            Shape::Json => json_text(self.any(m.attribute)?),
            Shape::Messages => messages_text(self.any(m.attribute)?, role),
            Shape::FlattenedMessages => flattened_messages(self.kvs, m.attribute, role),
            _ => None,
        }
    }

    fn list(&self, m: &Mapping) -> Option<Vec<String>> {
        match m.shape {
            Shape::TextList => text_list(self.any(m.attribute)?),
            _ => None,
        }
    }

    fn nanos(&self, m: &Mapping) -> Option<u64> {
        match m.shape {
            Shape::Seconds => self.number_of(m.attribute).map(|s| (s * 1e9) as u64),
            Shape::Timestamp => timestamp(self.any(m.attribute)?),
            _ => None,
        }
    }

    fn flag(&self, m: &Mapping) -> Option<bool> {
        match (m.shape, self.any(m.attribute)?.value.as_ref()?) {
            (Shape::Status, V::StringValue(s)) if !s.is_empty() => Some(s == "failed"),
            _ => None,
        }
    }

    fn operation(&self, m: &Mapping) -> Option<Operation> {
        let (Shape::Operation, V::StringValue(s)) =
            (m.shape, self.any(m.attribute)?.value.as_ref()?)
        else {
            return None;
        };
        if s.is_empty() {
            return None;
        }
        match m.convention {
            Convention::OpenInference => Some(Operation::from_openinference_kind(s)),
            Convention::Langfuse => Operation::from_langfuse_type(s),
            _ => Some(Operation::from_name(s)),
        }
    }
}

/// A non-negative finite number.
fn non_negative(n: f64) -> Option<f64> {
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// A JSON number or numeric string, non-negative and finite.
fn json_number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64().and_then(non_negative),
        Json::String(s) => s.trim().parse::<f64>().ok().and_then(non_negative),
        _ => None,
    }
}

/// A structured value as JSON, or a string parsed as JSON.
fn json_of(v: &AnyValue) -> Option<Json> {
    match v.value.as_ref()? {
        V::StringValue(s) => serde_json::from_str(s).ok(),
        V::ArrayValue(_) | V::KvlistValue(_) => Some(any_to_json(v)),
        _ => None,
    }
}

/// Langfuse's usage buckets summed to our totals: every key containing `input` counts
/// as input and every key containing `output` as output, as Langfuse's own UI sums
/// them; `total` is the total.
#[derive(Clone, Copy, Debug, Default)]
struct LangfuseUsage {
    input: Option<u64>,
    output: Option<u64>,
    total: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    reasoning: Option<u64>,
}

impl LangfuseUsage {
    fn read(v: Option<&AnyValue>) -> LangfuseUsage {
        let mut u = LangfuseUsage::default();
        let Some(Json::Object(map)) = v.and_then(json_of) else {
            return u;
        };
        let add =
            |slot: &mut Option<u64>, n: u64| *slot = Some(slot.unwrap_or(0).saturating_add(n));
        for (key, value) in &map {
            let Some(n) = json_number(value).map(|n| n as u64) else {
                continue;
            };
            let key = key.as_str();
            if key == "total" {
                u.total = Some(n);
                continue;
            }
            if key.contains("input") {
                add(&mut u.input, n);
            } else if key.contains("output") {
                add(&mut u.output, n);
            }
            if LANGFUSE_CACHE_READ_KEYS.contains(&key) {
                add(&mut u.cache_read, n);
            }
            if LANGFUSE_CACHE_WRITE_KEYS.contains(&key) {
                add(&mut u.cache_write, n);
            }
            if LANGFUSE_REASONING_KEYS.contains(&key) {
                add(&mut u.reasoning, n);
            }
        }
        u
    }
}

/// Langfuse's `cost_details`: `total`, else the sum of the other entries.
fn cost_details(v: &AnyValue) -> Option<f64> {
    let Json::Object(map) = json_of(v)? else {
        return None;
    };
    if let Some(total) = map.get("total").and_then(json_number) {
        return Some(total);
    }
    map.values()
        .filter_map(json_number)
        .fold(None, |sum, c| Some(sum.unwrap_or(0.0) + c))
}

/// A string as sent; any other value as JSON text.
fn json_text(v: &AnyValue) -> Option<String> {
    match v.value.as_ref()? {
        V::StringValue(s) if s.is_empty() => None,
        V::StringValue(s) => Some(s.clone()),
        _ => Some(any_to_json(v).to_string()),
    }
}

fn text_list(v: &AnyValue) -> Option<Vec<String>> {
    let list: Vec<String> = match v.value.as_ref()? {
        V::ArrayValue(a) => a
            .values
            .iter()
            .filter_map(|x| match x.value.as_ref()? {
                V::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .take(MAX_MESSAGES)
            .collect(),
        V::StringValue(s) if s.trim_start().starts_with('[') => {
            serde_json::from_str::<Vec<Json>>(s)
                .ok()?
                .into_iter()
                .filter_map(|j| match j {
                    Json::String(s) => Some(s),
                    _ => None,
                })
                .take(MAX_MESSAGES)
                .collect()
        }
        V::StringValue(s) if !s.is_empty() => vec![s.clone()],
        _ => return None,
    };
    (!list.is_empty()).then_some(list)
}

/// RFC 3339, possibly JSON-quoted (`"\"2025-10-01T08:45:26.112648Z\""`, as Langfuse's
/// SDKs send it); without an offset, UTC.
fn timestamp(v: &AnyValue) -> Option<u64> {
    let V::StringValue(s) = v.value.as_ref()? else {
        return None;
    };
    let s = s.trim().trim_matches('"');
    parse_rfc3339(s).or_else(|| parse_rfc3339(&format!("{s}Z")))
}

fn text_part(content: String) -> Json {
    json!({"type": "text", "content": content})
}

fn text_message(role: &str, content: String) -> Json {
    json!({"role": role, "parts": [text_part(content)]})
}

/// A tool call's arguments: parsed when they are JSON text, else kept as text.
fn arguments_json(text: String) -> Json {
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        match serde_json::from_str::<Json>(&text) {
            Ok(j) => return j,
            Err(_) => return Json::String(text),
        }
    }
    Json::String(text)
}

fn tool_call_part(id: Option<String>, name: String, arguments: Option<Json>) -> Json {
    let mut part = Map::new();
    part.insert("type".into(), "tool_call".into());
    if let Some(id) = id {
        part.insert("id".into(), Json::String(id));
    }
    part.insert("name".into(), Json::String(name));
    if let Some(arguments) = arguments {
        part.insert("arguments".into(), arguments);
    }
    Json::Object(part)
}

/// Message content (text or JSON) as GenAI messages JSON text.
fn messages_text(v: &AnyValue, role: &str) -> Option<String> {
    let messages = match v.value.as_ref()? {
        V::StringValue(s) if s.trim().is_empty() => return None,
        V::StringValue(s) => messages_from_text(s, role),
        V::ArrayValue(_) | V::KvlistValue(_) => {
            let j = any_to_json(v);
            messages_from_json(&j, role)
                .unwrap_or_else(|| Json::Array(vec![text_message(role, j.to_string())]))
        }
        _ => return None,
    };
    Some(messages.to_string())
}

/// Text holding chat messages in JSON is converted; any other text is one message.
fn messages_from_text(s: &str, role: &str) -> Json {
    let t = s.trim_start();
    if (t.starts_with('[') || t.starts_with('{'))
        && let Ok(j) = serde_json::from_str::<Json>(s)
        && let Some(messages) = messages_from_json(&j, role)
    {
        return messages;
    }
    Json::Array(vec![text_message(role, s.to_string())])
}

/// Chat messages in JSON: a list of `{"role", ...}` objects, `{"messages": [..]}`, one
/// message, or a completion response's `{"choices": [..]}`.
fn messages_from_json(j: &Json, role: &str) -> Option<Json> {
    let list: &[Json] = match j {
        Json::Array(a) => a.as_slice(),
        Json::Object(o) => match (o.get("messages"), o.get("choices")) {
            (Some(Json::Array(a)), _) => a.as_slice(),
            (_, Some(Json::Array(c))) => return choices_to_messages(c),
            _ if o.contains_key("role") => std::slice::from_ref(j),
            _ => return None,
        },
        _ => return None,
    };
    if list.is_empty()
        || !list
            .iter()
            .all(|m| m.get("role").is_some_and(Json::is_string))
    {
        return None;
    }
    Some(Json::Array(
        list.iter()
            .take(MAX_MESSAGES)
            .map(|m| message_from_json(m, role))
            .collect(),
    ))
}

fn choices_to_messages(choices: &[Json]) -> Option<Json> {
    let messages: Vec<Json> = choices
        .iter()
        .take(MAX_MESSAGES)
        .filter_map(|choice| {
            let mut m = match (choice.get("message"), choice.get("text")) {
                (Some(msg), _) if msg.is_object() => message_from_json(msg, "assistant"),
                (_, Some(Json::String(t))) => text_message("assistant", t.clone()),
                _ => return None,
            };
            if let Some(reason) = choice.get("finish_reason").and_then(Json::as_str)
                && let Json::Object(o) = &mut m
            {
                o.insert("finish_reason".into(), reason.into());
            }
            Some(m)
        })
        .collect();
    (!messages.is_empty()).then_some(Json::Array(messages))
}

/// One chat message (OpenAI or Anthropic style) as a GenAI message; a GenAI message
/// (with `parts`) is kept.
fn message_from_json(m: &Json, role: &str) -> Json {
    let Some(o) = m.as_object() else {
        return text_message(role, m.to_string());
    };
    if o.get("parts").is_some_and(Json::is_array) {
        return m.clone();
    }
    let role = o.get("role").and_then(Json::as_str).unwrap_or(role);
    let mut parts = Vec::new();
    match (role, o.get("tool_call_id").and_then(Json::as_str)) {
        ("tool", Some(id)) => parts.push(json!({
            "type": "tool_call_response",
            "id": id,
            "response": o.get("content").cloned().unwrap_or(Json::Null),
        })),
        _ => match o.get("content") {
            Some(Json::String(s)) => parts.push(text_part(s.clone())),
            Some(Json::Array(items)) => {
                parts.extend(items.iter().take(MAX_PARTS).map(part_from_json));
            }
            Some(Json::Null) | None => {}
            Some(other) => parts.push(text_part(other.to_string())),
        },
    }
    if let Some(Json::Array(calls)) = o.get("tool_calls") {
        parts.extend(
            calls
                .iter()
                .take(MAX_TOOL_CALLS)
                .filter_map(tool_call_from_json),
        );
    }
    let mut out = Map::new();
    out.insert("role".into(), role.into());
    out.insert("parts".into(), Json::Array(parts));
    if let Some(name) = o.get("name").and_then(Json::as_str) {
        out.insert("name".into(), name.into());
    }
    Json::Object(out)
}

/// One content item (OpenAI or Anthropic style) as a GenAI part; unknown items are kept.
fn part_from_json(item: &Json) -> Json {
    let Some(o) = item.as_object() else {
        return match item {
            Json::String(s) => text_part(s.clone()),
            other => text_part(other.to_string()),
        };
    };
    let text = |key: &str| o.get(key).and_then(Json::as_str).map(str::to_string);
    match o.get("type").and_then(Json::as_str).unwrap_or("") {
        "text" | "input_text" | "output_text" => match text("text").or_else(|| text("content")) {
            Some(t) => text_part(t),
            None => item.clone(),
        },
        "image_url" => match o
            .get("image_url")
            .and_then(|i| i.get("url"))
            .and_then(Json::as_str)
        {
            Some(url) => json!({"type": "uri", "modality": "image", "uri": url}),
            None => item.clone(),
        },
        "thinking" => match text("thinking") {
            Some(t) => json!({"type": "reasoning", "content": t}),
            None => item.clone(),
        },
        "tool_use" => match text("name") {
            Some(name) => tool_call_part(text("id"), name, o.get("input").cloned()),
            None => item.clone(),
        },
        "tool_result" => json!({
            "type": "tool_call_response",
            "id": o.get("tool_use_id"),
            "response": o.get("content"),
        }),
        _ => item.clone(),
    }
}

/// An OpenAI tool call (`{"id", "function": {"name", "arguments"}}`) as a GenAI part.
fn tool_call_from_json(call: &Json) -> Option<Json> {
    let function = call.get("function")?;
    let name = function.get("name").and_then(Json::as_str)?.to_string();
    let id = call.get("id").and_then(Json::as_str).map(str::to_string);
    let arguments = match function.get("arguments") {
        Some(Json::String(s)) => Some(arguments_json(s.clone())),
        Some(other) => Some(other.clone()),
        None => None,
    };
    Some(tool_call_part(id, name, arguments))
}

/// `<digits>.<rest>`.
fn split_index(s: &str) -> Option<(usize, &str)> {
    let (digits, rest) = s.split_once('.')?;
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, rest))
}

#[derive(Default)]
struct FlatToolCall {
    id: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
}

impl FlatToolCall {
    fn set(&mut self, slot: ToolSlot, value: String) {
        match slot {
            ToolSlot::Id => self.id = Some(value),
            ToolSlot::Name => self.name = Some(value),
            ToolSlot::Arguments => self.arguments = Some(value),
        }
    }

    fn into_part(self) -> Option<Json> {
        if self.name.is_none() && self.id.is_none() {
            return None;
        }
        Some(tool_call_part(
            self.id,
            self.name.unwrap_or_default(),
            self.arguments.map(arguments_json),
        ))
    }
}

#[derive(Default)]
struct FlatContent {
    kind: Option<String>,
    text: Option<String>,
    image_url: Option<String>,
    tool: FlatToolCall,
}

impl FlatContent {
    fn into_part(self) -> Option<Json> {
        match self.kind.as_deref() {
            Some("image") => self
                .image_url
                .map(|url| json!({"type": "uri", "modality": "image", "uri": url})),
            Some("tool_use") => self.tool.into_part(),
            Some("reasoning") => self
                .text
                .map(|t| json!({"type": "reasoning", "content": t})),
            _ => match (self.text, self.image_url) {
                (Some(t), _) => Some(text_part(t)),
                (None, Some(url)) => Some(json!({"type": "uri", "modality": "image", "uri": url})),
                (None, None) => None,
            },
        }
    }
}

#[derive(Default)]
struct FlatMessage {
    role: Option<String>,
    content: Option<String>,
    name: Option<String>,
    tool_call_id: Option<String>,
    function_name: Option<String>,
    function_arguments: Option<String>,
    contents: BTreeMap<usize, FlatContent>,
    tool_calls: BTreeMap<usize, FlatToolCall>,
}

impl FlatMessage {
    fn into_json(self, default_role: &str) -> Json {
        let role = self.role.unwrap_or_else(|| default_role.to_string());
        let mut parts = Vec::new();
        match (role == "tool", self.tool_call_id) {
            (true, Some(id)) => parts.push(json!({
                "type": "tool_call_response",
                "id": id,
                "response": self.content,
            })),
            _ => {
                if let Some(content) = self.content {
                    parts.push(text_part(content));
                }
            }
        }
        parts.extend(
            self.contents
                .into_values()
                .filter_map(FlatContent::into_part),
        );
        if let Some(name) = self.function_name {
            parts.push(tool_call_part(
                None,
                name,
                self.function_arguments.map(arguments_json),
            ));
        }
        parts.extend(
            self.tool_calls
                .into_values()
                .filter_map(FlatToolCall::into_part),
        );
        let mut out = Map::new();
        out.insert("role".into(), Json::String(role));
        out.insert("parts".into(), Json::Array(parts));
        if let Some(name) = self.name {
            out.insert("name".into(), Json::String(name));
        }
        Json::Object(out)
    }
}

#[derive(Clone, Copy)]
enum ToolSlot {
    Id,
    Name,
    Arguments,
}

#[derive(Clone, Copy)]
enum ContentSlot {
    Kind,
    Text,
    ImageUrl,
    Tool(ToolSlot),
}

#[derive(Clone, Copy)]
enum Slot {
    Role,
    Content,
    Name,
    ToolCallId,
    FunctionName,
    FunctionArguments,
    Contents(usize, ContentSlot),
    ToolCall(usize, ToolSlot),
}

fn tool_slot(s: &str) -> Option<ToolSlot> {
    match s {
        "tool_call.id" => Some(ToolSlot::Id),
        "tool_call.function.name" => Some(ToolSlot::Name),
        "tool_call.function.arguments" => Some(ToolSlot::Arguments),
        _ => None,
    }
}

/// What `<prefix>.<i>.message.<s>` sets; `None` for keys we do not read and for
/// indexes past the bounds.
fn message_slot(s: &str) -> Option<Slot> {
    Some(match s {
        "role" => Slot::Role,
        "content" => Slot::Content,
        "name" => Slot::Name,
        "tool_call_id" => Slot::ToolCallId,
        "function_call_name" => Slot::FunctionName,
        "function_call_arguments_json" => Slot::FunctionArguments,
        _ => {
            if let Some(rest) = s.strip_prefix("tool_calls.") {
                let (j, rest) = split_index(rest)?;
                if j >= MAX_TOOL_CALLS {
                    return None;
                }
                Slot::ToolCall(j, tool_slot(rest)?)
            } else if let Some(rest) = s.strip_prefix("contents.") {
                let (k, rest) = split_index(rest)?;
                if k >= MAX_PARTS {
                    return None;
                }
                let slot = match rest {
                    "message_content.type" => ContentSlot::Kind,
                    "message_content.text" => ContentSlot::Text,
                    "message_content.image.image.url" => ContentSlot::ImageUrl,
                    _ => ContentSlot::Tool(tool_slot(rest)?),
                };
                Slot::Contents(k, slot)
            } else {
                return None;
            }
        }
    })
}

/// A flattened value as text (strings; numbers and booleans as their text).
fn flat_text(v: &AnyValue) -> Option<String> {
    match v.value.as_ref()? {
        V::StringValue(s) => Some(s.clone()),
        V::IntValue(i) => Some(i.to_string()),
        V::DoubleValue(d) => Some(d.to_string()),
        V::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

/// OpenInference's flattened messages under `prefix`, rebuilt in index order as GenAI
/// messages JSON text; `None` when there are none.
fn flattened_messages(kvs: &[KeyValue], prefix: &str, role: &str) -> Option<String> {
    let mut messages: BTreeMap<usize, FlatMessage> = BTreeMap::new();
    for kv in kvs {
        let Some(rest) = kv
            .key
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('.'))
        else {
            continue;
        };
        let Some((i, rest)) = split_index(rest) else {
            continue;
        };
        if i >= MAX_MESSAGES {
            continue;
        }
        let Some(slot) = rest.strip_prefix("message.").and_then(message_slot) else {
            continue;
        };
        let Some(value) = kv.value.as_ref().and_then(flat_text) else {
            continue;
        };
        let m = messages.entry(i).or_default();
        match slot {
            Slot::Role => m.role = Some(value),
            Slot::Content => m.content = Some(value),
            Slot::Name => m.name = Some(value),
            Slot::ToolCallId => m.tool_call_id = Some(value),
            Slot::FunctionName => m.function_name = Some(value),
            Slot::FunctionArguments => m.function_arguments = Some(value),
            Slot::ToolCall(j, t) => m.tool_calls.entry(j).or_default().set(t, value),
            Slot::Contents(k, c) => {
                let part = m.contents.entry(k).or_default();
                match c {
                    ContentSlot::Kind => part.kind = Some(value),
                    ContentSlot::Text => part.text = Some(value),
                    ContentSlot::ImageUrl => part.image_url = Some(value),
                    ContentSlot::Tool(t) => part.tool.set(t, value),
                }
            }
        }
    }
    if messages.is_empty() {
        return None;
    }
    let list: Vec<Json> = messages.into_values().map(|m| m.into_json(role)).collect();
    Some(Json::Array(list).to_string())
}

#[cfg(test)]
mod tests;
