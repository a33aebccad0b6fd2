"""The dashboard's requests for scripts/soak, until a deadline: virtual users that open
the dashboard's pages one after another (each page asks for what
crates/server/src/ui/assets/app.js asks for, with the read token), a live tail of the
logs polling every 2 s as the Logs page does, and the public status page. Counters and
query latencies go to a status file (see soaklib.py); an answer other than 200 with a
body of the right type is unexpected, but for the documented refusal of a raw series
over too many points.

Usage: dashboard.py --base URL --deadline EPOCH --status-dir DIR [--users N]
The read token is read from SOAK_READ_TOKEN.
"""

import argparse
import collections
import datetime
import json
import os
import random
import threading
import time
import urllib.parse

from soaklib import Status, get, sleep_until

RANGES = ["15m", "1h", "1h", "1h", "6h", "24h", "7d"]
AGGS = ["", "", "avg", "sum", "min", "max", "count"]
GROUPS = ["", "", "", "service.name", "http.route"]
STATIC = ["/", "/assets/app.js", "/assets/app.css", "/assets/dom.js", "/assets/favicon.svg"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True)
    p.add_argument("--deadline", type=float, required=True)
    p.add_argument("--status-dir", required=True)
    p.add_argument("--users", type=int, default=2)
    return p.parse_args()


def query(params):
    """As app.js's query(): empty values left out."""
    kept = {k: v for k, v in params.items() if v not in ("", None)}
    return "?" + urllib.parse.urlencode(kept) if kept else ""


class Client:
    """Requests with the read token, counted and timed."""

    def __init__(self, base, token, status):
        self.base = base
        self.token = token
        self.status = status
        self.lock = threading.Lock()
        self.recent = collections.deque()
        self.slowest = (0.0, "")

    def timed(self, name, seconds):
        now = time.monotonic()
        with self.lock:
            self.recent.append((now, seconds))
            while self.recent and self.recent[0][0] < now - 10:
                self.recent.popleft()
            window = sorted(s for _, s in self.recent)
            if seconds > self.slowest[0]:
                self.slowest = (seconds, name)
            slowest = self.slowest
        pick = lambda q: window[min(len(window) - 1, int(q * len(window)))] * 1000
        self.status.set_extra("query p50 ms (last 10 s)", round(pick(0.5), 1))
        self.status.set_extra("query p95 ms (last 10 s)", round(pick(0.95), 1))
        self.status.set_extra("slowest query", f"{slowest[1]} {slowest[0] * 1000:.0f} ms")

    def fetch(self, path, name, kind="json", token=True, refusal=None):
        """GET `path`; its JSON (or text) when the answer is as it should be, else None.
        `name` labels it in the counters; a 400 whose body contains `refusal` is an
        expected refusal."""
        status, body, seconds = get(self.base + path, self.token if token else None, timeout=20)
        self.status.request()
        self.timed(name, seconds)
        if status == 400 and refusal and refusal.encode() in body:
            self.status.expect(f"400 {name}: {refusal}")
            return None
        if status != 200:
            detail = status if status else f"connection failed ({body.decode(errors='replace')[:60]})"
            self.status.fail(f"GET {name}: {detail}")
            return None
        if kind == "json":
            try:
                return json.loads(body)
            except ValueError:
                self.status.fail(f"GET {name}: not JSON")
                return None
        if kind == "svg" and b"<svg" not in body[:512]:
            self.status.fail(f"GET {name}: not an SVG")
            return None
        return body


