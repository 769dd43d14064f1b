"""Settings of the ops console (``dashboard/``), read from the environment.

One Streamlit app serves two scopes: ``deploy`` (run off-box by the person on call,
the Manager first, the state store as a fallback when the agent is gone) and
``manager`` (the Server Manager's own console on the box).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from matrx_ship.config import is_placeholder, normalize_pg_url


class ConsoleSettings(BaseSettings):
    """Settings of the ops console (``streamlit run dashboard/streamlit_app.py``)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    scope: Literal["deploy", "manager"] = Field(
        "deploy",
        validation_alias="MATRX_CONSOLE_SCOPE",
        description="`deploy` (off-box: the Manager first, state-store fallback) or `manager`.",
    )
    agent_url: str = Field(
        "http://127.0.0.1:8700",
        validation_alias="MATRX_AGENT_URL",
        description="The agent's URL as the console reaches it.",
    )
    browser_agent_url: str | None = Field(
        None,
        validation_alias="MATRX_CONSOLE_BROWSER_AGENT_URL",
        description="The agent's URL as a person's browser reaches it (the terminal's "
        "websocket). Unset: MATRX_AGENT_URL.",
    )
    token: SecretStr | None = Field(
        None,
        validation_alias="MATRX_CONSOLE_TOKEN",
        description="An agent token for the console. Unset: each person signs in with theirs.",
    )
    pinned_sha256: str | None = Field(
        None,
        validation_alias="MATRX_AGENT_PINNED_SHA256",
        description="SHA-256 of the agent's certificate (break-glass HTTPS); only it is trusted.",
    )
    database_url: SecretStr | None = Field(
        None,
        validation_alias="SUPABASE_DB_URL",
        description="The state store, read-only: the deploy scope shows the last known state "
        "from it when the agent does not answer. Unset: no fallback.",
    )
    refresh_s: float = Field(
        5.0,
        ge=1.0,
        le=300.0,
        validation_alias="MATRX_CONSOLE_REFRESH_S",
        description="Seconds between refreshes of live views (overview figures, log tail).",
    )
    history_hours: float = Field(
        6.0,
        gt=0,
        le=72,
        validation_alias="MATRX_CONSOLE_HISTORY_HOURS",
        description="Hours of resource figures the console keeps in memory for its charts.",
    )
    timeout_s: float = Field(
        120.0,
        ge=5.0,
        le=3600.0,
        validation_alias="MATRX_CONSOLE_TIMEOUT_S",
        description="Longest wait for one agent call (lifecycle actions wait for health).",
    )

    @field_validator("agent_url", "browser_agent_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("the agent URL must start with http:// or https://")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _refuse_placeholder_token(self) -> ConsoleSettings:
        if self.token is not None and is_placeholder(self.token.get_secret_value()):
            raise ValueError("MATRX_CONSOLE_TOKEN looks like a placeholder; use a real agent token")
        return self

    @property
    def store_url(self) -> str | None:
        """SQLAlchemy URL of the state store, when one is configured."""
        if self.database_url is None:
            return None
        return normalize_pg_url(self.database_url.get_secret_value())

    @property
    def websocket_base(self) -> str:
        """The agent's base URL for a browser's websocket (ws:// or wss://)."""
        url = self.browser_agent_url or self.agent_url
        return "ws" + url.removeprefix("http")


@lru_cache
def get_console_settings() -> ConsoleSettings:
    """The console's settings, read once from the environment."""
    return ConsoleSettings()  # type: ignore[call-arg]
