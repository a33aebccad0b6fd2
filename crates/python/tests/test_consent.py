"""The consent order is the Rust SDK's: opt-outs (the opt-out file, `DO_NOT_TRACK`,
`AUTOMAGIK_TELEMETRY_ENABLED=false`) win over consent given in code, a development
environment disables unless the variable opts in, and the default is disabled. A
disabled client sends nothing at all."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict

import pytest
from conftest import Server, without_event_name

from automagik_telemetry import AutomagikTelemetry, consent_decision


def _sends_nothing(
    server: Server, make_client: Any, disabled: AutomagikTelemetry, service: str
) -> None:
    """Tracks with the disabled client, then stores a marker (by OTLP, since every client
    of this process's environment is disabled too): once the marker is stored, after the
    disabled client's flush, nothing of the disabled client's is."""
    disabled.track_event("should.not.arrive", {"k": "v"})
    disabled.track_log("should not arrive")
    disabled.track_metric("should.not.arrive", 1)
    assert disabled.flush(5) is True
    assert disabled.stats()["queued"] == 0, "a disabled client queues nothing"
    server.post_event(f"{service}-marker", "marker")
    server.wait_events(f"{service}-marker", "marker", 1)
    assert server.logs(service) == []


def test_the_opt_out_file_wins_over_consent_in_code(
    server: Server, make_client: Any, service: str, clean_env: Dict[str, Path]
) -> None:
    """With ~/.automagik-no-telemetry, enabled=True is not enough."""
    opt_out = clean_env["home"] / ".automagik-no-telemetry"
    opt_out.touch()
    t = make_client()
    assert t.is_enabled() is False
    d = t.consent_decision()
    assert (d.enabled, d.rule, d.path) == (False, "opt_out_file", str(opt_out))
    assert str(d) == f"disabled: opt-out file {opt_out} exists"
    _sends_nothing(server, make_client, t, service)
    assert t.get_status()["opt_out_file_exists"] is True


@pytest.mark.parametrize("value", ["1", "true"])
def test_do_not_track_wins_over_consent_in_code(
    server: Server,
    make_client: Any,
    service: str,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
) -> None:
    """DO_NOT_TRACK opts out whatever the program says."""
    monkeypatch.setenv("DO_NOT_TRACK", value)
    t = make_client()
    d = t.consent_decision()
    assert (d.enabled, d.rule, d.variable) == (False, "opt_out_variable", "DO_NOT_TRACK")
    assert str(d) == "disabled: opted out by DO_NOT_TRACK"
    _sends_nothing(server, make_client, t, service)


def test_the_enabled_variable_false_wins_over_consent_in_code(
    monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    """AUTOMAGIK_TELEMETRY_ENABLED=false is an opt-out."""
    monkeypatch.setenv("AUTOMAGIK_TELEMETRY_ENABLED", "false")
    d = consent_decision(project_name=service, enabled=True)
    assert (d.enabled, d.rule, d.variable) == (
        False,
        "opt_out_variable",
        "AUTOMAGIK_TELEMETRY_ENABLED",
    )


@pytest.mark.parametrize(
    "variable,value", [("ENVIRONMENT", "development"), ("ENVIRONMENT", "test"), ("CI", "true")]
)
def test_a_development_environment_disables_unless_the_variable_opts_in(
    server: Server,
    make_client: Any,
    service: str,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
) -> None:
    """Consent in code does not enable in development; AUTOMAGIK_TELEMETRY_ENABLED=true
    does, and then records arrive."""
    monkeypatch.setenv(variable, value)
    t = make_client()
    d = t.consent_decision()
    assert (d.enabled, d.rule, d.variable) == (False, "development", variable)
    assert str(d) == (
        f"disabled: development environment ({variable}); "
        "set AUTOMAGIK_TELEMETRY_ENABLED=true to send"
    )
    _sends_nothing(server, make_client, t, service)
    monkeypatch.setenv("AUTOMAGIK_TELEMETRY_ENABLED", "true")
    on = make_client(project_name=f"{service}-on")
    assert on.consent_decision().rule == "opt_in_variable"
    on.track_event("dev.opt.in")
    on.flush(10)
    events = server.wait_events(f"{service}-on", "dev.opt.in", 1)
    assert len(events) == 1, events
    assert without_event_name(events[0]["attributes"]) == {}


def test_nothing_said_means_disabled(service: str) -> None:
    """The library's default is disabled, and it says how to enable."""
    t = AutomagikTelemetry(project_name=service)
    d = t.consent_decision()
    assert (d.enabled, d.rule) == (False, "library_default")
    assert str(d) == (
        "disabled: no consent given (set AUTOMAGIK_TELEMETRY_ENABLED=true or grant it in code)"
    )
    assert bool(d) is False
    t2 = AutomagikTelemetry(
        project_name=service, default_enabled=True, endpoint="http://127.0.0.1:9"
    )
    assert t2.consent_decision().rule == "program_default" and t2.is_enabled()
    t2.shutdown(0.5)


def test_enable_and_disable_change_consent_and_the_opt_out_file(
    server: Server, service: str, clean_env: Dict[str, Path]
) -> None:
    """enable() grants consent in code (and removes the opt-out file); disable() revokes
    it, flushes what was queued in the background (awaitable, as in 0.1.x) and creates
    the opt-out file, which later clients honour."""
    opt_out = clean_env["home"] / ".automagik-no-telemetry"
    t = AutomagikTelemetry(project_name=service, endpoint=server.base_url, flush_interval=60)
    assert t.is_enabled() is False
    t.enable()
    assert t.is_enabled() is True
    assert t.consent_decision().rule == "granted_in_code"
    t.track_event("queued.before.disable")

    async def disable() -> None:
        await t.disable()

    asyncio.run(disable())
    assert t.is_enabled() is False
    assert t.consent_decision().rule == "revoked_in_code"
    server.wait_events(service, "queued.before.disable", 1)
    assert opt_out.exists(), "disable() keeps the choice, as 0.1.x did"
    later = AutomagikTelemetry(project_name=service, enabled=True)
    assert later.consent_decision().rule == "opt_out_file"
    t.enable()
    assert not opt_out.exists()
    assert t.is_enabled() is True
    t.enabled = False
    assert t.is_enabled() is False and not opt_out.exists(), "the property keeps no file"
    t.shutdown(1)


def test_a_malformed_enabled_variable_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    """Never a silent default: the error names the variable."""
    monkeypatch.setenv("AUTOMAGIK_TELEMETRY_ENABLED", "maybe")
    with pytest.raises(ValueError, match="^AUTOMAGIK_TELEMETRY_ENABLED: "):
        AutomagikTelemetry(project_name=service)
