"""Hostile-ish traffic for scripts/soak until a deadline: every second one request the
server must refuse (or accept only in part) in a known way, in rotation, and slow
clients that the server's time limits must cut. Counters go to a status file (see
soaklib.py): each answer as expected is an expected refusal, anything else (another
status, a 5xx, a refused or reset connection, a slow client left open) is unexpected.

Usage: hostile.py --http-port N --grpc-port N --deadline EPOCH --status-dir DIR
                  --header-timeout SECONDS --body-timeout SECONDS
Tokens are read from SOAK_INGEST_TOKEN and SOAK_READ_TOKEN.

In rotation (HTTP unless marked gRPC):
- a span with an all-zero trace id, and one with a 15-byte trace id, each beside a valid
  span: 200 with partial success, one span rejected (also over gRPC);
- a valid OTLP JSON span: 200;
- a truncated protobuf body and a truncated JSON body: 400 (gRPC: INVALID_ARGUMENT);
- a Content-Length of 1 GiB with no body: 413, answered before any body is read;
- a gzip body of about 40 KiB that inflates to 40 MiB: 413;
- Content-Type text/plain: 415; Content-Encoding br: 400;
- no token: 401 (gRPC: UNAUTHENTICATED); a read token on ingest: 403.
Slow clients, one after another for the whole run:
- two that send a request header a byte every 0.5 s: the connection is closed once the
  header time limit has passed;
- one that sends its headers at once and then its body a byte every 0.5 s: answered 408
  (or closed) once the body time limit has passed.
"""

import argparse
import gzip
import http.client
import json
import os
import select
import socket
import threading
import time

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from soaklib import Status

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
# Field 1 (resource_spans), length-delimited, announcing far more bytes than follow.
TRUNCATED_PROTOBUF = b"\x0a\xff\xff\xff\x0f\x0a\x02"
TRUNCATED_JSON = b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "'


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--grpc-port", type=int, required=True)
    p.add_argument("--deadline", type=float, required=True)
    p.add_argument("--status-dir", required=True)
    p.add_argument("--header-timeout", type=float, required=True)
    p.add_argument("--body-timeout", type=float, required=True)
    return p.parse_args()


def kv(key, value):
    return KeyValue(key=key, value=AnyValue(string_value=value))


def span(trace_id, name):
    now = time.time_ns()
    return Span(trace_id=trace_id, span_id=os.urandom(8), name=name, kind=Span.SPAN_KIND_SERVER,
                start_time_unix_nano=now - 5_000_000, end_time_unix_nano=now,
                attributes=[kv("soak.case", name)])


def partial_request(bad_trace_id):
    """A valid span and one with `bad_trace_id`, as protobuf bytes."""
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=[kv("service.name", "soak-hostile")]),
        scope_spans=[ScopeSpans(scope=InstrumentationScope(name="soak.hostile"),
                                spans=[span(os.urandom(16), "valid beside an invalid one"),
                                       span(bad_trace_id, "invalid trace id")])])])
    return request.SerializeToString()


def valid_json():
    now = time.time_ns()
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "soak-hostile"}}]},
        "scopeSpans": [{"scope": {"name": "soak.hostile"}, "spans": [{
            "traceId": os.urandom(16).hex(), "spanId": os.urandom(8).hex(), "name": "valid json",
            "kind": 2, "startTimeUnixNano": str(now - 3_000_000), "endTimeUnixNano": str(now)}]}]}]}).encode()


def guarded(status, case, *args):
    """Runs one case; an exception in the client itself is counted, not fatal."""
    try:
        case(*args)
    except Exception as e:  # a bug or an answer of a shape no case expects
        status.fail(f"{getattr(case, '__name__', 'case')} raised {type(e).__name__}: {str(e)[:60]}")
        time.sleep(1)


