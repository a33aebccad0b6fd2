"""What the span, agent-run and lifecycle modules need of a client, as protocols, so that
they depend on this module and not on ``client`` (which imports them): the package's
modules form no import circle, even for type checkers. ``AutomagikTelemetry`` satisfies
both protocols."""

from __future__ import annotations

from typing import Any, ContextManager, Mapping, Optional

from typing import Protocol


class SpanStarter(Protocol):
    """A client as spans, span scopes and agent runs use it (parents and spans are
    ``tracing``'s ``ParentLike`` and ``Span``, typed loosely here so that this module
    imports nothing of the package)."""

    def start_span(
        self,
        name: str,
        attributes: Optional[Mapping[str, Any]] = None,
        kind: str = "internal",
        parent: Any = None,
    ) -> Any: ...

    def span(
        self,
        name: Optional[str] = None,
        attributes: Optional[Mapping[str, Any]] = None,
        kind: str = "internal",
        parent: Any = None,
    ) -> ContextManager[Any]: ...


class ExitParticipant(Protocol):
    """A client as the exit and fork handlers use it."""

    def _exit_timeout(self) -> float: ...

    def _shutdown_for_exit(self, timeout: float) -> None: ...

    def _after_fork(self) -> None: ...
