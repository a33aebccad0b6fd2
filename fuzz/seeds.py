#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/), small real inputs
from which libFuzzer starts: OTLP requests encoded by hand in the protobuf wire format
(no protobuf library needed), the same requests as OTLP JSON, compressed bodies, texts
for the redactor, agent event envelopes, query strings and configuration files.

Run it from anywhere (`python3 fuzz/seeds.py`); it rewrites the corpus directories it
owns. The OTLP targets' first byte chooses the signal (0 traces, 1 metrics, 2 logs), the
decompress target's the Content-Encoding, the params target's the endpoint.
"""

import gzip
import json
import os
import shutil
import struct
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# --- protobuf wire format -------------------------------------------------------------

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, n):
    return key(field, VARINT) + varint(n)


def f_sint(field, n):
    return f_varint(field, (n << 1) ^ (n >> 63))


def f_len(field, data):
    if isinstance(data, str):
        data = data.encode()
    return key(field, LEN) + varint(len(data)) + data


def f_fixed64(field, n):
    return key(field, I64) + struct.pack("<Q", n)


def f_sfixed64(field, n):
    return key(field, I64) + struct.pack("<q", n)


def f_double(field, x):
    return key(field, I64) + struct.pack("<d", x)


def f_fixed32(field, n):
    return key(field, I32) + struct.pack("<I", n)


def packed_fixed64(field, values):
    return f_len(field, b"".join(struct.pack("<Q", v) for v in values))


def packed_double(field, values):
    return f_len(field, b"".join(struct.pack("<d", v) for v in values))


def packed_varint(field, values):
    return f_len(field, b"".join(varint(v) for v in values))


# common.v1


def any_string(s):
    return f_len(1, s)


def any_bool(b):
    return f_varint(2, 1 if b else 0)


def any_int(i):
    return f_varint(3, i)


def any_double(x):
    return f_double(4, x)


def any_array(values):
    return f_len(5, b"".join(f_len(1, v) for v in values))


def any_kvlist(kvs):
    return f_len(6, b"".join(f_len(1, kv) for kv in kvs))


def any_bytes(b):
    return f_len(7, b)


def kv(k, value):
    return f_len(1, k) + f_len(2, value)


def attrs(field, kvs):
    return b"".join(f_len(field, x) for x in kvs)


def resource(service, extra=()):
    return attrs(1, [kv("service.name", any_string(service)), *extra])


def scope(name, version="1.0.0"):
    return f_len(1, name) + f_len(2, version)


T0 = 1_763_780_400_000_000_000
MS = 1_000_000


def tid(n):
    return n.to_bytes(16, "big")


def sid(n):
    return n.to_bytes(8, "big")


# trace.v1


def span(
    trace,
    span_id,
    name,
    start,
    end,
    attributes=(),
    parent=None,
    kind=2,
    events=(),
    links=(),
    status=None,
):
    out = f_len(1, trace) + f_len(2, span_id)
    if parent is not None:
        out += f_len(4, parent)
    out += f_len(5, name) + f_varint(6, kind)
    out += f_fixed64(7, start) + f_fixed64(8, end)
    out += attrs(9, attributes)
    for e in events:
        out += f_len(11, e)
    for link in links:
        out += f_len(13, link)
    if status is not None:
        code, message = status
        out += f_len(15, f_len(2, message) + f_varint(3, code))
    out += f_fixed32(16, 0x101)
    return out


def event(time, name, attributes=()):
    return f_fixed64(1, time) + f_len(2, name) + attrs(3, attributes)


def link(trace, span_id, attributes=()):
    return f_len(1, trace) + f_len(2, span_id) + attrs(4, attributes) + f_fixed32(6, 1)


def traces_request(service, spans, resource_extra=()):
    scope_spans = f_len(1, scope("fuzz-seed")) + b"".join(f_len(2, s) for s in spans)
    resource_spans = (
        f_len(1, resource(service, resource_extra))
        + f_len(2, scope_spans)
        + f_len(3, "https://opentelemetry.io/schemas/1.26.0")
    )
    return f_len(1, resource_spans)


# logs.v1


def log_record(
    time,
    severity,
    text,
    body,
    attributes=(),
    trace=None,
    span_id=None,
    event_name=None,
    observed=None,
):
    out = b""
    if time is not None:
        out += f_fixed64(1, time)
    out += f_varint(2, severity) + f_len(3, text)
    if body is not None:
        out += f_len(5, body)
    out += attrs(6, attributes) + f_fixed32(8, 1)
    if trace is not None:
        out += f_len(9, trace)
    if span_id is not None:
        out += f_len(10, span_id)
    if observed is not None:
        out += f_fixed64(11, observed)
    if event_name is not None:
        out += f_len(12, event_name)
    return out


def logs_request(service, records):
    scope_logs = f_len(1, scope("fuzz-seed")) + b"".join(f_len(2, r) for r in records)
    return f_len(1, f_len(1, resource(service)) + f_len(2, scope_logs))


# metrics.v1


def number_point(time, value, attributes=(), start=None, exemplar=None):
    out = attrs(7, attributes)
    if start is not None:
        out += f_fixed64(2, start)
    out += f_fixed64(3, time)
    out += f_sfixed64(6, value) if isinstance(value, int) else f_double(4, value)
    if exemplar is not None:
        out += f_len(5, exemplar)
    return out


def exemplar(time, value, trace, span_id):
    return (
        attrs(7, [kv("user.plan", any_string("pro"))])
        + f_fixed64(2, time)
        + f_double(3, value)
        + f_len(4, span_id)
        + f_len(5, trace)
    )


def histogram_point(time, count, total, buckets, bounds, lo, hi, attributes=()):
    return (
        attrs(9, attributes)
        + f_fixed64(2, time - 60_000 * MS)
        + f_fixed64(3, time)
        + f_fixed64(4, count)
        + f_double(5, total)
        + packed_fixed64(6, buckets)
        + packed_double(7, bounds)
        + f_double(11, lo)
        + f_double(12, hi)
    )


def exponential_point(time):
    buckets = f_sint(1, -2) + packed_varint(2, [1, 0, 3, 300])
    return (
        f_fixed64(3, time)
        + f_fixed64(4, 304)
        + f_double(5, 1234.5)
        + f_sint(6, 3)
        + f_fixed64(7, 0)
        + f_len(8, buckets)
        + f_len(9, buckets)
    )


def summary_point(time):
    quantiles = f_len(6, f_double(1, 0.5) + f_double(2, 12.0)) + f_len(
        6, f_double(1, 0.99) + f_double(2, 80.0)
    )
    return f_fixed64(3, time) + f_fixed64(4, 10) + f_double(5, 150.0) + quantiles


def metric(name, unit, data_field, data):
    return f_len(1, name) + f_len(2, "seed metric") + f_len(3, unit) + f_len(data_field, data)


def metrics_request(service, metrics):
    scope_metrics = f_len(1, scope("fuzz-seed")) + b"".join(f_len(2, m) for m in metrics)
    return f_len(1, f_len(1, resource(service)) + f_len(2, scope_metrics))


# --- the requests ---------------------------------------------------------------------

TRACE_A, TRACE_B = tid(0xABAB_0001), tid(0xCDCD_0002)
CORRELATION = "00262331-6790-46f4-b32a-4bef2942c8b0"

web_spans = [
    span(
        TRACE_A,
        sid(1),
        "GET /api/items",
        T0,
        T0 + 35 * MS,
        [
            kv("http.request.method", any_string("GET")),
            kv("http.response.status_code", any_int(200)),
            kv("server.duration", any_double(35.2)),
            kv("cache.hit", any_bool(True)),
            kv("tags", any_array([any_string("a"), any_int(2), any_double(float("nan"))])),
            kv("nested", any_kvlist([kv("k", any_string("v")), kv("deep", any_kvlist([kv("x", any_int(-1))]))])),
            kv("raw", any_bytes(b"\x00\x01\xfe")),
            kv("user.email", any_string("alice@example.com")),
        ],
        events=[event(T0 + 5 * MS, "cache.lookup", [kv("key", any_string("items:1"))])],
        links=[link(TRACE_B, sid(9), [kv("link.kind", any_string("follows"))])],
        status=(0, ""),
    ),
    span(TRACE_A, sid(2), "SELECT items", T0 + 2 * MS, T0 + 30 * MS, parent=sid(1), kind=3),
    span(
        TRACE_A,
        sid(3),
        "publish",
        T0 + 31 * MS,
        T0 + 20 * MS,
        parent=sid(1),
        kind=4,
        status=(2, "broker unavailable"),
    ),
]
traces_web = traces_request("checkout", web_spans, [kv("host.name", any_string("web-1"))])

agent_spans = [
    span(
        TRACE_B,
        sid(10),
        "invoke_agent planner",
        T0,
        T0 + 900 * MS,
        [
            kv("gen_ai.operation.name", any_string("invoke_agent")),
            kv("gen_ai.agent.name", any_string("planner")),
            kv("correlation_id", any_string(CORRELATION)),
            kv("agent.prompt", any_string("plan a trip")),
            kv("agent.quality_score", any_double(0.75)),
            kv("agent.status", any_string("completed")),
        ],
        events=[
            event(
                T0 + 100 * MS,
                "agent.decision",
                [
                    kv("agent.choice", any_string("search")),
                    kv("agent.action_id", any_string("5f0c7a4e-2d1b-4c3a-9e8f-7a6b5c4d3e2f")),
                ],
            )
        ],
    ),
    span(
        TRACE_B,
        sid(11),
        "execute_tool search",
        T0 + 120 * MS,
        T0 + 400 * MS,
        [
            kv("gen_ai.operation.name", any_string("execute_tool")),
            kv("gen_ai.tool.name", any_string("search")),
            kv("gen_ai.agent.name", any_string("planner")),
            kv("correlation_id", any_string(CORRELATION)),
            kv("agent.action_id", any_string("9b2e6f1a-3c4d-4e5f-8a9b-0c1d2e3f4a5b")),
            kv("agent.duration_ms", any_double(280.0)),
        ],
        parent=sid(10),
        kind=1,
        status=(2, "timeout"),
    ),
]
traces_agent = traces_request("planner-service", agent_spans)

# Items the rows refuse or repair: a zero trace id, a short span id, a parent of the
# wrong length, an empty span, a span ending before it starts.
bad_spans = [
    span(tid(0), sid(1), "zero trace id", T0, T0 + MS),
    span(TRACE_A, b"\x01\x02", "short span id", T0, T0 + MS),
    span(TRACE_A, sid(5), "long parent", T0, T0 + MS, parent=b"\x01" * 9),
    b"",
    span(TRACE_A, sid(6), "ends first", T0 + 10 * MS, T0),
]
traces_bad = traces_request("edge", bad_spans)

logs = logs_request(
    "checkout",
    [
        log_record(
            T0,
            9,
            "INFO",
            any_string("order 1234 placed by alice@example.com"),
            [kv("order.id", any_int(1234))],
            trace=TRACE_A,
            span_id=sid(1),
        ),
        log_record(
            None,
            17,
            "ERROR",
            any_kvlist([kv("message", any_string("payment failed")), kv("code", any_int(402))]),
            [kv("exception.type", any_string("PaymentError"))],
            observed=T0 + 5 * MS,
        ),
        log_record(
            T0 + 7 * MS,
            9,
            "INFO",
            any_string("chose search"),
            [
                kv("correlation_id", any_string(CORRELATION)),
                kv("gen_ai.agent.name", any_string("planner")),
                kv("agent.choice", any_string("search")),
            ],
            event_name="agent.decision",
        ),
        log_record(
            T0 + 8 * MS,
            13,
            "WARN",
            None,
            [kv("event.name", any_string("agent.error")), kv("correlation_id", any_string(CORRELATION)), kv("error.message", any_string("tool failed"))],
        ),
        log_record(T0, 5, "DEBUG", any_bytes(b"\xff\x00"), trace=b"\x01" * 3),
    ],
)

metrics = metrics_request(
    "checkout",
    [
        metric(
            "http.server.active_requests",
            "{request}",
            5,
            f_len(1, number_point(T0, 3, [kv("route", any_string("/items"))]))
            + f_len(1, number_point(T0 + 1000 * MS, float("inf"))),
        ),
        metric(
            "orders",
            "1",
            7,
            f_len(1, number_point(T0, 5.5, start=T0 - 60_000 * MS, exemplar=exemplar(T0, 5.5, TRACE_A, sid(1))))
            + f_varint(2, 1)
            + f_varint(3, 1),
        ),
        metric(
            "http.server.duration",
            "ms",
            9,
            f_len(1, histogram_point(T0, 6, 42.0, [1, 2, 3], [5.0, 10.0], 1.0, 20.0))
            + f_varint(2, 2),
        ),
        metric("queue.latency", "ms", 10, f_len(1, exponential_point(T0)) + f_varint(2, 2)),
        metric("rpc.duration", "ms", 11, f_len(1, summary_point(T0))),
        f_len(1, "no.data"),
    ],
)

# --- OTLP JSON --------------------------------------------------------------------------

json_traces = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [
                    {"key": "service.name", "value": {"stringValue": "checkout"}},
                    {"key": "host.name", "value": {"stringValue": "web-1"}},
                ]
            },
            "scopeSpans": [
                {
                    "scope": {"name": "fuzz-seed", "version": "1.0.0"},
                    "spans": [
                        {
                            "traceId": "0000000000000000000000000000abab",
                            "spanId": "0000000000000001",
                            "name": "GET /api/items",
                            "kind": 2,
                            "startTimeUnixNano": str(T0),
                            "endTimeUnixNano": str(T0 + 35 * MS),
                            "attributes": [
                                {"key": "http.response.status_code", "value": {"intValue": "200"}},
                                {"key": "server.duration", "value": {"doubleValue": 35.2}},
                                {"key": "cache.hit", "value": {"boolValue": True}},
                                {"key": "raw", "value": {"bytesValue": "AAH+"}},
                                {
                                    "key": "tags",
                                    "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 2}]}},
                                },
                                {
                                    "key": "nested",
                                    "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}},
                                },
                            ],
                            "events": [
                                {
                                    "timeUnixNano": str(T0 + 5 * MS),
                                    "name": "cache.lookup",
                                    "attributes": [{"key": "key", "value": {"stringValue": "items:1"}}],
                                }
                            ],
                            "links": [
                                {"traceId": "0000000000000000000000000000cdcd", "spanId": "0000000000000009"}
                            ],
                            "status": {"code": 2, "message": "broker unavailable"},
                        },
                        {
                            "traceId": "0000000000000000000000000000abab",
                            "spanId": "0000000000000002",
                            "parentSpanId": "0000000000000001",
                            "name": "invoke_agent planner",
                            "startTimeUnixNano": T0,
                            "endTimeUnixNano": T0 - 1,
                            "attributes": [
                                {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                                {"key": "correlation_id", "value": {"stringValue": CORRELATION}},
                                {"key": "gen_ai.agent.name", "value": {"stringValue": "planner"}},
                            ],
                        },
                        {"traceId": "", "spanId": "0102", "name": "bad ids"},
                    ],
                }
            ],
        }
    ]
}

json_logs = {
    "resourceLogs": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
            "scopeLogs": [
                {
                    "scope": {"name": "fuzz-seed"},
                    "logRecords": [
                        {
                            "timeUnixNano": str(T0),
                            "severityNumber": 9,
                            "severityText": "INFO",
                            "body": {"stringValue": "order placed"},
                            "attributes": [{"key": "order.id", "value": {"intValue": "1234"}}],
                            "traceId": "0000000000000000000000000000abab",
                            "spanId": "0000000000000001",
                        },
                        {
                            "observedTimeUnixNano": str(T0 + 1),
                            "severityNumber": 17,
                            "body": {"kvlistValue": {"values": [{"key": "code", "value": {"intValue": 402}}]}},
                            "eventName": "agent.decision",
                            "attributes": [
                                {"key": "correlation_id", "value": {"stringValue": CORRELATION}},
                                {"key": "agent.choice", "value": {"stringValue": "search"}},
                            ],
                        },
                    ],
                }
            ],
        }
    ]
}

json_metrics = {
    "resourceMetrics": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
            "scopeMetrics": [
                {
                    "scope": {"name": "fuzz-seed"},
                    "metrics": [
                        {
                            "name": "orders",
                            "unit": "1",
                            "sum": {
                                "aggregationTemporality": 1,
                                "isMonotonic": True,
                                "dataPoints": [
                                    {
                                        "timeUnixNano": str(T0),
                                        "asInt": "5",
                                        "attributes": [{"key": "route", "value": {"stringValue": "/items"}}],
                                        "exemplars": [{"timeUnixNano": str(T0), "asDouble": 5.0, "traceId": "0000000000000000000000000000abab", "spanId": "0000000000000001"}],
                                    }
                                ],
                            },
                        },
                        {"name": "active", "gauge": {"dataPoints": [{"timeUnixNano": str(T0), "asDouble": 3.5}]}},
                        {
                            "name": "duration",
                            "histogram": {
                                "aggregationTemporality": 2,
                                "dataPoints": [
                                    {
                                        "timeUnixNano": str(T0),
                                        "count": "6",
                                        "sum": 42.0,
                                        "bucketCounts": ["1", "2", "3"],
                                        "explicitBounds": [5.0, 10.0],
                                        "min": 1.0,
                                        "max": 20.0,
                                    }
                                ],
                            },
                        },
                        {
                            "name": "queue",
                            "exponentialHistogram": {
                                "dataPoints": [
                                    {"timeUnixNano": str(T0), "count": "4", "scale": 3, "positive": {"offset": -2, "bucketCounts": ["1", "3"]}}
                                ]
                            },
                        },
                        {
                            "name": "rpc",
                            "summary": {
                                "dataPoints": [
                                    {"timeUnixNano": str(T0), "count": "10", "sum": 150.0, "quantileValues": [{"quantile": 0.5, "value": "NaN"}]}
                                ]
                            },
                        },
                        {"name": "no.data"},
                    ],
                }
            ],
        }
    ]
}


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


# --- writing ----------------------------------------------------------------------------


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    directory = os.path.join(ROOT, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def clear(target):
    directory = os.path.join(ROOT, target)
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            os.remove(os.path.join(directory, name))


for target in ["otlp_protobuf", "otlp_json", "decompress", "redact", "kafka_envelope", "params", "config"]:
    clear(target)

# otlp_protobuf: the signal byte, then the body.
write("otlp_protobuf", "traces-web", b"\x00" + traces_web)
write("otlp_protobuf", "traces-agent", b"\x00" + traces_agent)
write("otlp_protobuf", "traces-refused", b"\x00" + traces_bad)
write("otlp_protobuf", "traces-empty-spans", b"\x00" + traces_request("s", [b""] * 16))
write("otlp_protobuf", "metrics-every-kind", b"\x01" + metrics)
write("otlp_protobuf", "logs", b"\x02" + logs)

# otlp_json
write("otlp_json", "traces", b"\x00" + compact(json_traces))
write("otlp_json", "traces-pretty", b"\x00" + json.dumps(json_traces, indent=1).encode())
write("otlp_json", "traces-escaped-key", b'\x00{"resourceSpans":[{"scopeSpans":[{"sp\\u0061ns":[{},{},{}]}]}]}')
write("otlp_json", "metrics", b"\x01" + compact(json_metrics))
write("otlp_json", "logs", b"\x02" + compact(json_logs))
write("otlp_json", "traces-proto-names", b'\x00{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174","name":"a","kind":"SPAN_KIND_SERVER","start_time_unix_nano":"1","end_time_unix_nano":"2","status":{"code":"STATUS_CODE_ERROR"}}]}]}]}')
write("otlp_json", "logs-enum-names", b'\x02{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","severityNumber":"SEVERITY_NUMBER_WARN","body":{"stringValue":"x"}}]}]}]}')
write("otlp_json", "metrics-enum-names", b'\x01{"resource_metrics":[{"scope_metrics":[{"metrics":[{"name":"c","sum":{"aggregation_temporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","is_monotonic":true,"data_points":[{"start_time_unix_nano":"1","time_unix_nano":"2","as_int":"5"}]}}]}]}]}')
write("otlp_json", "logs-unknown-keys", b'\x02{"resourceLogs":[{"future":{"a":[1,2,{"b":null}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x\\n\\"y\\""}}]}]}]}')


# decompress: the encoding byte (0 identity, 1 gzip, 2 zstd, 4 " GZIP "), then the body.
def gz(data):
    return gzip.compress(data, mtime=0)


def zstd_frame(data):
    # One frame with one raw block, written by hand: magic, frame header (single
    # segment, one-byte content size), block header (last, raw, size), content.
    assert len(data) < 256
    block = (len(data) << 3) | 1
    return b"\x28\xb5\x2f\xfd" + b"\x20" + bytes([len(data)]) + block.to_bytes(3, "little") + data


small = traces_request("s", web_spans[1:2])
write("decompress", "identity", b"\x00" + small)
write("decompress", "gzip", b"\x01" + gz(traces_web))
write("decompress", "gzip-two-members", b"\x01" + gz(small[:20]) + gz(small[20:]))
write("decompress", "gzip-trailing-garbage", b"\x01" + gz(small) + b"garbage")
write("decompress", "gzip-bomb", b"\x01" + gz(b"\x00" * 1_000_000))
write("decompress", "gzip-upper", b"\x04" + gz(small))
write("decompress", "zstd", b"\x02" + zstd_frame(small))
write("decompress", "zstd-two-frames", b"\x02" + zstd_frame(small[:30]) + zstd_frame(small[30:]))
write("decompress", "zstd-trailing", b"\x02" + zstd_frame(small) + b"\x28\xb5")
if shutil.which("zstd"):
    # A frame with compressed blocks, as a real client sends, when the zstd tool is here.
    packed = subprocess.run(["zstd", "-q", "-c", "-3"], input=traces_web, capture_output=True, check=True).stdout
    write("decompress", "zstd-compressed", b"\x02" + packed)

# redact: texts with every kind of secret, and near misses.
redact_seeds = {
    "email": "contact alice.smith+tag@example.co.uk now; root@localhost stays",
    "phone": "call +1 415 555 2671 today or (415) 555-2671 or 020 7946 0958",
    "card": "card 4111 1111 1111 1111 ok, 4111 1111 1111 1112 is not one",
    "ip": "from 192.168.1.20 and 8.8.8.8, peer 2001:db8::8a2e:370:7334 up, fe80::1%eth0",
    "jwt": "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "bearer": "Authorization: Bearer abc123def456ghi\nbasic dXNlcjpwYXNzd29yZA==",
    "api-keys": "key sk-proj-abcdefghijklmnopqrstuvwx1234 ghp_abcdefghijklmnopqrstuvwxyz0123456789 AKIAIOSFODNN7EXAMPLE xoxb-1234567890-abcdefghij",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done",
    "urls": "postgres://admin:hunter2@db.internal:5432/app https://api.example.com/v1?page=2&token=abc123 /cb?code=xyz&state=1",
    "paths": "/home/alice/project/main.rs /Users/bob/Library C:\\Users\\carol\\AppData",
    "markers": "[REDACTED:email] already [REDACTED:phone]... [TRUNCATED] [TRUNCATED:depth]",
    "attributes": "password=hunter2\nuser_id#42\ndb.connection_string=postgres://u:p@h/db\nsession@abc\nemail[a@b.io,x@y.co,z]\nplain=checkout completed in 35 ms",
    "unicode": "naïve café — 東京 +44 20 7946 0958 📞 ünïcödé@exämple.com",
}
for name, text in redact_seeds.items():
    write("redact", name, text)


# kafka_envelope: an envelope of each type, and broken ones.
def envelope(event_type, payload, **extra):
    e = {
        "schema_version": 1,
        "event_id": "5f0c7a4e-2d1b-4c3a-9e8f-7a6b5c4d3e2f",
        "event_type": event_type,
        "correlation_id": CORRELATION,
        "timestamp": "2026-11-22T10:00:00.000000001Z",
        "agent_name": "planner",
        "payload": payload,
    }
    e.update(extra)
    return json.dumps(e)


ACTION = "9b2e6f1a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
envelopes = {
    "execution-started": envelope("execution_started", {"user_prompt": "plan a trip", "parent_correlation_id": None}),
    "execution-progress": envelope("execution_progress", {"stage": "search", "percent": 40}),
    "execution-completed": envelope("execution_completed", {"quality_score": 1.0, "duration_ms": 900.5}),
    "execution-failed": envelope("execution_failed", {"error": "boom", "duration_ms": 0}),
    "tool-call": envelope(
        "tool_call",
        {"action_id": ACTION, "tool_name": "sql", "params": {"q": 1}, "result": [1, 2], "duration_ms": 12},
        trace={"id": "abc"},
    ),
    "decision": envelope(
        "decision",
        {"action_id": ACTION, "choice": "a", "alternatives": ["a", "b"], "confidence": 0.5, "reasoning": "cheaper"},
    ),
    "error": envelope("error", {"action_id": ACTION, "message": "timeout", "kind": "tool"}),
    "success": envelope("success", {"action_id": ACTION, "message": "done"}),
    "routing-decision": envelope(
        "routing_decision", {"selected_agent": "planner", "candidates": ["planner", "coder"], "confidence": 0.9, "reason": "fit"}
    ),
    "manifest-injection": envelope("manifest_injection", {"manifest_id": "m1", "sections": ["a"], "size_bytes": 1024}),
    "offset-time-uppercase-ids": envelope(
        "success",
        {"action_id": ACTION.upper(), "message": "done"},
        event_id="5F0C7A4E-2D1B-4C3A-9E8F-7A6B5C4D3E2F",
        timestamp="2026-11-22T12:00:00.5+02:00",
    ),
    "wrong-version": envelope("success", {"action_id": ACTION, "message": "x"}, schema_version=2),
    "bad-uuid": envelope("success", {"action_id": "not-a-uuid", "message": "x"}),
    "not-json": "{\"schema_version\": 1, \"event_id\": ",
}
for name, text in envelopes.items():
    write("kafka_envelope", name, text)

# params: the endpoint byte (see ROUTES in params.rs), then the query string.
ROUTES = [
    "overview",
    "overview-chart",
    "metric-series",
    "metric-chart",
    "traces",
    "logs",
    "events",
    "services",
    "operations",
    "metrics",
    "runs",
    "history",
    "histogram-series",
]
queries = [
    ("overview", "from=-7d"),
    ("overview", "step=0"),
    ("overview", "from=-49h&step=1h&limit=10"),
    ("overview-chart", "from=2025-11-22T03:00:00Z&to=2025-11-22T05:00:00.5%2B02:00&step=90s"),
    ("metric-series", "agg=max&step=1m&group_by=k&from=-3h"),
    ("metric-chart", "agg=avg&step=3650d"),
    ("traces", "service=api&name=GET%20%2Fitems%2F1&status=error&min_duration_ms=1.5&limit=5"),
    ("traces", "limit=2&cursor=0000000000000001000000000000000a"),
    ("logs", "service=api&severity_min=warn&q=request&trace_id=00000000000000000000000000000001&limit=3"),
    ("events", "name=checkout.completed&from=-1d&to=now"),
    ("services", "limit=10000"),
    ("operations", "service=api&from=-2h&to=-1h"),
    ("metrics", "limit=1"),
    ("runs", "agent=planner&status=completed&limit=1&cursor=18780d2ba61d6a000000000000000001"),
    ("history", "metric=agents.healthy&from=-1h&step=5m"),
    ("histogram-series", "step=2m&agg=count"),
    ("overview", "from=2554-07-21T23:34:33.709551615Z&to=2554-07-21T23:34:33.709551615Z"),
]
for i, (route, q) in enumerate(queries):
    write("params", f"{i:02}-{route}", bytes([ROUTES.index(route)]) + q.encode())

# config: serve's file, health's targets file, the SDK's environment.
write(
    "config",
    "serve.toml",
    """data_dir = "./data"
