"""Drive the official `openai` client against the local stub (openai_stub.py), traced by a
real instrumentation library, and export with the official OpenTelemetry Python SDK.

Usage: genai_openai.py MODE [--dump] [--stub-url URL]
  MODE   otel          opentelemetry-instrumentation-openai-v2, default conventions
                       (v1.30: content as log events gen_ai.*.message / gen_ai.choice)
         otel-latest   the same library with OTEL_SEMCONV_STABILITY_OPT_IN=
                       gen_ai_latest_experimental (content on span attributes and on the
                       gen_ai.client.inference.operation.details event)
         openinference openinference-instrumentation-openai (content as llm.* attributes)
  --dump        print every span, log record and metric with all attributes (console
                exporters) instead of exporting over OTLP, then the summary
  --stub-url    the stub's base URL (…/v1); also OPENAI_STUB_URL. Without one the stub
                is started in this process on a free port.
OPENINFERENCE_ENABLE_GENAI_SEMCONV=true (left to the caller) makes OpenInference add its
gen_ai.* translation of each span's attributes beside the llm.* ones.

Exports with the OTLP/HTTP protobuf exporters at their defaults: the endpoint comes from
OTEL_EXPORTER_OTLP_ENDPOINT (paths /v1/traces, /v1/logs, /v1/metrics are appended) and
headers from OTEL_EXPORTER_OTLP_HEADERS (e.g. "Authorization=Bearer%20TOKEN").

The scenario, inside one agent span: a chat completion with tools (the model asks for
get_weather), the tool span, a second chat completion with the tool's result, and a
streamed completion with usage. Prints a JSON summary to stdout (last line): the trace
id, the question asked and the tool's name, the spans, the log event names, the three LLM calls with the usage the stub served,
`served` (the stub's totals), `expected` (the totals as the library reports them: null for
a kind of token it does not carry; checked here against `served`) and, per token
attribute key, the sum found on the exported spans.
Exits non-zero if an export failed."""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import openai_stub  # noqa: E402

MODES = ("otel", "otel-latest", "openinference")
parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=MODES)
parser.add_argument("--dump", action="store_true")
parser.add_argument("--stub-url", default=os.environ.get("OPENAI_STUB_URL"))
args = parser.parse_args()

# The switches are read when the instrumentation is imported or instrumented: set first.
if args.mode == "otel":
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
    os.environ.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)
elif args.mode == "otel-latest":
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_and_event"

import openai  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry._logs import set_logger_provider  # noqa: E402
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.metrics import set_meter_provider  # noqa: E402
from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import (  # noqa: E402
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import (  # noqa: E402
    ConsoleMetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

AGENT = "weather-agent"
CONVERSATION = "conv-1"
USER = "u-1"
REQUEST_MODEL = "gpt-4o"
QUESTION = "What is the weather in Paris?"
WEATHER = {"city": "Paris", "temperature_c": 18, "sky": "sunny"}
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}]

failures = []


class CheckedSpanExporter(OTLPSpanExporter):
    """The OTLP span exporter, remembering any export that did not succeed."""

    def export(self, spans):
        result = super().export(spans)
        if result != SpanExportResult.SUCCESS:
            failures.append(f"spans: {result}")
        return result


class CheckedLogExporter(OTLPLogExporter):
    """The OTLP log exporter, remembering any export that did not succeed."""

    def export(self, batch):
        result = super().export(batch)
        if result != LogRecordExportResult.SUCCESS:
            failures.append(f"logs: {result}")
        return result


class CheckedMetricExporter(OTLPMetricExporter):
    """The OTLP metric exporter, remembering any export that did not succeed."""

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        if result != MetricExportResult.SUCCESS:
            failures.append(f"metrics: {result}")
        return result


# --- the SDK -------------------------------------------------------------------------
resource = Resource.create({"service.name": f"genai-{args.mode}", "service.version": "1.0.0"})
memory_spans = InMemorySpanExporter()
memory_logs = InMemoryLogRecordExporter()
tracer_provider = TracerProvider(resource=resource)
logger_provider = LoggerProvider(resource=resource)


def with_scope(record, scope):
    """The console exporters' JSON of a span or log record, with its instrumentation
    scope (which they leave out)."""
    data = json.loads(record.to_json())
    if scope is not None:
        data["instrumentation_scope"] = {
            "name": scope.name, "version": scope.version, "schema_url": scope.schema_url,
        }
    return json.dumps(data, indent=4) + os.linesep


if args.dump:
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(
        formatter=lambda span: with_scope(span, span.instrumentation_scope))))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(ConsoleLogRecordExporter(
        formatter=lambda rec: with_scope(rec, rec.instrumentation_scope))))
    metric_exporter = ConsoleMetricExporter()
