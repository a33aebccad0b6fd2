use super::*;
use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, V::StringValue(value.into()))
}

fn i(key: &str, value: i64) -> KeyValue {
    kv(key, V::IntValue(value))
}

fn d(key: &str, value: f64) -> KeyValue {
    kv(key, V::DoubleValue(value))
}

fn obj(values: Vec<KeyValue>) -> AnyValue {
    AnyValue {
        value: Some(V::KvlistValue(KeyValueList { values })),
    }
}

fn arr(values: Vec<AnyValue>) -> AnyValue {
    AnyValue {
        value: Some(V::ArrayValue(ArrayValue { values })),
    }
}

fn strings(values: &[&str]) -> V {
    V::ArrayValue(ArrayValue {
        values: values
            .iter()
            .map(|v| AnyValue {
                value: Some(V::StringValue(v.to_string())),
            })
            .collect(),
    })
}

/// JSON text parsed, to compare with `json!` whatever the key order.
fn parsed(text: &Option<String>) -> Json {
    serde_json::from_str(text.as_deref().expect("present")).expect("JSON text")
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-12)
}

#[test]
fn current_genai_span() {
    let output = arr(vec![obj(vec![
        s("role", "assistant"),
        KeyValue {
            key: "parts".into(),
            value: Some(arr(vec![obj(vec![
                s("type", "text"),
                s("content", "Rainy."),
            ])])),
            ..Default::default()
        },
        s("finish_reason", "stop"),
    ])]);
    let input = r#"[{"role":"user","parts":[{"type":"text","content":"Weather?"}]}]"#;
    let attrs = vec![
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.provider.name", "openai"),
        s("gen_ai.request.model", "gpt-4o"),
        s("gen_ai.response.model", "gpt-4o-2024-08-06"),
        i("gen_ai.usage.input_tokens", 100),
        i("gen_ai.usage.output_tokens", 50),
        i("gen_ai.usage.cache_read.input_tokens", 40),
        i("gen_ai.usage.cache_write.input_tokens", 10),
        i("gen_ai.usage.reasoning.output_tokens", 20),
        s("gen_ai.conversation.id", "conv_1"),
        kv(
            "gen_ai.response.finish_reasons",
            strings(&["stop", "length"]),
        ),
        d("gen_ai.response.time_to_first_chunk", 0.25),
        s("gen_ai.input.messages", input),
        KeyValue {
            key: "gen_ai.output.messages".into(),
            value: Some(output),
            ..Default::default()
        },
        s(
            "gen_ai.system_instructions",
            r#"[{"type":"text","content":"Be brief."}]"#,
        ),
    ];
    let g = normalise(&attrs, "chat gpt-4o").expect("a GenAI span");
    assert_eq!(g.operation, Operation::Chat);
    assert!(g.operation.is_llm_call() && !g.operation.is_agent() && !g.operation.is_tool());
    assert_eq!(g.provider.as_deref(), Some("openai"));
    assert_eq!(g.request_model.as_deref(), Some("gpt-4o"));
    assert_eq!(
        g.model(),
        Some("gpt-4o-2024-08-06"),
        "the response model first"
    );
    assert_eq!(
        g.usage,
        Usage {
            input: Some(100),
            output: Some(50),
            total: None,
            cache_read: Some(40),
            cache_write: Some(10),
            reasoning: Some(20),
        }
    );
    assert_eq!(g.usage.total_tokens(), Some(150));
    assert_eq!(g.cost_usd, None, "no cost unless the span carries one");
    assert_eq!(g.session_id.as_deref(), Some("conv_1"));
    assert_eq!(g.finish_reasons, vec!["stop", "length"]);
    assert_eq!(g.time_to_first_token_ns, Some(250_000_000));
    assert_eq!(
        g.input_messages.as_deref(),
        Some(input),
        "GenAI's JSON is kept as sent"
    );
    assert_eq!(
        parsed(&g.output_messages),
        json!([{"role": "assistant", "parts": [{"type": "text", "content": "Rainy."}],
                "finish_reason": "stop"}]),
        "a structured value becomes its JSON"
    );
    assert_eq!(
        parsed(&g.system_instructions),
        json!([{"type": "text", "content": "Be brief."}])
    );
}

