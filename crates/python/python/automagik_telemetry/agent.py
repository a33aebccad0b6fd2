"""Agent telemetry: a run of an AI agent and what it does, as spans and events following
the OpenTelemetry GenAI conventions plus a ``correlation_id`` (the Rust SDK's agent API).

>>> with telemetry.agent_run("planner", "Which orders shipped late?") as run:
...     run.progress("planning", 10)
...     with run.tool_call("run_sql", {"query": "SELECT id FROM orders"}) as call:
...         call.ok("14 rows")
...     run.decision("answer", ["answer", "ask_user"], 0.8, "the query answers it")
...     run.complete(0.9)

As in Rust, a run must end with :meth:`AgentRun.complete` or :meth:`AgentRun.fail`, and
a tool or LLM call with ``ok`` or ``err``: one left unfinished when its ``with`` block
ends is recorded as failed. An exception leaving a block fails the run (or the call)
with ``"<type>: <message>"``.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Iterable, Optional, Union

from . import _native
from ._protocols import SpanStarter
from .tracing import enter_run, leave_run


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _ThreadBound:
    """Native agent objects belong to the thread that made them."""

    __slots__ = ()

    _thread: int
    _what: str

    def _check(self) -> None:
        if threading.get_ident() != self._thread:
            raise RuntimeError(
                f"{self._what} is used on a thread other than the one that started it"
            )


class ToolCall(_ThreadBound):
    """A tool call in progress: end it with :meth:`ok` or :meth:`err`."""

    __slots__ = ("_native", "_thread", "_what", "tool")

    def __init__(self, native: _native.ToolCall, tool: str) -> None:
        self._native = native
        self._thread = threading.get_ident()
        self._what = f"tool call {tool!r}"
        self.tool = tool

    @property
    def is_ended(self) -> bool:
        """Whether the call was ended (or records nothing)."""
        self._check()
        return self._native.is_ended()

    def ok(self, result: Any = None) -> None:
        """Ends the call with its result (any value; strings and maps are redacted)."""
        self._check()
        self._native.ok(result)

    def err(self, error: Union[str, BaseException]) -> None:
        """Ends the call with an error."""
        self._check()
        self._native.err(error if isinstance(error, str) else _describe(error))

    def __enter__(self) -> "ToolCall":
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        self._check()
        if exc is not None:
            self._native.err(_describe(exc))
        self._native.close()


class LlmCall(_ThreadBound):
    """An LLM call in progress: set its figures, then end it with :meth:`ok` or
    :meth:`err`. Its span measures the call's latency. The setters return the call."""

    __slots__ = ("_native", "_thread", "_what", "model")

    def __init__(self, native: _native.LlmCall, model: str) -> None:
        self._native = native
        self._thread = threading.get_ident()
        self._what = f"LLM call {model!r}"
        self.model = model

    @property
    def is_ended(self) -> bool:
        """Whether the call was ended (or records nothing)."""
        self._check()
        return self._native.is_ended()

    def operation(self, operation: str) -> "LlmCall":
        """The operation when not a chat completion: ``text_completion``,
        ``generate_content`` or ``embeddings``."""
        self._check()
        self._native.operation(operation)
        return self

    def response_model(self, model: str) -> "LlmCall":
        """The model that answered, when it differs from the one asked for."""
        self._check()
        self._native.response_model(model)
        return self

    def usage(self, input_tokens: int, output_tokens: int) -> "LlmCall":
        """Input tokens (cached ones included) and output tokens (reasoning included)."""
        self._check()
        self._native.usage(int(input_tokens), int(output_tokens))
        return self

    def cache(self, read: int, write: int = 0) -> "LlmCall":
        """Input tokens read from and written to the provider's cache."""
        self._check()
        self._native.cache(int(read), int(write))
        return self

    def reasoning(self, tokens: int) -> "LlmCall":
        """Output tokens spent on reasoning."""
        self._check()
        self._native.reasoning(int(tokens))
        return self

    def input_messages(self, messages: Any) -> "LlmCall":
        """The messages sent, in the GenAI messages shape
        (``[{"role": "user", "parts": [{"type": "text", "content": "..."}]}]``), as JSON
        text or as the list itself; redacted like any attribute."""
        self._check()
        text = messages if isinstance(messages, str) else json.dumps(messages)
        self._native.input_messages(text)
        return self

    def output_messages(self, messages: Any) -> "LlmCall":
        """The messages answered, in the same shape."""
        self._check()
        text = messages if isinstance(messages, str) else json.dumps(messages)
        self._native.output_messages(text)
        return self

    def ok(self, finish_reason: str = "stop") -> None:
        """Ends the call, with why the model stopped (``stop``, ``length``, ``tool_calls``)."""
        self._check()
        self._native.ok(finish_reason)

    def err(self, error: Union[str, BaseException]) -> None:
        """Ends the call with an error."""
        self._check()
        self._native.err(error if isinstance(error, str) else _describe(error))

    def __enter__(self) -> "LlmCall":
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        self._check()
        if exc is not None:
            self._native.err(_describe(exc))
        self._native.close()


