"""Fixtures: a real `automagik-telemetry serve` (the binary named by
`AUTOMAGIK_TELEMETRY_BIN`) on free loopback ports with a temporary data directory, read
back through its query API; and an environment with none of the telemetry variables of
the caller's (a CI run sets `CI`, which the consent order counts as development)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

BIN = os.environ.get("AUTOMAGIK_TELEMETRY_BIN", "")

#: Variables that change what a client does; none of the caller's reach a test.
_CLEARED_PREFIXES = ("AUTOMAGIK_TELEMETRY_", "OTEL_")
_CLEARED = ("DO_NOT_TRACK", "CI", "ENVIRONMENT")


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_environ(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The current environment without the telemetry variables, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_CLEARED_PREFIXES) and k not in _CLEARED
    }
    env.update(extra or {})
    return env


def wait_for(what: str, probe: Callable[[], Any], within: float = 20.0) -> Any:
    """Polls ``probe`` until it returns something truthy (returned), at most ``within``
    seconds; fails naming ``what`` and the last value otherwise."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what}: not seen within {within} s (last: {last!r})")


class Server:
    """`automagik-telemetry serve` on 127.0.0.1:<port>, gRPC off, no fleet snapshots and no
    redaction on ingest (so that what is stored is what the SDK sent)."""

    def __init__(self, data_dir: Path, port: Optional[int] = None) -> None:
        if not BIN or not Path(BIN).is_file():
            pytest.fail(
                f"AUTOMAGIK_TELEMETRY_BIN must name the automagik-telemetry binary (got {BIN!r})"
            )
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.log = data_dir / "serve.log"

    def start(self) -> "Server":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")
        self.process = subprocess.Popen(
            [
                BIN,
                "serve",
                "--data-dir",
                str(self.data_dir / "data"),
                "--http-addr",
                f"127.0.0.1:{self.port}",
                "--grpc-addr",
                "off",
                "--fleet-interval",
                "off",
                "--redact",
                "off",
            ],
            stdout=log,
            stderr=log,
            env=clean_environ(),
        )
        log.close()

        def up() -> bool:
            assert self.process is not None and self.process.poll() is None, (
                f"the server exited at start (port {self.port} taken?): "
                + self.log.read_text(errors="replace")[-2000:]
            )
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for("the server's /healthz", up)
        return self

    def stop(self) -> None:
        """SIGTERM (so that it shuts down as an operator stops it), SIGKILL after 10 s."""
        p, self.process = self.process, None
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` with query ``params``; the JSON body."""
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())

    def get_or_none(self, path: str, **params: Any) -> Any:
        """Like :meth:`get`, ``None`` for a 404."""
        try:
            return self.get(path, **params)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def post_event(self, service: str, name: str) -> None:
        """Stores the event ``name`` of ``service`` by OTLP/HTTP JSON, not through the
        package: a marker that arrives whatever the consent of this process."""
        body = {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                    },
                    "scopeLogs": [
                        {
                            "logRecords": [
                                {"timeUnixNano": str(time.time_ns()), "eventName": name}
                            ]
                        }
                    ],
                }
            ]
        }
        request = urllib.request.Request(
            self.base_url + "/v1/logs",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200, r.status

    def events(self, service: str, name: str) -> List[Dict[str, Any]]:
        """The stored events ``name`` of ``service``, newest first."""
        return list(self.get("/api/v1/events", name=name, service=service, limit=1000)["items"])

    def logs(self, service: str, **params: Any) -> List[Dict[str, Any]]:
        """The stored log records of ``service``, newest first."""
        return list(self.get("/api/v1/logs", service=service, limit=1000, **params)["items"])

    def wait_events(self, service: str, name: str, count: int) -> List[Dict[str, Any]]:
        """Waits until ``count`` events ``name`` of ``service`` are stored; all of them."""
        return list(
            wait_for(
                f"{count} events {name!r} of {service!r}",
                lambda: (lambda e: e if len(e) >= count else None)(self.events(service, name)),
            )
        )

    def wait_logs(self, service: str, count: int, **params: Any) -> List[Dict[str, Any]]:
        """Waits until ``count`` log records of ``service`` (filtered) are stored."""
        return list(
            wait_for(
                f"{count} log records of {service!r} {params}",
                lambda: (lambda e: e if len(e) >= count else None)(self.logs(service, **params)),
            )
        )

    def wait_trace(self, trace_id: str, spans: int) -> Dict[str, Any]:
        """Waits until the trace holds ``spans`` spans; the trace."""

        def probe() -> Any:
            t = self.get_or_none(f"/api/v1/traces/{trace_id}")
            return t if t is not None and len(t["spans"]) >= spans else None

        return dict(wait_for(f"trace {trace_id} with {spans} spans", probe))

    def series(self, name: str, agg: str) -> List[Dict[str, Any]]:
        """The points of metric ``name`` over the last hour, aggregated by ``agg``."""
        params = {"from": "-1h", "step": "1h", "agg": agg}
        body = self.get(f"/api/v1/metrics/{name}/series", **params)
        points: List[Dict[str, Any]] = []
        for s in body["series"]:
            points.extend(s["points"])
        return points

    def metric_total(self, name: str, agg: str, want: float) -> float:
        """Waits until the points of ``name`` (``sum`` or ``count``) add up to ``want``."""

        def probe() -> Optional[float]:
            total = sum(p["value"] for p in self.series(name, agg))
            return total if total == want else None

        return float(wait_for(f"metric {name} {agg} = {want}", probe))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the session; tests keep apart by their own service names."""
    s = Server(tmp_path_factory.mktemp("serve")).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Dict[str, Path]:
    """No telemetry variable of the caller's; a home and config directory of the test's
    own (the opt-out file and the install id live there)."""
    for k in list(os.environ):
        if k.startswith(_CLEARED_PREFIXES) or k in _CLEARED:
            monkeypatch.delenv(k, raising=False)
    home = tmp_path / "home"
    config = tmp_path / "config"
    home.mkdir()
    config.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return {"home": home, "config": config}


@pytest.fixture
def service(request: pytest.FixtureRequest) -> str:
    """A service name of this test's own."""
    name = f"py-{re.sub(r'[^a-zA-Z0-9_.-]+', '-', request.node.name)}"
    if len(name) <= 80:
        return name
    # Cut, but never so that two parametrizations of one test share a name.
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:71]}-{digest}"


@pytest.fixture
def make_client(server: Server, service: str) -> Iterator[Callable[..., Any]]:
    """Builds enabled clients sending to the server (as ``service`` unless told), shut
    down at the end of the test."""
    from automagik_telemetry import AutomagikTelemetry

    made: List[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("project_name", service)
        options.setdefault("version", "1.0.0")
        options.setdefault("endpoint", server.base_url)
        options.setdefault("enabled", True)
        options.setdefault("flush_interval", 60.0)
        client = AutomagikTelemetry(**options)
        made.append(client)
        return client

    yield make
    for c in made:
        c.shutdown(5.0)


def run_python(
    code: str, env: Dict[str, str], *args: str, timeout: float = 60
) -> "subprocess.CompletedProcess[str]":
    """Runs ``code`` in a new interpreter (this one) with ``env``; fails with its output
    when it exits non-zero."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    return proc


def without_event_name(attributes: Dict[str, Any]) -> Dict[str, Any]:
    """An event's attributes without ``event.name`` (the SDK also sends the name as one)."""
    return {k: v for k, v in attributes.items() if k != "event.name"}