#[test]
fn deprecated_genai_names_and_the_span_name() {
    let attrs = vec![
        s("gen_ai.system", "openai"),
        s("gen_ai.request.model", "gpt-4"),
        s("gen_ai.usage.prompt_tokens", "12"),
        d("gen_ai.usage.completion_tokens", 3.0),
        i("gen_ai.usage.cache_creation.input_tokens", 5),
    ];
    let g = normalise(&attrs, "chat gpt-4").expect("a GenAI span");
    assert_eq!(
        g.operation,
        Operation::Chat,
        "from the span name, as a model is given"
    );
    assert_eq!(g.provider.as_deref(), Some("openai"));
    assert_eq!(
        (g.usage.input, g.usage.output, g.usage.cache_write),
        (Some(12), Some(3), Some(5))
    );
    let g = normalise(&attrs, "openai.chat").expect("still GenAI: a model and tokens");
    assert_eq!(g.operation, Operation::Other("unknown".into()));
    assert!(!g.operation.is_llm_call());
    // No model: the span name says nothing.
    let g = normalise(&[i("gen_ai.usage.input_tokens", 4)], "embeddings x").expect("tokens");
    assert_eq!(g.operation.as_str(), "unknown");
    assert_eq!(
        normalise(&[s("gen_ai.request.model", "m")], "text_completion m").map(|g| g.operation),
        Some(Operation::TextCompletion)
    );
}

#[test]
fn input_that_cannot_include_its_cache_gets_it_added() {
    // Anthropic reports uncached input alone; some instrumentations pass it on as is.
    let attrs = vec![
        s("gen_ai.operation.name", "chat"),
        i("gen_ai.usage.input_tokens", 10),
        i("gen_ai.usage.cache_read.input_tokens", 11_579),
        i("gen_ai.usage.cache_write.input_tokens", 12_694),
    ];
    let g = normalise(&attrs, "chat").expect("a GenAI span");
    assert_eq!(g.usage.input, Some(10 + 11_579 + 12_694));
}

