"""The deploy tier's settings, read once from CDK context (`cdk.json` or `-c key=value`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from constructs import Node

# Layer versions are listed in the Powertools docs ("Lambda Layer" on the install page).
DEFAULT_POWERTOOLS_LAYER_VERSION = 27

_HOST = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """A context value is missing its required shape; the message names the key."""


@dataclass(frozen=True, kw_only=True)
class DeployTierConfig:
    """Everything the stack needs to know about the host it watches."""

    domain: str = ""
    host: str = "vps1"
    probe_rate_minutes: int = 1
    backup_check_rate_minutes: int = 60
    alarm_email: str = ""
    agent_url: str = ""
    manager_console_url: str = ""
    breakglass_url: str = ""
    breakglass_cert_sha256: str = ""
    powertools_layer_version: int = DEFAULT_POWERTOOLS_LAYER_VERSION

    def __post_init__(self) -> None:
        _check(_HOST.match(self.host), "host", "lowercase letters, digits and '-'")
        _check(self.probe_rate_minutes >= 1, "probe_rate_minutes", "a whole number >= 1")
        _check(self.backup_check_rate_minutes >= 1, "backup_check_rate_minutes", ">= 1")
        _check(self.powertools_layer_version >= 1, "powertools_layer_version", ">= 1")
        _check(not self.alarm_email or _EMAIL.match(self.alarm_email), "alarm_email", "an email")
        for key in ("agent_url", "manager_console_url", "breakglass_url"):
            _check(_is_https_or_empty(getattr(self, key)), key, "an https:// URL")
        _check(
            not self.breakglass_cert_sha256 or _SHA256.match(self.breakglass_cert_sha256),
            "breakglass_cert_sha256",
            "64 hex digits (colons allowed)",
        )

    @classmethod
    def from_context(cls, node: Node) -> DeployTierConfig:
        """Read every field from context; values given with `-c` arrive as strings."""
        raw = {f.name: node.try_get_context(f.name) for f in fields(cls)}
        values = {key: _coerce(key, value, cls) for key, value in raw.items() if value is not None}
        if "breakglass_cert_sha256" in values:
            values["breakglass_cert_sha256"] = _normalize_fingerprint(
                values["breakglass_cert_sha256"]
            )
        if values.get("domain") and not values.get("manager_console_url"):
            values["manager_console_url"] = f"https://manager.{values['domain']}"
        return cls(**values)

    @property
    def prefix(self) -> str:
        """The S3 key prefix that belongs to this host (`<host>/`)."""
        return f"{self.host}/"


def _coerce(key: str, value: Any, cls: type[DeployTierConfig]) -> Any:
    default = next(f.default for f in fields(cls) if f.name == key)
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"context '{key}' must be a whole number, got {value!r}") from None
    return str(value).strip()


def _normalize_fingerprint(value: str) -> str:
    return value.replace(":", "").lower()


def _is_https_or_empty(url: str) -> bool:
    return not url or url.startswith("https://")


def _check(ok: object, key: str, expected: str) -> None:
    if not ok:
        raise ConfigError(f"context '{key}' must be {expected}")
