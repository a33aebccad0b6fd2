"""Decode OTLP JSON lines (one export request per line, as the collector's otlpjsonfile
receiver reads them) with the official opentelemetry-proto package and print a JSON
summary. Usage: decode_otlp_json.py FILE. Any line that is not a valid request exits
non-zero, naming the line.

Each line is parsed by protobuf's own JSON parser (`google.protobuf.json_format.Parse`)
with unknown fields refused, into the request its top-level key names. The OTLP JSON
encoding differs from the protobuf JSON mapping in one point, which is applied first:
trace and span ids are hexadecimal, not base64. The encoding's other rules are checked
on the text: field names in lowerCamelCase, enums as integers."""

import base64
import json
import pathlib
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from decode_otlp import any_value, attrs

REQUESTS = {
    "resourceSpans": ("traces", ExportTraceServiceRequest),
    "resourceLogs": ("logs", ExportLogsServiceRequest),
    "resourceMetrics": ("metrics", ExportMetricsServiceRequest),
}
ID_FIELDS = {"traceId", "spanId", "parentSpanId"}
ENUM_FIELDS = {"kind", "code", "severityNumber", "aggregationTemporality"}


def fail(line_no, why):
    raise SystemExit(f"line {line_no}: {why}")


def to_protobuf_json(value, line_no):
    """The OTLP JSON value with hex ids as base64, checking the encoding's own rules."""
    if isinstance(value, list):
        return [to_protobuf_json(v, line_no) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, v in value.items():
        if "_" in key:
            fail(line_no, f"field {key!r} is not lowerCamelCase")
        if key in ENUM_FIELDS and not isinstance(v, int):
            fail(line_no, f"enum {key!r} is {v!r}, not an integer")
        if key in ID_FIELDS:
            if not isinstance(v, str) or v != v.lower():
                fail(line_no, f"{key} {v!r} is not lowercase hex")
            try:
                v = base64.b64encode(bytes.fromhex(v)).decode("ascii")
            except ValueError:
                fail(line_no, f"{key} {v!r} is not hex")
        out[key] = to_protobuf_json(v, line_no)
    return out


def check_id(line_no, what, raw, sizes):
    if len(raw) not in sizes:
        fail(line_no, f"{what} has {len(raw)} bytes")
    return raw.hex()


def parse(line_no, text):
    try:
        doc = json.loads(text)
    except ValueError as e:
        fail(line_no, f"not JSON: {e}")
    if not isinstance(doc, dict) or len(doc) != 1 or next(iter(doc)) not in REQUESTS:
        fail(line_no, f"expected one of {sorted(REQUESTS)} as the only key, got {list(doc)}")
    signal, cls = REQUESTS[next(iter(doc))]
    try:
        msg = json_format.Parse(
            json.dumps(to_protobuf_json(doc, line_no)), cls(), ignore_unknown_fields=False
        )
    except json_format.ParseError as e:
        fail(line_no, f"refused by the protobuf JSON parser: {e}")
    return signal, msg


def main(path):
    out = {"lines": [], "resources": [], "spans": [], "logs": [], "metrics": []}
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        raise SystemExit("the last line is not terminated")
    for line_no, line in enumerate(text.splitlines(), start=1):
        signal, msg = parse(line_no, line)
        out["lines"].append(signal)
        if signal == "traces":
            for rs in msg.resource_spans:
                out["resources"].append(attrs(rs.resource.attributes))
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        out["spans"].append({
                            "name": s.name,
                            "scope": ss.scope.name,
                            "kind": s.kind,
                            "trace_id": check_id(line_no, "trace_id", s.trace_id, {16}),
                            "span_id": check_id(line_no, "span_id", s.span_id, {8}),
                            "parent_span_id": check_id(
                                line_no, "parent_span_id", s.parent_span_id, {0, 8}
                            ),
                            "status_code": s.status.code,
                            "status_message": s.status.message,
                            "ordered": 0 < s.start_time_unix_nano <= s.end_time_unix_nano,
                            "attributes": attrs(s.attributes),
                            "events": [
                                {"name": e.name, "attributes": attrs(e.attributes)}
                                for e in s.events
                            ],
                        })
        elif signal == "logs":
            for rl in msg.resource_logs:
                out["resources"].append(attrs(rl.resource.attributes))
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        out["logs"].append({
                            "event_name": r.event_name,
                            "severity_number": r.severity_number,
                            "severity_text": r.severity_text,
                            "body": any_value(r.body),
                            "trace_id": check_id(line_no, "trace_id", r.trace_id, {0, 16}),
                            "span_id": check_id(line_no, "span_id", r.span_id, {0, 8}),
                            "timed": r.time_unix_nano > 0,
                            "attributes": attrs(r.attributes),
                        })
        else:
            for rm in msg.resource_metrics:
                out["resources"].append(attrs(rm.resource.attributes))
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        entry = {"name": m.name, "type": kind}
                        if kind == "sum":
                            entry["monotonic"] = m.sum.is_monotonic
                            entry["temporality"] = m.sum.aggregation_temporality
                            points = m.sum.data_points
                            entry["values"] = [p.as_double for p in points]
                        elif kind == "gauge":
                            points = m.gauge.data_points
                            entry["values"] = [p.as_double for p in points]
                        elif kind == "histogram":
                            entry["temporality"] = m.histogram.aggregation_temporality
                            points = m.histogram.data_points
                            entry["counts"] = [p.count for p in points]
                            entry["sums"] = [p.sum for p in points]
                            entry["mins"] = [p.min for p in points]
                            entry["maxes"] = [p.max for p in points]
                            entry["bucket_counts"] = [list(p.bucket_counts) for p in points]
                            entry["explicit_bounds"] = [list(p.explicit_bounds) for p in points]
                        else:
                            fail(line_no, f"metric {m.name!r} of unexpected type {kind}")
                        entry["attributes"] = [attrs(p.attributes) for p in points]
                        out["metrics"].append(entry)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
