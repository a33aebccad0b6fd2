"""Spans as context managers and decorators, nested by the current span, with W3C
`traceparent` propagation in and out, as the trace view of `serve` shows them."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Dict, List

import pytest
from conftest import Server, wait_for

from automagik_telemetry import AutomagikTelemetry, TraceContext, extract_traceparent


def _by_name(trace: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {s["name"]: s for s in trace["spans"]}


def test_nested_spans_arrive_as_parent_and_child_with_attributes_and_events(
    server: Server, make_client: Any, service: str
) -> None:
    """A span entered inside another is its child; attributes, events and the kind are
    kept; a log tracked inside a span carries the span's trace and span id."""
    t = make_client()
    with t.span("checkout", attributes={"http.route": "/cart"}, kind="server") as parent:
        with t.span("charge") as child:
            child.set_attribute("items", 3).add_event("card.authorized", {"ok": True})
            t.track_log("charged")
    assert t.flush(10) is True
    trace = server.wait_trace(parent.trace_id, 2)
    spans = _by_name(trace)
    p, c = spans["checkout"], spans["charge"]
    assert p["span_id"] == parent.span_id and p["parent_span_id"] is None
    assert c["span_id"] == child.span_id and c["parent_span_id"] == parent.span_id
    assert c["trace_id"] == parent.trace_id
    assert p["kind"] == 2, "SERVER"
    assert c["kind"] == 1, "INTERNAL"
    assert p["attributes"] == {"http.route": "/cart"}
    assert c["attributes"] == {"items": 3}
    assert [(e["name"], e["attributes"]) for e in c["events"]] == [
        ("card.authorized", {"ok": True})
    ]
    assert p["service_name"] == service
    (log,) = server.wait_logs(service, 1, trace_id=parent.trace_id)
    assert (log["body"], log["span_id"]) == ("charged", child.span_id)


def test_an_exception_leaving_a_span_is_recorded_on_it(
    server: Server, make_client: Any
) -> None:
    """The span gets an `exception` event with the exception's type, message and
    traceback, and an error status with the message; the exception goes on."""
    t = make_client()
    with pytest.raises(KeyError):
        with t.span("lookup") as span:
            raise KeyError("order-17")
    t.flush(10)
    (s,) = server.wait_trace(span.trace_id, 1)["spans"]
    assert (s["status_code"], s["status_message"]) == (2, "'order-17'")
    (event,) = s["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "KeyError"
    assert event["attributes"]["exception.message"] == "'order-17'"
    assert event["attributes"]["exception.stacktrace"].rstrip().endswith("KeyError: 'order-17'")


def test_span_as_a_decorator_of_sync_and_async_functions(
    server: Server, make_client: Any, service: str
) -> None:
    """@span() wraps every call in a span named after the function (or as given), and
    the calls made inside are its children."""
    t = make_client()
    seen: List[str] = []

    @t.span("load-order")
    def load(order_id: int) -> int:
        seen.append(t.inject_traceparent() or "")
        return order_id * 2

    @t.traced()
    async def handle() -> int:
        return load(21)

    assert asyncio.run(handle()) == 42
    assert load(1) == 2
    t.flush(10)
    roots = wait_for(
        "two root spans",
        lambda: (lambda r: r if len(r) >= 2 else None)(
            server.get("/api/v1/traces", service=service, limit=100)["items"]
        ),
    )
    names = sorted(r["name"] for r in roots)
    assert names == [
        "load-order",
        "test_span_as_a_decorator_of_sync_and_async_functions.<locals>.handle",
    ]
    nested = next(r for r in roots if r["name"].endswith("handle"))
    trace = server.wait_trace(nested["trace_id"], 2)
    spans = _by_name(trace)
    assert spans["load-order"]["parent_span_id"] == nested["root_span_id"]
    assert seen[0] == f"00-{nested['trace_id']}-{spans['load-order']['span_id']}-01"


def test_traceparent_is_injected_for_outgoing_calls_and_continued_from_incoming_ones(
    server: Server, make_client: Any
) -> None:
    """inject() gives the current span's traceparent; a span started with an incoming
    traceparent as parent continues that trace under the remote span."""
    t = make_client()
    with t.span("outgoing") as out:
        headers = t.inject({"accept": "application/json"})
        assert headers == {"accept": "application/json", "traceparent": out.traceparent}
        assert out.traceparent == f"00-{out.trace_id}-{out.span_id}-01"
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ctx = AutomagikTelemetry.extract({"TraceParent": incoming})
    assert ctx == TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)
    with t.span("handle", kind="server", parent=ctx) as server_span:
        with t.span("db") as db:
            pass
    assert server_span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    t.flush(10)
    spans = _by_name(server.wait_trace("4bf92f3577b34da6a3ce929d0e0e4736", 2))
    assert spans["handle"]["parent_span_id"] == "00f067aa0ba902b7"
    assert spans["db"]["parent_span_id"] == server_span.span_id == spans["handle"]["span_id"]
    assert db.trace_id == server_span.trace_id
    # A string traceparent is a parent too.
    with t.span("from-string", parent=incoming) as s:
        assert s.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_malformed_traceparents_are_refused() -> None:
    """extract_traceparent raises ValueError naming the problem; extract() gives None."""
    for bad, problem in [
        ("bogus", "traceparent must look like"),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "lowercase hexadecimal"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "all zeros"),
    ]:
        with pytest.raises(ValueError, match=problem):
            extract_traceparent(bad)
        assert AutomagikTelemetry.extract({"traceparent": bad}) is None
    assert AutomagikTelemetry.extract({}) is None


