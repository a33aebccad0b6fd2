"""Send spans, a log and a metric to an OTLP/HTTP endpoint with the official
OpenTelemetry Python SDK, then print the ids it used as JSON.
Usage: otel_client.py BASE_URL"""

import json
import logging
import sys

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

base = sys.argv[1]
resource = Resource.create({"service.name": "python-client", "service.version": "3.2.1"})

tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
tracer = tracer_provider.get_tracer("crosscheck")
with tracer.start_as_current_span("py-parent", attributes={"http.route": "/py"}) as parent:
    with tracer.start_as_current_span("py-child") as child:
        child.set_attribute("items", 3)
        child.add_event("py-event", {"ok": True})

logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{base}/v1/logs")))
logger = logging.getLogger("crosscheck")
logger.addHandler(LoggingHandler(logger_provider=logger_provider))
logger.setLevel(logging.INFO)
logger.warning("python says hello")

reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics"), export_interval_millis=600000)
meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
meter_provider.get_meter("crosscheck").create_counter("py.requests").add(5, {"route": "/py"})

ok = tracer_provider.force_flush() and logger_provider.force_flush()
# Shutdown makes the final (single) export of the cumulative counter.
meter_provider.shutdown()
tracer_provider.shutdown()
logger_provider.shutdown()
if not ok:
    raise SystemExit("flush failed")
json.dump({
    "trace_id": format(parent.get_span_context().trace_id, "032x"),
    "parent": format(parent.get_span_context().span_id, "016x"),
    "child": format(child.get_span_context().span_id, "016x"),
    "parent_start": parent.start_time,
    "child_end": child.end_time,
}, sys.stdout)
