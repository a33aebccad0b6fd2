"""Privacy helpers, answered by the Rust redactor: the rules every record passes before
it is queued (e-mail addresses, phone numbers, Luhn-checked card numbers, IP and MAC
addresses, JWTs, bearer tokens, API keys, PEM keys, URL credentials and token
parameters, home-directory user names, SSNs, IBANs, webhook URLs, and values of keys
named like ``password``, ``secret``, ``token``, ``api_key``...).

The 0.1.x helpers keep their names and arguments. What they find is what the SDK would
find; how it is replaced follows ``PrivacyConfig.strategy``:

- ``"marker"`` (the default): the SDK's typed markers, ``[REDACTED:email]``;
- ``"hash"``: ``sha256:<16 hex>`` of the text for e-mail, phone, IP, MAC and user names,
  ``redaction_text`` for secrets and numbers (hashes of those can be guessed back);
- ``"redact"``: ``redaction_text``;
- ``"truncate"``: ``us***@example.com`` for e-mail, ``XXX-XXX-XXXX`` for phones,
  ``X.X.X.X`` for IPv4, ``redaction_text`` for the rest.

:func:`preview_redaction` shows exactly what the SDK sends of a set of attributes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Mapping, Optional

from . import _native

#: How sensitive text is replaced.
SanitizationStrategy = Literal["marker", "hash", "redact", "truncate"]

#: Markers whose text may be replaced by its hash under the ``hash`` strategy.
_HASHABLE = frozenset({"email", "phone", "ipv4", "ipv6", "mac", "user"})


@dataclass
class PrivacyConfig:
    """Configuration of the privacy helpers.

    Attributes:
        strategy: ``marker`` (the SDK's typed markers; default), ``hash``, ``redact`` or
            ``truncate``.
        max_string_length: strings longer than this are cut (with ``...``) first.
        redaction_text: the text that replaces secrets (and everything under ``redact``).
    """

    strategy: SanitizationStrategy = "marker"
    max_string_length: int = 1000
    redaction_text: str = "[REDACTED]"


DEFAULT_CONFIG = PrivacyConfig()

#: Key names whose values :func:`sanitize_telemetry_data` always redacts (0.1.x's list;
#: the Rust redactor's key rules cover these and more).
SENSITIVE_KEYS = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_token",
    "refresh_token",
    "private_key",
    "credit_card",
    "ssn",
    "social_security",
]


def hash_value(value: str) -> str:
    """SHA-256 of ``value``: ``sha256:`` and the first 16 hexadecimal digits."""
    return f"sha256:{hashlib.sha256(value.encode('utf-8')).hexdigest()[:16]}"


def redact_text(value: str) -> str:
    """``value`` as the SDK sends strings: every sensitive part replaced by its typed
    marker, and the length cap applied."""
    return _native.redact_text(value)


def preview_redaction(attributes: Mapping[str, Any]) -> Dict[str, Any]:
    """``attributes`` as the SDK's redactor leaves them before they are queued (key rules,
    value rules, caps). User ids show as ``[REDACTED:user_id]`` here; a client hashes them
    with its install's salt (:meth:`AutomagikTelemetry.redact` shows that)."""
    return _native.redact_attributes(attributes)


def detect_pii(value: Any) -> bool:
    """Whether ``value`` (a string) holds anything the redactor would replace."""
    if not isinstance(value, str):
        return False
    return bool(_native.pii_spans(value))


def _replacement(matched: str, marker: str, cfg: PrivacyConfig) -> str:
    if cfg.strategy == "hash":
        return hash_value(matched) if marker in _HASHABLE else cfg.redaction_text
    if cfg.strategy == "truncate":
        if marker == "email" and "@" in matched:
            user, domain = matched.split("@", 1)
            return f"{user[:2]}***@{domain}"
        if marker == "phone":
            return "XXX-XXX-XXXX"
        if marker == "ipv4":
            return "X.X.X.X"
        return cfg.redaction_text
    if cfg.strategy == "redact":
        return cfg.redaction_text
    return f"[REDACTED:{marker}]"


