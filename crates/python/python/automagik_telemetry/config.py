"""The configuration helpers of the 0.1.x SDK (``create_config``, ``merge_config``,
``load_config_from_env``, ...), with the Rust SDK's defaults and its reading of the
environment: ``DEFAULT_CONFIG`` holds the defaults every language of the SDK has, and a
malformed variable is a ``ValueError`` naming it, never a silent default.

:func:`effective_config` gives the whole configuration a client would run with.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union
from urllib.parse import urlparse

from . import _native
from .client import consent_decision, effective_config

__all__ = [
    "DEFAULT_CONFIG",
    "ENV_VARS",
    "TelemetryConfig",
    "ValidatedConfig",
    "consent_decision",
    "create_config",
    "effective_config",
    "load_config_from_env",
    "merge_config",
    "validate_config",
]


@dataclass
class TelemetryConfig:
    """The 0.1.x configuration of ``create_config`` (exported at the package level as
    ``ConfigTelemetryConfig``; ``AutomagikTelemetry`` accepts it too).

    Attributes:
        project_name: name of the project.
        version: version of the project.
        endpoint: OTLP endpoint.
        organization: organization name.
        timeout: HTTP timeout in seconds.
        enabled: consent given or revoked in code.
        verbose: print each request sent.
    """

    project_name: str
    version: str
    endpoint: Optional[str] = None
    organization: Optional[str] = None
    timeout: Optional[Union[int, float]] = None
    enabled: Optional[bool] = None
    verbose: Optional[bool] = None


@dataclass
class ValidatedConfig:
    """A configuration with every default applied."""

    project_name: str
    version: str
    endpoint: str
    organization: str
    timeout: Union[int, float]
    enabled: bool
    verbose: bool


def _seconds(ms: int) -> Union[int, float]:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000.0


def _defaults() -> Dict[str, Any]:
    # The SDK's defaults: the configuration of an empty environment.
    d = json.loads(_native.effective_config_json({"environ": {}, "home_dir": os.devnull}))
    return {
        "endpoint": d["endpoint"],
        "organization": "namastex",
        "timeout": _seconds(d["timeout_ms"]),
        "enabled": False,
        "verbose": d["verbose"],
    }


#: The defaults (the Rust SDK's: endpoint ``http://127.0.0.1:4318``, timeout 10 s,
#: disabled unless consent is given).
DEFAULT_CONFIG: Dict[str, Union[str, int, float, bool]] = _defaults()

#: The environment variables the SDK reads (SPEC §2), by short name.
ENV_VARS = {
    "ENABLED": "AUTOMAGIK_TELEMETRY_ENABLED",
    "ENDPOINT": "AUTOMAGIK_TELEMETRY_ENDPOINT",
    "VERBOSE": "AUTOMAGIK_TELEMETRY_VERBOSE",
    "TIMEOUT": "AUTOMAGIK_TELEMETRY_TIMEOUT",
    "BACKEND": "AUTOMAGIK_TELEMETRY_BACKEND",
    "BATCH_SIZE": "AUTOMAGIK_TELEMETRY_BATCH_SIZE",
    "FLUSH_INTERVAL": "AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL",
    "QUEUE_SIZE": "AUTOMAGIK_TELEMETRY_QUEUE_SIZE",
    "COMPRESSION": "AUTOMAGIK_TELEMETRY_COMPRESSION",
    "COMPRESSION_THRESHOLD": "AUTOMAGIK_TELEMETRY_COMPRESSION_THRESHOLD",
    "MAX_RETRIES": "AUTOMAGIK_TELEMETRY_MAX_RETRIES",
    "RETRY_BACKOFF": "AUTOMAGIK_TELEMETRY_RETRY_BACKOFF",
    "SPOOL_DIR": "AUTOMAGIK_TELEMETRY_SPOOL_DIR",
    "FILE_PATH": "AUTOMAGIK_TELEMETRY_FILE_PATH",
    "KAFKA_BROKERS": "AUTOMAGIK_TELEMETRY_KAFKA_BROKERS",
    "CLICKHOUSE_ENDPOINT": "AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT",
    "CLICKHOUSE_DATABASE": "AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE",
    "CLICKHOUSE_USER": "AUTOMAGIK_TELEMETRY_CLICKHOUSE_USER",
    "CLICKHOUSE_PASSWORD": "AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD",
}

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _set(name: str) -> bool:
    value = os.environ.get(name)
    return value is not None and value.strip() != ""


def load_config_from_env() -> TelemetryConfig:
    """The settings the environment gives (``project_name`` and ``version`` empty), read
    as the SDK reads them; ``ValueError`` names a malformed variable."""
    config = TelemetryConfig(project_name="", version="")
    enabled = os.environ.get(ENV_VARS["ENABLED"])
    if enabled is not None and enabled.strip():
        value = enabled.strip().lower()
        if value in _TRUE:
            config.enabled = True
        elif value in _FALSE:
            config.enabled = False
        else:
            raise ValueError(f"{ENV_VARS['ENABLED']}: expected true or false, got {value!r}")
    env = json.loads(_native.effective_config_json())
    if _set(ENV_VARS["ENDPOINT"]) or _set("OTEL_EXPORTER_OTLP_ENDPOINT"):
        config.endpoint = env["endpoint"]
    if _set(ENV_VARS["VERBOSE"]):
        config.verbose = bool(env["verbose"])
    if _set(ENV_VARS["TIMEOUT"]):
        config.timeout = _seconds(env["timeout_ms"])
    return config


def merge_config(user_config: TelemetryConfig) -> ValidatedConfig:
    """``user_config`` over the environment over :data:`DEFAULT_CONFIG`."""
    env = load_config_from_env()

    def pick(name: str) -> Any:
        for source in (user_config, env):
            value = getattr(source, name)
            if value is not None:
                return value
        return DEFAULT_CONFIG[name]

    return ValidatedConfig(
        project_name=user_config.project_name,
        version=user_config.version,
        endpoint=str(pick("endpoint")),
        organization=str(user_config.organization or DEFAULT_CONFIG["organization"]),
        timeout=pick("timeout"),
        enabled=bool(pick("enabled")),
        verbose=bool(pick("verbose")),
    )


def validate_config(config: TelemetryConfig) -> None:
    """Raises ``ValueError`` for an empty ``project_name`` or ``version``, an endpoint
    that is not an http(s) URL, a timeout that is not a positive number of at most 60
    seconds, or an empty organization."""
    if not config.project_name or not config.project_name.strip():
        raise ValueError("TelemetryConfig: project_name is required and cannot be empty")
    if not config.version or not config.version.strip():
        raise ValueError("TelemetryConfig: version is required and cannot be empty")
    if config.endpoint is not None:
        parsed = urlparse(config.endpoint)
        if parsed.scheme not in ("http", "https"):
            raise ValueError("TelemetryConfig: endpoint must use http or https protocol")
        if not parsed.netloc:
            raise ValueError(
                f"TelemetryConfig: endpoint must be a valid URL (got: {config.endpoint})"
            )
    if config.timeout is not None:
        if isinstance(config.timeout, bool) or not isinstance(config.timeout, (int, float)):
            raise ValueError(
                f"TelemetryConfig: timeout must be a positive integer (got: {config.timeout})"
            )
        if config.timeout <= 0:
            raise ValueError(
                f"TelemetryConfig: timeout must be a positive integer (got: {config.timeout})"
            )
        if config.timeout > 60:
            raise ValueError(
                f"TelemetryConfig: timeout should not exceed 60 seconds (got: {config.timeout})"
            )
    if config.organization is not None and not config.organization.strip():
        raise ValueError("TelemetryConfig: organization cannot be empty if provided")


def create_config(user_config: TelemetryConfig) -> ValidatedConfig:
    """Validates ``user_config`` and merges it (:func:`validate_config`,
    :func:`merge_config`)."""
    validate_config(user_config)
    return merge_config(user_config)
