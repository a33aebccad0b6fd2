"""A steady load of every signal from the official OpenTelemetry Python SDK, over
OTLP/HTTP (protobuf, gzip) or OTLP/gRPC, until a deadline; its counters go to a status
file (see soaklib.py). Part of scripts/soak.

Usage: otel_load.py --protocol http|grpc --endpoint URL --deadline EPOCH
                    --status-dir DIR --spans-per-second N [--name NAME]
The ingest token is read from SOAK_INGEST_TOKEN.

Three services, each with its own tracer, logger and meter provider (so its own
exporters and connections), at the SDK's defaults: BatchSpanProcessor and
BatchLogRecordProcessor as they come, a PeriodicExportingMetricReader every 2 s.
- Traces of 3 to 6 spans across the services, with random ids, unique attribute values
  (a request id, a user hash, a path with an order number), span events, an error now
  and then, a link to an earlier trace, and an e-mail address the server's redaction
  replaces.
- A log record per trace in its context (info, some warnings and errors), and an event
  (a log record with an event name) every 20th trace.
- An agent run every 2 s: an invoke_agent span with execute_tool children, and an
  agent.decision event with its correlation id.
- Metrics: a counter, an up-down counter, a histogram and an observable gauge.

Every export's outcome is counted (a failure is unexpected); spans created but never
handed to an exporter (the SDK's queue was full) are counted as dropped, which is
unexpected too.
"""

import argparse
import logging
import os
import random
import sys
import threading
import time
import uuid

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import Observation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from soaklib import Status as Counters

ROUTES = ["/api/orders", "/api/orders/{id}", "/api/cart", "/api/search", "/api/users/{id}"]
METHODS = ["GET", "GET", "GET", "POST", "PUT"]
OPERATIONS = ["db.query", "cache.get", "render", "authorize", "publish", "serialize"]
AGENTS = ["planner", "researcher", "coder"]
TOOLS = ["web.search", "fetch_url", "summarize", "run_tests"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--protocol", choices=["http", "grpc"], required=True)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--deadline", type=float, required=True)
    p.add_argument("--status-dir", required=True)
    p.add_argument("--spans-per-second", type=float, required=True)
    p.add_argument("--name")
    return p.parse_args()


def data_points(metrics_data):
    n = 0
    for rm in metrics_data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                n += len(m.data.data_points)
    return n


def counted(base, counters, signal, size):
    """`base` (an SDK exporter class) whose every export is counted."""

    class Counted(base):
        def export(self, batch, *args, **kwargs):
            n = size(batch)
            counters.request()
            try:
                result = super().export(batch, *args, **kwargs)
            except Exception:
                counters.items(signal, n, 0)
                counters.fail(f"{signal} export raised an exception")
                raise
            ok = getattr(result, "name", "") == "SUCCESS"
            counters.items(signal, n, n if ok else 0)
            if not ok:
                counters.fail(f"{signal} export failed (see the generator's log)")
            return result

    Counted.__name__ = f"Counted{base.__name__}"
    return Counted


class SdkLogCounter(logging.Handler):
    """Counts the SDK's warnings (retries, a full queue) and prints each kind at most
    every 10 s."""

    def __init__(self, counters):
        super().__init__(logging.WARNING)
        self.counters = counters
        self.last_print = {}

    def emit(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format
            message = str(record.msg)
        if "Transient error" in message or "retrying" in message:
            kind = "transient error, retried by the SDK"
            self.counters.retry(kind)
        elif "Queue full" in message:
            kind = "SDK queue full"
        else:
            kind = record.levelname
        now = time.monotonic()
        if now - self.last_print.get(kind, -1e9) >= 10:
            self.last_print[kind] = now
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} {record.name}: {message}\n")
            sys.stderr.flush()


class Service:
    """One service's providers and instruments."""

    def __init__(self, name, protocol, endpoint, token, counters, host):
        resource = Resource.create({
            "service.name": name,
            "service.version": f"2.{random.randint(0, 9)}.{random.randint(0, 20)}",
            "service.instance.id": str(uuid.uuid4()),
            "deployment.environment.name": "soak",
            "host.name": host,
        })
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            grpc_args = {"endpoint": endpoint, "insecure": True, "headers": {"authorization": f"Bearer {token}"}}
            spans = counted(OTLPSpanExporter, counters, "spans", len)(**grpc_args)
            logs = counted(OTLPLogExporter, counters, "logs", len)(**grpc_args)
            metrics = counted(OTLPMetricExporter, counters, "points", data_points)(**grpc_args)
        else:
            from opentelemetry.exporter.otlp.proto.http import Compression
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            headers = {"Authorization": f"Bearer {token}"}
            spans = counted(OTLPSpanExporter, counters, "spans", len)(
                endpoint=f"{endpoint}/v1/traces", headers=headers, compression=Compression.Gzip)
            logs = counted(OTLPLogExporter, counters, "logs", len)(
                endpoint=f"{endpoint}/v1/logs", headers=headers, compression=Compression.Gzip)
            metrics = counted(OTLPMetricExporter, counters, "points", data_points)(
                endpoint=f"{endpoint}/v1/metrics", headers=headers, compression=Compression.Gzip)

        self.name = name
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(BatchSpanProcessor(spans))
        self.tracer = self.tracer_provider.get_tracer("soak", "1.0.0")
        self.logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        self.logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs))
        self.logger = self.logger_provider.get_logger("soak.requests", "1.0.0")
        reader = PeriodicExportingMetricReader(metrics, export_interval_millis=2000)
        self.meter_provider = MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False)
        meter = self.meter_provider.get_meter("soak", "1.0.0")
        self.requests = meter.create_counter("soak.requests", unit="{request}")
        self.inflight = meter.create_up_down_counter("soak.connections.open", unit="{connection}")
        self.duration = meter.create_histogram("soak.request.duration", unit="ms")
        self.busy = {f"w{i}": random.random() for i in range(4)}
        meter.create_observable_gauge("soak.worker.busy_ratio", callbacks=[self.observe_busy], unit="1")
        self.open_connections = 0

    def observe_busy(self, _options):
        for worker in self.busy:
            self.busy[worker] = min(1.0, max(0.0, self.busy[worker] + random.uniform(-0.1, 0.1)))
        return [Observation(v, {"worker": w}) for w, v in self.busy.items()]

    def shutdown(self):
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown()