#[test]
fn openinference_llm_with_flattened_messages() {
    let attrs = vec![
        s("openinference.span.kind", "LLM"),
        s("llm.model_name", "gpt-4o-mini"),
        s("llm.provider", "azure"),
        s("llm.system", "openai"),
        i("llm.token_count.prompt", 30),
        i("llm.token_count.completion", 12),
        i("llm.token_count.total", 42),
        i("llm.token_count.prompt_details.cache_read", 10),
        i("llm.token_count.completion_details.reasoning", 4),
        d("llm.cost.prompt", 0.001),
        d("llm.cost.completion", 0.002),
        s("session.id", "s1"),
        s("user.id", "u1"),
        s("llm.finish_reason", "stop"),
        // Out of order on purpose: messages are rebuilt by index.
        s("llm.input_messages.3.message.role", "tool"),
        s("llm.input_messages.3.message.tool_call_id", "call_1"),
        s("llm.input_messages.3.message.content", "rainy"),
        s("llm.input_messages.0.message.role", "system"),
        s("llm.input_messages.0.message.content", "Be brief."),
        s("llm.input_messages.1.message.role", "user"),
        s(
            "llm.input_messages.1.message.contents.0.message_content.type",
            "text",
        ),
        s(
            "llm.input_messages.1.message.contents.0.message_content.text",
            "What is in this image?",
        ),
        s(
            "llm.input_messages.1.message.contents.1.message_content.type",
            "image",
        ),
        s(
            "llm.input_messages.1.message.contents.1.message_content.image.image.url",
            "https://example.com/a.png",
        ),
        s("llm.input_messages.2.message.role", "assistant"),
        s(
            "llm.input_messages.2.message.tool_calls.0.tool_call.id",
            "call_1",
        ),
        s(
            "llm.input_messages.2.message.tool_calls.0.tool_call.function.name",
            "get_weather",
        ),
        s(
            "llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments",
            r#"{"city": "Paris"}"#,
        ),
        // Ignored: an index past the bound, a key we do not read, a malformed index.
        s("llm.input_messages.5000.message.role", "user"),
        s("llm.input_messages.1.message.bogus", "x"),
        s("llm.input_messages.x.message.role", "user"),
        s("llm.output_messages.0.message.role", "assistant"),
        s("llm.output_messages.0.message.content", "It is rainy."),
        // The flattened list wins over the raw request.
        s(
            "input.value",
            r#"{"messages": [{"role": "user", "content": "raw"}]}"#,
        ),
    ];
    let g = normalise(&attrs, "ChatOpenAI").expect("a GenAI span");
    assert_eq!(g.operation, Operation::Chat);
    assert_eq!(g.model(), Some("gpt-4o-mini"));
    assert_eq!(g.request_model, None);
    assert_eq!(
        g.provider.as_deref(),
        Some("azure"),
        "llm.provider before llm.system"
    );
    assert_eq!(
        g.usage,
        Usage {
            input: Some(30),
            output: Some(12),
            total: Some(42),
            cache_read: Some(10),
            cache_write: None,
            reasoning: Some(4),
        }
    );
    assert!(
        close(g.cost_usd, 0.003),
        "prompt + completion: {:?}",
        g.cost_usd
    );
    assert_eq!(
        (g.session_id.as_deref(), g.user_id.as_deref()),
        (Some("s1"), Some("u1"))
    );
    assert_eq!(g.finish_reasons, vec!["stop"]);
    assert_eq!(
        parsed(&g.input_messages),
        json!([
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [
                {"type": "text", "content": "What is in this image?"},
                {"type": "uri", "modality": "image", "uri": "https://example.com/a.png"}
            ]},
            {"role": "assistant", "parts": [
                {"type": "tool_call", "id": "call_1", "name": "get_weather",
                 "arguments": {"city": "Paris"}}
            ]},
            {"role": "tool", "parts": [
                {"type": "tool_call_response", "id": "call_1", "response": "rainy"}
            ]}
        ])
    );
    assert_eq!(
        parsed(&g.output_messages),
        json!([{"role": "assistant", "parts": [{"type": "text", "content": "It is rainy."}]}])
    );
}

