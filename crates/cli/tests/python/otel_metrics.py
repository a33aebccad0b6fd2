"""Send known metric values with the official OpenTelemetry Python SDK at its defaults
(cumulative temporality unless OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE says
otherwise), over OTLP/HTTP or OTLP/gRPC, in several exports.
Usage: otel_metrics.py http|grpc ENDPOINT first|restart

first: a counter (5 + 7 + 4 on route /a, 1 on /b), an up-down counter (+10, +5, -3),
an explicit-bucket histogram (1..100 once each), an exponential histogram (1..1000 once
each), an observable gauge (last 43) and an observable counter (100, 250, 300), in
three exports.
restart: a new SDK instance (a new start time) adds 3 to the counter on /a.
"""

import sys

from opentelemetry.sdk.metrics import MeterProvider, Histogram
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.metrics import Observation
from opentelemetry.sdk.trace import TracerProvider

protocol, endpoint, mode = sys.argv[1], sys.argv[2], sys.argv[3]
if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True)
else:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    exporter = OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics")

resource = Resource.create({"service.name": "py-metrics"})
reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
views = [View(instrument_name="fid.exp", aggregation=ExponentialBucketHistogramAggregation())]
provider = MeterProvider(resource=resource, metric_readers=[reader], views=views)
meter = provider.get_meter("fidelity")
tracer = TracerProvider(resource=resource).get_tracer("fidelity")
counter = meter.create_counter("fid.counter")


def export():
    if not provider.force_flush(timeout_millis=10_000):
        raise SystemExit("export failed")


if mode == "restart":
    counter.add(3, {"route": "/a"})
    export()
    provider.shutdown()
    sys.exit(0)

updown = meter.create_up_down_counter("fid.updown")
latency = meter.create_histogram("fid.latency")
exp = meter.create_histogram("fid.exp")
gauge_values = iter([41, 42, 43])
observed_totals = iter([100, 250, 300])
meter.create_observable_gauge("fid.gauge", callbacks=[lambda _: [Observation(next(gauge_values, 43))]])
meter.create_observable_counter("fid.obs_counter", callbacks=[lambda _: [Observation(next(observed_totals, 300))]])

phases = [
    (5, 10, range(1, 34), range(1, 334)),
    (7, 5, range(34, 67), range(334, 667)),
    (4, -3, range(67, 101), range(667, 1001)),
]
for i, (add, change, values, exp_values) in enumerate(phases):
    counter.add(add, {"route": "/a"})
    if i == 0:
        counter.add(1, {"route": "/b"})
    updown.add(change)
    # Measured inside a sampled span: the SDK's default (trace-based) exemplar filter
    # keeps exemplars that link the histogram to this trace.
    with tracer.start_as_current_span("fid-operation"):
        for v in values:
            latency.record(v)
    for v in exp_values:
        exp.record(v)
    export()
provider.shutdown()
