"""Every signal a program tracks arrives in `serve` as the Rust SDK sends it: events and
errors as log records, metrics aggregated by kind, logs with their severity, and the
resource that names the program."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any, Dict

from conftest import Server, free_port, without_event_name, wait_for

from automagik_telemetry import AutomagikTelemetry, LogSeverity, MetricType


def test_an_event_arrives_with_its_attributes_and_the_programs_resource(
    server: Server, make_client: Any, service: str, clean_env: Dict[str, Path]
) -> None:
    """A user sees the event under its name, with the attributes as typed values and
    the resource naming the program, the SDK and this install."""
    t = make_client()
    t.track_event("user.login", {"method": "oauth", "count": 3, "ratio": 0.5, "ok": True})
    assert t.flush(10) is True, "flush finished within its deadline"
    (event,) = server.wait_events(service, "user.login", 1)
    assert event["event_name"] == "user.login"
    assert without_event_name(event["attributes"]) == {
        "method": "oauth",
        "count": 3,
        "ratio": 0.5,
        "ok": True,
    }
    assert event["severity_number"] == 9, "events are INFO log records"
    resource = event["resource"]
    assert resource["service.name"] == service
    assert resource["service.version"] == "1.0.0"
    assert resource["telemetry.sdk.name"] == "automagik-telemetry"
    install = json.loads((clean_env["config"] / "automagik-telemetry" / "install.json").read_text())
    assert resource["service.instance.id"] == install["install_id"] == t.install_id
    stats = t.stats()
    assert (stats["queued"], stats["exported"], stats["dropped_total"]) == (1, 1, 0)


def test_hostile_attribute_values_never_raise_into_the_program(
    server: Server, make_client: Any, service: str
) -> None:
    """A dict nested 2,000 deep (whose repr raises RecursionError) and an object whose
    __str__ raises are sent as markers (the depth cut is the redactor's); track_event
    itself never raises."""

    class Unprintable:
        def __str__(self) -> str:
            raise ValueError("no text")

    deep: Dict[str, Any] = {}
    cur = deep
    for _ in range(2000):
        cur["d"] = {}
        cur = cur["d"]
    t = make_client()
    t.track_event("hostile", {"deep": deep, "odd": Unprintable()})
    assert t.flush(10) is True
    (event,) = server.wait_events(service, "hostile", 1)
    stored = json.dumps(event["attributes"])
    assert "[TRUNCATED:depth]" in stored, stored[:500]
    assert "<Unprintable object>" in stored, stored[:500]


def test_an_error_arrives_as_an_error_log_with_its_exception(
    server: Server, make_client: Any, service: str
) -> None:
    """A tracked exception is an ERROR record with its type, message and traceback."""
    t = make_client()

    def fail() -> None:
        raise ValueError("bad input")

    try:
        fail()
    except ValueError as e:
        t.track_error(e, {"error_code": "OMNI-1001"})
    t.flush(10)
    (log,) = server.wait_logs(service, 1, severity_min="error")
    assert log["severity_number"] == 17
    assert log["body"] == "bad input"
    a = log["attributes"]
    assert a["exception.type"] == "ValueError"
    assert a["exception.message"] == "bad input"
    assert a["error_code"] == "OMNI-1001"
    stack = a["exception.stacktrace"]
    assert stack.startswith("Traceback (most recent call last):"), stack
    assert "in fail" in stack and stack.rstrip().endswith("ValueError: bad input"), stack


def test_metrics_of_every_type_arrive_aggregated_as_their_kind(
    server: Server, make_client: Any, service: str
) -> None:
    """Counters add up, a gauge keeps its last value, a histogram counts and sums its
    measurements; names, kinds and attributes are kept."""
    t = make_client()
    m = service.replace("-", "_")
    t.track_metric(f"{m}.requests", 2, MetricType.COUNTER, {"endpoint": "/users"})
    t.track_metric(f"{m}.requests", 3, "counter", {"endpoint": "/users"})
    t.track_metric(f"{m}.cpu", 40.0, attributes={"core": "0"})
    t.track_metric(f"{m}.cpu", 75.5, MetricType.GAUGE, {"core": "0"})
    t.track_metric(f"{m}.latency", 10.0, MetricType.HISTOGRAM, {"endpoint": "/users"})
    t.track_metric(f"{m}.latency", 20.0, "HISTOGRAM", {"endpoint": "/users"})
    t.track_metric(f"{m}.requests", float("nan"), MetricType.COUNTER)
    t.flush(10)
    assert server.metric_total(f"{m}.requests", "sum", 5.0) == 5.0
    assert server.metric_total(f"{m}.latency", "count", 2.0) == 2.0
    assert server.metric_total(f"{m}.latency", "sum", 30.0) == 30.0
    last = wait_for("the gauge's last value", lambda: server.series(f"{m}.cpu", "last"))
    assert last[-1]["value"] == 75.5
    kinds = {i["name"]: i["kind"] for i in server.get("/api/v1/metrics", limit=1000)["items"]}
    assert (kinds[f"{m}.requests"], kinds[f"{m}.cpu"], kinds[f"{m}.latency"]) == (
        "sum",
        "gauge",
        "histogram",
    )
    assert t.stats()["dropped"]["invalid_value"] == 1, "a NaN counter increment is dropped"


def test_logs_arrive_with_their_severity(server: Server, make_client: Any, service: str) -> None:
    """Every LogSeverity (and its name, as 0.1.x took it) becomes the OTLP severity."""
    t = make_client()
    t.track_log("disk almost full", LogSeverity.WARN, {"mount": "/data"})
    t.track_log("debugging", "debug")
    t.track_log("unknown names are INFO", "chatty")
    t.track_log("fatal", LogSeverity.FATAL)
    t.flush(10)
    logs = server.wait_logs(service, 4)
    by_body = {l["body"]: l for l in logs}
    assert by_body["disk almost full"]["severity_number"] == 13
    assert by_body["disk almost full"]["severity_text"] == "WARN"
    assert by_body["disk almost full"]["attributes"] == {"mount": "/data"}
    assert by_body["debugging"]["severity_number"] == 5
    assert by_body["unknown names are INFO"]["severity_number"] == 9
    assert by_body["fatal"]["severity_number"] == 21


def test_user_ids_are_hashed_with_the_installs_salt(
    server: Server, make_client: Any, service: str, clean_env: Dict[str, Path]
) -> None:
    """An attribute named like a user id arrives as SHA-256 of the install's salt and the
    id, as the Rust SDK sends it; hash_user_id gives the same."""
    t = make_client()
    t.track_event("signup", {"user_id": "anonymous-123"})
    t.flush(10)
    (event,) = server.wait_events(service, "signup", 1)
    install = json.loads((clean_env["config"] / "automagik-telemetry" / "install.json").read_text())
    want = hashlib.sha256(bytes.fromhex(install["salt"]) + b"anonymous-123").hexdigest()
    assert event["attributes"]["user_id"] == want
    assert t.hash_user_id("anonymous-123") == want


def test_async_forms_queue_without_blocking_and_flush_in_a_thread(
    server: Server, make_client: Any, service: str
) -> None:
    """The _async methods are coroutines; flush_async waits off the event loop."""
    t = make_client()

    async def main() -> bool:
        await t.track_event_async("async.event", {"k": "v"})
        await t.track_metric_async(f"{service}.async", 1, MetricType.COUNTER)
        await t.track_log_async("async log", LogSeverity.ERROR)
        try:
            raise RuntimeError("async boom")
        except RuntimeError as e:
            await t.track_error_async(e, {"where": "main"})
        return await t.flush_async(10)

    assert asyncio.run(main()) is True
    assert without_event_name(server.wait_events(service, "async.event", 1)[0]["attributes"]) == {
        "k": "v"
    }
    bodies = sorted(l["body"] for l in server.wait_logs(service, 2, severity_min="error"))
    assert bodies == ["async boom", "async log"]


def _hanging_endpoint() -> "tuple[str, threading.Event]":
    """An endpoint that accepts connections and never answers; set the event to close it."""
    import socket

    port = free_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    stop = threading.Event()
    held = []

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue
        for c in held:
            c.close()
        listener.close()

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{port}", stop


def test_flush_waits_on_the_endpoint_with_the_gil_released(service: str) -> None:
    """Against an endpoint that never answers, flush returns by its deadline, and Python
    threads run meanwhile: the wait happens without the GIL. The batch that could not be
    sent (no spool) is dropped and counted, and tracking never waits."""
    url, stop = _hanging_endpoint()
    try:
        t = AutomagikTelemetry(project_name=service, endpoint=url, enabled=True, timeout=30)
        t.track_event("never.answered")
        ticks = [0]
        done = threading.Event()

        def tick() -> None:
            while not done.is_set():
                ticks[0] += 1
                time.sleep(0.001)

        ticker = threading.Thread(target=tick)
        ticker.start()
        before = ticks[0]
        t.flush(1.0)
        during = ticks[0] - before
        done.set()
        ticker.join()
        assert during > 10, f"another thread ran only {during} times during the flush"
        wait_for(
            "the unsent batch counted as dropped",
            lambda: t.stats()["dropped"]["retries_exhausted"] == 1,
        )
        t.track_event("still.queued")
        assert t.stats()["queued"] == 2, "tracking never waits for the endpoint"
        t.shutdown(0.5)
    finally:
        stop.set()


def test_flush_async_lets_the_event_loop_run(service: str) -> None:
    """While flush_async waits on an endpoint that never answers, other tasks run."""
    url, stop = _hanging_endpoint()
    try:
        t = AutomagikTelemetry(project_name=service, endpoint=url, enabled=True, timeout=30)
        t.track_event("never.answered")

        async def main() -> "tuple[bool, int]":
            ticks = 0
            flush = asyncio.ensure_future(t.flush_async(1.0))
            while not flush.done():
                ticks += 1
                await asyncio.sleep(0.005)
            return flush.result(), ticks

        flushed, ticks = asyncio.run(main())
        assert isinstance(flushed, bool)
        assert ticks > 10, f"the loop ran only {ticks} times during flush_async"
        t.shutdown(0.5)
    finally:
        stop.set()


def test_the_file_backend_writes_otlp_json_lines(tmp_path: Path, service: str) -> None:
    """With backend='file' every export is one OTLP JSON request per line."""
    out = tmp_path / "telemetry.jsonl"
    t = AutomagikTelemetry(project_name=service, backend="file", file_path=out, enabled=True)
    t.track_event("to.file", {"n": 1})
    assert t.flush(10) is True
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(lines) == 1, "one export, one line"
    (rl,) = lines[0]["resourceLogs"]
    (record,) = rl["scopeLogs"][0]["logRecords"]
    assert {"key": "event.name", "value": {"stringValue": "to.file"}} in record["attributes"]
    assert {"key": "n", "value": {"intValue": "1"}} in record["attributes"]
    t.shutdown(1)