#[test]
fn openinference_agents_tools_and_chains() {
    let agent = vec![
        s("openinference.span.kind", "AGENT"),
        s("agent.name", "planner"),
        s("input.value", "Plan a trip"),
        s("output.value", r#"{"answer": 1}"#),
    ];
    let g = normalise(&agent, "agent").expect("a GenAI span");
    assert!(g.operation.is_agent());
    assert_eq!(g.agent_name.as_deref(), Some("planner"));
    assert_eq!(
        parsed(&g.input_messages),
        json!([{"role": "user", "parts": [{"type": "text", "content": "Plan a trip"}]}])
    );
    assert_eq!(
        parsed(&g.output_messages),
        json!([{"role": "assistant", "parts": [{"type": "text", "content": "{\"answer\": 1}"}]}]),
        "JSON that holds no messages is kept as text"
    );
    assert_eq!(g.tool_arguments, None, "not a tool span");

    let tool = vec![
        s("openinference.span.kind", "TOOL"),
        s("tool.name", "search"),
        s("tool.id", "call_9"),
        s("input.value", r#"{"q": "x"}"#),
        s("output.value", "found"),
    ];
    let g = normalise(&tool, "search").expect("a GenAI span");
    assert!(g.operation.is_tool());
    assert_eq!(g.tool_name.as_deref(), Some("search"));
    assert_eq!(g.tool_call_id.as_deref(), Some("call_9"));
    assert_eq!(g.tool_arguments.as_deref(), Some(r#"{"q": "x"}"#));
    assert_eq!(g.tool_result.as_deref(), Some("found"));
    assert_eq!(g.input_messages, None, "a tool's input is its arguments");

    let chain = normalise(&[s("openinference.span.kind", "CHAIN")], "chain").expect("GenAI");
    assert_eq!(chain.operation, Operation::Other("chain".into()));
    assert!(!chain.operation.is_agent() && !chain.operation.is_llm_call());
    let retriever = normalise(&[s("openinference.span.kind", "RETRIEVER")], "r").expect("GenAI");
    assert_eq!(retriever.operation.as_str(), "retriever");
    let embedding = normalise(
        &[
            s("openinference.span.kind", "EMBEDDING"),
            s("embedding.model_name", "text-embedding-3-small"),
        ],
        "embed",
    )
    .expect("GenAI");
    assert_eq!(embedding.operation, Operation::Embeddings);
    assert_eq!(embedding.model(), Some("text-embedding-3-small"));
}

#[test]
fn langfuse_generation_with_usage_details() {
    let start = parse_rfc3339("2026-01-01T00:00:00Z").expect("a time");
    let span = Span {
        name: "anthropic-call".into(),
        start_time_unix_nano: start,
        attributes: vec![
            s("langfuse.observation.type", "generation"),
            s("langfuse.observation.model.name", "claude-sonnet-4"),
            s(
                "langfuse.observation.usage_details",
                r#"{"input": 10, "input_cache_read": 300, "input_cache_creation": 50,
                    "output": 20, "output_reasoning_tokens": 5, "total": 385}"#,
            ),
            s(
                "langfuse.observation.cost_details",
                r#"{"input": 0.001, "output": 0.002}"#,
            ),
            s("langfuse.session.id", "ls"),
            s("langfuse.user.id", "lu"),
            s("langfuse.trace.name", "support-bot"),
            s(
                "langfuse.observation.input",
                r#"[{"role": "user", "content": "Hi"}]"#,
            ),
            s(
                "langfuse.observation.output",
                r#"{"role": "assistant", "content": "Hello", "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "lookup", "arguments": "{\"a\": 1}"}}]}"#,
            ),
            s(
                "langfuse.observation.completion_start_time",
                "\"2026-01-01T00:00:00.500Z\"",
            ),
        ],
        ..Default::default()
    };
    let g = normalise_span(&span).expect("a GenAI span");
    assert_eq!(g.operation, Operation::Chat);
    assert_eq!(g.model(), Some("claude-sonnet-4"));
    assert_eq!(
        g.usage,
        Usage {
            input: Some(10 + 300 + 50),
            output: Some(20 + 5),
            total: Some(385),
            cache_read: Some(300),
            cache_write: Some(50),
            reasoning: Some(5),
        },
        "Langfuse's disjoint buckets summed to totals"
    );
    assert!(
        close(g.cost_usd, 0.003),
        "no total: the sum: {:?}",
        g.cost_usd
    );
    assert_eq!(
        (
            g.session_id.as_deref(),
            g.user_id.as_deref(),
            g.trace_name.as_deref()
        ),
        (Some("ls"), Some("lu"), Some("support-bot"))
    );
    assert_eq!(
        parsed(&g.input_messages),
        json!([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}])
    );
    assert_eq!(
        parsed(&g.output_messages),
        json!([{"role": "assistant", "parts": [
            {"type": "text", "content": "Hello"},
            {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": {"a": 1}}
        ]}])
    );
    assert_eq!(g.completion_start_time_unix_nano, Some(start + 500_000_000));
    assert_eq!(g.time_to_first_token_ns, Some(500_000_000));

    let agent = normalise(&[s("langfuse.observation.type", "agent")], "a").expect("GenAI");
    assert!(agent.operation.is_agent());
    assert_eq!(
        normalise(&[s("langfuse.observation.type", "span")], "s"),
        None,
        "a plain Langfuse span"
    );
    // Without quotes or an offset, UTC.
    let g = normalise(
        &[
            s("langfuse.observation.type", "generation"),
            s(
                "langfuse.observation.completion_start_time",
                "2026-01-01T00:00:01.5",
            ),
        ],
        "g",
    )
    .expect("GenAI");
    assert_eq!(
        g.completion_start_time_unix_nano,
        Some(start + 1_500_000_000)
    );
}

#[test]
fn precedence_between_conventions() {
    let mut attrs = vec![
        s("gen_ai.request.model", "genai"),
        s("llm.request.model_name", "openinference"),
        i("llm.token_count.prompt", 9),
        i("gen_ai.usage.prompt_tokens", 7),
        i("gen_ai.usage.input_tokens", 5),
        s("langfuse.observation.usage_details", r#"{"input": 3}"#),
        s("langfuse.session.id", "langfuse"),
        s("session.id", "openinference"),
        s("llm.provider", "openinference"),
        s("gen_ai.system", "deprecated"),
        s("openinference.span.kind", "LLM"),
        s("gen_ai.operation.name", "execute_tool"),
    ];
    let g = normalise(&attrs, "x").expect("GenAI");
    assert_eq!(g.request_model.as_deref(), Some("genai"));
    assert_eq!(g.usage.input, Some(5));
    assert_eq!(g.session_id.as_deref(), Some("openinference"));
    assert_eq!(g.provider.as_deref(), Some("deprecated"));
    assert_eq!(g.operation, Operation::ExecuteTool);
    attrs.push(s("gen_ai.conversation.id", "genai"));
    attrs.retain(|kv| kv.key != "gen_ai.usage.input_tokens");
    let g = normalise(&attrs, "x").expect("GenAI");
    assert_eq!(g.session_id.as_deref(), Some("genai"));
    assert_eq!(
        g.usage.input,
        Some(7),
        "deprecated GenAI before OpenInference"
    );
    attrs.retain(|kv| kv.key != "gen_ai.usage.prompt_tokens" && kv.key != "llm.token_count.prompt");
    let g = normalise(&attrs, "x").expect("GenAI");
    assert_eq!(g.usage.input, Some(3), "Langfuse last");
    // A repeated key keeps its last value.
    attrs.push(s("gen_ai.request.model", "later"));
    let g = normalise(&attrs, "x").expect("GenAI");
    assert_eq!(g.request_model.as_deref(), Some("later"));
}

#[test]
fn mappings_are_in_precedence_order() {
    for (n, a) in MAPPINGS.iter().enumerate() {
        for b in &MAPPINGS[n + 1..] {
            assert!(
                a.field != b.field || a.convention <= b.convention,
                "{} ({:?}) is listed before {} ({:?}) for {}",
                a.attribute,
                a.convention,
                b.attribute,
                b.convention,
                a.field.name()
            );
            assert!(
                !(a.field == b.field && a.attribute == b.attribute && a.scope == b.scope),
                "{} is listed twice for {}",
                a.attribute,
                a.field.name()
            );
        }
    }
}

#[test]
fn bad_numbers_are_ignored() {
    let attrs = vec![
        s("gen_ai.operation.name", "chat"),
        i("gen_ai.usage.input_tokens", -5),
        i("gen_ai.usage.prompt_tokens", 7),
        d("gen_ai.usage.output_tokens", f64::NAN),
        s("gen_ai.usage.completion_tokens", "inf"),
        s("llm.token_count.completion", "many"),
        d("gen_ai.usage.cache_read.input_tokens", f64::INFINITY),
        s("gen_ai.usage.reasoning.output_tokens", "12.0"),
        d("agent.quality_score", -0.5),
        s("llm.cost.total", "-1"),
        d("gen_ai.response.time_to_first_chunk", -1.0),
        s(
            "langfuse.observation.usage_details",
            r#"{"input": -3, "output": "x", "total": -1}"#,
        ),
    ];
    let g = normalise(&attrs, "chat").expect("GenAI");
    assert_eq!(
        g.usage.input,
        Some(7),
        "a negative count falls through to the next source"
    );
    assert_eq!(g.usage.output, None);
    assert_eq!(g.usage.cache_read, None);
    assert_eq!(g.usage.reasoning, Some(12), "a numeric string is accepted");
    assert_eq!(g.usage.total, None);
    assert_eq!(g.quality_score, None);
    assert_eq!(g.cost_usd, None);
    assert_eq!(g.time_to_first_token_ns, None);
    // Malformed JSON is no usage at all.
    let g = normalise(
        &[
            s("gen_ai.operation.name", "chat"),
            s("langfuse.observation.usage_details", "{not json"),
            s("langfuse.observation.cost_details", "[1, 2]"),
        ],
        "chat",
    )
    .expect("GenAI");
    assert!(g.usage.is_empty() && g.cost_usd.is_none());
}

#[test]
fn sdk_runs_and_tool_calls() {
    let run = vec![
        s("gen_ai.operation.name", "invoke_agent"),
        s("gen_ai.agent.name", "planner"),
        s("correlation_id", "c1"),
        s("agent.prompt", "Which orders shipped late?"),
        s("agent.status", "failed"),
        d("agent.quality_score", 0.9),
        s("user.id", "hashed-user"),
    ];
    let g = normalise(&run, "invoke_agent planner").expect("GenAI");
    assert!(g.operation.is_agent());
    assert_eq!(g.agent_name.as_deref(), Some("planner"));
    assert_eq!(g.correlation_id.as_deref(), Some("c1"));
    assert_eq!(g.failed_status, Some(true));
    assert!(close(g.quality_score, 0.9));
    assert_eq!(g.user_id.as_deref(), Some("hashed-user"));
    assert_eq!(
        parsed(&g.input_messages),
        json!([{"role": "user", "parts": [{"type": "text", "content": "Which orders shipped late?"}]}])
    );

    let tool = vec![
        s("gen_ai.operation.name", "execute_tool"),
        s("gen_ai.tool.name", "run_sql"),
        s("agent.action_id", "a1"),
        s("agent.status", "completed"),
        s("gen_ai.tool.call.arguments", "SELECT 1"),
        KeyValue {
            key: "gen_ai.tool.call.result".into(),
            value: Some(obj(vec![i("rows", 14)])),
            ..Default::default()
        },
    ];
    let g = normalise(&tool, "execute_tool run_sql").expect("GenAI");
    assert!(g.operation.is_tool());
    assert_eq!(g.tool_name.as_deref(), Some("run_sql"));
    assert_eq!(g.action_id.as_deref(), Some("a1"));
    assert_eq!(g.failed_status, Some(false));
    assert_eq!(g.tool_arguments.as_deref(), Some("SELECT 1"));
    assert_eq!(parsed(&g.tool_result), json!({"rows": 14}));
}

#[test]
fn spans_without_genai_meaning() {
    assert_eq!(normalise(&[], "GET /"), None);
    assert_eq!(
        normalise(
            &[s("http.request.method", "GET"), s("user.id", "u")],
            "GET /"
        ),
        None
    );
    assert_eq!(normalise(&[s("session.id", "s")], "chat gpt-4o"), None);
    assert_eq!(
        normalise(&[s("langfuse.observation.input", "hi")], "chat gpt-4o"),
        None,
        "content alone is no GenAI meaning"
    );
}

#[test]
fn chat_json_in_other_shapes() {
    let choices = r#"{"choices": [{"message": {"role": "assistant", "content": "ok"},
                                   "finish_reason": "stop"}]}"#;
    let anthropic = r#"[{"role": "user", "content": [
        {"type": "text", "text": "a"},
        {"type": "tool_result", "tool_use_id": "t1", "content": "r"}]},
        {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hmm"},
        {"type": "tool_use", "id": "t2", "name": "f", "input": {"x": 1}}]}]"#;
    let g = normalise(
        &[
            s("openinference.span.kind", "LLM"),
            s("input.value", anthropic),
            s("output.value", choices),
        ],
        "llm",
    )
    .expect("GenAI");
    assert_eq!(
        parsed(&g.input_messages),
        json!([
            {"role": "user", "parts": [
                {"type": "text", "content": "a"},
                {"type": "tool_call_response", "id": "t1", "response": "r"}
            ]},
            {"role": "assistant", "parts": [
                {"type": "reasoning", "content": "hmm"},
                {"type": "tool_call", "id": "t2", "name": "f", "arguments": {"x": 1}}
            ]}
        ])
    );
    assert_eq!(
        parsed(&g.output_messages),
        json!([{"role": "assistant", "parts": [{"type": "text", "content": "ok"}],
                "finish_reason": "stop"}])
    );
}

