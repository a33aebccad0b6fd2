"""Send one span and one log record holding personal data and secrets to an OTLP/HTTP
endpoint with the official OpenTelemetry Python SDK and its default OTLP/HTTP
(protobuf) exporters, then print the trace id and what was sent as JSON.
Usage: otel_pii.py BASE_URL"""

import json
import logging
import sys

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

base = sys.argv[1]
email = "jane.doe@example.com"
url = "https://api.example.com/v1/items?access_token=abcdef1234567890abcdef"
card = "4111 1111 1111 1111"
# JWT-shaped: header {"alg":"HS256","typ":"JWT"}, a payload, a signature.
jwt = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
       ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ"
       ".c2lnbmF0dXJlLW5vdC12YWxpZC1mb3ItdGVzdHM")
password = "hunter2-Secret!"
body = f"login failed for {email} password={password}; Authorization: Bearer {jwt}"
status = f"card {card} declined"
exception = f"no user {email}"

resource = Resource.create({"service.name": "pii-client"})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{base}/v1/logs")))
logger = logging.getLogger("pii")
logger.addHandler(LoggingHandler(logger_provider=logger_provider))
logger.setLevel(logging.INFO)

tracer = tracer_provider.get_tracer("pii")
with tracer.start_as_current_span(
    "pii-span",
    attributes={"user.email": email, "http.url": url, "card": card},
    record_exception=False,
    set_status_on_exception=False,
) as span:
    # Inside the span: the log record carries its trace id.
    logger.warning(body)
    span.record_exception(ValueError(exception))
    span.set_status(Status(StatusCode.ERROR, status))

ok = tracer_provider.force_flush() and logger_provider.force_flush()
tracer_provider.shutdown()
logger_provider.shutdown()
if not ok:
    raise SystemExit("flush failed")
json.dump({
    "trace_id": format(span.get_span_context().trace_id, "032x"),
    "span_id": format(span.get_span_context().span_id, "016x"),
    "email": email,
    "url": url,
    "card": card,
    "jwt": jwt,
    "password": password,
    "body": body,
    "status": status,
    "exception": exception,
}, sys.stdout)