def _rewrite(value: str, cfg: PrivacyConfig, only: Optional[str] = None) -> str:
    """``value`` with the parts the redactor finds (of the marker ``only``, if given)
    replaced as ``cfg`` says."""
    if only is None and cfg.strategy not in ("hash", "redact", "truncate"):
        return _native.redact_text(value)
    spans = _native.pii_spans(value)
    if not spans:
        return value
    out: List[str] = []
    last = 0
    for start, end, _rule, marker in spans:
        if start < last or (only is not None and marker != only):
            continue
        out.append(value[last:start])
        out.append(_replacement(value[start:end], marker, cfg))
        last = end
    out.append(value[last:])
    return "".join(out)


def sanitize_phone(value: str, config: Optional[PrivacyConfig] = None) -> str:
    """``value`` with its phone numbers replaced."""
    return _rewrite(value, config or DEFAULT_CONFIG, only="phone")


def sanitize_email(value: str, config: Optional[PrivacyConfig] = None) -> str:
    """``value`` with its e-mail addresses replaced."""
    return _rewrite(value, config or DEFAULT_CONFIG, only="email")


def truncate_string(value: str, max_length: int) -> str:
    """``value`` cut to ``max_length`` characters, ending in ``...`` when it was longer."""
    if len(value) <= max_length:
        return value
    return f"{value[: max_length - 3]}..."


def _secret(cfg: PrivacyConfig) -> str:
    if cfg.strategy in ("hash", "redact", "truncate"):
        return cfg.redaction_text
    return "[REDACTED:secret]"


def sanitize_value(value: Any, config: Optional[PrivacyConfig] = None) -> Any:
    """``value`` with everything sensitive replaced: strings are cut to
    ``max_string_length`` and redacted; lists, tuples and dicts recursively, where a key
    named like a secret (``password``, ``api_key``, ``authorization``...) has its value
    redacted whole (unless it already is ``redaction_text``); numbers, booleans, ``None``
    and other objects are kept."""
    cfg = config or DEFAULT_CONFIG
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return _rewrite(truncate_string(value, cfg.max_string_length), cfg)
    if isinstance(value, list):
        return [sanitize_value(item, config) for item in value]
    if isinstance(value, tuple):
        return tuple(sanitize_value(item, config) for item in value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if (
                isinstance(key, str)
                and isinstance(item, (str, bytes, list, tuple, dict))
                and item != cfg.redaction_text
                and _native.classify_key(key) == "secret"
            ):
                out[key] = _secret(cfg)
            else:
                out[key] = sanitize_value(item, config)
        return out
    return value


def redact_sensitive_keys(
    obj: Dict[str, Any], keys: List[str], config: Optional[PrivacyConfig] = None
) -> Dict[str, Any]:
    """A copy of ``obj`` where the value of every key containing one of ``keys``
    (case-insensitive) is ``redaction_text``, in nested dicts too."""
    cfg = config or DEFAULT_CONFIG
    lowered = [k.lower() for k in keys]
    result: Dict[str, Any] = {}
    for key, value in obj.items():
        if any(k in str(key).lower() for k in lowered):
            result[key] = cfg.redaction_text
        elif isinstance(value, dict):
            result[key] = redact_sensitive_keys(value, keys, config)
        else:
            result[key] = value
    return result


def sanitize_telemetry_data(
    data: Dict[str, Any], config: Optional[PrivacyConfig] = None
) -> Dict[str, Any]:
    """``data`` with :data:`SENSITIVE_KEYS` redacted, then :func:`sanitize_value`."""
    sanitized = redact_sensitive_keys(data, SENSITIVE_KEYS, config)
    result: Dict[str, Any] = sanitize_value(sanitized, config)
    return result


__all__ = [
    "DEFAULT_CONFIG",
    "PrivacyConfig",
    "SENSITIVE_KEYS",
    "SanitizationStrategy",
    "detect_pii",
    "hash_value",
    "preview_redaction",
    "redact_sensitive_keys",
    "redact_text",
    "sanitize_email",
    "sanitize_phone",
    "sanitize_telemetry_data",
    "sanitize_value",
    "truncate_string",
]