#[test]
fn flattened_messages_are_bounded() {
    let mut attrs = vec![s("openinference.span.kind", "LLM")];
    for n in 0..1_500 {
        attrs.push(s(&format!("llm.input_messages.{n}.message.content"), "x"));
    }
    for j in 0..150 {
        attrs.push(s(
            &format!("llm.output_messages.0.message.tool_calls.{j}.tool_call.function.name"),
            "f",
        ));
    }
    let g = normalise(&attrs, "llm").expect("GenAI");
    let input = parsed(&g.input_messages);
    assert_eq!(input.as_array().map(Vec::len), Some(MAX_MESSAGES));
    assert_eq!(input[0]["role"], "user", "the default role");
    let output = parsed(&g.output_messages);
    assert_eq!(
        output[0]["parts"].as_array().map(Vec::len),
        Some(MAX_TOOL_CALLS)
    );
}

#[test]
fn operations_by_name() {
    for op in [
        Operation::Chat,
        Operation::TextCompletion,
        Operation::GenerateContent,
        Operation::Embeddings,
        Operation::ExecuteTool,
        Operation::InvokeAgent,
        Operation::CreateAgent,
        Operation::InvokeWorkflow,
    ] {
        assert_eq!(Operation::from_name(op.as_str()), op);
    }
    assert_eq!(
        Operation::from_name("plan"),
        Operation::Other("plan".into())
    );
    assert!(!Operation::CreateAgent.is_agent() && !Operation::InvokeWorkflow.is_agent());
    assert!(Operation::Embeddings.is_llm_call());
    assert_eq!(Operation::from_openinference_kind("llm"), Operation::Chat);
    assert_eq!(
        Operation::from_langfuse_type("GENERATION"),
        Some(Operation::Chat)
    );
    assert_eq!(Operation::from_langfuse_type("event"), None);
}

