"""The telemetry client: the API of the 0.1.x Python SDK, on the Rust SDK.

Defaults, environment variables, the consent order, redaction, batching, retries, the
spool and the exporters are the Rust SDK's (the same in every language). Durations are
given in seconds, as in 0.1.x. No call waits on the network: records are queued and one
background thread sends them; only :meth:`AutomagikTelemetry.flush` and
:meth:`AutomagikTelemetry.shutdown` wait, no longer than their deadline, with the GIL
released.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import threading
import uuid
import warnings
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _lifecycle, _native
from .agent import AgentRun
from .tracing import (
    ParentLike,
    Span,
    SpanScope,
    TraceContext,
    _parent_args,
    current_traceparent,
)
from .tracing import extract as _extract
from .tracing import inject as _inject

#: Seconds :meth:`AutomagikTelemetry.flush` waits when no timeout is given.
DEFAULT_FLUSH_TIMEOUT = 5.0
#: The opt-out file, in the user's home directory.
OPT_OUT_FILE = ".automagik-no-telemetry"

_SIGNAL_PATHS = ("/v1/traces", "/v1/metrics", "/v1/logs")
_DEFAULT_ENDPOINT = "http://127.0.0.1:4318"


class MetricType(Enum):
    """OTLP metric types."""

    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"


class LogSeverity(Enum):
    """OTLP log severity levels."""

    TRACE = 1
    DEBUG = 5
    INFO = 9
    WARN = 13
    ERROR = 17
    FATAL = 21


_SEVERITY_ALIASES = {"WARNING": LogSeverity.WARN, "CRITICAL": LogSeverity.FATAL}


@dataclass
class TelemetryConfig:
    """Configuration of a client. Every field left ``None`` keeps the value of the
    environment (``AUTOMAGIK_TELEMETRY_*``, then ``OTEL_*``) or the default; what is set
    here wins. Durations are in seconds.

    The fields of the 0.1.x SDK come first. ``clickhouse_table``,
    ``clickhouse_metrics_table`` and ``clickhouse_logs_table`` are accepted and ignored
    (the ClickHouse backend writes its own schema), and so are ``metrics_endpoint`` and
    ``logs_endpoint`` when they are the ones derived from ``endpoint`` (otherwise a
    warning says they are not used: every signal's URL is derived from ``endpoint``).

    Attributes:
        project_name: ``service.name`` of everything sent (default ``OTEL_SERVICE_NAME``,
            else ``unknown_service``).
        version: ``service.version``.
        backend: ``otlp`` (default), ``otlp-json``, ``clickhouse``, ``file``, ``stdout``.
        endpoint: OTLP base URL (default ``http://127.0.0.1:4318``); ``/v1/traces`` and
            the others are derived. A URL ending in ``/v1/traces`` (the 0.1.x form) is
            taken as its base.
        organization: sent as the resource attribute ``service.organization`` when set.
        timeout: per-request timeout (default 10).
        batch_size: records per export (default 100).
        flush_interval: longest wait before a partial batch is sent (default 5.0).
        compression_enabled: ``False`` sends bodies plain; ``True`` compresses (gzip
            unless ``compression`` or the environment says otherwise).
        compression_threshold: bodies smaller than this many bytes are sent plain.
        max_retries: retries after the first attempt (default 3).
        retry_backoff_base: base delay of the exponential backoff (default 1.0).
        enabled: consent given (``True``) or revoked (``False``) by the program, for
            example after asking the user; opt-outs and development environments still
            win (see :meth:`AutomagikTelemetry.consent_decision`).
        default_enabled: what to do when nobody said anything (the default is disabled).
        verbose: print each request sent to stderr.
        queue_size: records held in memory before new ones are dropped (default 10000).
        compression: ``gzip``, ``zstd`` or ``none``.
        max_backoff: longest single backoff delay (default 30).
        retry_budget: total time one batch may spend in retries (default 60).
        spool_dir: where undeliverable batches wait on disk until the endpoint is back.
        spool_max_bytes: most bytes the spool may hold (default 64 MiB).
        file_path: output of the ``file`` backend.
        exit_timeout: how long process exit (and dropping the client) waits for the
            final flush (default 5).
        flush_timeout: how long :meth:`AutomagikTelemetry.flush` waits by default (5).
        headers: extra request headers (an API key for a hosted endpoint, say).
        resource_attributes: extra resource attributes.
        home_dir: where the opt-out file is looked for (default the user's home).
        state_dir: where the anonymous install id and salt are kept.
        environ: variables to read instead of the process environment.
        redaction_allow_keys: attribute keys whose values are never redacted.
        redaction_deny_keys: words that make a key's value a secret.
        redaction_allow_values: exact texts kept wherever a rule matches them.
        redaction_allow_patterns: regular expressions of matched texts to keep.
        redaction_rules: extra rules, name to regular expression.
        redaction_disable_rules: built-in rules (or kinds, such as ``mac``) turned off.
        histogram_boundaries: histogram bucket boundaries.
    """

    project_name: Optional[str] = None
    version: Optional[str] = None
    backend: Optional[str] = None
    endpoint: Optional[str] = None
    organization: Optional[str] = None
    timeout: Optional[float] = None
    batch_size: Optional[int] = None
    flush_interval: Optional[float] = None
    compression_enabled: Optional[bool] = None
    compression_threshold: Optional[int] = None
    max_retries: Optional[int] = None
    retry_backoff_base: Optional[float] = None
    metrics_endpoint: Optional[str] = None
    logs_endpoint: Optional[str] = None
    clickhouse_endpoint: Optional[str] = None
    clickhouse_database: Optional[str] = None
    clickhouse_table: Optional[str] = None
    clickhouse_metrics_table: Optional[str] = None
    clickhouse_logs_table: Optional[str] = None
    clickhouse_username: Optional[str] = None
    clickhouse_password: Optional[str] = None
    enabled: Optional[bool] = None
    default_enabled: Optional[bool] = None
    verbose: Optional[bool] = None
    queue_size: Optional[int] = None
    compression: Optional[str] = None
    max_backoff: Optional[float] = None
    retry_budget: Optional[float] = None
    spool_dir: Optional[Union[str, "os.PathLike[str]"]] = None
    spool_max_bytes: Optional[int] = None
    file_path: Optional[Union[str, "os.PathLike[str]"]] = None
    exit_timeout: Optional[float] = None
    flush_timeout: Optional[float] = None
    clickhouse_create_schema: Optional[bool] = None
    headers: Optional[Mapping[str, str]] = None
    resource_attributes: Optional[Mapping[str, str]] = None
    home_dir: Optional[Union[str, "os.PathLike[str]"]] = None
    state_dir: Optional[Union[str, "os.PathLike[str]"]] = None
    environ: Optional[Mapping[str, str]] = None
    redaction_allow_keys: Optional[Sequence[str]] = None
    redaction_deny_keys: Optional[Sequence[str]] = None
    redaction_allow_values: Optional[Sequence[str]] = None
    redaction_allow_patterns: Optional[Sequence[str]] = None
    redaction_rules: Optional[Mapping[str, str]] = None
    redaction_disable_rules: Optional[Sequence[str]] = None
    histogram_boundaries: Optional[Sequence[float]] = None


_FIELDS = {f.name for f in dataclasses.fields(TelemetryConfig)}

#: TelemetryConfig fields handed to the native client under the same name.
_DIRECT = (
    "project_name",
    "version",
    "backend",
    "timeout",
    "batch_size",
    "flush_interval",
    "compression_enabled",
    "compression_threshold",
    "max_retries",
    "clickhouse_endpoint",
    "clickhouse_database",
    "clickhouse_password",
    "default_enabled",
    "verbose",
    "queue_size",
    "compression",
    "max_backoff",
    "retry_budget",
    "spool_max_bytes",
    "clickhouse_create_schema",
    "histogram_boundaries",
    "redaction_allow_keys",
    "redaction_deny_keys",
    "redaction_allow_values",
    "redaction_allow_patterns",
    "redaction_disable_rules",
)
_RENAMED = {
    "retry_backoff_base": "retry_backoff",
    "clickhouse_username": "clickhouse_user",
    "exit_timeout": "drop_timeout",
}
_PATHS = ("spool_dir", "file_path", "home_dir", "state_dir")


def _coerce(config: Any = None, **options: Any) -> TelemetryConfig:
    """A :class:`TelemetryConfig` from one (or from any object with such attributes, such
    as ``automagik_telemetry.config.TelemetryConfig``) and keyword overrides."""
    unknown = sorted(set(options) - _FIELDS)
    if unknown:
        raise TypeError(f"unknown telemetry option(s): {', '.join(unknown)}")
    if config is None:
        return TelemetryConfig(**options)
    if isinstance(config, TelemetryConfig):
        return dataclasses.replace(config, **options) if options else config
    values = {name: getattr(config, name) for name in _FIELDS if hasattr(config, name)}
    values.update(options)
    return TelemetryConfig(**values)


def _base_endpoint(url: str) -> str:
    """An OTLP base URL: the 0.1.x form ending in ``/v1/traces`` (or metrics, logs) is
    taken as its base."""
    u = url.strip().rstrip("/")
    for path in _SIGNAL_PATHS:
        if u.endswith(path):
            return u[: -len(path)]
    return u


def _lookup(config: TelemetryConfig, name: str) -> Optional[str]:
    if config.environ is not None:
        return config.environ.get(name)
    return os.environ.get(name)


def _settings(config: TelemetryConfig, consent: Optional[bool]) -> Dict[str, Any]:
    """The native client's settings for ``config``: only what is set, in seconds."""
    s: Dict[str, Any] = {}
    for name in _DIRECT:
        value = getattr(config, name)
        if value is not None:
            s[name] = value
    for name, native_name in _RENAMED.items():
        value = getattr(config, name)
        if value is not None:
            s[native_name] = value
    for name in _PATHS:
        value = getattr(config, name)
        if value is not None:
            s[name] = os.fspath(value)
    endpoint = config.endpoint
    if endpoint is None:
        env = _lookup(config, "AUTOMAGIK_TELEMETRY_ENDPOINT")
        if env and env.strip().rstrip("/").endswith(_SIGNAL_PATHS):
            endpoint = env
    if endpoint is not None:
        s["endpoint"] = _base_endpoint(endpoint)
    base = s.get("endpoint") or _base_endpoint(
        _lookup(config, "AUTOMAGIK_TELEMETRY_ENDPOINT")
        or _lookup(config, "OTEL_EXPORTER_OTLP_ENDPOINT")
        or _DEFAULT_ENDPOINT
    )
    for field, path in (("metrics_endpoint", "/v1/metrics"), ("logs_endpoint", "/v1/logs")):
        given = getattr(config, field)
        if given is not None and given.strip().rstrip("/") != base + path:
            warnings.warn(
                f"TelemetryConfig.{field} is not used: every signal's URL is derived "
                f"from endpoint ({base}{path})",
                stacklevel=3,
            )
    headers = dict(config.headers or {})
    if headers:
        s["headers"] = headers
    resource = dict(config.resource_attributes or {})
    if config.organization is not None:
        resource.setdefault("service.organization", config.organization)
    if resource:
        s["resource_attributes"] = resource
    if config.environ is not None:
        s["environ"] = dict(config.environ)
    if config.redaction_rules:
        s["redaction_rules"] = dict(config.redaction_rules)
    for name in ("redaction_allow_keys", "redaction_deny_keys", "redaction_allow_values",
                 "redaction_allow_patterns", "redaction_disable_rules"):
        if name in s:
            s[name] = [str(v) for v in s[name]]
    if "histogram_boundaries" in s:
        s["histogram_boundaries"] = [float(b) for b in s["histogram_boundaries"]]
    if consent is not None:
        s["consent"] = consent
    return s


@dataclass(frozen=True)
class ConsentDecision:
    """Whether telemetry is enabled, and which rule of the consent order said so.

    ``rule`` is one of ``opt_out_variable``, ``opt_out_file``, ``revoked_in_code``,
    ``development``, ``opt_in_variable``, ``granted_in_code``, ``program_default`` and
    ``library_default``; ``variable`` names the environment variable of the first, the
    fourth and the fifth, ``path`` the opt-out file. ``str()`` gives the explanation.
    """

    enabled: bool
    rule: str
    message: str
    variable: Optional[str] = None
    path: Optional[str] = None

    def __bool__(self) -> bool:
        return self.enabled

    def __str__(self) -> str:
        return self.message

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "ConsentDecision":
        return cls(
            enabled=bool(d["enabled"]),
            rule=str(d["rule"]),
            message=str(d["message"]),
            variable=d.get("variable"),
            path=d.get("path"),
        )


def effective_config(config: Any = None, **options: Any) -> Dict[str, Any]:
    """The configuration and consent a client built with these options (and the current
    environment) would have, as a ``dict`` with the same keys in every language of the
    SDK (durations in milliseconds, keys suffixed ``_ms``), without building one.

    Keys: ``enabled``, ``consent_rule``, ``consent``, ``project_name``, ``version``,
    ``endpoint``, ``traces_endpoint``, ``metrics_endpoint``, ``logs_endpoint``,
    ``backend``, ``batch_size``, ``flush_interval_ms``, ``queue_size``, ``compression``,
    ``compression_threshold``, ``max_retries``, ``retry_backoff_ms``, ``max_backoff_ms``,
    ``retry_budget_ms``, ``timeout_ms``, ``spool_dir``, ``spool_max_bytes``, ``verbose``,
    ``file_path``, ``kafka_brokers``, ``clickhouse_endpoint``, ``clickhouse_database``,
    ``clickhouse_user``, ``clickhouse_create_schema``, ``header_names``,
    ``resource_attributes`` (``[key, value]`` pairs) and ``drop_timeout_ms``.
    Raises ``ValueError`` for a malformed setting or environment variable.
    """
    cfg = _coerce(config, **options)
    result: Dict[str, Any] = json.loads(
        _native.effective_config_json(_settings(cfg, cfg.enabled))
    )
    return result


def consent_decision(config: Any = None, **options: Any) -> ConsentDecision:
    """The consent decision for these options and the current environment."""
    cfg = _coerce(config, **options)
    return ConsentDecision._from(_native.consent_decision(_settings(cfg, cfg.enabled)))


def _exception_parts(error: Any) -> Tuple[str, str, Optional[str]]:
    if isinstance(error, BaseException):
        from .tracing import _exception_parts as parts

        return parts(error)
    return "Error", str(error), None


class _Completion:
    """What :meth:`AutomagikTelemetry.disable` returns: the background flush of what was
    queued. ``await`` it (as with 0.1.x, whose ``disable`` was a coroutine) or
    :meth:`wait` for it; or ignore it."""

    def __init__(self, thread: Optional[threading.Thread]) -> None:
        self._thread = thread

    def done(self) -> bool:
        """Whether the flush is over."""
        return self._thread is None or not self._thread.is_alive()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits for the flush at most ``timeout`` seconds; whether it is over."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done()

    async def _wait_async(self) -> None:
        if not self.done():
            await asyncio.to_thread(self.wait)

    def __await__(self) -> Any:
        return self._wait_async().__await__()


def _shutdown_quietly(native: _native.Client, timeout: float) -> None:
    try:
        native.shutdown(timeout)
    except Exception:  # noqa: BLE001 - telemetry never fails the program
        pass


class AutomagikTelemetry:
    """Privacy-first telemetry client.

    >>> telemetry = AutomagikTelemetry(project_name="my-app", version="1.0.0")
    >>> telemetry.track_event("user.login", {"method": "oauth"})

    It is built from a :class:`TelemetryConfig` (``AutomagikTelemetry(config)`` or
    ``AutomagikTelemetry(config=...)``), from keyword options (the same names), or both
    (the options win). Nothing is sent unless consent is given: see
    :meth:`consent_decision`. Every method is safe to call from any thread; spans and
    agent runs belong to the thread that started them.
    """

    def __init__(self, config: Any = None, **options: Any) -> None:
        self.config: TelemetryConfig = _coerce(config, **options)
        self._lock = threading.RLock()
        self._consent: Optional[bool] = self.config.enabled
        self.session_id = str(uuid.uuid4())
        self._native = _native.Client(_settings(self.config, self._consent))
        _lifecycle.register(self)

    # --- construction, consent ---

    def _build(self) -> _native.Client:
        return _native.Client(_settings(self.config, self._consent))

    def _replace(self, native: _native.Client) -> _native.Client:
        with self._lock:
            old, self._native = self._native, native
        return old

    def _exit_timeout(self) -> float:
        if self.config.exit_timeout is not None:
            return float(self.config.exit_timeout)
        return self.effective_config()["drop_timeout_ms"] / 1000.0

    def _shutdown_for_exit(self, timeout: float) -> None:
        self._native.shutdown(timeout)

    def _after_fork(self) -> None:
        """In the child of ``os.fork()``: abandons the parent's client, builds a new one."""
        self._lock = threading.RLock()
        old = self._native
        old.abandon()
        try:
            self._native = self._build()
        except Exception:  # noqa: BLE001 - a fork never fails because of telemetry
            self._native = _native.Client({"consent": False, "environ": {}})

    def _home(self) -> Path:
        if self.config.home_dir is not None:
            return Path(self.config.home_dir)
        home = _lookup(self.config, "HOME")
        return Path(home) if home else Path.home()

    def is_enabled(self) -> bool:
        """Whether anything is sent."""
        return self._native.is_enabled()

    @property
    def enabled(self) -> bool:
        """Whether anything is sent. Setting it gives (``True``) or revokes (``False``)
        consent in code, without touching the opt-out file."""
        return self._native.is_enabled()

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if value:
            self._grant()
        else:
            self._revoke()

    def consent_decision(self) -> ConsentDecision:
        """Why the client is enabled or disabled."""
        return ConsentDecision._from(self._native.consent())

    def _grant(self) -> None:
        with self._lock:
            if self._consent is True and self._native.is_enabled():
                return
            self._consent = True
            old = self._replace(self._build())
        if old.is_enabled():
            self._background_shutdown(old)

    def _revoke(self) -> Optional[threading.Thread]:
        with self._lock:
            self._consent = False
            old = self._replace(self._build())
        if not old.is_enabled():
            return None
        return self._background_shutdown(old)

    def _background_shutdown(self, old: _native.Client) -> threading.Thread:
        thread = threading.Thread(
            target=_shutdown_quietly,
            args=(old, self._exit_timeout()),
            name="automagik-telemetry-disable",
            daemon=True,
        )
        thread.start()
        _lifecycle.track_pending(thread)
        return thread

    def enable(self) -> None:
        """Gives consent in code and removes the opt-out file (as 0.1.x did). Opt-outs
        by environment variable and development environments still win."""
        try:
            (self._home() / OPT_OUT_FILE).unlink()
        except OSError:
            pass
        self._grant()

    def disable(self, persist: bool = True) -> _Completion:
        """Revokes consent: nothing tracked from now on is sent, and what was queued is
        flushed in the background (``await telemetry.disable()`` waits for it, as with
        0.1.x). With ``persist`` (the default, as 0.1.x did) it also creates the opt-out
        file ``~/.automagik-no-telemetry``, which disables every Automagik program of
        this user until :meth:`enable` or ``automagik-telemetry consent grant``."""
        thread = self._revoke()
        if persist:
            try:
                (self._home() / OPT_OUT_FILE).touch()
            except OSError:
                pass
        return _Completion(thread)

    # --- signals ---

    def track_event(self, event_name: str, attributes: Optional[Mapping[str, Any]] = None) -> None:
        """Tracks a product event (a log record with ``event.name``); attributes are
        redacted before they are queued."""
        self._native.track_event(event_name, attributes)

    def track_error(self, error: Any, context: Optional[Mapping[str, Any]] = None) -> None:
        """Tracks an error: a log record of severity ERROR with ``exception.type``,
        ``exception.message`` and ``exception.stacktrace``, and ``context``."""
        type_name, message, stack = _exception_parts(error)
        self._native.track_error(type_name, message, stack, context)

    def track_metric(
        self,
        metric_name: str,
        value: float,
        metric_type: Union[MetricType, str] = MetricType.GAUGE,
        attributes: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Tracks a metric measurement (a gauge by default). Measurements of one name,
        type and attributes are aggregated per batch; NaN, infinities and negative
        counter increments are dropped and counted."""
        if isinstance(metric_type, MetricType):
            kind = metric_type.value
        else:
            try:
                kind = MetricType(str(metric_type).lower()).value
            except ValueError:
                kind = MetricType.GAUGE.value
        self._native.track_metric(metric_name, float(value), kind, attributes)

    def track_log(
        self,
        message: str,
        severity: Union[LogSeverity, str, int] = LogSeverity.INFO,
        attributes: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Tracks a log record (``severity`` a :class:`LogSeverity`, its name, or an OTLP
        severity number 1-24)."""
        if isinstance(severity, LogSeverity):
            number = severity.value
        elif isinstance(severity, str):
            name = severity.upper()
            level = _SEVERITY_ALIASES.get(name) or LogSeverity.__members__.get(name)
            number = (level or LogSeverity.INFO).value
        else:
            number = int(severity)
        self._native.track_log(number, str(message), attributes)

    async def track_event_async(
        self, event_name: str, attributes: Optional[Mapping[str, Any]] = None
    ) -> None:
        """:meth:`track_event` for asyncio code (queuing never blocks the loop)."""
        self.track_event(event_name, attributes)

    async def track_error_async(
        self, error: Any, context: Optional[Mapping[str, Any]] = None
    ) -> None:
        """:meth:`track_error` for asyncio code."""
        self.track_error(error, context)

    async def track_metric_async(
        self,
        metric_name: str,
        value: float,
        metric_type: Union[MetricType, str] = MetricType.GAUGE,
        attributes: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """:meth:`track_metric` for asyncio code."""
        self.track_metric(metric_name, value, metric_type, attributes)

    async def track_log_async(
        self,
        message: str,
        severity: Union[LogSeverity, str, int] = LogSeverity.INFO,
        attributes: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """:meth:`track_log` for asyncio code."""
        self.track_log(message, severity, attributes)

    # --- delivery ---

    def _timeout(self, timeout: Optional[float]) -> float:
        if timeout is not None:
            return float(timeout)
        if self.config.flush_timeout is not None:
            return float(self.config.flush_timeout)
        return DEFAULT_FLUSH_TIMEOUT

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends everything queued so far, waiting at most ``timeout`` seconds (default
        ``flush_timeout``, 5) with the GIL released. True when all of it was handled
        (sent, or spooled when the endpoint is down) in time."""
        return self._native.flush(self._timeout(timeout))

    async def flush_async(self, timeout: Optional[float] = None) -> bool:
        """:meth:`flush` without blocking the event loop (it waits in a worker thread)."""
        return await asyncio.to_thread(self.flush, timeout)

    def shutdown(self, timeout: Optional[float] = None) -> bool:
        """Flushes and stops the background thread within ``timeout`` seconds. Records
        tracked afterwards are dropped and counted. Process exit does this by itself."""
        return self._native.shutdown(self._timeout(timeout))

    async def shutdown_async(self, timeout: Optional[float] = None) -> bool:
        """:meth:`shutdown` without blocking the event loop."""
        return await asyncio.to_thread(self.shutdown, timeout)

    def __enter__(self) -> "AutomagikTelemetry":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    # --- spans ---

    def span(
        self,
        name: Optional[str] = None,
        attributes: Optional[Mapping[str, Any]] = None,
        kind: str = "internal",
        parent: ParentLike = None,
    ) -> SpanScope:
        """A span, as a context manager (``with telemetry.span("checkout") as span:``) or
        a decorator (``@telemetry.span("load")``, the function's name by default). Inside
        it, new spans are its children. ``kind`` is ``internal``, ``server``, ``client``,
        ``producer`` or ``consumer``; ``parent`` an incoming ``traceparent`` (or a
        :class:`TraceContext` or :class:`Span`) to continue another process's trace."""
        return SpanScope(self, name, attributes, kind, parent)

    def traced(
        self,
        name: Optional[str] = None,
        attributes: Optional[Mapping[str, Any]] = None,
        kind: str = "internal",
    ) -> SpanScope:
        """A decorator that runs each call of the function in a span of its name."""
        return SpanScope(self, name, attributes, kind, None)

    def start_span(
        self,
        name: str,
        attributes: Optional[Mapping[str, Any]] = None,
        kind: str = "internal",
        parent: ParentLike = None,
    ) -> Span:
        """Starts a span now; end it with :meth:`Span.end` (or ``with``)."""
        native = self._native.start_span(
            name, kind=kind, attributes=attributes, **_parent_args(parent)
        )
        return Span(native, self, name)

    def inject_traceparent(self) -> Optional[str]:
        """The current span's W3C ``traceparent``, for an outgoing request."""
        return current_traceparent()

    def inject(self, headers: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """Adds the current span's ``traceparent`` to ``headers`` and returns them."""
        out: Dict[str, str] = {} if headers is None else headers
        _inject(out)
        return out

    @staticmethod
    def extract(headers: Mapping[str, str]) -> Optional[TraceContext]:
        """The trace context of incoming headers, or ``None``."""
        return _extract(headers)

    @staticmethod
    def extract_traceparent(header: str) -> TraceContext:
        """Parses a ``traceparent``; raises ``ValueError`` when it is malformed."""
        from .tracing import extract_traceparent

        return extract_traceparent(header)

    # --- agents ---

    def agent_run(self, agent: str, prompt: str, correlation_id: Optional[str] = None) -> AgentRun:
        """Starts a run of ``agent`` for ``prompt`` (a new correlation id unless one is
        given), usable as a context manager. See :mod:`automagik_telemetry.agent`."""
        return AgentRun(self._native.agent_run(agent, prompt, correlation_id), self, agent)

    # --- state ---

    def stats(self) -> Dict[str, Any]:
        """Delivery counters: ``queued``, ``exported``, ``spooled``, ``queue_depth``,
        ``dropped`` (by reason: ``queue_full``, ``after_shutdown``, ``oversize``,
        ``invalid_value``, ``non_retryable``, ``retries_exhausted``,
        ``partial_success_rejected``) and ``dropped_total``."""
        return self._native.stats()

    def effective_config(self) -> Dict[str, Any]:
        """The configuration in force (see :func:`effective_config` for its keys)."""
        result: Dict[str, Any] = json.loads(self._native.describe_json())
        return result

    @property
    def install_id(self) -> Optional[str]:
        """The anonymous install id sent as ``service.instance.id`` (``None`` when disabled)."""
        return self._native.install_id()

    @property
    def user_id(self) -> Optional[str]:
        """The anonymous id of this install (0.1.x's ``user_id``)."""
        return self._native.install_id()

    def hash_user_id(self, user_id: str) -> Optional[str]:
        """A user id hashed with this install's salt, as attributes named like ``user.id``
        are sent (``None`` when disabled)."""
        return self._native.hash_user_id(user_id)

    def redact(self, attributes: Mapping[str, Any]) -> Dict[str, Any]:
        """What this client sends of ``attributes``: its redactor's output."""
        return self._native.redact(attributes)

    @property
    def endpoint(self) -> str:
        """The traces URL."""
        return str(self.effective_config()["traces_endpoint"])

    @property
    def metrics_endpoint(self) -> str:
        """The metrics URL."""
        return str(self.effective_config()["metrics_endpoint"])

    @property
    def logs_endpoint(self) -> str:
        """The logs URL."""
        return str(self.effective_config()["logs_endpoint"])

    @property
    def backend_type(self) -> str:
        """The backend in use."""
        return str(self.effective_config()["backend"])

    @property
    def verbose(self) -> bool:
        """Whether each request is printed to stderr."""
        return bool(self.effective_config()["verbose"])

    def get_status(self) -> Dict[str, Any]:
        """Status: the keys of 0.1.x (``enabled``, ``user_id``, ``session_id``,
        ``project_name``, ``project_version``, ``endpoint``, ``metrics_endpoint``,
        ``logs_endpoint``, ``opt_out_file_exists``, ``env_var``, ``verbose``,
        ``batch_size``, ``compression_enabled``, ``queue_sizes``) and ``backend``,
        ``flush_interval`` (seconds), ``consent`` and ``stats``. The queue is one for all
        signals: ``queue_sizes`` has its ``total``, and ``None`` per signal."""
        cfg = self.effective_config()
        stats = self.stats()
        return {
            "enabled": self.is_enabled(),
            "user_id": self.user_id,
            "session_id": self.session_id,
            "project_name": cfg["project_name"],
            "project_version": cfg["version"],
            "endpoint": cfg["traces_endpoint"],
            "metrics_endpoint": cfg["metrics_endpoint"],
            "logs_endpoint": cfg["logs_endpoint"],
            "opt_out_file_exists": (self._home() / OPT_OUT_FILE).exists(),
            "env_var": _lookup(self.config, "AUTOMAGIK_TELEMETRY_ENABLED"),
            "verbose": cfg["verbose"],
            "batch_size": cfg["batch_size"],
            "compression_enabled": cfg["compression"] != "none",
            "queue_sizes": {
                "traces": None,
                "metrics": None,
                "logs": None,
                "total": stats["queue_depth"],
            },
            "backend": cfg["backend"],
            "flush_interval": cfg["flush_interval_ms"] / 1000.0,
            "consent": dataclasses.asdict(self.consent_decision()),
            "stats": stats,
        }

    def __repr__(self) -> str:
        return f"<AutomagikTelemetry {self.config.project_name!r} enabled={self.is_enabled()}>"


__all__: List[str] = [
    "AutomagikTelemetry",
    "ConsentDecision",
    "LogSeverity",
    "MetricType",
    "TelemetryConfig",
    "consent_decision",
    "effective_config",
]
