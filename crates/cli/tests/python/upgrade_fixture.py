"""Records for the upgrade fixture (tests/fixtures/store-before-span-rows), sent with
the official OpenTelemetry Python SDK over OTLP/HTTP protobuf to BASE_URL: spans of three
services (each its own resource) in 12 traces of 8 spans with attributes unique per span,
events, a link and errors; an agent run with an LLM call and a tool call; log records,
some in a trace; a counter and a histogram. Every span and log record has a fixed time
(2026-12-01 around 12:00 UTC), so that a store written once reads the same forever.
Usage: upgrade_fixture.py BASE_URL"""

import logging
import random
import sys

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, Status, StatusCode

base = sys.argv[1]
rng = random.Random(7)
T0 = 1_796_126_400_000_000_000  # 2026-12-01T12:00:00Z
MS = 1_000_000

providers = []


def resource(service, version, host):
    return Resource.create({
        "service.name": service,
        "service.version": version,
        "host.name": host,
        "deployment.environment.name": "production",
    })


def tracer_for(res):
    p = TracerProvider(resource=res)
    p.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    providers.append(p)
    return p.get_tracer("upgrade-fixture", "1.0.0")


services = [
    tracer_for(resource("checkout", "2.4.1", "web-1")),
    tracer_for(resource("payments", "1.9.0", "pay-3")),
    tracer_for(resource("inventory", "0.7.2", "inv-2")),
]

first_span = None
for t in range(12):
    start = T0 + t * 2_500 * MS + rng.randrange(0, 900) * MS
    tracer = services[t % 3]
    root = tracer.start_span(
        f"GET /orders/{t}",
        kind=trace.SpanKind.SERVER,
        start_time=start,
        attributes={"http.route": "/orders/{id}", "http.request.id": f"req-{rng.getrandbits(48):012x}"},
        links=[Link(first_span.get_span_context(), {"link.kind": "follows"})] if first_span else None,
    )
    first_span = first_span or root
    ctx = trace.set_span_in_context(root)
    for i in range(7):
        child_tracer = services[(t + i) % 3]
        s = child_tracer.start_span(
            f"step-{i}",
            context=ctx,
            kind=trace.SpanKind.INTERNAL if i % 2 else trace.SpanKind.CLIENT,
            start_time=start + (i + 1) * 10 * MS,
            attributes={"items": rng.randrange(1, 500), "client.address": f"10.1.{t}.{i}", "token.count": rng.randrange(10_000)},
        )
        s.add_event("checkpoint", {"step": i}, timestamp=start + (i + 1) * 10 * MS + 3 * MS)
        if (t + i) % 5 == 0:
            s.set_status(Status(StatusCode.ERROR, f"step {i} failed"))
        s.end(end_time=start + (i + 1) * 10 * MS + 7 * MS)
    root.end(end_time=start + 95 * MS)

# An agent run: the agent, an LLM call and a tool call inside it.
agents = tracer_for(resource("agents", "0.3.0", "agent-1"))
start = T0 + 60_000 * MS
run = agents.start_span("invoke_agent planner", start_time=start, attributes={
    "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner",
    "gen_ai.conversation.id": "conv-upgrade"})
ctx = trace.set_span_in_context(run)
chat = agents.start_span("chat gpt-4o", context=ctx, kind=trace.SpanKind.CLIENT, start_time=start + 5 * MS, attributes={
    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30,
    "gen_ai.response.finish_reasons": ["stop"]})
chat.end(end_time=start + 405 * MS)
tool = agents.start_span("execute_tool search", context=ctx, start_time=start + 410 * MS, attributes={
    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"})
tool.end(end_time=start + 480 * MS)
run.end(end_time=start + 500 * MS)

lp = LoggerProvider(resource=resource("checkout", "2.4.1", "web-1"))
lp.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{base}/v1/logs")))
logger = lp.get_logger("upgrade-fixture")
ctx = first_span.get_span_context()
for i in range(20):
    in_trace = i % 4 == 0
    logger.emit(LogRecord(
        timestamp=T0 + i * 1_000 * MS,
        observed_timestamp=T0 + i * 1_000 * MS + MS,
        trace_id=ctx.trace_id if in_trace else 0,
        span_id=ctx.span_id if in_trace else 0,
        trace_flags=ctx.trace_flags if in_trace else None,
        severity_text="WARN" if i % 3 == 0 else "INFO",
        severity_number=SeverityNumber.WARN if i % 3 == 0 else SeverityNumber.INFO,
        body=f"order {i} handled in {rng.randrange(5, 900)} ms",
        attributes={"order.id": f"o-{rng.getrandbits(32):08x}", "attempt": i % 3},
    ))

reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics"), export_interval_millis=600_000)
mp = MeterProvider(resource=resource("checkout", "2.4.1", "web-1"), metric_readers=[reader])
meter = mp.get_meter("upgrade-fixture")
meter.create_counter("orders.handled").add(42, {"route": "/orders"})
h = meter.create_histogram("orders.latency", unit="ms")
for v in (3, 7, 12, 40, 250):
    h.record(v, {"route": "/orders"})

for p in providers:
    p.shutdown()
lp.shutdown()
mp.shutdown()
logging.shutdown()