/// A value of the mapping's shape, and the operation that makes it apply.
fn sample(m: &Mapping) -> (Vec<KeyValue>, &'static str) {
    let a = m.attribute;
    let value = match m.shape {
        Shape::Text => s(a, "x"),
        Shape::Count => i(a, 3),
        Shape::Number | Shape::NumberPlus(_) | Shape::Seconds => d(a, 0.5),
        Shape::Timestamp => s(a, "2026-01-01T00:00:00Z"),
        Shape::TextList => s(a, "stop"),
        Shape::Json => s(a, "{}"),
        Shape::Messages => s(a, "hello"),
        Shape::FlattenedMessages => s(&format!("{a}.0.message.content"), "hello"),
        Shape::UsageDetails => s(
            a,
            r#"{"input_cache_read": 1, "input_cache_creation": 1,
                "output_reasoning_tokens": 1, "total": 3}"#,
        ),
        Shape::CostDetails => s(a, r#"{"total": 1}"#),
        Shape::Operation => s(
            a,
            match m.convention {
                Convention::OpenInference => "AGENT",
                Convention::Langfuse => "agent",
                _ => "invoke_agent",
            },
        ),
        Shape::Status => s(a, "failed"),
    };
    let op = if m.scope == Scope::ToolOnly {
        "execute_tool"
    } else {
        "chat"
    };
    (vec![value], op)
}

