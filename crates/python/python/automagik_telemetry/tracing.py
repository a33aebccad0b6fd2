"""Spans: context managers and decorators, with W3C ``traceparent`` propagation.

A span entered with ``with`` is the current span of its context (a
``contextvars.ContextVar``, so each asyncio task and each thread has its own): spans
started inside it are its children. Logs and events take their trace from the current
span of the *thread* (the Rust SDK's view), which is the same in synchronous code; in
asyncio code that interleaves tasks inside spans, a log may name another task's span.

Every span belongs to the thread that started it: its methods raise ``RuntimeError``
elsewhere.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
import traceback
from typing import (
    Any,
    Callable,
    Dict,
    Mapping,
    MutableMapping,
    NamedTuple,
    Optional,
    Set,
    TypeVar,
    Union,
)

from . import _native
from ._protocols import SpanStarter

F = TypeVar("F", bound=Callable[..., Any])

#: The ``traceparent`` of the span (or agent run) entered last in this context.
_current: "contextvars.ContextVar[Optional[str]]" = contextvars.ContextVar(
    "automagik_telemetry_current_span", default=None
)
#: ``traceparent`` of every span and run entered with ``with`` and not yet left, in any
#: context: a thread's current span that is one of these but not this context's belongs
#: to another asyncio task.
_entered: Set[str] = set()

SPAN_KINDS = ("internal", "server", "client", "producer", "consumer")


class TraceContext(NamedTuple):
    """The identity of a span as it travels between processes (a W3C ``traceparent``)."""

    trace_id: str
    span_id: str
    trace_flags: int

    @property
    def traceparent(self) -> str:
        """The ``traceparent`` header value."""
        return f"00-{self.trace_id}-{self.span_id}-{self.trace_flags:02x}"

    @property
    def sampled(self) -> bool:
        """Whether the sampled flag is set."""
        return bool(self.trace_flags & 1)


def extract_traceparent(header: str) -> TraceContext:
    """Parses a W3C ``traceparent`` header value; raises ``ValueError`` when malformed."""
    trace_id, span_id, flags = _native.extract_traceparent(header)
    return TraceContext(trace_id, span_id, flags)


def extract(headers: Mapping[str, str]) -> Optional[TraceContext]:
    """The trace context of incoming ``headers`` (any case of ``traceparent``), or
    ``None`` when there is none or it is malformed."""
    value = headers.get("traceparent")
    if value is None:
        for k, v in headers.items():
            if isinstance(k, str) and k.lower() == "traceparent":
                value = v
                break
    if not value:
        return None
    try:
        return extract_traceparent(value)
    except ValueError:
        return None


def current_traceparent() -> Optional[str]:
    """The ``traceparent`` of the current span: this context's, else this thread's."""
    return _current.get() or _native.current_traceparent()


def inject(headers: Optional[MutableMapping[str, str]] = None) -> MutableMapping[str, str]:
    """Adds the current span's ``traceparent`` to ``headers`` (a new ``dict`` when
    ``None``) for an outgoing request, and returns them."""
    out: MutableMapping[str, str] = {} if headers is None else headers
    tp = current_traceparent()
    if tp is not None:
        out["traceparent"] = tp
    return out


ParentLike = Union[str, TraceContext, "Span", None]


def _parent_args(parent: ParentLike) -> Dict[str, Any]:
    """The native client's parent arguments for a new span."""
    if parent is not None:
        if isinstance(parent, Span):
            tp = parent.traceparent
            return {"parent": tp} if tp else {"root": True}
        if isinstance(parent, TraceContext):
            return {"parent": parent.traceparent, "parent_is_remote": True}
        return {"parent": str(parent), "parent_is_remote": True}
    tp = _current.get()
    if tp is not None:
        return {"parent": tp}
    thread_current = _native.current_traceparent()
    if thread_current is not None and thread_current in _entered:
        # The thread's current span was entered by another task: not our parent.
        return {"root": True}
    return {}


def _exception_parts(exc: BaseException) -> "tuple[str, str, Optional[str]]":
    """An exception's type name, message and formatted traceback."""
    cls = type(exc)
    module = getattr(cls, "__module__", "builtins")
    qualname = cls.__qualname__
    name = qualname if module in ("builtins", "__main__") else f"{module}.{qualname}"
    stack = None
    if exc.__traceback__ is not None:
        stack = "".join(traceback.format_exception(cls, exc, exc.__traceback__))
    return name, str(exc), stack


