"""The first-run opt-in prompt (0.1.x's): it says what is collected, asks once per user,
and keeps the answer, for every Automagik program of that user.

The answer is kept where 0.1.x kept it: a "no" is the opt-out file
``~/.automagik-no-telemetry`` (which the SDK's consent order honours, and which
``automagik-telemetry consent`` shows and changes), a "yes" the file
``~/.automagik/telemetry_preference``. A program passes the answer on as consent given in
code: ``AutomagikTelemetry(..., enabled=prompt_user_if_needed("my-app"))``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

__all__ = ["TelemetryOptIn", "prompt_user_if_needed", "should_prompt_user"]

_TRUE = ("true", "1", "yes", "on")
_CI_VARS = ("CI", "GITHUB_ACTIONS", "TRAVIS", "JENKINS", "GITLAB_CI", "CIRCLECI")


def _truthy(value: Optional[str]) -> bool:
    return value is not None and value.strip().lower() not in ("", "0", "false")


class TelemetryOptIn:
    """The first-run experience shared by the Automagik tools."""

    @classmethod
    def _get_preference_file(cls) -> Path:
        """The file holding a "yes"."""
        return Path.home() / ".automagik" / "telemetry_preference"

    @classmethod
    def _get_opt_out_file(cls) -> Path:
        """The opt-out file."""
        return Path.home() / ".automagik-no-telemetry"

    @classmethod
    def _opted_out_by_environment(cls) -> bool:
        enabled = os.getenv("AUTOMAGIK_TELEMETRY_ENABLED")
        if enabled is not None and enabled.strip().lower() in ("false", "0", "no", "off"):
            return True
        if _truthy(os.getenv("DO_NOT_TRACK")):
            return True
        otel = os.getenv("OTEL_SDK_DISABLED")
        return otel is not None and otel.strip().lower() in _TRUE

    @classmethod
    def has_user_decided(cls) -> bool:
        """Whether the user already answered (a file, ``AUTOMAGIK_TELEMETRY_ENABLED``, or
        an opt-out variable such as ``DO_NOT_TRACK``)."""
        return (
            cls._get_preference_file().exists()
            or cls._get_opt_out_file().exists()
            or os.getenv("AUTOMAGIK_TELEMETRY_ENABLED") is not None
            or cls._opted_out_by_environment()
        )

    @classmethod
    def get_user_preference(cls) -> Optional[bool]:
        """The user's answer: ``False`` for any opt-out (variables, then the opt-out file,
        in the SDK's order), ``True`` for a "yes" (the preference file, or
        ``AUTOMAGIK_TELEMETRY_ENABLED=true``), ``None`` when there is none."""
        if cls._opted_out_by_environment() or cls._get_opt_out_file().exists():
            return False
        preference = cls._get_preference_file()
        if preference.exists():
            try:
                return preference.read_text().strip().lower() in ("true", "yes", "1", "enabled")
            except OSError:
                pass
        enabled = os.getenv("AUTOMAGIK_TELEMETRY_ENABLED")
        if enabled is not None:
            return enabled.strip().lower() in _TRUE
        return None

    @classmethod
    def save_preference(cls, enabled: bool) -> None:
        """Keeps the answer: "yes" removes the opt-out file and writes the preference
        file; "no" creates the opt-out file and removes the preference file."""
        try:
            preference = cls._get_preference_file()
            opt_out = cls._get_opt_out_file()
            if enabled:
                if opt_out.exists():
                    opt_out.unlink()
                preference.parent.mkdir(parents=True, exist_ok=True)
                preference.write_text("enabled")
            else:
                opt_out.touch()
                if preference.exists():
                    preference.unlink()
        except OSError:
            pass

    @classmethod
    def _supports_color(cls) -> bool:
        if sys.platform == "win32":
            return True
        if hasattr(sys.stdout, "isatty") and sys.stdout.isatty():
            term = os.getenv("TERM", "")
            return bool(term) and term != "dumb"
        return False

    @classmethod
    def _colorize(cls, text: str, code: str) -> str:
        if not cls._supports_color():
            return text
        return f"\033[{code}m{text}\033[0m"

    @staticmethod
    def _is_interactive() -> bool:
        """Whether a person can answer: standard input and output are terminals, and this
        is not a CI run."""
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            return False
        return not any(os.getenv(v) for v in _CI_VARS)

    @classmethod
    def prompt_user(cls, project_name: str = "Automagik") -> bool:
        """Asks once, unless the user already answered or nobody can answer (then the
        answer kept, else ``False``). Returns whether telemetry may be sent."""
        if cls.has_user_decided():
            return bool(cls.get_user_preference())
        if not cls._is_interactive():
            return False
        c = cls._colorize
        print(
            f"""
{c(f"Help improve {project_name}", "1;96")}

{c("What is collected", "1;92")} (only if you say yes):
  - which features and commands are used
  - how long operations take
  - errors, with personal data removed before they leave this machine

{c("What is never collected", "1;91")}:
  - your messages, files or business data
  - API keys, passwords or tokens
  - your name, user name or host name

Say no at any time: {c("AUTOMAGIK_TELEMETRY_ENABLED=false", "93")}, {c("DO_NOT_TRACK=1", "93")}
or {c("automagik-telemetry consent revoke", "93")}.
"""
        )
        try:
            answer = input(c("Enable telemetry? [y/N]: ", "1;96")).strip().lower()
        except (KeyboardInterrupt, EOFError):
            answer = ""
            print()
        enabled = answer in ("y", "yes")
        cls.save_preference(enabled)
        print("Telemetry enabled. Thank you!" if enabled else "Telemetry disabled.")
        return enabled


def should_prompt_user(project_name: str = "Automagik") -> bool:
    """Whether the prompt would be shown: nobody answered yet and a person can answer."""
    return not TelemetryOptIn.has_user_decided() and TelemetryOptIn._is_interactive()


def prompt_user_if_needed(project_name: str = "Automagik") -> bool:
    """Shows the prompt if needed; whether telemetry may be sent."""
    return TelemetryOptIn.prompt_user(project_name)
