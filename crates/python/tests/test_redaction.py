"""Personal data is removed in the program, by the Rust redactor, before a record is
queued (the server here stores what it receives unredacted); the 0.1.x privacy helpers
give the same answers."""

from __future__ import annotations

import hashlib
from typing import Any

from conftest import Server, without_event_name

from automagik_telemetry import (
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


def test_personal_data_arrives_redacted_in_every_signal(
    server: Server, make_client: Any, service: str
) -> None:
    """An e-mail address in an attribute, a secret-named key, a phone number in a log
    body and a home path in a span name arrive as typed markers."""
    t = make_client()
    t.track_event(
        "signup",
        {
            "contact": "jane.doe@example.com",
            "password": "hunter2",
            "note": "call +1 415 555 2671 today",
            "plan": "pro",
        },
    )
    t.track_log("login failed for jane.doe@example.com from 192.168.1.20")
    with t.span("open /home/alice/project/main.rs", {"peer": "8.8.8.8"}) as span:
        pass
    t.flush(10)
    (event,) = server.wait_events(service, "signup", 1)
    assert without_event_name(event["attributes"]) == {
        "contact": "[REDACTED:email]",
        "password": "[REDACTED:secret]",
        "note": "call [REDACTED:phone] today",
        "plan": "pro",
    }
    (log,) = [l for l in server.wait_logs(service, 2) if l.get("event_name") != "signup"]
    assert log["body"] == "login failed for [REDACTED:email] from [REDACTED:ipv4]"
    (s,) = server.wait_trace(span.trace_id, 1)["spans"]
    assert s["name"] == "open /home/[REDACTED:user]/project/main.rs"
    assert s["attributes"] == {"peer": "[REDACTED:ipv4]"}


def test_extra_rules_and_allow_lists_given_in_code_apply(
    server: Server, make_client: Any, service: str
) -> None:
    """A custom rule redacts order ids; an allow-listed key keeps its e-mail."""
    t = make_client(
        redaction_rules={"order_id": r"ORD-\d{6}"},
        redaction_allow_keys=["support.email"],
    )
    t.track_event("order", {"ref": "see ORD-123456", "support.email": "help@example.com"})
    t.flush(10)
    (event,) = server.wait_events(service, "order", 1)
    assert without_event_name(event["attributes"]) == {
        "ref": "see [REDACTED:order_id]",
        "support.email": "help@example.com",
    }
    assert t.redact({"ref": "ORD-654321"}) == {"ref": "[REDACTED:order_id]"}


def test_the_helpers_answer_as_the_sdk_redacts() -> None:
    """detect_pii, redact_text, sanitize_value and preview_redaction find what the
    pipeline would; the strategies of 0.1.x replace it their way."""
    assert detect_pii("user@example.com") is True
    assert detect_pii("Hello world") is False
    assert detect_pii(42) is False
    assert redact_text("card 4111 1111 1111 1111 ok") == "card [REDACTED:card] ok"
    assert sanitize_value("Contact: user@example.com") == "Contact: [REDACTED:email]"
    assert sanitize_value("Contact: user@example.com", PrivacyConfig(strategy="hash")) == (
        "Contact: " + hash_value("user@example.com")
    )
    assert sanitize_value("Contact: user@example.com", PrivacyConfig(strategy="redact")) == (
        "Contact: [REDACTED]"
    )
    assert sanitize_value("user@example.com", PrivacyConfig(strategy="truncate")) == (
        "us***@example.com"
    )
    assert sanitize_value(
        {"email": "test@test.com", "tags": ["a", "x@y.io"], "n": 3, "password": "s3cret"}
    ) == {"email": "[REDACTED:email]", "tags": ["a", "[REDACTED:email]"], "n": 3,
          "password": "[REDACTED:secret]"}
    assert sanitize_phone("call +1 415 555 2671 or x@y.io") == "call [REDACTED:phone] or x@y.io"
    assert sanitize_email("call +1 415 555 2671 or x@y.io") == (
        "call +1 415 555 2671 or [REDACTED:email]"
    )
    assert sanitize_phone("(415) 555-2671", PrivacyConfig(strategy="truncate")) == "XXX-XXX-XXXX"
    assert preview_redaction({"user.email": "jane@example.com", "api_key": "abc", "n": 1}) == {
        "user.email": "[REDACTED:email]",
        "api_key": "[REDACTED:secret]",
        "n": 1,
    }


def test_the_0_1_x_helpers_keep_their_documented_results() -> None:
    """The examples of 0.1.x's docstrings."""
    assert hash_value("sensitive-data") == (
        "sha256:" + hashlib.sha256(b"sensitive-data").hexdigest()[:16]
    )
    assert redact_sensitive_keys(
        {"username": "john", "password": "secret123", "token": "abc"}, ["password", "token"]
    ) == {"username": "john", "password": "[REDACTED]", "token": "[REDACTED]"}
    assert truncate_string("Very long string...", 10) == "Very lo..."
    assert truncate_string("short", 10) == "short"
    data = {
        "user": {"email": "test@example.com", "password": "secret"},
        "message": "Error at /home/alice/project/main.rs",
    }
    assert sanitize_telemetry_data(data) == {
        "user": {"email": "[REDACTED:email]", "password": "[REDACTED]"},
        "message": "Error at /home/[REDACTED:user]/project/main.rs",
    }
    assert sanitize_value("x" * 1200)[-3:] == "..." and len(sanitize_value("x" * 1200)) == 1000
