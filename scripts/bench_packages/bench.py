#!/usr/bin/env python3
"""Measures the Python package `automagik-telemetry` importable by this interpreter and
prints one JSON line of results. scripts/bench-packages runs it once in a virtualenv with
our package (0.2.x) and once in one with the original 0.1.4; both have the module
`automagik_telemetry`, so each needs its own.

    python bench.py ours|theirs

`ours` drives the 0.2.x API, `theirs` the 0.1.4 one (the program refuses a mismatch).
Settings, from the environment:

    BENCH_SERVER   base URL of a running `automagik-telemetry serve` (required)
    BENCH_CALLS    track_event calls per timed repetition (default 2000)
    BENCH_REPS     timed repetitions (default 5)
    BENCH_WARMUP   calls before the first repetition (default BENCH_CALLS / 5)
    BENCH_QUEUED   events queued for the memory figure (default 10000)
    BENCH_BATCH    events in the captured batch (default 100)

Consent is given with AUTOMAGIK_TELEMETRY_ENABLED=true (what both versions read; the
caller sets it, with HOME pointing at a scratch directory).

Figures:
  call_ns      caller's wall time per track_event (5 string attributes, one an e-mail
               address, unique values per call), median of the repetitions; the client
               enabled and sending to BENCH_SERVER with its default batching.
  cpu_ns       CPU time of the whole process (every thread) per call over the same
               repetition plus the flush that ends it: what delivering the events costs,
               wherever it runs.
  queued_bytes VmRSS growth after queueing BENCH_QUEUED events with a batch size and a
               flush interval that send nothing (measured first, after as many attribute
               dicts were built and dropped, so that the growth is what the client keeps).
  batch_*      the body of the first POST made for BENCH_BATCH events sent by one flush
               (its length, Content-Encoding, Content-Type and path), with the number and
               total size of the POSTs they took, captured by a listener in this program.
"""

from __future__ import annotations

import gc
import gzip
import http.server
import json
import os
import re
import statistics
import sys
import threading
import time
from importlib.metadata import version as dist_version
from typing import Any, Callable, Dict, List, Optional

import automagik_telemetry as at

EVENT = "bench.event"
MARK = re.compile(rb"batchmark(\d+)x")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def rss_bytes() -> int:
    """VmRSS of this process, from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def attributes(i: int, mark: str = "feature") -> Dict[str, str]:
    """Five string attributes, one an e-mail address, each unique to `i`."""
    return {
        "feature_name": f"{mark}{i}x",
        "user_email": f"user{i}@example.com",
        "request_path": f"/api/items/{i}",
        "plan": f"plan-{i}",
        "region": f"region-{i}",
    }


class Capture:
    """An HTTP listener on a free loopback port that answers 200 to every POST and keeps
    each request's path, headers and body."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.lock = threading.Lock()
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with capture.lock:
                    capture.requests.append(
                        {
                            "path": self.path,
                            "encoding": self.headers.get("Content-Encoding") or "identity",
                            "content_type": self.headers.get("Content-Type") or "",
                            "body": body,
                        }
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self) -> List[Dict[str, Any]]:
        with self.lock:
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def decoded(request: Dict[str, Any]) -> Optional[bytes]:
    """The body without its content encoding (None for one this program cannot undo)."""
    if request["encoding"] == "identity":
        return request["body"]
    if request["encoding"] == "gzip":
        return gzip.decompress(request["body"])
    return None


class Package:
    """The calls the bench makes, in the API of one version."""

    def __init__(self, which: str) -> None:
        self.which = which
        self.version = dist_version("automagik-telemetry")
        is_ours = hasattr(at, "_native")
        if (which == "ours") != is_ours:
            raise SystemExit(
                f"asked for {which!r} but this interpreter has automagik-telemetry "
                f"{self.version} ({'ours' if is_ours else 'theirs'})"
            )

    def client(self, endpoint: str, **cfg: Any) -> Any:
        if self.which == "ours":
            config = at.TelemetryConfig(
                project_name="bench", version="1.0.0", endpoint=endpoint, enabled=True, **cfg
            )
        else:
            config = at.TelemetryConfig(
                project_name="bench", version="1.0.0", endpoint=endpoint, **cfg
            )
        c = at.AutomagikTelemetry(config=config)
        if not c.is_enabled():
            raise SystemExit(f"the {self.which} client is disabled: {c.get_status()}")
        return c

    def flush(self, c: Any) -> None:
        if self.which == "ours":
            if not c.flush(60.0):
                raise SystemExit("flush did not finish within 60 s")
        else:
            c.flush()

    def close(self, c: Any) -> None:
        """Stops the client without sending anything more."""
        if self.which == "ours":
            c.shutdown(5.0)
        else:
            # 0.1.4 has no shutdown: its timer is cancelled and the client disabled, so
            # that its __del__ (a flush) sends nothing.
            c._shutdown = True
            if c._flush_timer is not None:
                c._flush_timer.cancel()
            c.enabled = False

    def dropped(self, c: Any) -> Optional[int]:
        return int(c.stats()["dropped_total"]) if self.which == "ours" else None


