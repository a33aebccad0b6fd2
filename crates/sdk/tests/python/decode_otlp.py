"""Decode OTLP protobuf payloads with the official opentelemetry-proto package and
print a JSON summary. Usage: decode_otlp.py DIR (files named traces-*.pb, metrics-*.pb,
logs-*.pb). Any decoding error exits non-zero."""

import json
import pathlib
import sys

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def any_value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def attrs(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def parse(path, cls):
    msg = cls()
    data = path.read_bytes()
    msg.ParseFromString(data)
    # Every byte must belong to a known field: dropping unknown fields changes nothing.
    size = msg.ByteSize()
    msg.DiscardUnknownFields()
    if msg.ByteSize() != size or size != len(data):
        raise SystemExit(f"{path.name}: {len(data)} bytes read, {msg.ByteSize()} understood")
    return msg


def main(folder):
    out = {"spans": [], "logs": [], "metrics": {}}
    for path in sorted(folder.glob("traces-*.pb")):
        for rs in parse(path, ExportTraceServiceRequest).resource_spans:
            res = attrs(rs.resource.attributes)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out["spans"].append({
                        "name": s.name,
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "status_code": s.status.code,
                        "service_name": res.get("service.name"),
                        "sdk_name": res.get("telemetry.sdk.name"),
                        "attributes": attrs(s.attributes),
                    })
    for path in sorted(folder.glob("logs-*.pb")):
        for rl in parse(path, ExportLogsServiceRequest).resource_logs:
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    out["logs"].append({
                        "event_name": r.event_name,
                        "severity_number": r.severity_number,
                        "body": any_value(r.body),
                        "span_id": r.span_id.hex(),
                        "trace_id": r.trace_id.hex(),
                        "attributes": attrs(r.attributes),
                    })
    for path in sorted(folder.glob("metrics-*.pb")):
        for rm in parse(path, ExportMetricsServiceRequest).resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    entry = {"type": kind}
                    if kind == "sum":
                        entry["monotonic"] = m.sum.is_monotonic
                        entry["values"] = [p.as_double for p in m.sum.data_points]
                    elif kind == "gauge":
                        entry["values"] = [p.as_double for p in m.gauge.data_points]
                    elif kind == "histogram":
                        entry["counts"] = [p.count for p in m.histogram.data_points]
                        entry["sums"] = [p.sum for p in m.histogram.data_points]
                    out["metrics"][m.name] = entry
    if not (out["spans"] and out["logs"] and out["metrics"]):
        raise SystemExit("expected payloads of every signal")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
