"""GenAI fixtures sent with the official OpenTelemetry Python SDK (OTLP/HTTP protobuf,
default settings, endpoint from OTEL_EXPORTER_OTLP_ENDPOINT), written to the
OpenTelemetry GenAI semantic conventions:

- nested agents: a supervisor run with an LLM call and a sub-agent `researcher` that
  fails (its own LLM call and tool call inside it);
- three turns of one conversation (`gen_ai.conversation.id` = conv-3), each a run with
  one LLM call;
- an LLM call whose `gen_ai.input.messages` is 5 MB;
- a run named by `correlation_id` = run-late-1 (a score for it is posted before it
  arrives).

Prints one JSON line: the trace ids and span ids the test checks.
"""

import json
import sys
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

provider = TracerProvider(resource=Resource.create({"service.name": "genai-fixtures"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
tracer = provider.get_tracer("genai-fixtures")


def hex_trace(span):
    return format(span.get_span_context().trace_id, "032x")


def hex_span(span):
    return format(span.get_span_context().span_id, "016x")


def chat(model, input_tokens, output_tokens, **extra):
    with tracer.start_as_current_span(f"chat {model}", kind=trace.SpanKind.CLIENT) as s:
        s.set_attribute("gen_ai.operation.name", "chat")
        s.set_attribute("gen_ai.provider.name", "openai")
        s.set_attribute("gen_ai.request.model", model)
        s.set_attribute("gen_ai.response.model", model)
        s.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        s.set_attribute("gen_ai.usage.output_tokens", output_tokens)
        s.set_attribute("gen_ai.response.finish_reasons", ["stop"])
        for k, v in extra.items():
            s.set_attribute(k, v)
        return s


out = {}

# Nested agents: supervisor -> chat, researcher (fails) -> chat, execute_tool.
with tracer.start_as_current_span("invoke_agent supervisor") as sup:
    sup.set_attribute("gen_ai.operation.name", "invoke_agent")
    sup.set_attribute("gen_ai.agent.name", "supervisor")
    chat("gpt-4o", 100, 20)
    with tracer.start_as_current_span("invoke_agent researcher") as res:
        res.set_attribute("gen_ai.operation.name", "invoke_agent")
        res.set_attribute("gen_ai.agent.name", "researcher")
        chat("gpt-4o-mini", 1000, 200)
        with tracer.start_as_current_span("execute_tool search") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "search")
        res.set_status(Status(StatusCode.ERROR, "no sources found"))
    out["nested"] = {
        "trace_id": hex_trace(sup),
        "supervisor_span_id": hex_span(sup),
        "researcher_span_id": hex_span(res),
    }

# Three turns of one conversation, in order.
out["turns"] = []
for i, question in enumerate(["hello", "what can you do?", "thanks"]):
    with tracer.start_as_current_span("invoke_agent concierge") as turn:
        turn.set_attribute("gen_ai.operation.name", "invoke_agent")
        turn.set_attribute("gen_ai.agent.name", "concierge")
        turn.set_attribute("gen_ai.conversation.id", "conv-3")
        chat(
            "gpt-4o",
            10 * (i + 1),
            5,
            **{
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                )
            },
        )
    out["turns"].append(hex_trace(turn))
    time.sleep(0.02)

# A 5 MB prompt.
big = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "x" * (5 * 1024 * 1024)}]}])
with tracer.start_as_current_span("chat gpt-4o") as huge:
    huge.set_attribute("gen_ai.operation.name", "chat")
    huge.set_attribute("gen_ai.provider.name", "openai")
    huge.set_attribute("gen_ai.request.model", "gpt-4o")
    huge.set_attribute("gen_ai.usage.input_tokens", 1310720)
    huge.set_attribute("gen_ai.usage.output_tokens", 3)
    huge.set_attribute("gen_ai.input.messages", big)
out["huge"] = {"trace_id": hex_trace(huge), "span_id": hex_span(huge), "bytes": len(big)}

# A run named by our correlation id.
with tracer.start_as_current_span("invoke_agent late") as late:
    late.set_attribute("gen_ai.operation.name", "invoke_agent")
    late.set_attribute("gen_ai.agent.name", "late")
    late.set_attribute("correlation_id", "run-late-1")
out["late_trace_id"] = hex_trace(late)

if not provider.force_flush(30_000):
    sys.exit("the spans were not exported")
provider.shutdown()
print(json.dumps(out), flush=True)
