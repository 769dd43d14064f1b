"""The settings both deploy-tier functions share, and their secrets."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def read_secret(arn: str) -> str:
    """A Secrets Manager value by ARN, cached for 5 minutes in a warm function."""
    from aws_lambda_powertools.utilities import parameters  # the layer's; not the agent's

    return str(parameters.get_secret(arn, max_age=300))


class DeployTierSettings(BaseSettings):
    """What both deploy-tier functions read: the agent, its token, the alarm topic, the store.

    The names are the environment `cdk/stack.py` gives the functions. A secret comes from
    Secrets Manager by ARN, or (a laptop, a benchmark) straight from its variable.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = Field("vps1", validation_alias="MATRX_HOST", description="The host's name.")
    agent_url: str = Field(
        validation_alias="MATRX_AGENT_URL",
        description="The agent's public URL (through the proxy).",
    )
    breakglass_url: str = Field(
        "",
        validation_alias="MATRX_BREAKGLASS_URL",
        description="The agent reached directly, bypassing the proxy (https with a pin).",
    )
    breakglass_cert_sha256: str = Field(
        "",
        validation_alias="MATRX_BREAKGLASS_CERT_SHA256",
        description="SHA-256 of the break-glass certificate (64 hex digits, colons allowed).",
    )
    alarm_topic_arn: str = Field(
        validation_alias="MATRX_ALARM_TOPIC_ARN", description="SNS topic for alerts."
    )
    agent_token_secret_arn: str = Field(
        "",
        validation_alias="MATRX_AGENT_TOKEN_SECRET_ARN",
        description="Secrets Manager ARN of the agent token (operate scope).",
    )
    agent_token_value: SecretStr | None = Field(
        None,
        validation_alias="MATRX_AGENT_TOKEN",
        description="The agent token itself, instead of the secret's ARN (CLI, benchmark).",
    )
    database_url_secret_arn: str = Field(
        "",
        validation_alias="MATRX_DATABASE_URL_SECRET_ARN",
        description="Secrets Manager ARN of the state store URL (SUPABASE_DB_URL).",
    )
    database_url_value: SecretStr | None = Field(
        None,
        validation_alias="SUPABASE_DB_URL",
        description="The state store URL itself, instead of the secret's ARN (CLI, benchmark).",
    )
    request_timeout_s: float = Field(
        5.0,
        gt=0,
        le=30,
        validation_alias="MATRX_PROBE_TIMEOUT_S",
        description="Seconds one probe request may take.",
    )

    @field_validator("agent_url", "breakglass_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/")

    @field_validator("breakglass_cert_sha256")
    @classmethod
    def _fingerprint(cls, value: str) -> str:
        value = value.replace(":", "").strip().lower()
        if value and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
            raise ValueError("must be 64 hex digits (colons allowed)")
        return value

    @model_validator(mode="after")
    def _one_token_source(self) -> DeployTierSettings:
        if bool(self.agent_token_secret_arn) == (self.agent_token_value is not None):
            raise ValueError(
                "set exactly one of MATRX_AGENT_TOKEN_SECRET_ARN and MATRX_AGENT_TOKEN"
            )
        if bool(self.database_url_secret_arn) == (self.database_url_value is not None):
            raise ValueError("set exactly one of MATRX_DATABASE_URL_SECRET_ARN and SUPABASE_DB_URL")
        if self.breakglass_url.startswith("https://") and not self.breakglass_cert_sha256:
            raise ValueError("MATRX_BREAKGLASS_URL needs MATRX_BREAKGLASS_CERT_SHA256 (the pin)")
        return self

    def agent_token(self) -> str:
        """The bearer token the functions show the agent."""
        if self.agent_token_value is not None:
            return self.agent_token_value.get_secret_value()
        return read_secret(self.agent_token_secret_arn)

    def database_url(self) -> str:
        """The state store's URL (libpq style)."""
        if self.database_url_value is not None:
            return self.database_url_value.get_secret_value()
        return read_secret(self.database_url_secret_arn)