def span_tree(count, start, end):
    """`count` (parent index, start, end) intervals, each inside its parent's."""
    nodes = [(None, start, end)]
    while len(nodes) < count:
        parent = random.randrange(len(nodes))
        _, ps, pe = nodes[parent]
        length = max(1, pe - ps)
        s = ps + int(length * random.uniform(0.0, 0.5))
        e = s + max(1, int((pe - s) * random.uniform(0.1, 0.9)))
        nodes.append((parent, s, min(e, pe)))
    return nodes


class Load:
    def __init__(self, services, counters):
        self.services = services
        self.counters = counters
        self.produced = 0
        self.traces = 0
        self.last_root = None

    def request_trace(self):
        """A request through the services; returns the number of spans made."""
        root_svc, *others = random.sample(self.services, len(self.services))
        route = random.choice(ROUTES)
        method = random.choice(METHODS)
        duration_ms = random.lognormvariate(3.0, 0.8)
        end = time.time_ns()
        start = end - int(duration_ms * 1e6)
        failed = random.random() < 0.05
        status_code = random.choice([500, 502, 503]) if failed else random.choice([200, 200, 200, 201, 204, 404])
        request_id = uuid.uuid4().hex
        order = random.randint(1, 10**9)
        attributes = {
            "http.request.method": method,
            "http.route": route,
            "url.path": route.replace("{id}", str(order)),
            "http.response.status_code": status_code,
            "request.id": request_id,
            "user.hash": uuid.uuid4().hex[:16],
            "client.address": f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}",
        }
        if random.random() < 0.02:
            attributes["customer.note"] = f"call me back at jane.doe+{order}@example.com"
        links = []
        if self.last_root is not None and random.random() < 0.05:
            links.append(Link(self.last_root, {"link.kind": "follows_from"}))
        nodes = span_tree(random.randint(3, 6), start, end)
        spans = []
        for i, (parent, s, e) in enumerate(nodes):
            if parent is None:
                svc, name, kind, attrs, span_links = root_svc, f"{method} {route}", SpanKind.SERVER, attributes, links
                context = None
            else:
                svc = root_svc if i == 1 or not others else random.choice(others)
                name = random.choice(OPERATIONS)
                kind = SpanKind.CLIENT if i == 1 else SpanKind.INTERNAL
                attrs = {"soak.step": i, "soak.operation.id": uuid.uuid4().hex[:12]}
                if name == "db.query":
                    attrs["db.system.name"] = "postgresql"
                    attrs["db.query.text"] = f"SELECT * FROM orders WHERE id = {order + i}"
                span_links = []
                context = trace.set_span_in_context(spans[parent][0])
            span = svc.tracer.start_span(name, context=context, kind=kind, attributes=attrs,
                                         links=span_links, start_time=s)
            spans.append((span, e, svc))
        if random.random() < 0.3:
            spans[-1][0].add_event("cache.miss", {"cache.key": f"order:{order}"}, timestamp=spans[-1][1] - 1000)
        if failed:
            leaf, leaf_end, _ = spans[-1]
            leaf.add_event("exception", {"exception.type": "TimeoutError",
                                         "exception.message": f"upstream timed out after {duration_ms:.0f} ms"},
                           timestamp=leaf_end - 1000)
            leaf.set_status(Status(StatusCode.ERROR, "upstream timed out"))
            spans[0][0].set_status(Status(StatusCode.ERROR, f"HTTP {status_code}"))
        for span, e, _ in reversed(spans):
            span.end(end_time=e)
        root = spans[0][0]
        self.last_root = root.get_span_context()
        context = trace.set_span_in_context(root)

        severity, text = SeverityNumber.INFO, "INFO"
        roll = random.random()
        if failed or roll < 0.03:
            severity, text = SeverityNumber.ERROR, "ERROR"
        elif roll < 0.13:
            severity, text = SeverityNumber.WARN, "WARN"
        root_svc.logger.emit(
            timestamp=end, severity_number=severity, severity_text=text,
            body=f"{method} {route} answered {status_code} in {duration_ms:.1f} ms (request {request_id})",
            attributes={"http.route": route, "request.id": request_id}, context=context)
        if self.traces % 20 == 0:
            root_svc.logger.emit(
                timestamp=end, severity_number=SeverityNumber.INFO, event_name="order.placed",
                body={"order": order, "items": random.randint(1, 9), "total": round(random.uniform(5, 500), 2)},
                attributes={"order.channel": random.choice(["web", "app", "api"])}, context=context)

        root_svc.requests.add(1, {"http.route": route, "http.response.status_code": status_code})
        root_svc.duration.record(duration_ms, {"http.route": route})
        delta = random.choice([-1, 0, 1]) if root_svc.open_connections > 0 else 1
        root_svc.open_connections += delta
        if delta:
            root_svc.inflight.add(delta, {"pool": "upstream"})
        self.traces += 1
        return len(spans)

    def agent_run(self):
        svc = random.choice(self.services)
        agent = random.choice(AGENTS)
        correlation = str(uuid.uuid4())
        end = time.time_ns()
        start = end - int(random.uniform(0.5, 20.0) * 1e9)
        failed = random.random() < 0.1
        run = svc.tracer.start_span(
            f"invoke_agent {agent}", kind=SpanKind.INTERNAL, start_time=start,
            attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
                        "correlation_id": correlation, "agent.quality_score": round(random.random(), 3),
                        "agent.status": "failed" if failed else "completed"})
        context = trace.set_span_in_context(run)
        made = 1
        tools = random.randint(2, 4)
        step = (end - start) // (tools + 1)
        for i in range(tools):
            s = start + step * i + 1
            tool = random.choice(TOOLS)
            call = svc.tracer.start_span(
                f"execute_tool {tool}", context=context, kind=SpanKind.INTERNAL, start_time=s,
                attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
                            "agent.action_id": uuid.uuid4().hex})
            if failed and i == tools - 1:
                call.set_status(Status(StatusCode.ERROR, "tool failed"))
            call.end(end_time=s + step // 2)
            made += 1
        if failed:
            run.set_status(Status(StatusCode.ERROR, "the last tool failed"))
        run.end(end_time=end)
        svc.logger.emit(
            timestamp=end - step // 3, severity_number=SeverityNumber.INFO, event_name="agent.decision",
            body=f"{agent} chose the next step",
            attributes={"correlation_id": correlation, "agent.choice": random.choice(["retry", "answer", "ask"])},
            context=context)
        return made


def main():
    args = parse_args()
    token = os.environ.get("SOAK_INGEST_TOKEN", "")
    name = args.name or f"python-{args.protocol}"
    counters = Counters(args.status_dir, name).start()
    sdk_log = logging.getLogger("opentelemetry")
    sdk_log.addHandler(SdkLogCounter(counters))
    sdk_log.setLevel(logging.WARNING)
    sdk_log.propagate = False

    prefix = "soak-" + ("web" if args.protocol == "http" else "rpc")
    names = [f"{prefix}-gateway", f"{prefix}-orders", f"{prefix}-inventory"]
    services = [Service(n, args.protocol, args.endpoint, token, counters, f"soak-{args.protocol}") for n in names]
    load = Load(services, counters)
    rate = max(1.0, args.spans_per_second)
    began = time.monotonic()
    behind = 0.0
    next_agent = time.time()
    while time.time() < args.deadline:
        load.produced += load.request_trace()
        if time.time() >= next_agent:
            load.produced += load.agent_run()
            next_agent += 2.0
        # Keep the rate: sleep when ahead; when more than 2 s behind (the machine is
        # busy), give up on catching up and note it.
        due = began + load.produced / rate
        lag = time.monotonic() - due
        if lag < 0:
            time.sleep(min(-lag, max(0.0, args.deadline - time.time())))
        elif lag > 2.0:
            behind += lag
            began += lag
            counters.set_extra("seconds behind the target rate", round(behind, 1))
        counters.set_extra("spans created", load.produced)

    # Flush and stop every provider at once, within 20 s in all.
    threads = [threading.Thread(target=s.shutdown, daemon=True) for s in services]
    for t in threads:
        t.start()
    stop_by = time.monotonic() + 20
    for t in threads:
        t.join(max(0.0, stop_by - time.monotonic()))
    if any(t.is_alive() for t in threads):
        counters.fail("the SDK did not shut down within 20 s")
    counters.set_extra("spans created", load.produced)
    counters.set_extra("traces", load.traces)
    dropped = load.produced - counters.snapshot()["sent"].get("spans", 0)
    if dropped > 0:
        counters.fail("spans dropped by the SDK before export (queue full)", dropped)
    counters.finish()
    sys.stdout.flush()
    sys.stderr.flush()
    # Exporter threads may still hold connections; the counters are written.
    os._exit(0)


if __name__ == "__main__":
    main()
