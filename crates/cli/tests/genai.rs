//! Agent and LLM observability from instrumentation nobody here wrote: the official
//! `openai` Python client, traced by `opentelemetry-instrumentation-openai-v2` (its
//! default conventions, and the latest experimental ones) and by
//! `openinference-instrumentation-openai`, calls a local OpenAI-compatible stub (a chat
//! completion asking for a tool, the tool, a second completion, a streamed one); the
//! official OpenTelemetry SDK exports to `serve`. Each run is listed with its model,
//! tokens, cost from the price table, tool call and messages. Fixtures sent with the
//! same SDK: nested agents with a failing child, three turns of one conversation, a 5 MB
//! prompt, and a score posted before its run arrives.

use serde_json::Value;
use std::process::Command;

mod common;
use common::{Running, free_port, get_json, serve};

/// USD per token of gpt-4o (OpenAI's price list: $2.50 input, $1.25 cached input, $10
/// output per million tokens) and of gpt-4o-mini ($0.15 and $0.60).
const GPT4O_IN: f64 = 2.5e-6;
const GPT4O_CACHED: f64 = 1.25e-6;
const GPT4O_OUT: f64 = 10e-6;
const MINI_IN: f64 = 0.15e-6;
const MINI_OUT: f64 = 0.6e-6;

