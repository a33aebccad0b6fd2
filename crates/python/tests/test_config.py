"""The configuration is the Rust SDK's: its defaults and environment variables (SPEC §2),
code over environment over defaults, seconds in Python. `effective_config()` prints it
as the same JSON object in every language, for the cross-language equality test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest
from conftest import Server, clean_environ, free_port, run_python, without_event_name

from automagik_telemetry import (
    DEFAULT_CONFIG,
    AutomagikTelemetry,
    ConfigTelemetryConfig,
    TelemetryConfig,
    create_config,
    effective_config,
    load_config_from_env,
    validate_config,
)

PRINT = "import json, automagik_telemetry as t; print(json.dumps(t.effective_config()))"


def _defaults() -> Dict[str, Any]:
    return {
        "enabled": False,
        "consent_rule": "library_default",
        "consent": (
            "disabled: no consent given (set AUTOMAGIK_TELEMETRY_ENABLED=true or grant it in code)"
        ),
        "project_name": "unknown_service",
        "version": "",
        "endpoint": "http://127.0.0.1:4318",
        "traces_endpoint": "http://127.0.0.1:4318/v1/traces",
        "metrics_endpoint": "http://127.0.0.1:4318/v1/metrics",
        "logs_endpoint": "http://127.0.0.1:4318/v1/logs",
        "backend": "otlp",
        "batch_size": 100,
        "flush_interval_ms": 5000,
        "queue_size": 10000,
        "compression": "gzip",
        "compression_threshold": 1024,
        "max_retries": 3,
        "retry_backoff_ms": 1000,
        "max_backoff_ms": 30000,
        "retry_budget_ms": 60000,
        "timeout_ms": 10000,
        "spool_dir": None,
        "spool_max_bytes": 64 * 1024 * 1024,
        "verbose": False,
        "file_path": "automagik-telemetry.jsonl",
        "kafka_brokers": "127.0.0.1:9092",
        "clickhouse_endpoint": "http://127.0.0.1:8123",
        "clickhouse_database": "automagik",
        "clickhouse_user": "default",
        "clickhouse_create_schema": True,
        "header_names": [],
        "resource_attributes": [],
        "drop_timeout_ms": 5000,
    }


def test_python_c_prints_the_rust_defaults() -> None:
    """With no variable set, the effective configuration is the SDK's defaults."""
    out = run_python(PRINT, clean_environ())
    assert json.loads(out.stdout) == _defaults()


def test_python_c_prints_the_configuration_of_the_environment() -> None:
    """Every variable of SPEC §2 is read as the Rust SDK reads it (durations with units,
    ours over OTEL_*, header values never shown)."""
    env = clean_environ(
        {
            "AUTOMAGIK_TELEMETRY_ENABLED": "true",
            "AUTOMAGIK_TELEMETRY_ENDPOINT": "https://collector.example.com:4318/",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://theirs:4318",
            "AUTOMAGIK_TELEMETRY_BACKEND": "otlp-json",
            "AUTOMAGIK_TELEMETRY_BATCH_SIZE": "512",
            "AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL": "250ms",
            "AUTOMAGIK_TELEMETRY_QUEUE_SIZE": "50",
            "AUTOMAGIK_TELEMETRY_COMPRESSION": "zstd",
            "AUTOMAGIK_TELEMETRY_COMPRESSION_THRESHOLD": "0",
            "AUTOMAGIK_TELEMETRY_MAX_RETRIES": "5",
            "AUTOMAGIK_TELEMETRY_RETRY_BACKOFF": "2",
            "AUTOMAGIK_TELEMETRY_TIMEOUT": "3s",
            "AUTOMAGIK_TELEMETRY_SPOOL_DIR": "/tmp/spool",
            "AUTOMAGIK_TELEMETRY_VERBOSE": "true",
            "AUTOMAGIK_TELEMETRY_FILE_PATH": "/tmp/t.jsonl",
            "AUTOMAGIK_TELEMETRY_KAFKA_BROKERS": "k1:9092,k2:9092",
            "AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT": "http://ch:8123",
            "AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE": "tel",
            "AUTOMAGIK_TELEMETRY_CLICKHOUSE_USER": "writer",
            "AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD": "pw",
            "OTEL_SERVICE_NAME": "checkout",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=core",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=abc%3D",
        }
    )
    got = json.loads(run_python(PRINT, env).stdout)
    want = _defaults()
    want.update(
        {
            "enabled": True,
            "consent_rule": "opt_in_variable",
            "consent": "enabled: AUTOMAGIK_TELEMETRY_ENABLED=true",
            "project_name": "checkout",
            "endpoint": "https://collector.example.com:4318",
            "traces_endpoint": "https://collector.example.com:4318/v1/traces",
            "metrics_endpoint": "https://collector.example.com:4318/v1/metrics",
            "logs_endpoint": "https://collector.example.com:4318/v1/logs",
            "backend": "otlp-json",
            "batch_size": 512,
            "flush_interval_ms": 250,
            "queue_size": 50,
            "compression": "zstd",
            "compression_threshold": 0,
            "max_retries": 5,
            "retry_backoff_ms": 2000,
            "timeout_ms": 3000,
            "spool_dir": "/tmp/spool",
            "verbose": True,
            "file_path": "/tmp/t.jsonl",
            "kafka_brokers": "k1:9092,k2:9092",
            "clickhouse_endpoint": "http://ch:8123",
            "clickhouse_database": "tel",
            "clickhouse_user": "writer",
            "header_names": ["x-api-key"],
            "resource_attributes": [["deployment.environment", "prod"], ["team", "core"]],
        }
    )
    assert got == want
    assert "pw" not in json.dumps(got) and "abc" not in json.dumps(got), "no secret shown"


