"""GenAI load with the official OpenTelemetry Python SDK at its defaults: N agent runs
from three services (three chat calls each over four models, one unknown to the price
table; a tool call; a nested, sometimes failing, critic run in one of three), then one
hostile OpenInference span with 20,000 flattened messages.

Usage: python scripts/genai-load.py ENDPOINT N   (ENDPOINT like http://127.0.0.1:4318)
Run it with the test virtualenv's Python (scripts/setup-python prints it) and
OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=100000 so the hostile span keeps its attributes."""
import random, sys, time, json
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode
ep = sys.argv[1].rstrip("/") + "/v1/traces"
models = ["gpt-4o-2024-08-06", "gpt-4o-mini", "claude-sonnet-4-20250514", "in-house-llm-7b"]
providers = []
t0 = time.time()
for svc in ["support-bot", "sales-agent", "research"]:
    p = TracerProvider(resource=Resource.create({"service.name": svc, "host.name": f"h-{svc}"}))
    p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=ep)))
    providers.append(p)
n = int(sys.argv[2])
for i in range(n):
    tr = providers[i % 3].get_tracer("load")
    with tr.start_as_current_span("invoke_agent planner") as a:
        a.set_attribute("gen_ai.operation.name", "invoke_agent"); a.set_attribute("gen_ai.agent.name", f"planner-{i%3}")
        a.set_attribute("gen_ai.conversation.id", f"conv-{i % 50}")
        for j in range(3):
            m = random.choice(models)
            with tr.start_as_current_span(f"chat {m}") as c:
                c.set_attribute("gen_ai.operation.name", "chat"); c.set_attribute("gen_ai.request.model", m)
                c.set_attribute("gen_ai.provider.name", "anthropic" if "claude" in m else "openai")
                c.set_attribute("gen_ai.usage.input_tokens", random.randint(10, 5000)); c.set_attribute("gen_ai.usage.output_tokens", random.randint(1, 800))
                c.set_attribute("gen_ai.input.messages", json.dumps([{"role":"user","parts":[{"type":"text","content":f"q{i}-{j}-{random.random()}"}]}]))
        with tr.start_as_current_span("execute_tool search") as t:
            t.set_attribute("gen_ai.operation.name", "execute_tool"); t.set_attribute("gen_ai.tool.name", "search")
        if i % 3 == 0:
            with tr.start_as_current_span("invoke_agent critic") as s:
                s.set_attribute("gen_ai.operation.name", "invoke_agent"); s.set_attribute("gen_ai.agent.name", "critic")
                with tr.start_as_current_span("chat gpt-4o-mini") as c:
                    c.set_attribute("gen_ai.operation.name", "chat"); c.set_attribute("gen_ai.request.model", "gpt-4o-mini")
                    c.set_attribute("gen_ai.usage.input_tokens", 100); c.set_attribute("gen_ai.usage.output_tokens", 10)
                if i % 6 == 0: s.set_status(Status(StatusCode.ERROR, "critic failed"))
# hostile: 20,000 flattened OpenInference message attributes on one span
tr = providers[0].get_tracer("hostile")
with tr.start_as_current_span("ChatCompletion") as h:
    h.set_attribute("openinference.span.kind", "LLM"); h.set_attribute("llm.model_name", "gpt-4o")
    for k in range(20000):
        h.set_attribute(f"llm.input_messages.{k}.message.role", "user"); h.set_attribute(f"llm.input_messages.{k}.message.content", f"m{k}")
for p in providers:
    p.force_flush(60000); p.shutdown()
print("sent", n, "traces in", round(time.time() - t0, 2), "s")