fn python(script: &str, args: &[&str], base: &str) -> Value {
    let out = Command::new(automagik_telemetry_testkit::test_python())
        .arg(format!(
            "{}/tests/python/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(args)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", base)
        .env_remove("OTEL_EXPORTER_OTLP_HEADERS")
        .env_remove("OTEL_SEMCONV_STABILITY_OPT_IN")
        .output()
        .expect("run the Python client");
    assert!(
        out.status.success(),
        "{script} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().expect("a summary line")).expect("summary JSON")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// The run of `service`, waiting for the spans to be stored.
fn run_of(base: &str, service: &str) -> Value {
    for _ in 0..100 {
        let runs = get_json(&format!("{base}/api/v1/agents/runs?limit=100"), None);
        if let Some(r) = runs["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| r["service_name"] == service && r["totals"]["llm_calls"] == 3)
        {
            return get_json(
                &format!(
                    "{base}/api/v1/agents/runs/{}",
                    r["correlation_id"].as_str().expect("id")
                ),
                None,
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no run of {service} with its three LLM calls");
}

fn check_instrumented_run(base: &str, mode: &str) {
    let summary = python("genai_openai.py", &[mode], base);
    let run = run_of(base, summary["service_name"].as_str().expect("service"));
    assert_eq!(run["agent_name"], "weather-agent", "{mode}");
    assert_eq!(run["status"], "completed");
    assert_eq!(run["trace_id"], summary["trace_id"]);
    assert_eq!(
        run["session_id"], "conv-1",
        "{mode}: the conversation is the session"
    );
    let expected = &summary["expected"];
    let totals = &run["totals"];
    for kind in ["input_tokens", "output_tokens"] {
        assert_eq!(totals[kind], expected[kind], "{mode}: {kind}");
    }
    // Cache and reasoning counts where the library reports them (OpenInference).
    for kind in ["cache_read_tokens", "reasoning_tokens"] {
        assert_eq!(
            totals[kind],
            expected[kind].as_u64().unwrap_or(0),
            "{mode}: {kind}"
        );
    }
    assert_eq!(totals["llm_calls"], 3);
    assert_eq!(totals["tool_calls"], 1);
    assert_eq!(totals["unpriced_calls"], 0);
    assert_eq!(run["models"], serde_json::json!(["gpt-4o-2024-08-06"]));
    // Cost from the price table: uncached input, cached input and output at their rates
    // (input tokens include the cached ones; the stub's cache writes are priced as
    // input, OpenAI having no write rate), never counted twice.
    let n = |k: &str| expected[k].as_f64().unwrap_or(0.0);
    let uncached = n("input_tokens") - n("cache_read_tokens");
    let want = uncached * GPT4O_IN
        + n("cache_read_tokens") * GPT4O_CACHED
        + n("output_tokens") * GPT4O_OUT;
    let cost = totals["cost_usd"].as_f64().expect("cost");
    assert!(close(cost, want), "{mode}: cost {cost} != {want}");
    // The tool call and the calls with their messages.
    let actions = run["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["name"], "get_weather");
    let calls = run["llm_calls"].as_array().expect("llm calls");
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0]["response_model"], "gpt-4o-2024-08-06");
    assert_eq!(calls[0]["provider"], "openai");
    assert_eq!(
        calls[0]["finish_reasons"],
        serde_json::json!(["tool_calls"])
    );
    let first = &calls[0]["messages"];
    let user = first["input"]
        .as_array()
        .expect("input messages")
        .iter()
        .find(|m| m["role"] == "user")
        .expect("the user's message");
    assert_eq!(
        user["parts"][0]["content"], "What is the weather in Paris?",
        "{mode}"
    );
    let asked = &first["output"][0]["parts"][0];
    assert_eq!(asked["type"], "tool_call", "{mode}: {first}");
    assert_eq!(asked["name"], "get_weather");
    let streamed = &calls[2]["messages"]["output"][0]["parts"][0];
    assert_eq!(streamed["content"], summary["streamed_text"], "{mode}");
}

#[test]
fn runs_from_official_instrumentations_and_fixtures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _server = Running(serve(dir.path(), port, "off", &[]));
    let base = format!("http://127.0.0.1:{port}");

    for mode in ["otel", "otel-latest", "openinference"] {
        check_instrumented_run(&base, mode);
    }
    let usage = get_json(
        &format!("{base}/api/v1/genai/usage?from=-1h&group_by=model"),
        None,
    );
    let groups = usage["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{usage}");
    assert_eq!(groups[0]["group"], "gpt-4o-2024-08-06");
    assert_eq!(groups[0]["totals"]["calls"], 9);

    // A score posted before its run arrives, then shown on it.
    let posted: Value = ureq::post(format!("{base}/api/v1/scores"))
        .send_json(serde_json::json!({
            "run_id": "run-late-1", "name": "helpfulness", "value": 0.75,
            "comment": "answered", "source": "human"
        }))
        .expect("post a score")
        .body_mut()
        .read_json()
        .expect("json");
    assert_eq!(posted["ids"].as_array().map(Vec::len), Some(1));
    let refused = ureq::post(format!("{base}/api/v1/scores"))
        .send_json(serde_json::json!({"name": "x", "value": 1}))
        .expect_err("a score without a target");
    assert!(refused.to_string().contains("400"), "{refused}");

    let fx = python("genai_fixtures.py", &[], &base);

    // Nested agents: two runs, the failing child marked failed, the parent's totals
    // holding the child's.
    let nested = &fx["nested"];
    let trace = nested["trace_id"].as_str().expect("trace");
    let child_id = format!(
        "{trace}-{}",
        nested["researcher_span_id"].as_str().expect("span")
    );
    let parent = get_json(&format!("{base}/api/v1/agents/runs/{trace}"), None);
    assert_eq!(parent["agent_name"], "supervisor");
    assert_eq!(parent["status"], "completed");
    assert_eq!(parent["children"], serde_json::json!([child_id]));
    assert_eq!(
        parent["llm_calls"].as_array().map(Vec::len),
        Some(1),
        "its own call"
    );
    let child = &parent["nested_runs"][0];
    assert_eq!(child["agent_name"], "researcher");
    assert_eq!(child["status"], "failed");
    assert_eq!(child["error"], "no sources found");
    assert_eq!(child["parent_correlation_id"], trace);
    assert_eq!(child["totals"]["tool_calls"], 1);
    let totals = &parent["totals"];
    assert_eq!(totals["llm_calls"], 2);
    assert_eq!(totals["input_tokens"], 1100);
    assert_eq!(totals["errors"], 1, "the failed child counts");
    let want = 100.0 * GPT4O_IN + 20.0 * GPT4O_OUT + 1000.0 * MINI_IN + 200.0 * MINI_OUT;
    assert!(
        close(totals["cost_usd"].as_f64().expect("cost"), want),
        "{totals}"
    );

    // Three turns sharing a conversation id: one session, three ordered turns, summed cost.
    let session = get_json(&format!("{base}/api/v1/sessions/conv-3"), None);
    let turns = session["turns"].as_array().expect("turns");
    let traces: Vec<&Value> = turns.iter().map(|t| &t["trace_id"]).collect();
    let want_traces: Vec<&Value> = fx["turns"].as_array().expect("turns").iter().collect();
    assert_eq!(traces, want_traces, "in order");
    let inputs: Vec<u64> = turns
        .iter()
        .map(|t| t["totals"]["input_tokens"].as_u64().expect("tokens"))
        .collect();
    assert_eq!(inputs, [10, 20, 30]);
    let want = 60.0 * GPT4O_IN + 15.0 * GPT4O_OUT;
    assert!(close(
        session["totals"]["cost_usd"].as_f64().expect("cost"),
        want
    ));
    let sessions = get_json(&format!("{base}/api/v1/sessions?from=-1h"), None);
    assert!(
        sessions["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|s| s["session_id"] == "conv-3" && s["runs"] == 3),
        "{sessions}"
    );

    // The 5 MB prompt: stored, cut to the cap with the marker, its tokens intact.
    let huge = &fx["huge"];
    let t = get_json(
        &format!(
            "{base}/api/v1/traces/{}",
            huge["trace_id"].as_str().expect("trace")
        ),
        None,
    );
    let attrs = &t["spans"][0]["attributes"];
    let kept = attrs["gen_ai.input.messages"].as_str().expect("messages");
    assert!(kept.len() <= 128 * 1024 + 64, "{}", kept.len());
    assert!(kept.contains("…[truncated "), "the marker");
    assert_eq!(attrs["gen_ai.usage.input_tokens"], 1310720);

    // The score posted first is on the run now, and filters runs.
    let late = get_json(&format!("{base}/api/v1/agents/runs/run-late-1"), None);
    assert_eq!(late["scores"][0]["name"], "helpfulness");
    assert_eq!(late["scores"][0]["value"], 0.75);
    let filtered = get_json(
        &format!("{base}/api/v1/agents/runs?score=helpfulness&min_score=0.5"),
        None,
    );
    let ids: Vec<&Value> = filtered["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| &r["correlation_id"])
        .collect();
    assert_eq!(ids, [&Value::from("run-late-1")]);
    let scores = get_json(&format!("{base}/api/v1/scores?run_id=run-late-1"), None);
    assert_eq!(scores["items"][0]["comment"], "answered");
}