class AgentRun(_ThreadBound):
    """A run of an agent, started by :meth:`AutomagikTelemetry.agent_run`. Its span is the
    current span inside its ``with`` block."""

    __slots__ = ("_native", "_client", "_thread", "_what", "_token", "_traceparent", "agent")

    def __init__(self, native: _native.AgentRun, client: SpanStarter, agent: str) -> None:
        self._native = native
        self._client = client  # the client outlives its runs
        self._thread = threading.get_ident()
        self._what = f"agent run {agent!r}"
        self._token: Any = None
        self._traceparent: Optional[str] = None
        self.agent = agent

    @property
    def correlation_id(self) -> str:
        """The run's correlation id (empty when telemetry is disabled)."""
        return self._native.correlation_id

    @property
    def traceparent(self) -> Optional[str]:
        """The run span's ``traceparent``, to propagate the run to another process."""
        self._check()
        return self._native.traceparent()

    @property
    def trace_id(self) -> Optional[str]:
        """The run's trace id."""
        self._check()
        return self._native.trace_id()

    @property
    def is_ended(self) -> bool:
        """Whether the run was ended (or records nothing)."""
        self._check()
        return self._native.is_ended()

    def set_attribute(self, key: str, value: Any) -> "AgentRun":
        """Sets an attribute of the run's span. Returns the run."""
        self._check()
        self._native.set_attribute(key, value)
        return self

    def progress(self, stage: str, percent: float) -> None:
        """Reports progress: a stage and a percentage (clamped to 0-100)."""
        self._check()
        self._native.progress(stage, float(percent))

    def tool_call(self, tool: str, params: Any = None) -> ToolCall:
        """Starts a tool call with its parameters (any value)."""
        self._check()
        return ToolCall(self._native.tool_call(tool, params), tool)

    def llm_call(self, provider: str, model: str) -> LlmCall:
        """Starts an LLM call of ``model`` at ``provider`` (``openai``, ``anthropic``...)."""
        self._check()
        return LlmCall(self._native.llm_call(provider, model), model)

    def score(self, name: str, value: float, comment: str = "") -> None:
        """Scores the run: a named numeric judgement with a comment."""
        self._check()
        self._native.score(name, float(value), comment)

    def decision(
        self,
        choice: str,
        alternatives: Iterable[str] = (),
        confidence: float = 1.0,
        reasoning: str = "",
    ) -> None:
        """Records a decision: the choice, the alternatives, a confidence (0-1), the reasoning."""
        self._check()
        self._native.decision(choice, [str(a) for a in alternatives], float(confidence), reasoning)

    def routing_decision(
        self,
        selected_agent: str,
        candidates: Iterable[str] = (),
        confidence: float = 1.0,
        reason: str = "",
    ) -> None:
        """Records a routing decision: the agent chosen among the candidates."""
        self._check()
        self._native.routing_decision(
            selected_agent, [str(c) for c in candidates], float(confidence), reason
        )

    def manifest_injection(
        self, manifest_id: str, sections: Iterable[str], size_bytes: int
    ) -> None:
        """Records a manifest injected into the agent's context."""
        self._check()
        self._native.manifest_injection(manifest_id, [str(s) for s in sections], int(size_bytes))

    def error(self, message: Union[str, BaseException], kind: Optional[str] = None) -> None:
        """Records an error the agent met (the run may still succeed): a message and its
        kind, or an exception (its type is the kind)."""
        self._check()
        if isinstance(message, BaseException):
            self._native.error(str(message), kind or type(message).__name__)
        else:
            self._native.error(message, kind or "error")

    def success(self, message: str) -> None:
        """Records the success of one step."""
        self._check()
        self._native.success(message)

    def complete(self, quality_score: float) -> None:
        """Ends the run as completed with a quality score (clamped to 0-1)."""
        self._check()
        self._native.complete(float(quality_score))

    def fail(self, error: Union[str, BaseException]) -> None:
        """Ends the run as failed."""
        self._check()
        self._native.fail(error if isinstance(error, str) else _describe(error))

    def __enter__(self) -> "AgentRun":
        self._check()
        self._traceparent = self._native.traceparent()
        self._token = enter_run(self._traceparent)
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        self._check()
        if exc is not None:
            self._native.fail(_describe(exc))
        self._native.close()
        leave_run(self._traceparent, self._token)
        self._token = None

    def __repr__(self) -> str:
        return f"<AgentRun {self.agent!r} {self._native.correlation_id}>"