else:
    tracer_provider.add_span_processor(BatchSpanProcessor(CheckedSpanExporter()))
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(CheckedLogExporter()))
    metric_exporter = CheckedMetricExporter()
tracer_provider.add_span_processor(SimpleSpanProcessor(memory_spans))
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(memory_logs))
# One export, at shutdown.
reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
trace.set_tracer_provider(tracer_provider)
set_logger_provider(logger_provider)
set_meter_provider(meter_provider)

if args.mode == "openinference":
    from openinference.instrumentation import OITracer, TraceConfig, using_attributes
    from openinference.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
else:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(
        tracer_provider=tracer_provider,
        logger_provider=logger_provider,
        meter_provider=meter_provider,
    )

stub = None
base_url = args.stub_url
if not base_url:
    stub = openai_stub.start()
    base_url = f"http://127.0.0.1:{stub.server_address[1]}/v1"
client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
tracer = tracer_provider.get_tracer("genai-fixture", "1.0.0")


def get_weather(city):
    """The tool: a fixed answer."""
    return {**WEATHER, "city": city}


def chat_with_tools(messages):
    """A chat completion offering the tool: the stub asks for it until a tool message is
    in the conversation, then answers in text."""
    return client.chat.completions.create(
        model=REQUEST_MODEL, messages=messages, tools=TOOLS, temperature=0.2, max_tokens=200,
    )


def streamed_request():
    """A streamed chat completion asking for the usage chunk; returns the text."""
    stream = client.chat.completions.create(
        model=REQUEST_MODEL,
        messages=[{"role": "user", "content": "Say goodbye."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def tool_messages(call, result):
    """The assistant's tool call and the tool's answer, to send back to the model."""
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }],
        },
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)},
    ]


def run_otel():
    """The scenario with spans named and attributed after the OpenTelemetry GenAI
    conventions (the agent and tool spans by hand, the LLM spans by the library). The
    agent span also carries the general `user.id`, as OpenInference's does."""
    with tracer.start_as_current_span(
        f"invoke_agent {AGENT}",
        kind=SpanKind.INTERNAL,
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": AGENT,
            "gen_ai.conversation.id": CONVERSATION,
            "gen_ai.provider.name": "openai",
            "user.id": USER,
        },
    ) as agent:
        messages = [
            {"role": "system", "content": "You are a weather assistant."},
            {"role": "user", "content": QUESTION},
        ]
        first = chat_with_tools(messages)
        call = first.choices[0].message.tool_calls[0]
        with tracer.start_as_current_span(
            f"execute_tool {call.function.name}",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": call.function.name,
                "gen_ai.tool.call.id": call.id,
                "gen_ai.tool.type": "function",
                "gen_ai.tool.description": TOOLS[0]["function"]["description"],
                "gen_ai.tool.call.arguments": call.function.arguments,
            },
        ) as tool:
            result = get_weather(**json.loads(call.function.arguments))
            tool.set_attribute("gen_ai.tool.call.result", json.dumps(result))
        second = chat_with_tools(messages + tool_messages(call, result))
        goodbye = streamed_request()
    return agent, tool, second.choices[0].message.content, goodbye


def run_openinference():
    """The scenario with OpenInference's AGENT and TOOL spans (by hand, through
    OpenInference's own tracer helpers) and its LLM spans (by the library)."""
    oi_tracer = OITracer(tracer, config=TraceConfig())
    with using_attributes(session_id=CONVERSATION, user_id=USER):
        with oi_tracer.start_as_current_span(AGENT, openinference_span_kind="agent") as agent:
            agent.set_attribute("agent.name", AGENT)
            agent.set_attribute("session.id", CONVERSATION)
            agent.set_attribute("user.id", USER)
            agent.set_input(QUESTION)
            messages = [
                {"role": "system", "content": "You are a weather assistant."},
                {"role": "user", "content": QUESTION},
            ]
            first = chat_with_tools(messages)
            call = first.choices[0].message.tool_calls[0]
            with oi_tracer.start_as_current_span(
                call.function.name, openinference_span_kind="tool"
            ) as tool:
                tool.set_tool(
                    name=call.function.name,
                    description=TOOLS[0]["function"]["description"],
                    parameters=TOOLS[0]["function"]["parameters"],
                )
                tool.set_attribute("tool.id", call.id)
                tool.set_input(call.function.arguments, mime_type="application/json")
                result = get_weather(**json.loads(call.function.arguments))
                tool.set_output(json.dumps(result), mime_type="application/json")
            second = chat_with_tools(messages + tool_messages(call, result))
            goodbye = streamed_request()
            agent.set_output(second.choices[0].message.content)
    return agent, tool, second.choices[0].message.content, goodbye


agent, tool, answer, goodbye = run_otel() if args.mode != "openinference" else run_openinference()