class User:
    """One person clicking through the dashboard."""

    def __init__(self, client, deadline, seed):
        self.c = client
        self.deadline = deadline
        self.rng = random.Random(seed)
        self.trace_ids = []

    def width(self):
        return self.rng.randint(400, 1600)

    def overview(self, r):
        self.c.fetch("/api/v1/stats", "/api/v1/stats")
        self.c.fetch("/api/v1/overview" + query({"from": f"-{r}"}), "/api/v1/overview")
        self.c.fetch("/api/v1/services", "/api/v1/services")
        self.c.fetch("/api/v1/overview/chart.svg" + query({"from": f"-{r}", "width": self.width(), "height": 240}),
                     "/api/v1/overview/chart.svg", "svg")

    def traces(self, r):
        services = (self.c.fetch("/api/v1/services", "/api/v1/services") or {}).get("items") or []
        filters = self.rng.choice([{}, {}, {"status": "error"}, {"min_duration_ms": 50},
                                   {"service": self.rng.choice(services) if services else ""},
                                   {"name": "GET /api/orders"}])
        params = {"from": f"-{r}", "limit": 50, **filters}
        page = self.c.fetch("/api/v1/traces" + query(params), "/api/v1/traces")
        if not page:
            return
        items = page.get("items") or []
        if page.get("next_cursor") and self.rng.random() < 0.3:
            more = self.c.fetch("/api/v1/traces" + query({**params, "cursor": page["next_cursor"]}),
                                "/api/v1/traces (next page)")
            items += (more or {}).get("items") or []
        if items:
            self.trace(self.rng.choice(items)["trace_id"])

    def trace(self, trace_id):
        t = self.c.fetch("/api/v1/traces/" + urllib.parse.quote(trace_id, safe=""), "/api/v1/traces/{id}")
        if t is not None and not t.get("spans"):
            self.c.status.fail("GET /api/v1/traces/{id}: a listed trace without spans")
        elif t is not None:
            self.trace_ids = (self.trace_ids + [trace_id])[-20:]

    def logs(self, r):
        filters = self.rng.choice([{}, {}, {"q": "answered 50"}, {"severity_min": "warn"},
                                   {"service": "soak-web-gateway"},
                                   {"trace_id": self.rng.choice(self.trace_ids) if self.trace_ids else ""}])
        self.c.fetch("/api/v1/logs" + query({"from": f"-{r}", **filters, "limit": 200}), "/api/v1/logs")

    def events(self, r):
        filters = self.rng.choice([{}, {"name": "order.placed"}, {"name": "agent.decision"}])
        self.c.fetch("/api/v1/events" + query({"from": f"-{r}", **filters, "limit": 200}), "/api/v1/events")

    def metrics(self, r):
        names = (self.c.fetch("/api/v1/metrics", "/api/v1/metrics") or {}).get("items") or []
        if not names:
            return
        name = self.rng.choice(names)["name"]
        params = {"from": f"-{r}", "agg": self.rng.choice(AGGS), "group_by": self.rng.choice(GROUPS)}
        path = "/api/v1/metrics/" + urllib.parse.quote(name, safe="")
        refusal = "more than 200000 points"
        self.c.fetch(path + "/chart.svg" + query({**params, "width": self.width(), "height": 240}),
                     "/api/v1/metrics/{name}/chart.svg", "svg", refusal=refusal)
        self.c.fetch(path + "/series" + query(params), "/api/v1/metrics/{name}/series", refusal=refusal)

    def runs(self, r):
        filters = self.rng.choice([{}, {}, {"agent": "planner"}, {"status": "failed"}])
        page = self.c.fetch("/api/v1/agents/runs" + query({"from": f"-{r}", "limit": 50, **filters}),
                            "/api/v1/agents/runs")
        items = (page or {}).get("items") or []
        if items:
            run = self.rng.choice(items)["correlation_id"]
            self.c.fetch("/api/v1/agents/runs/" + urllib.parse.quote(run, safe=""), "/api/v1/agents/runs/{id}")

    def health(self, r):
        self.c.fetch("/api/v1/probes", "/api/v1/probes")
        self.c.fetch("/api/v1/alerts", "/api/v1/alerts")
        self.c.fetch("/api/v1/probes/graph.svg", "/api/v1/probes/graph.svg", "svg")
        for metric, agg in (("up", "min"), ("probe_latency_ms", "avg")):
            self.c.fetch(f"/api/v1/metrics/{metric}/chart.svg"
                         + query({"from": f"-{r}", "group_by": "target", "agg": agg,
                                  "width": self.width(), "height": 240}),
                         f"/api/v1/metrics/{metric}/chart.svg", "svg")

    def fleet(self, r):
        self.c.fetch("/telemetry/status", "/telemetry/status")
        for metric in ("fleet.host.cpu.usage_percent", "fleet.host.memory.used_ratio"):
            self.c.fetch(f"/api/v1/metrics/{metric}/chart.svg"
                         + query({"from": f"-{r}", "agg": "avg", "width": self.width(), "height": 240}),
                         f"/api/v1/metrics/{metric}/chart.svg", "svg")

    def static(self, _r):
        for path in STATIC:
            self.c.fetch(path, path, "text", token=False)

    def run(self):
        pages = [self.overview] * 3 + [self.traces] * 3 + [self.logs] * 2 + [self.metrics] * 2 + [
            self.events, self.runs, self.health, self.fleet, self.static]
        while time.time() < self.deadline:
            page = self.rng.choice(pages)
            try:
                page(self.rng.choice(RANGES))
            except Exception as e:  # an answer of a shape the page does not expect
                self.c.status.fail(f"page {page.__name__} raised {type(e).__name__}: {str(e)[:60]}")
            if not sleep_until(self.deadline, self.rng.uniform(0.5, 1.5)):
                break


def live_tail(client, deadline):
    """The Logs page's live tail: every 2 s, the records since the newest one seen."""
    newest = None
    while sleep_until(deadline, 2.0):
        since = newest or (datetime.datetime.now(datetime.timezone.utc)
                           - datetime.timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        page = client.fetch("/api/v1/logs" + query({"from": since, "limit": 200}), "/api/v1/logs (live tail)")
        items = (page or {}).get("items") or []
        if items and items[0].get("time"):
            newest = items[0]["time"]


def status_page(client, deadline):
    """The public status page, every 5 s (under its 60 requests a minute per address)."""
    while sleep_until(deadline, 5.0):
        client.fetch("/status", "/status", "text", token=False)
        client.fetch("/assets/status.js", "/assets/status.js", "text", token=False)
        client.fetch("/telemetry/public", "/telemetry/public", token=False)


def main():
    args = parse_args()
    status = Status(args.status_dir, "dashboard").start()
    client = Client(args.base.rstrip("/"), os.environ.get("SOAK_READ_TOKEN", ""), status)
    threads = [threading.Thread(target=User(client, args.deadline, seed).run) for seed in range(args.users)]
    threads.append(threading.Thread(target=live_tail, args=(client, args.deadline)))
    threads.append(threading.Thread(target=status_page, args=(client, args.deadline)))
    for t in threads:
        t.daemon = True
        t.start()
    for t in threads:
        t.join(max(0.0, args.deadline - time.time()) + 25)
    if any(t.is_alive() for t in threads):
        status.fail("a dashboard user did not finish 25 s after the deadline")
    status.finish()
    os._exit(0)


if __name__ == "__main__":
    main()