def bench_memory(pkg: Package, queued: int) -> Dict[str, Any]:
    sink = Capture()
    try:
        # The garbage of building `queued` attribute dicts, made once before the
        # baselines, so that the growth measured is what the client keeps.
        keys = sum(len(attributes(-i - 1000)) for i in range(queued))
        assert keys == 5 * queued
        gc.collect()
        before_client = rss_bytes()
        # A batch larger than everything this client is given: nothing is sent. Ours keeps
        # its default queue size (10000): its thread moves what is queued into the batch
        # as it comes, and `queued_dropped` says whether anything was dropped.
        cfg: Dict[str, Any] = {"batch_size": 2 * queued + 1000, "flush_interval": 3600.0}
        c = pkg.client(sink.url, **cfg)
        for i in range(200):  # first calls allocate what every call then reuses
            c.track_event(EVENT, attributes(-i - 1))
        gc.collect()
        base = rss_bytes()
        for i in range(queued):
            c.track_event(EVENT, attributes(i))
        time.sleep(0.2)  # the background thread (ours) takes what the channel holds
        gc.collect()
        after = rss_bytes()
        dropped = pkg.dropped(c)
        sent = len(sink.snapshot())
        pkg.close(c)
        return {
            "queued": queued,
            "queued_bytes": after - base,
            "client_bytes": base - before_client,
            "queued_dropped": dropped,
            "queued_posts_before_close": sent,
        }
    finally:
        sink.close()


def bench_batch(pkg: Package, events: int) -> Dict[str, Any]:
    cap = Capture()
    try:
        cfg: Dict[str, Any] = {"batch_size": events, "flush_interval": 3600.0}
        c = pkg.client(cap.url, **cfg)
        for i in range(events):
            c.track_event(EVENT, attributes(i, "batchmark"))
        pkg.flush(c)
        deadline = time.monotonic() + 10
        seen: set = set()
        while time.monotonic() < deadline:
            seen = set()
            for r in cap.snapshot():
                body = decoded(r)
                if body is not None:
                    seen.update(MARK.findall(body))
            if len(seen) >= events:
                break
            time.sleep(0.05)
        requests = cap.snapshot()
        pkg.close(c)
        if not requests:
            raise SystemExit("no POST reached the capture listener")
        first = requests[0]
        bodies = [decoded(r) for r in requests]
        return {
            "batch_events": events,
            "batch_events_seen": len(seen),
            "batch_posts": len(requests),
            "batch_bytes": len(first["body"]),
            "batch_encoding": first["encoding"],
            "batch_content_type": first["content_type"],
            "batch_path": first["path"],
            "batch_total_bytes": sum(len(r["body"]) for r in requests),
            "batch_total_decoded_bytes": sum(len(b) for b in bodies if b is not None),
            "email_sent_in_clear": any(b is not None and b"@example.com" in b for b in bodies),
        }
    finally:
        cap.close()


def bench_calls(pkg: Package, server: str, calls: int, reps: int, warmup: int) -> Dict[str, Any]:
    cfg: Dict[str, Any] = {}
    if pkg.which == "ours":
        # Room for a whole repetition, so that every call is queued, none dropped.
        cfg["queue_size"] = max(10000, calls + 100)
    c = pkg.client(server, **cfg)
    track: Callable[[str, Dict[str, Any]], None] = c.track_event
    next_i = 0

    def batch(n: int) -> List[Dict[str, str]]:
        nonlocal next_i
        out = [attributes(next_i + k) for k in range(n)]
        next_i += n
        return out

    for a in batch(warmup):
        track(EVENT, a)
    pkg.flush(c)
    call_ns: List[float] = []
    cpu_ns: List[float] = []
    for _ in range(reps):
        attrs = batch(calls)
        gc.collect()
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        for a in attrs:
            track(EVENT, a)
        t1 = time.perf_counter_ns()
        pkg.flush(c)
        c1 = time.process_time_ns()
        call_ns.append((t1 - t0) / calls)
        cpu_ns.append((c1 - c0) / calls)
    dropped = pkg.dropped(c)
    pkg.close(c)
    return {
        "calls": calls,
        "reps": reps,
        "warmup": warmup,
        "call_ns": statistics.median(call_ns),
        "cpu_ns": statistics.median(cpu_ns),
        "call_ns_reps": [round(v, 1) for v in call_ns],
        "cpu_ns_reps": [round(v, 1) for v in cpu_ns],
        "calls_dropped": dropped,
    }


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in ("ours", "theirs"):
        raise SystemExit("usage: bench.py ours|theirs")
    server = os.environ.get("BENCH_SERVER")
    if not server:
        raise SystemExit("BENCH_SERVER must give the base URL of a running server")
    calls = env_int("BENCH_CALLS", 2000)
    pkg = Package(sys.argv[1])
    result: Dict[str, Any] = {
        "package": f"automagik-telemetry {pkg.version} (Python)",
        "which": pkg.which,
        "language": "python",
        "runtime": sys.version.split()[0],
    }
    # Memory first, while the process has done nothing else.
    result.update(bench_memory(pkg, env_int("BENCH_QUEUED", 10000)))
    result.update(bench_batch(pkg, env_int("BENCH_BATCH", 100)))
    result.update(
        bench_calls(
            pkg,
            server,
            calls,
            env_int("BENCH_REPS", 5),
            env_int("BENCH_WARMUP", max(1, calls // 5)),
        )
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
