"""Automagik Telemetry: privacy-first telemetry for Python programs and AI agents.

Events, errors, metrics, logs, spans and agent runs are checked against the user's
consent, stripped of personal data, queued without blocking, batched on one background
thread and sent as OpenTelemetry (OTLP), by the Automagik Telemetry Rust SDK inside this
package: the same defaults, environment variables, consent order, redaction and delivery
as in every other language.

>>> from automagik_telemetry import AutomagikTelemetry, MetricType
>>> telemetry = AutomagikTelemetry(project_name="my-app", version="1.0.0")
>>> telemetry.track_event("user.login", {"method": "oauth"})
>>> telemetry.track_metric("api.requests", 1, MetricType.COUNTER, {"endpoint": "/users"})
>>> with telemetry.span("checkout"):
...     telemetry.track_log("charged")

Nothing is sent until consent is given (``AUTOMAGIK_TELEMETRY_ENABLED=true``, or
``enabled=True`` in code); ``telemetry.consent_decision()`` says why.
"""

from . import _lifecycle  # noqa: F401  (process exit and fork handling)
from . import _native
from .agent import AgentRun, LlmCall, ToolCall
from .client import (
    AutomagikTelemetry,
    ConsentDecision,
    LogSeverity,
    MetricType,
    TelemetryConfig,
    consent_decision,
    effective_config,
)
from .config import (
    DEFAULT_CONFIG,
    ENV_VARS,
    ValidatedConfig,
    create_config,
    load_config_from_env,
    merge_config,
    validate_config,
)
from .config import TelemetryConfig as ConfigTelemetryConfig
from .opt_in import TelemetryOptIn, prompt_user_if_needed, should_prompt_user
from .privacy import (
    SENSITIVE_KEYS,
    PrivacyConfig,
    detect_pii,
    hash_value,
    preview_redaction,
    redact_sensitive_keys,
    redact_text,
    sanitize_email,
    sanitize_phone,
    sanitize_telemetry_data,
    sanitize_value,
    truncate_string,
)
from .schema import StandardEvents
from .tracing import (
    Span,
    SpanScope,
    TraceContext,
    current_traceparent,
    extract,
    extract_traceparent,
    inject,
)

try:
    from importlib.metadata import version as _version

    __version__ = _version("automagik-telemetry")
except Exception:  # noqa: BLE001 - not installed (a source checkout)
    __version__ = "0.0.0-dev"

#: The version of the Rust SDK inside.
CORE_VERSION: str = _native.CORE_VERSION

__all__ = [
    # Core client (0.1.x)
    "AutomagikTelemetry",
    "TelemetryConfig",
    "MetricType",
    "LogSeverity",
    "StandardEvents",
    # Opt-in utilities (0.1.x)
    "TelemetryOptIn",
    "prompt_user_if_needed",
    "should_prompt_user",
    # Configuration (0.1.x)
    "ConfigTelemetryConfig",
    "ValidatedConfig",
    "create_config",
    "load_config_from_env",
    "merge_config",
    "validate_config",
    "DEFAULT_CONFIG",
    "ENV_VARS",
    # Privacy utilities (0.1.x)
    "PrivacyConfig",
    "SENSITIVE_KEYS",
    "detect_pii",
    "hash_value",
    "redact_sensitive_keys",
    "sanitize_email",
    "sanitize_phone",
    "sanitize_telemetry_data",
    "sanitize_value",
    "truncate_string",
    # Beyond 0.1.x
    "AgentRun",
    "ConsentDecision",
    "CORE_VERSION",
    "LlmCall",
    "Span",
    "SpanScope",
    "ToolCall",
    "TraceContext",
    "consent_decision",
    "current_traceparent",
    "effective_config",
    "extract",
    "extract_traceparent",
    "inject",
    "preview_redaction",
    "redact_text",
]