def test_sibling_tasks_do_not_become_each_others_children(
    server: Server, make_client: Any, service: str
) -> None:
    """Two asyncio tasks interleaving inside their own spans: each span's children are
    its own (the current span follows the task, not the thread)."""
    t = make_client()
    ids: Dict[str, Any] = {}

    async def task(name: str, gate: asyncio.Event, other: asyncio.Event) -> None:
        with t.span(f"task-{name}") as outer:
            ids[name] = outer
            gate.set()
            await other.wait()
            with t.span(f"child-{name}") as inner:
                ids[f"child-{name}"] = inner

    async def main() -> None:
        a, b = asyncio.Event(), asyncio.Event()
        await asyncio.gather(task("a", a, b), task("b", b, a))

    asyncio.run(main())
    t.flush(10)
    for name in ("a", "b"):
        outer, inner = ids[name], ids[f"child-{name}"]
        assert inner.trace_id == outer.trace_id, name
        spans = _by_name(server.wait_trace(outer.trace_id, 2))
        assert spans[f"child-{name}"]["parent_span_id"] == outer.span_id
        assert spans[f"task-{name}"]["parent_span_id"] is None
    assert ids["a"].trace_id != ids["b"].trace_id


def test_a_span_is_used_on_the_thread_that_started_it(make_client: Any) -> None:
    """Another thread gets a RuntimeError, not a crash."""
    t = make_client()
    span = t.start_span("owned")
    errors: List[BaseException] = []

    def other() -> None:
        try:
            span.set_attribute("x", 1)
        except RuntimeError as e:
            errors.append(e)

    th = threading.Thread(target=other)
    th.start()
    th.join()
    assert len(errors) == 1 and "thread" in str(errors[0])
    span.end()
    assert span.is_recording is False


def test_a_disabled_client_gives_spans_that_record_nothing(service: str) -> None:
    """Without consent, spans are no-ops with no ids, and nothing is queued."""
    t = AutomagikTelemetry(project_name=service)
    with t.span("nothing") as s:
        assert (s.is_recording, s.traceparent, s.trace_id) == (False, None, None)
        assert t.inject_traceparent() is None
    assert t.stats()["queued"] == 0