def test_a_malformed_variable_is_an_error_naming_it() -> None:
    """Never a silent default."""
    env = clean_environ({"AUTOMAGIK_TELEMETRY_BATCH_SIZE": "many"})
    code = (
        "import automagik_telemetry as t\n"
        "try:\n    t.effective_config()\nexcept ValueError as e:\n    print(e)"
    )
    out = run_python(code, env).stdout.strip()
    assert out.startswith("AUTOMAGIK_TELEMETRY_BATCH_SIZE: "), out


def test_code_wins_over_the_environment_in_seconds(
    monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    """Settings given in code (durations in seconds) win over the environment; the
    builder's bounds apply; a client's own configuration is what effective_config()
    predicts for the same settings."""
    monkeypatch.setenv("AUTOMAGIK_TELEMETRY_BATCH_SIZE", "7")
    monkeypatch.setenv("AUTOMAGIK_TELEMETRY_COMPRESSION", "zstd")
    options: Dict[str, Any] = dict(
        project_name=service,
        version="2.0.0",
        endpoint="http://127.0.0.1:9/",
        enabled=True,
        flush_interval=0.25,
        timeout=2.5,
        retry_backoff_base=0.5,
        queue_size=0,
        compression_enabled=False,
        organization="acme",
        headers={"x-tenant": "t-1"},
        resource_attributes={"team": "core"},
        exit_timeout=1.5,
    )
    predicted = effective_config(**options)
    assert predicted["batch_size"] == 7, "unset in code: the environment's"
    assert predicted["flush_interval_ms"] == 250
    assert predicted["timeout_ms"] == 2500
    assert predicted["retry_backoff_ms"] == 500
    assert predicted["queue_size"] == 1, "the builder's lower bound"
    assert predicted["compression"] == "none"
    assert predicted["endpoint"] == "http://127.0.0.1:9"
    assert predicted["header_names"] == ["x-tenant"]
    assert predicted["resource_attributes"] == [["team", "core"], ["service.organization", "acme"]]
    assert predicted["drop_timeout_ms"] == 1500
    assert (predicted["enabled"], predicted["consent_rule"]) == (True, "granted_in_code")
    t = AutomagikTelemetry(TelemetryConfig(**options))
    assert t.effective_config() == predicted, "the client runs with what was predicted"
    t.shutdown(0.5)


def test_the_0_1_4_endpoint_form_and_options_are_accepted(
    server: Server, service: str
) -> None:
    """An endpoint ending in /v1/traces is taken as its base; the other signals' URLs
    derived from it are accepted; ClickHouse table names are accepted and ignored."""
    t = AutomagikTelemetry(
        TelemetryConfig(
            project_name=service,
            version="1.0.0",
            endpoint=f"{server.base_url}/v1/traces",
            metrics_endpoint=f"{server.base_url}/v1/metrics",
            clickhouse_table="traces",
            enabled=True,
        ),
        batch_size=1,
    )
    assert (t.endpoint, t.metrics_endpoint, t.logs_endpoint) == (
        f"{server.base_url}/v1/traces",
        f"{server.base_url}/v1/metrics",
        f"{server.base_url}/v1/logs",
    )
    assert t.config.batch_size == 1, "keyword options override the config object"
    t.track_event("legacy.endpoint")
    t.flush(10)
    (e,) = server.wait_events(service, "legacy.endpoint", 1)
    assert without_event_name(e["attributes"]) == {}
    t.shutdown(1)
    with pytest.warns(UserWarning, match="logs_endpoint is not used"):
        AutomagikTelemetry(project_name=service, logs_endpoint="http://elsewhere:4318/v1/logs")
    with pytest.raises(TypeError, match="unknown telemetry option"):
        AutomagikTelemetry(project_name=service, batchsize=5)
    with pytest.raises(ValueError, match="endpoint: expected an http"):
        AutomagikTelemetry(project_name=service, endpoint="localhost:4318")


def test_the_0_1_4_config_helpers_use_the_sdk_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """create_config merges code over environment over the SDK's defaults."""
    assert DEFAULT_CONFIG == {
        "endpoint": "http://127.0.0.1:4318",
        "organization": "namastex",
        "timeout": 10,
        "enabled": False,
        "verbose": False,
    }
    monkeypatch.setenv("AUTOMAGIK_TELEMETRY_TIMEOUT", "3s")
    monkeypatch.setenv("AUTOMAGIK_TELEMETRY_ENABLED", "yes")
    env = load_config_from_env()
    assert (env.timeout, env.enabled, env.endpoint) == (3, True, None)
    v = create_config(ConfigTelemetryConfig(project_name="omni", version="1.0.0", verbose=True))
    assert (v.endpoint, v.organization, v.timeout, v.enabled, v.verbose) == (
        "http://127.0.0.1:4318",
        "namastex",
        3,
        True,
        True,
    )
    with pytest.raises(ValueError, match="project_name is required"):
        validate_config(ConfigTelemetryConfig(project_name="", version="1"))
    with pytest.raises(ValueError, match="timeout should not exceed 60 seconds"):
        validate_config(ConfigTelemetryConfig(project_name="a", version="1", timeout=61))
    # The 0.1.x config object builds a client too.
    t = AutomagikTelemetry(ConfigTelemetryConfig(project_name="omni", version="1.0.0"))
    assert t.effective_config()["timeout_ms"] == 3000


def test_get_status_has_the_0_1_4_keys(service: str, clean_env: Dict[str, Path]) -> None:
    """get_status() keeps 0.1.4's keys, with the Rust configuration's values."""
    t = AutomagikTelemetry(project_name=service, version="3.1.4", batch_size=10)
    s = t.get_status()
    assert {k: s[k] for k in (
        "enabled", "user_id", "project_name", "project_version", "endpoint",
        "metrics_endpoint", "logs_endpoint", "opt_out_file_exists", "env_var",
        "verbose", "batch_size", "compression_enabled", "queue_sizes",
    )} == {
        "enabled": False,
        "user_id": None,
        "project_name": service,
        "project_version": "3.1.4",
        "endpoint": "http://127.0.0.1:4318/v1/traces",
        "metrics_endpoint": "http://127.0.0.1:4318/v1/metrics",
        "logs_endpoint": "http://127.0.0.1:4318/v1/logs",
        "opt_out_file_exists": False,
        "env_var": None,
        "verbose": False,
        "batch_size": 10,
        "compression_enabled": True,
        "queue_sizes": {"traces": None, "metrics": None, "logs": None, "total": 0},
    }
    assert len(s["session_id"]) == 36
    assert s["consent"]["rule"] == "library_default"
    assert s["flush_interval"] == 5.0


def test_process_exit_waits_no_longer_than_the_exit_timeout(service: str) -> None:
    """A program whose endpoint never answers still exits: the final flush gives up at
    its deadline."""
    import socket

    port = free_port()
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    try:
        code = (
            "import sys\n"
            "from automagik_telemetry import AutomagikTelemetry\n"
            "t = AutomagikTelemetry(project_name=sys.argv[1], endpoint=sys.argv[2], enabled=True,"
            " timeout=60, exit_timeout=1)\n"
            "t.track_event('never.answered')\n"
        )
        # Bounded: run_python fails the test if the program has not exited in 30 s.
        run_python(code, clean_environ(), service, f"http://127.0.0.1:{port}", timeout=30)
    finally:
        listener.close()