# --- flush, then summarise what the SDK handed to the exporters -----------------------
ok = tracer_provider.force_flush() and logger_provider.force_flush()
spans = sorted(memory_spans.get_finished_spans(), key=lambda s: s.start_time)
logs = [r.log_record for r in memory_logs.get_finished_logs()]
meter_provider.shutdown()
tracer_provider.shutdown()
logger_provider.shutdown()
if stub is not None:
    stub.shutdown()
if not ok:
    raise SystemExit("flush failed")
if failures:
    raise SystemExit(f"export failed: {failures}")


def hex_id(value, width):
    return format(value, f"0{width}x")


def is_llm(span):
    attrs = span.attributes or {}
    if args.mode == "openinference":
        return attrs.get("openinference.span.kind") == "LLM"
    return attrs.get("gen_ai.operation.name") == "chat"


llm_spans = [s for s in spans if is_llm(s)]
answers = ["tool_call", "plain", "stream"]
if len(llm_spans) != len(answers):
    raise SystemExit(f"expected {len(answers)} LLM spans, found {len(llm_spans)}")
llm_calls = []
for span, kind in zip(llm_spans, answers):
    u = openai_stub.USAGE[kind]
    llm_calls.append({
        "span_id": hex_id(span.context.span_id, 16),
        "span_name": span.name,
        "answer": kind,
        "response_id": openai_stub.RESPONSE_IDS[kind],
        "input_tokens": u["prompt"],
        "output_tokens": u["completion"],
        "cache_read_tokens": u["cached"],
        "cache_write_tokens": u["cache_write"],
        "reasoning_tokens": u["reasoning"],
        "total_tokens": u["prompt"] + u["completion"],
    })
served = {
    key: sum(c[key] for c in llm_calls)
    for key in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                "reasoning_tokens", "total_tokens")
}
reported = {}
for span in spans:
    for key, value in (span.attributes or {}).items():
        if "token" in key and isinstance(value, int) and not isinstance(value, bool):
            reported[key] = reported.get(key, 0) + value

# Where each library puts each kind of token count on its LLM spans. A kind that the
# library does not carry is expected as null (the stub served it, the spans do not say it).
TOKEN_KEYS = {
    "input_tokens": ["gen_ai.usage.input_tokens", "llm.token_count.prompt"],
    "output_tokens": ["gen_ai.usage.output_tokens", "llm.token_count.completion"],
    "cache_read_tokens": ["gen_ai.usage.cache_read.input_tokens",
                          "llm.token_count.prompt_details.cache_read"],
    "cache_write_tokens": ["gen_ai.usage.cache_creation.input_tokens",
                           "gen_ai.usage.cache_write.input_tokens",
                           "llm.token_count.prompt_details.cache_write"],
    "reasoning_tokens": ["gen_ai.usage.reasoning.output_tokens",
                         "llm.token_count.completion_details.reasoning"],
    "total_tokens": ["llm.token_count.total"],
}
expected = {}
for kind, keys in TOKEN_KEYS.items():
    found = [reported[k] for k in keys if k in reported]
    expected[kind] = found[0] if found else None
    if found and any(v != served[kind] for v in found):
        raise SystemExit(f"{kind}: the spans say {found}, the stub served {served[kind]}")
if expected["total_tokens"] is None and None not in (expected["input_tokens"], expected["output_tokens"]):
    expected["total_tokens"] = expected["input_tokens"] + expected["output_tokens"]

summary = {
    "mode": args.mode,
    "service_name": f"genai-{args.mode}",
    "trace_id": hex_id(agent.get_span_context().trace_id, 32),
    "agent_span_id": hex_id(agent.get_span_context().span_id, 16),
    "tool_span_id": hex_id(tool.get_span_context().span_id, 16),
    "agent_name": AGENT,
    "conversation_id": CONVERSATION,
    "user_id": USER,
    "question": QUESTION,
    "tool_name": TOOLS[0]["function"]["name"],
    "request_model": REQUEST_MODEL,
    "response_model": openai_stub.MODEL,
    "provider": "openai",
    "span_names": [s.name for s in spans],
    "spans": [
        {
            "name": s.name,
            "span_id": hex_id(s.context.span_id, 16),
            "parent_span_id": hex_id(s.parent.span_id, 16) if s.parent else None,
            "kind": s.kind.name,
        }
        for s in spans
    ],
    "log_events": [r.event_name for r in logs],
    "llm_calls": llm_calls,
    "served": {"llm_calls": len(llm_calls), **served},
    "expected": {"llm_calls": len(llm_calls), **expected},
    "reported_on_spans": reported,
    "answer": answer,
    "streamed_text": goodbye,
}
print(("\n===== summary =====\n" if args.dump else "") + json.dumps(summary), flush=True)