storage = "sqlite"
http_addr = "127.0.0.1:4318"
grpc_addr = "off"
insecure = false
retention_raw = "7d"
retention_rollups = "30d"
retention_interval = "0s"
probe_interval = "30s"
probe_webhook = "http://alerts.internal/probe"
alert_interval = "15s"
alert_webhook = "http://alerts.internal/hook"
fleet_interval = "off"
public_rate_limit = 60
http_header_timeout = "0s"
http_body_timeout = "5m"
http_max_connections = 0

[[token]]
token = "0123456789abcdef0123"
scopes = ["ingest", "read"]

[[probe]]
name = "payments-db"
url = "postgres://app:secret@db.internal:5432/payments?sslmode=disable&password=x"
critical = true
timeout = "5s"

[[probe]]
url = "grafana://grafana.internal:3000"
depends_on = ["payments-db"]

[[alert]]
name = "payments database down"
metric = "up"
where = "target=payments-db"
reduce = "last"
condition = "< 1"
window = "2m"
for = "1m"
severity = "critical"

[[agent]]
name = "planner"
service = "agents"
url = "http://planner.internal:8080/health"
""",
)
write(
    "config",
    "health.toml",
    """[[target]]
name = "cache"
url = "redis://:hunter2@cache.internal:6379/0"