fn is_set(g: &GenAiSpan, field: Field) -> bool {
    match field {
        Field::Operation => g.operation == Operation::InvokeAgent,
        Field::Provider => g.provider.is_some(),
        Field::RequestModel => g.request_model.is_some(),
        Field::ResponseModel => g.response_model.is_some(),
        Field::InputTokens => g.usage.input.is_some(),
        Field::OutputTokens => g.usage.output.is_some(),
        Field::TotalTokens => g.usage.total.is_some(),
        Field::CacheReadTokens => g.usage.cache_read.is_some(),
        Field::CacheWriteTokens => g.usage.cache_write.is_some(),
        Field::ReasoningTokens => g.usage.reasoning.is_some(),
        Field::CostUsd => g.cost_usd.is_some(),
        Field::SessionId => g.session_id.is_some(),
        Field::UserId => g.user_id.is_some(),
        Field::TraceName => g.trace_name.is_some(),
        Field::AgentId => g.agent_id.is_some(),
        Field::AgentName => g.agent_name.is_some(),
        Field::ToolName => g.tool_name.is_some(),
        Field::ToolCallId => g.tool_call_id.is_some(),
        Field::ToolArguments => g.tool_arguments.is_some(),
        Field::ToolResult => g.tool_result.is_some(),
        Field::InputMessages => g.input_messages.is_some(),
        Field::OutputMessages => g.output_messages.is_some(),
        Field::SystemInstructions => g.system_instructions.is_some(),
        Field::FinishReasons => !g.finish_reasons.is_empty(),
        Field::TimeToFirstToken => g.time_to_first_token_ns.is_some(),
        Field::CompletionStartTime => g.completion_start_time_unix_nano.is_some(),
        Field::CorrelationId => g.correlation_id.is_some(),
        Field::ActionId => g.action_id.is_some(),
        Field::QualityScore => g.quality_score.is_some(),
        Field::FailedStatus => g.failed_status.is_some(),
    }
}

