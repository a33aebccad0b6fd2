"""Send what the dashboard must show with its structure, with the official
OpenTelemetry Python SDK: a checkout trace with an LLM call (GenAI messages, current and
deprecated attribute names), a nested map attribute, a list attribute and a failing
card charge (an exception event); a log of that failure with its stack trace; a
structured event body with nested attributes; a queue consumer's trace linked to the
checkout; a histogram. Prints the ids it used as JSON.
Usage: otel_dashboard.py BASE_URL TOKEN"""

import json
import logging
import sys

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
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
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

base, token = sys.argv[1], sys.argv[2]
headers = {"Authorization": f"Bearer {token}"}
resource = Resource.create({"service.name": "py-shop", "service.version": "1.8.0"})

tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces", headers=headers)))
tracer = tracer_provider.get_tracer("py-shop.checkout", "1.8.0")

logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{base}/v1/logs", headers=headers)))
events = logger_provider.get_logger("py-shop.orders", "1.8.0")
log = logging.getLogger("py-shop.payments")
log.addHandler(LoggingHandler(logger_provider=logger_provider))
log.setLevel(logging.INFO)

reader = PeriodicExportingMetricReader(
    OTLPMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers), export_interval_millis=600000
)
meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
cart_value = meter_provider.get_meter("py-shop.checkout").create_histogram("py.cart.value", unit="EUR")

question = "Which mug fits a twelve ounce coffee?"
answer = "The large ceramic mug holds fourteen ounces."


def charge(cart_id):
    raise ValueError(f"card declined for cart {cart_id}: insufficient funds")


with tracer.start_as_current_span("POST /cart/checkout", kind=SpanKind.SERVER) as root:
    root.set_attribute("http.request.method", "POST")
    root.set_attribute("http.route", "/cart/checkout")
    root.set_attribute("cart.skus", ["mug-large", "lid-bamboo"])
    root.set_attribute("cart.summary", {"items": 2, "currency": "EUR", "coupon": {"code": "WELCOME", "percent": 10}})
    with tracer.start_as_current_span("chat shop-assistant", kind=SpanKind.CLIENT) as llm:
        llm.set_attribute("gen_ai.operation.name", "chat")
        llm.set_attribute("gen_ai.provider.name", "openai")
        llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        llm.set_attribute("gen_ai.input.messages", json.dumps([
            {"role": "system", "parts": [{"type": "text", "content": "You help customers of a shop choose products."}]},
            {"role": "user", "parts": [{"type": "text", "content": question}]},
        ]))
        llm.set_attribute("gen_ai.output.messages", json.dumps([
            {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"},
        ]))
        # The deprecated names, as older instrumentations send them.
        llm.set_attribute("gen_ai.prompt", json.dumps([{"role": "user", "content": question}]))
        llm.set_attribute("gen_ai.completion", json.dumps([{"role": "assistant", "content": answer}]))
    with tracer.start_as_current_span("charge-card", kind=SpanKind.CLIENT, record_exception=False, set_status_on_exception=False) as pay:
        pay.set_attribute("payment.provider", "stripe")
        try:
            charge("c-7")
        except ValueError as e:
            pay.record_exception(e)
            pay.set_status(Status(StatusCode.ERROR, "card declined"))
            # The standard library's logging with the exception: its type, message and
            # stack trace become attributes of the record.
            log.exception("payment charge failed for cart c-7")
    root.set_status(Status(StatusCode.ERROR, "payment failed"))
    events.emit(
        severity_number=SeverityNumber.INFO,
        severity_text="INFO",
        body={"order": {"id": "o-42", "lines": [{"sku": "mug-large", "qty": 1}, {"sku": "lid-bamboo", "qty": 1}]}, "paid": False},
        attributes={"order.channel": "web", "order.shipping": {"method": "express", "days": 2}},
        event_name="order.abandoned",
    )
    cart_value.record(31.5, {"http.route": "/cart/checkout"})

# A queue consumer, in a trace of its own, that follows from the checkout.
with tracer.start_as_current_span(
    "process order-events",
    kind=SpanKind.CONSUMER,
    links=[Link(root.get_span_context(), {"messaging.operation.type": "receive", "messaging.batch.message_count": 1})],
) as consumer:
    consumer.set_attribute("messaging.system", "kafka")
    consumer.set_attribute("messaging.destination.name", "order-events")

ok = tracer_provider.force_flush() and logger_provider.force_flush()
meter_provider.shutdown()
tracer_provider.shutdown()
logger_provider.shutdown()
if not ok:
    raise SystemExit("flush failed")
json.dump({
    "checkout_trace_id": format(root.get_span_context().trace_id, "032x"),
    "llm_span_id": format(llm.get_span_context().span_id, "016x"),
    "charge_span_id": format(pay.get_span_context().span_id, "016x"),
    "consumer_trace_id": format(consumer.get_span_context().trace_id, "032x"),
    "consumer_span_id": format(consumer.get_span_context().span_id, "016x"),
    "question": question,
    "answer": answer,
    "failure": "payment charge failed for cart c-7",
    "exception": "card declined for cart c-7: insufficient funds",
}, sys.stdout)