class Span:
    """A span in progress. End it with :meth:`end`, or use it as a context manager
    (an exception leaving the block is recorded on it)."""

    __slots__ = ("_native", "_client", "_thread", "_token", "name", "__weakref__")

    def __init__(self, native: _native.Span, client: SpanStarter, name: str) -> None:
        self._native = native
        self._client = client  # the client outlives its spans
        self._thread = threading.get_ident()
        self._token: Optional[contextvars.Token[Optional[str]]] = None
        self.name = name

    def _span(self) -> _native.Span:
        if threading.get_ident() != self._thread:
            raise RuntimeError(
                f"span {self.name!r} is used on a thread other than the one that started it"
            )
        return self._native

    @property
    def is_recording(self) -> bool:
        """Whether the span records anything (false when telemetry is disabled or it ended)."""
        return self._span().is_recording()

    @property
    def traceparent(self) -> Optional[str]:
        """The W3C ``traceparent`` for calls made on behalf of this span."""
        return self._span().traceparent()

    @property
    def trace_id(self) -> Optional[str]:
        """The trace id (32 hexadecimal digits)."""
        return self._span().trace_id()

    @property
    def span_id(self) -> Optional[str]:
        """The span id (16 hexadecimal digits)."""
        return self._span().span_id()

    @property
    def context(self) -> Optional[TraceContext]:
        """The span's trace context."""
        tp = self.traceparent
        return extract_traceparent(tp) if tp else None

    def set_attribute(self, key: str, value: Any) -> "Span":
        """Sets (or replaces) an attribute; values pass the redactor. Returns the span."""
        self._span().set_attribute(key, value)
        return self

    def set_attributes(self, attributes: Mapping[str, Any]) -> "Span":
        """Sets several attributes. Returns the span."""
        span = self._span()
        for k, v in attributes.items():
            span.set_attribute(str(k), v)
        return self

    def add_event(self, name: str, attributes: Optional[Mapping[str, Any]] = None) -> "Span":
        """Records a timestamped event inside the span. Returns the span."""
        self._span().add_event(name, attributes)
        return self

    def set_status(self, status: str, description: Optional[str] = None) -> "Span":
        """Sets the outcome: ``"ok"``, ``"error"`` (with a description) or ``"unset"``."""
        self._span().set_status(status, description)
        return self

    def record_exception(self, exc: BaseException) -> "Span":
        """Records an exception: an ``exception`` event with ``exception.type``,
        ``exception.message`` and ``exception.stacktrace``, and an error status."""
        name, message, stack = _exception_parts(exc)
        self._span().record_exception(name, message, stack)
        return self

    def end(self) -> None:
        """Ends the span now (later calls do nothing)."""
        self._span().end()

    def __enter__(self) -> "Span":
        tp = self._span().traceparent()
        if tp is not None:
            self._token = _current.set(tp)
            _entered.add(tp)
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        span = self._span()
        if exc is not None and span.is_recording():
            name, message, stack = _exception_parts(exc)
            span.record_exception(name, message, stack)
        tp = span.traceparent()
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        if tp is not None:
            _entered.discard(tp)
        span.end()

    def __repr__(self) -> str:
        return f"<Span {self.name!r} {self._native.traceparent()}>"


class SpanScope:
    """What :meth:`AutomagikTelemetry.span` returns: a context manager that starts a span
    on entry and ends it on exit, and a decorator that does so around each call of the
    function (``async`` functions included)."""

    def __init__(
        self,
        client: SpanStarter,
        name: Optional[str],
        attributes: Optional[Mapping[str, Any]],
        kind: str,
        parent: ParentLike,
    ) -> None:
        self._client = client
        self._name = name
        self._attributes = dict(attributes) if attributes else None
        self._kind = kind
        self._parent = parent
        self._span: Optional[Span] = None

    def __enter__(self) -> Span:
        if self._span is not None:
            raise RuntimeError("a span scope is entered once; call span() again for another span")
        span = self._client.start_span(
            self._name or "span", attributes=self._attributes, kind=self._kind, parent=self._parent
        )
        self._span = span
        return span.__enter__()

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        span, self._span = self._span, None
        if span is not None:
            span.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        name = self._name or getattr(func, "__qualname__", getattr(func, "__name__", "span"))
        client, attributes, kind, parent = self._client, self._attributes, self._kind, self._parent

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with client.span(name, attributes=attributes, kind=kind, parent=parent):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with client.span(name, attributes=attributes, kind=kind, parent=parent):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def enter_run(traceparent: Optional[str]) -> Optional["contextvars.Token[Optional[str]]"]:
    """Makes an agent run's span the current span of this context."""
    if traceparent is None:
        return None
    _entered.add(traceparent)
    return _current.set(traceparent)


def leave_run(
    traceparent: Optional[str], token: Optional["contextvars.Token[Optional[str]]"]
) -> None:
    """Undoes :func:`enter_run`."""
    if token is not None:
        _current.reset(token)
    if traceparent is not None:
        _entered.discard(traceparent)