#[test]
fn every_mapping_is_read() {
    for m in MAPPINGS {
        let (mut attrs, op) = sample(m);
        if m.field != Field::Operation {
            attrs.push(s("gen_ai.operation.name", op));
        }
        let g = normalise(&attrs, "span").unwrap_or_else(|| panic!("{} gave nothing", m.attribute));
        assert!(
            is_set(&g, m.field),
            "{} did not fill {}",
            m.attribute,
            m.field.name()
        );
    }
}

#[test]
fn the_genai_prefixes_cover_every_source_of_meaning() {
    for m in MAPPINGS {
        let meaningful = matches!(
            m.field,
            Field::Operation
                | Field::Provider
                | Field::RequestModel
                | Field::ResponseModel
                | Field::InputTokens
                | Field::OutputTokens
                | Field::TotalTokens
                | Field::CacheReadTokens
                | Field::CacheWriteTokens
                | Field::ReasoningTokens
                | Field::CostUsd
        );
        assert!(
            !meaningful || is_genai_key(m.attribute),
            "{} would be skipped by the prefix check",
            m.attribute
        );
    }
}

#[test]
fn the_docs_list_every_mapping_in_order() {
    let doc = include_str!("../../../../docs/GENAI.md");
    let mut from = 0;
    for m in MAPPINGS {
        let row = format!(
            "| `{}` | `{}` | {} |",
            m.attribute,
            m.field.name(),
            m.convention.name()
        );
        let at = doc[from..]
            .find(&row)
            .unwrap_or_else(|| panic!("docs/GENAI.md lacks, or misorders, the row {row}"));
        from += at + row.len();
    }
    for key in LANGFUSE_CACHE_READ_KEYS
        .iter()
        .chain(LANGFUSE_CACHE_WRITE_KEYS)
        .chain(LANGFUSE_REASONING_KEYS)
    {
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/GENAI.md lacks the Langfuse key {key}"
        );
    }
}
