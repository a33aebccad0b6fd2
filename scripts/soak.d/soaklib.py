"""What the soak's Python programs share: a generator's counters, written as JSON to
the results directory once a second (and at the end), so that the sampler prints them
as they go and the report reads their final values.

A status file, `status-<name>.json`:

    {"generator": "python-http", "done": false, "updated": 1767225600.0,
     "requests": 1234,                      # requests (exports, queries) sent
     "sent": {"spans": 5000, ...},          # items in those requests
     "acknowledged": {"spans": 4990, ...},  # items the server acknowledged
     "expected": {"413 Content-Length over the limit": 3, ...},   # refusals meant to happen
     "retried": {"transient error, retried": 1},                 # delivered after a retry
     "unexpected": {"GET /api/v1/logs: 500": 1, ...},            # failures: exit 1
     "extra": {...}}                        # generator-specific figures
"""

import json
import os
import threading
import time
import urllib.error
import urllib.request


class Status:
    """Thread-safe counters of one generator, written to `<dir>/status-<name>.json`."""

    def __init__(self, directory, name):
        self.path = os.path.join(directory, f"status-{name}.json")
        self.name = name
        self.lock = threading.Lock()
        self.requests = 0
        self.sent = {}
        self.acknowledged = {}
        self.expected = {}
        self.retried = {}
        self.unexpected = {}
        self.extra = {}
        self.done = False
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_every_second, daemon=True)

    def start(self):
        self.write()
        self._writer.start()
        return self

    @staticmethod
    def _add(table, key, n):
        table[key] = table.get(key, 0) + n

    def request(self, n=1):
        with self.lock:
            self.requests += n

    def items(self, signal, sent, acknowledged):
        with self.lock:
            self._add(self.sent, signal, sent)
            self._add(self.acknowledged, signal, acknowledged)

    def expect(self, kind, n=1):
        with self.lock:
            self._add(self.expected, kind, n)

    def retry(self, kind, n=1):
        with self.lock:
            self._add(self.retried, kind, n)

    def fail(self, kind, n=1):
        with self.lock:
            self._add(self.unexpected, kind, n)

    def set_extra(self, key, value):
        with self.lock:
            self.extra[key] = value

    def snapshot(self):
        with self.lock:
            return {
                "generator": self.name,
                "done": self.done,
                "updated": time.time(),
                "requests": self.requests,
                "sent": dict(self.sent),
                "acknowledged": dict(self.acknowledged),
                "expected": dict(self.expected),
                "retried": dict(self.retried),
                "unexpected": dict(self.unexpected),
                "extra": dict(self.extra),
            }

    def write(self):
        data = self.snapshot()
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, sort_keys=True)
        os.replace(tmp, self.path)

    def _write_every_second(self):
        while not self._stop.wait(1.0):
            self.write()

    def finish(self):
        """Marks the generator done and writes its final counters."""
        self._stop.set()
        with self.lock:
            self.done = True
        self.write()


def read_statuses(directory):
    """Every generator's last status, by name (a file being replaced is skipped)."""
    out = {}
    for entry in sorted(os.listdir(directory)):
        if not (entry.startswith("status-") and entry.endswith(".json")):
            continue
        try:
            with open(os.path.join(directory, entry), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        out[data.get("generator", entry[7:-5])] = data
    return out


def get(url, token=None, timeout=30):
    """GET `url` with a bearer token: (status, body bytes, seconds). A connection that
    fails gives status 0 and the error's text as the body."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
            return resp.status, body, time.monotonic() - start
    except urllib.error.HTTPError as e:
        body = e.read()
        e.close()
        return e.code, body, time.monotonic() - start
    except (OSError, ValueError) as e:
        return 0, str(e).encode(), time.monotonic() - start


def sleep_until(deadline, seconds):
    """Sleeps `seconds`, or less if `deadline` (epoch seconds) comes first; False once
    the deadline has passed."""
    left = deadline - time.time()
    if left <= 0:
        return False
    time.sleep(min(seconds, left))
    return time.time() < deadline
