"""An agent run recorded from Python shows in `serve`'s runs API as one from Rust does:
its status and score, its actions (tool calls, a decision, an error, a success), its LLM
calls with their tokens, its scores, and its prompt redacted."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Server, wait_for


def _run(server: Server, correlation_id: str, ready: Any = lambda run: True) -> Any:
    """The run, once stored and ``ready(run)`` (its events and spans come in separate
    requests)."""

    def probe() -> Any:
        run = server.get_or_none(f"/api/v1/agents/runs/{correlation_id}")
        return run if run is not None and ready(run) else None

    return wait_for(f"run {correlation_id}", probe)


def test_an_agent_run_shows_with_its_actions_and_the_prompt_redacted(
    server: Server, make_client: Any
) -> None:
    """A completed run: status, quality score, the four action types, the failed tool call
    marked as an error, the decision's alternatives, its spans in one trace."""
    t = make_client()
    with t.agent_run("researcher", "find the cheapest flight for jane@example.com") as run:
        run.progress("planning", 10)
        with run.tool_call("search_flights", "LIS->NYC") as call:
            call.ok("3 results")
        with run.tool_call("book", {"flight": 2}) as call:
            call.err("card declined")
        run.decision("flight 2", ["flight 1", "flight 2", "flight 3"], 0.8, "cheapest direct")
        run.error("payment provider timeout", "timeout")
        run.success("booked on the second attempt")
        run.complete(0.9)
    assert run.correlation_id, "an enabled run has a correlation id"
    assert t.flush(10) is True
    got = _run(server, run.correlation_id, lambda r: len(r["actions"]) >= 5)
    assert got["status"] == "completed"
    assert got["agent_name"] == "researcher"
    assert got["quality_score"] == 0.9
    assert got["attributes"]["agent.prompt"] == "find the cheapest flight for [REDACTED:email]"
    actions = got["actions"]
    assert sorted(a["action_type"] for a in actions) == [
        "decision",
        "error",
        "success",
        "tool_call",
        "tool_call",
    ]
    book = next(a for a in actions if a["name"] == "book")
    assert book["is_error"] is True
    search = next(a for a in actions if a["name"] == "search_flights")
    assert search["is_error"] is False
    decision = next(a for a in actions if a["action_type"] == "decision")
    assert decision["name"] == "flight 2"
    assert decision["attributes"]["agent.alternatives"] == ["flight 1", "flight 2", "flight 3"]
    trace = server.wait_trace(got["trace_id"], 3)
    assert len(trace["spans"]) == 3, "the run's span and its two tool calls"
    (progress,) = wait_for(
        "the progress event",
        lambda: [
            e
            for e in server.events(got["service_name"], "agent.progress")
            if e["attributes"]["correlation_id"] == run.correlation_id
        ],
    )
    assert progress["attributes"]["agent.stage"] == "planning"
    assert progress["trace_id"] == got["trace_id"]


def test_an_exception_fails_the_run_and_llm_calls_and_scores_are_kept(
    server: Server, make_client: Any
) -> None:
    """An exception leaving the run's block fails it with "<type>: <message>"; its LLM
    call's tokens and its score are in the run."""
    t = make_client()
    with pytest.raises(RuntimeError):
        with t.agent_run("writer", "draft a reply", correlation_id="py-run-failed-1") as run:
            with run.llm_call("openai", "gpt-4o") as call:
                call.response_model("gpt-4o-2024-08-06").usage(1_000, 200).cache(400, 0)
                call.reasoning(50).input_messages(
                    [{"role": "user", "parts": [{"type": "text", "content": "draft it"}]}]
                ).output_messages(
                    [{"role": "assistant", "parts": [{"type": "text", "content": "Dear ..."}]}]
                )
                call.ok("stop")
            run.score("helpfulness", 0.7, "clear")
            raise RuntimeError("model quota")
    assert run.correlation_id == "py-run-failed-1"
    t.flush(10)
    got = _run(
        server, "py-run-failed-1", lambda r: len(r["llm_calls"]) == 1 and len(r["scores"]) >= 1
    )
    assert got["status"] == "failed"
    assert got["error"] == "RuntimeError: model quota"
    totals = got["totals"]
    assert (totals["llm_calls"], totals["input_tokens"], totals["cache_read_tokens"]) == (
        1,
        1_000,
        400,
    )
    assert totals["reasoning_tokens"] == 50
    (llm,) = got["llm_calls"]
    assert (llm["provider"], llm["request_model"], llm["response_model"]) == (
        "openai",
        "gpt-4o",
        "gpt-4o-2024-08-06",
    )
    assert llm["messages"]["output"][0]["parts"][0]["content"] == "Dear ..."
    assert [s["name"] for s in got["scores"]] == ["helpfulness"]
    assert got["scores"][0]["value"] == 0.7


def test_a_run_left_unfinished_is_recorded_as_failed(server: Server, make_client: Any) -> None:
    """As in Rust: a run neither completed nor failed when its block ends has failed."""
    t = make_client()
    with t.agent_run("forgetful", "nothing", correlation_id="py-run-unfinished-1"):
        pass
    t.flush(10)
    got = _run(server, "py-run-unfinished-1")
    assert got["status"] == "failed"
    assert got["error"] == "the run ended without complete() or fail()"


def test_a_disabled_client_gives_runs_that_record_nothing(service: str) -> None:
    """Without consent the run API is a no-op: no correlation id, nothing queued."""
    from automagik_telemetry import AutomagikTelemetry

    t = AutomagikTelemetry(project_name=service)
    with t.agent_run("quiet", "prompt") as run:
        run.progress("x", 1)
        with run.tool_call("tool", {"a": 1}) as call:
            call.ok("r")
        run.complete(1.0)
    assert run.correlation_id == ""
    assert t.stats()["queued"] == 0