class Hostile:
    def __init__(self, args, status):
        self.args = args
        self.status = status
        self.ingest = os.environ.get("SOAK_INGEST_TOKEN", "")
        self.read = os.environ.get("SOAK_READ_TOKEN", "")
        # 40 MiB of zeros, compressed once.
        self.bomb = gzip.compress(bytes(40 << 20), compresslevel=9)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{args.grpc_port}")
        self.export = self.channel.unary_unary(TRACE_EXPORT)
        self.longest = {}

    # ------------------------------------------------------------- HTTP, one request

    def post(self, body, headers, path="/v1/traces"):
        """(status, body); status 0 with the error's text when the connection failed."""
        conn = http.client.HTTPConnection("127.0.0.1", self.args.http_port, timeout=20)
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as e:
            return 0, f"{type(e).__name__}: {e}".encode()
        finally:
            conn.close()

    def headers(self, content_type="application/x-protobuf", token=None, **extra):
        h = {"Content-Type": content_type}
        token = self.ingest if token is None else token
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(extra)
        return h

    def judge(self, kind, status, want, body=b""):
        self.status.request()
        if status == want:
            self.status.expect(kind)
            return True
        if status == 0:
            self.status.fail(f"{kind}: connection failed ({body.decode(errors='replace')[:80]})")
        else:
            self.status.fail(f"{kind}: got {status}")
        return False

    def partial(self, bad, label):
        status, body = self.post(partial_request(bad), self.headers())
        kind = f"200 partial success, {label} rejected"
        self.status.request()
        if status != 200:
            self.status.fail(f"{kind}: got {status or body.decode(errors='replace')[:80]}")
            return
        try:
            rejected = ExportTraceServiceResponse.FromString(body).partial_success.rejected_spans
        except Exception:  # the answer is not the protobuf response
            rejected = None
        if rejected == 1:
            self.status.expect(kind)
            self.status.items("spans", 2, 1)
        else:
            self.status.fail(f"{kind}: rejected_spans = {rejected}")

    def zero_trace_id(self):
        self.partial(bytes(16), "an all-zero trace id")

    def short_trace_id(self):
        self.partial(os.urandom(15), "a 15-byte trace id")

    def json_span(self):
        status, body = self.post(valid_json(), self.headers("application/json"))
        if self.judge("200 valid OTLP JSON span", status, 200, body):
            self.status.items("spans", 1, 1)

    def truncated_protobuf(self):
        status, body = self.post(TRUNCATED_PROTOBUF, self.headers())
        self.judge("400 truncated protobuf", status, 400, body)

    def truncated_json(self):
        status, body = self.post(TRUNCATED_JSON, self.headers("application/json"))
        self.judge("400 truncated JSON", status, 400, body)

    def oversize_length(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.args.http_port, timeout=20)
        try:
            conn.putrequest("POST", "/v1/traces", skip_accept_encoding=True)
            for k, v in self.headers(**{"Content-Length": str(1 << 30)}).items():
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            status, body = resp.status, resp.read()
        except (OSError, http.client.HTTPException) as e:
            status, body = 0, f"{type(e).__name__}: {e}".encode()
        finally:
            conn.close()
        self.judge("413 Content-Length of 1 GiB, no body read", status, 413, body)

    def gzip_bomb(self):
        status, body = self.post(self.bomb, self.headers(**{"Content-Encoding": "gzip"}))
        self.judge(f"413 gzip body of {len(self.bomb) // 1024} KiB inflating to 40 MiB", status, 413, body)

    def wrong_type(self):
        status, body = self.post(b"hello", self.headers("text/plain"))
        self.judge("415 Content-Type text/plain", status, 415, body)

    def wrong_encoding(self):
        status, body = self.post(partial_request(os.urandom(16)), self.headers(**{"Content-Encoding": "br"}))
        self.judge("400 Content-Encoding br", status, 400, body)

    def no_token(self):
        status, body = self.post(partial_request(os.urandom(16)), self.headers(token=""))
        self.judge("401 no token", status, 401, body)

    def read_token(self):
        status, body = self.post(partial_request(os.urandom(16)), self.headers(token=self.read))
        self.judge("403 read token on ingest", status, 403, body)

    # ------------------------------------------------------------- gRPC, one call

    def call(self, payload, token):
        metadata = [("authorization", f"Bearer {token}")] if token else []
        try:
            return grpc.StatusCode.OK, self.export(payload, metadata=metadata, timeout=20)
        except grpc.RpcError as e:
            return e.code(), b""

    def grpc_judge(self, kind, code, want):
        self.status.request()
        if code == want:
            self.status.expect(kind)
        elif code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            self.status.fail(f"{kind}: {code.name} (connection)")
        else:
            self.status.fail(f"{kind}: got {code.name}")

    def grpc_truncated(self):
        code, _ = self.call(TRUNCATED_PROTOBUF, self.ingest)
        self.grpc_judge("gRPC INVALID_ARGUMENT truncated protobuf", code, grpc.StatusCode.INVALID_ARGUMENT)

    def grpc_no_token(self):
        code, _ = self.call(partial_request(os.urandom(16)), "")
        self.grpc_judge("gRPC UNAUTHENTICATED no token", code, grpc.StatusCode.UNAUTHENTICATED)

    def grpc_partial(self):
        code, body = self.call(partial_request(bytes(16)), self.ingest)
        kind = "gRPC OK partial success, an all-zero trace id rejected"
        if code != grpc.StatusCode.OK:
            self.grpc_judge(kind, code, grpc.StatusCode.OK)
            return
        self.status.request()
        try:
            rejected = ExportTraceServiceResponse.FromString(body).partial_success.rejected_spans
        except Exception:  # the answer is not the protobuf response
            rejected = None
        if rejected == 1:
            self.status.expect(kind)
            self.status.items("spans", 2, 1)
        else:
            self.status.fail(f"{kind}: rejected_spans = {rejected}")

    # ------------------------------------------------------------- slow clients

    def slow(self, kind, head, trickle, limit):
        """Sends `head` at once, then `trickle` a byte every 0.5 s, until the server
        answers or closes; judged against the time limit `limit` (seconds)."""
        self.status.request()
        try:
            sock = socket.create_connection(("127.0.0.1", self.args.http_port), timeout=5)
            sock.sendall(head)
        except OSError as e:
            self.status.fail(f"{kind}: connection failed ({e})")
            return
        start = time.monotonic()
        answer = b""
        closed = False
        try:
            for i in range(len(trickle)):
                if time.time() >= self.args.deadline:
                    return  # the run is over: neither cut nor left open
                if time.monotonic() - start > limit * 3:
                    break
                try:
                    sock.sendall(trickle[i:i + 1])
                    ready, _, _ = select.select([sock], [], [], 0.5)
                except OSError:
                    closed = True
                    break
                if ready:
                    try:
                        answer = sock.recv(4096)
                    except OSError:
                        answer = b""
                    closed = True
                    break
        finally:
            sock.close()
        elapsed = time.monotonic() - start
        if not closed:
            self.status.fail(f"{kind}: still open after {elapsed:.0f} s (limit {limit:.0f} s)")
        elif elapsed < limit * 0.5:
            self.status.fail(f"{kind}: cut after {elapsed:.1f} s, before the {limit:.0f} s limit")
        elif elapsed > limit + 10:
            self.status.fail(f"{kind}: cut only after {elapsed:.1f} s (limit {limit:.0f} s)")
        else:
            line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
            how = line[9:12] if line.startswith("HTTP/") else "closed"
            self.status.expect(f"{kind}: {how} after the {limit:.0f} s limit")
            with self.status.lock:
                self.longest[kind] = max(elapsed, self.longest.get(kind, 0.0))
                longest = self.longest[kind]
            self.status.set_extra(f"{kind}: longest wait for the cut (s)", round(longest, 1))

    def slow_headers(self, offset):
        time.sleep(offset)
        limit = self.args.header_timeout
        while time.time() + limit + 12 < self.args.deadline:
            guarded(self.status, self.slow, "slow header", b"POST /v1/traces HTTP/1.1\r\n",
                    b"Host: 127.0.0.1\r\nX-Slow: " + b"a" * 4096, limit)

    def slow_body(self):
        limit = self.args.body_timeout
        while time.time() + limit + 12 < self.args.deadline:
            length = 1 << 16
            head = (f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {self.ingest}\r\nContent-Type: application/x-protobuf\r\n"
                    f"Content-Length: {length}\r\n\r\n").encode()
            guarded(self.status, self.slow, "slow body", head, bytes(length), limit)

    def rotation(self):
        cases = [self.zero_trace_id, self.truncated_protobuf, self.oversize_length, self.grpc_truncated,
                 self.json_span, self.wrong_type, self.short_trace_id, self.no_token, self.gzip_bomb,
                 self.grpc_partial, self.truncated_json, self.read_token, self.wrong_encoding, self.grpc_no_token]
        i = 0
        while time.time() < self.args.deadline:
            began = time.monotonic()
            guarded(self.status, cases[i % len(cases)])
            i += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - began)))


def main():
    args = parse_args()
    status = Status(args.status_dir, "hostile").start()
    hostile = Hostile(args, status)
    threads = [threading.Thread(target=hostile.rotation),
               threading.Thread(target=hostile.slow_headers, args=(0.0,)),
               threading.Thread(target=hostile.slow_headers, args=(args.header_timeout / 2,)),
               threading.Thread(target=hostile.slow_body)]
    for t in threads:
        t.daemon = True
        t.start()
    for t in threads:
        t.join(max(0.0, args.deadline - time.time()) + 25)
    if any(t.is_alive() for t in threads):
        status.fail("a hostile client did not finish 25 s after the deadline")
    hostile.channel.close()
    status.finish()
    os._exit(0)


if __name__ == "__main__":
    main()
