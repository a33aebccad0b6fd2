"""Send a span with links and log records with structured bodies to an OTLP/HTTP
endpoint with the official OpenTelemetry Python SDK, then print what it sent as JSON.
Usage: otel_links_bodies.py BASE_URL"""

import json
import logging
import sys
import time

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanContext, TraceFlags, TraceState

base = sys.argv[1]
resource = Resource.create({"service.name": "python-links", "deployment.environment.name": "test"})

# At most two attributes per span: the third is dropped, and counted.
tracer_provider = TracerProvider(resource=resource, span_limits=SpanLimits(max_span_attributes=2))
tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
tracer = tracer_provider.get_tracer("links-check", "1.4.2")

logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{base}/v1/logs")))
orders = logger_provider.get_logger("orders", "2.0.1")
stdlib = logging.getLogger("links-check.stdlib")
stdlib.addHandler(LoggingHandler(logger_provider=logger_provider))
stdlib.setLevel(logging.INFO)

# The request that this span serves came from another process (a remote parent, with a
# trace state); the message it consumes was produced in a third (a link).
parent = SpanContext(
    trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
    span_id=0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "v1"), ("other", "x")]),
)
upstream = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
)
link_attributes = {"link.kind": "follows_from", "messaging.batch.size": 3, "peer.email": "ada@example.com"}
now = time.time_ns()
with tracer.start_as_current_span(
    "py-consume",
    context=trace.set_span_in_context(trace.NonRecordingSpan(parent)),
    links=[Link(upstream, link_attributes)],
    attributes={"a": 1, "b": 2, "c": 3},
) as span:
    orders.emit(
        timestamp=now - 5_000_000,
        observed_timestamp=now,
        severity_number=SeverityNumber.WARN,
        severity_text="WARN",
        body={"order": {"id": "o-17", "items": [1, 2]}, "user": "ada@example.com", "ok": True, "ratio": 0.5},
        attributes={"order.channel": "web"},
        event_name="order.placed",
        context=trace.set_span_in_context(span),
    )
    # A dict given to the standard library's logging is sent as a map body too.
    stdlib.info({"step": "charged", "amount": 12})

ok = tracer_provider.force_flush() and logger_provider.force_flush()
tracer_provider.shutdown()
logger_provider.shutdown()
if not ok:
    raise SystemExit("flush failed")
json.dump({
    "trace_id": format(span.get_span_context().trace_id, "032x"),
    "span_id": format(span.get_span_context().span_id, "016x"),
    "parent_span_id": format(parent.span_id, "016x"),
    "link_trace_id": format(upstream.trace_id, "032x"),
    "link_span_id": format(upstream.span_id, "016x"),
    "log_time": str(now - 5_000_000),
    "log_observed_time": str(now),
}, sys.stdout)