[[target]]
name = "api"
url = "https://api.internal/health?token=abc&X-Amz-Signature=def#access_token=ghi"
expect_status = 204
json_field = "status.db"
json_value = "ok"
depends_on = ["cache"]
critical = false

[[target]]
url = "consul://consul.internal:8500"
preset = "consul"
""",
)
write(
    "config",
    "sdk.env",
    """OTEL_SERVICE_NAME=checkout
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318/
OTEL_EXPORTER_OTLP_PROTOCOL=http/json
OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20abc,x-tenant=a%2Cb
OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod,service.version=1.2.3
AUTOMAGIK_TELEMETRY_BATCH_SIZE=512
AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL=250ms
AUTOMAGIK_TELEMETRY_QUEUE_SIZE=10000
AUTOMAGIK_TELEMETRY_COMPRESSION=gzip
AUTOMAGIK_TELEMETRY_COMPRESSION_THRESHOLD=1024
AUTOMAGIK_TELEMETRY_MAX_RETRIES=3
AUTOMAGIK_TELEMETRY_RETRY_BACKOFF=1.5s
AUTOMAGIK_TELEMETRY_TIMEOUT=5s
AUTOMAGIK_TELEMETRY_VERBOSE=yes
AUTOMAGIK_TELEMETRY_SPOOL_DIR=/tmp/spool
""",
)
write(
    "config",
    "sdk-clickhouse.env",
    """AUTOMAGIK_TELEMETRY_BACKEND=clickhouse
AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT=http://clickhouse.internal:8123
AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE=otel
AUTOMAGIK_TELEMETRY_CLICKHOUSE_USER=default
AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD= secret with spaces
AUTOMAGIK_TELEMETRY_KAFKA_BROKERS=kafka-1:9092,kafka-2:9092
AUTOMAGIK_TELEMETRY_ENDPOINT=not a url
""",
)
write("config", "token-spec.toml", 'token = ["0123456789abcdef0123:ingest,read", "short"]\ngrpc_addr = "[::1]:4317"\n')
