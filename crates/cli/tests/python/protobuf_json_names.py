"""Send OTLP/JSON as a protobuf library's JSON printer writes it: the official
OpenTelemetry Python SDK records spans, log records and metrics, its own OTLP encoders
make the export requests, and protobuf's `json_format` prints them with enum values by
name (`"kind": "SPAN_KIND_SERVER"`), once with lowerCamelCase field names (its default)
and once with the proto field names (`preserving_proto_field_name=True`). Ids are
written in hex, as OTLP/JSON requires (the printer would write base64). Prints, per
style, the trace id and the service name sent, as JSON.

Usage: protobuf_json_names.py BASE_URL"""

import base64
import json
import sys
import urllib.request

from google.protobuf import json_format
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

base = sys.argv[1]
ID_KEYS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


def hex_ids(value):
    """The printer's base64 ids as OTLP/JSON's hex."""
    if isinstance(value, dict):
        return {
            k: (base64.b64decode(v).hex() if k in ID_KEYS and isinstance(v, str) else hex_ids(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [hex_ids(v) for v in value]
    return value


def post(path, message, snake):
    body = hex_ids(json_format.MessageToDict(message, preserving_proto_field_name=snake))
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        answer = json.loads(r.read() or b"{}")
        assert r.status == 200, (path, r.status, answer)
        assert "partialSuccess" not in answer or not answer["partialSuccess"], (path, answer)
    return body


def send(service, snake):
    resource = Resource.create({"service.name": service})

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = tracer_provider.get_tracer("names-check")
    with tracer.start_as_current_span("handle", kind=SpanKind.SERVER) as parent:
        with tracer.start_as_current_span("call", kind=SpanKind.CLIENT) as child:
            child.set_status(Status(StatusCode.ERROR, "upstream refused"))
        trace_id = format(parent.get_span_context().trace_id, "032x")

    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    logger_provider.get_logger("names-check").emit(
        severity_number=SeverityNumber.WARN, severity_text="WARN", body="disk nearly full"
    )
    logger_provider.force_flush()

    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meter_provider.get_meter("names-check")
    meter.create_counter("names.requests").add(5)
    meter.create_histogram("names.latency", unit="ms").record(12.5)

    sent = post("/v1/traces", encode_spans(spans.get_finished_spans()), snake)
    post("/v1/logs", encode_logs(logs.get_finished_logs()), snake)
    post("/v1/metrics", encode_metrics(reader.get_metrics_data()), snake)
    text = json.dumps(sent)
    assert "SPAN_KIND_SERVER" in text and "STATUS_CODE_ERROR" in text, text
    assert ("resource_spans" in text) == snake, text
    return {"trace_id": trace_id, "service": service}


print(
    json.dumps(
        {
            "camel": send("names-camel", snake=False),
            "snake": send("names-snake", snake=True),
        }
    )
)
