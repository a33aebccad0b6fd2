"""A program written against automagik-telemetry 0.1.4 (its README's quick start, and the
config object, every track_* method, MetricType, LogSeverity, flush and the async forms
of its API reference) runs unchanged, and its records arrive in `serve` - including the
README's, which never flushes: process exit does."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict

from conftest import Server, clean_environ, run_python, wait_for, without_event_name

PROGRAM = '''
import asyncio
import json

from automagik_telemetry import AutomagikTelemetry, MetricType

# Initialize client
client = AutomagikTelemetry(
    project_name="my-app",
    version="1.0.0"
)

# Track events (traces)
client.track_event("user.login", {
    "user_id": "anonymous-123",
    "method": "oauth"
})

# Track metrics (counter, gauge, histogram)
client.track_metric("api.requests", value=1, metric_type=MetricType.COUNTER, attributes={
    "endpoint": "/api/users",
    "status": 200
})

from automagik_telemetry import AutomagikTelemetry, TelemetryConfig, StandardEvents, LogSeverity

config = TelemetryConfig(
    project_name="omni",
    version="1.0.0",
    batch_size=50,
    compression_enabled=True
)
telemetry = AutomagikTelemetry(config=config)

telemetry.track_event(StandardEvents.FEATURE_USED, {
    "feature_name": "list_contacts"
})
try:
    raise ValueError("Test error")
except Exception as e:
    telemetry.track_error(e, {
        "error_code": "OMNI-1001",
        "operation": "message_send"
    })
telemetry.track_metric(
    "api.latency",
    123.45,
    MetricType.HISTOGRAM,
    {"endpoint": "/v1/contacts"}
)
telemetry.track_metric("cpu.usage", 75.5, attributes={"core": "0"})
telemetry.track_log(
    "User authentication successful",
    severity=LogSeverity.INFO,
    attributes={"user_id": "anonymous-uuid"}
)
telemetry.flush()

async def main():
    await telemetry.track_event_async(StandardEvents.FEATURE_USED, {
        "feature_name": "async_feature"
    })
    await telemetry.track_metric_async(
        "api.latency",
        10.0,
        MetricType.HISTOGRAM,
        {"endpoint": "/v1/users"}
    )
    await telemetry.track_log_async(
        "async log",
        LogSeverity.WARN,
        {"user_id": "anonymous-uuid"}
    )
    try:
        raise ValueError("Test error")
    except Exception as e:
        await telemetry.track_error_async(e, {
            "error_code": "TEST-001",
            "operation": "test_operation"
        })
    await telemetry.flush_async()

asyncio.run(main())

status = telemetry.get_status()
print(json.dumps({key: status[key] for key in (
    "enabled", "project_name", "project_version", "endpoint", "metrics_endpoint",
    "logs_endpoint", "batch_size", "compression_enabled", "env_var", "verbose",
)}))
telemetry.track_event("after.flush")
'''


def _salted(config_home: Path, user_id: str) -> str:
    install = json.loads((config_home / "automagik-telemetry" / "install.json").read_text())
    return hashlib.sha256(bytes.fromhex(install["salt"]) + user_id.encode()).hexdigest()


def test_a_program_written_for_0_1_4_runs_unchanged_and_its_records_arrive(
    server: Server, clean_env: Dict[str, Path]
) -> None:
    """Configured as 0.1.4 documents it (AUTOMAGIK_TELEMETRY_ENABLED, and an endpoint in
    0.1.4's form ending in /v1/traces), every record of the program arrives."""
    env = clean_environ(
        {
            "HOME": str(clean_env["home"]),
            "XDG_CONFIG_HOME": str(clean_env["config"]),
            "AUTOMAGIK_TELEMETRY_ENABLED": "true",
            "AUTOMAGIK_TELEMETRY_ENDPOINT": f"{server.base_url}/v1/traces",
        }
    )
    status = json.loads(run_python(PROGRAM, env).stdout)
    assert status == {
        "enabled": True,
        "project_name": "omni",
        "project_version": "1.0.0",
        "endpoint": f"{server.base_url}/v1/traces",
        "metrics_endpoint": f"{server.base_url}/v1/metrics",
        "logs_endpoint": f"{server.base_url}/v1/logs",
        "batch_size": 50,
        "compression_enabled": True,
        "env_var": "true",
        "verbose": False,
    }

    # The README's client never flushed: process exit delivered its records.
    (login,) = server.wait_events("my-app", "user.login", 1)
    assert without_event_name(login["attributes"]) == {
        "user_id": _salted(clean_env["config"], "anonymous-123"),
        "method": "oauth",
    }, "user ids are hashed with the install's salt"
    assert login["resource"]["service.version"] == "1.0.0"
    points = wait_for("api.requests of my-app", lambda: server.series("api.requests", "sum"))
    assert sum(p["value"] for p in points) == 1.0

    features = server.wait_events("omni", "automagik.feature.used", 2)
    assert sorted(e["attributes"]["feature_name"] for e in features) == [
        "async_feature",
        "list_contacts",
    ]
    errors = server.wait_logs("omni", 2, severity_min="error")
    assert sorted(e["attributes"]["error_code"] for e in errors) == ["OMNI-1001", "TEST-001"]
    assert {e["attributes"]["exception.type"] for e in errors} == {"ValueError"}
    assert {e["body"] for e in errors} == {"Test error"}
    bodies = {l["body"]: l["severity_number"] for l in server.logs("omni") if l["body"]}
    assert bodies["User authentication successful"] == 9
    assert bodies["async log"] == 13
    assert server.metric_total("api.latency", "count", 2.0) == 2.0
    assert server.metric_total("api.latency", "sum", 133.45) == 133.45
    cpu = wait_for("cpu.usage", lambda: server.series("cpu.usage", "last"))
    assert cpu[-1]["value"] == 75.5
    # Tracked after the last flush: delivered at exit.
    server.wait_events("omni", "after.flush", 1)
