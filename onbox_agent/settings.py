"""The agent's typed, fail-fast settings, read from the environment.

Nothing else in the agent reads ``os.environ``; ``docs/env.md`` is generated from this
model and the other deployables' (``python -m matrx_ship.envdoc``) so it cannot drift.
"""

from __future__ import annotations

import copy
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from matrx_ship.config import is_placeholder, normalize_pg_url


class AgentSettings(BaseSettings):
    """Settings of the on-box agent (``python -m onbox_agent``)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    env: Literal["dev", "prod"] = Field(
        "dev",
        validation_alias="MATRX_ENV",
        description="`dev` or `prod`, shown in /readyz; placeholder secrets are refused in both.",
    )
    host: str = Field(
        "127.0.0.1",
        validation_alias="MATRX_AGENT_HOST",
        description="Address the agent listens on.",
    )
    port: int = Field(
        8700, ge=1, le=65535, validation_alias="MATRX_AGENT_PORT", description="Agent port."
    )
    admin_token: SecretStr = Field(
        validation_alias="MATRX_ADMIN_TOKEN",
        description="The first admin token (bearer). Required; at least 16 characters.",
    )
    master_key: SecretStr = Field(
        validation_alias="MATRX_MASTER_KEY",
        description="Encrypts secret values at rest. Required; never stored with the data.",
    )
    data_dir: Path = Field(
        Path.home() / ".local" / "share" / "matrx-ship",
        validation_alias="MATRX_DATA_DIR",
        description="Where the embedded defaults keep the SQLite file, blobs and the outbox.",
    )
    database_url: SecretStr | None = Field(
        None,
        validation_alias="SUPABASE_DB_URL",
        description="PostgreSQL URL of the state store (Supabase). Unset: embedded SQLite.",
    )
    s3_bucket: str | None = Field(
        None,
        validation_alias="MATRX_S3_BUCKET",
        description="S3 bucket for blobs (backups, logs, images). Unset: a local folder.",
    )
    s3_endpoint_url: str | None = Field(
        None,
        validation_alias="AWS_ENDPOINT_URL",
        description="S3-compatible endpoint (MinIO, moto). Unset: AWS.",
    )
    s3_prefix: str = Field(
        default_factory=socket.gethostname,
        validation_alias="MATRX_S3_PREFIX",
        description="Per-host key prefix in the bucket (default: the host name).",
    )
    docker_host: str = Field(
        "unix:///var/run/docker.sock",
        validation_alias="DOCKER_HOST",
        description="Docker engine socket; the agent is its only holder.",
    )
    tls_cert: Path | None = Field(
        None,
        validation_alias="MATRX_TLS_CERT",
        description="PEM certificate: the agent serves HTTPS itself (break-glass path).",
    )
    tls_key: Path | None = Field(
        None, validation_alias="MATRX_TLS_KEY", description="PEM key matching MATRX_TLS_CERT."
    )
    stats_interval: float = Field(
        5.0,
        gt=0.2,
        validation_alias="MATRX_STATS_INTERVAL",
        description="Seconds between resource samples of all containers.",
    )
    health_timeout: float = Field(
        60.0,
        gt=0,
        validation_alias="MATRX_HEALTH_TIMEOUT",
        description="Default deadline (s) for a container to become healthy.",
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        validation_alias="MATRX_MAX_BODY_BYTES",
        description="Largest request body accepted.",
    )
    pull_images: bool = Field(
        True,
        validation_alias="MATRX_PULL_IMAGES",
        description="Pull an image that is not on the host (false: only local images).",
    )
    keep_releases: int = Field(
        5,
        ge=1,
        le=100,
        validation_alias="MATRX_KEEP_RELEASES",
        description="Images of the last K releases per service kept on the host (all archived).",
    )
    traefik_dynamic_dir: Path | None = Field(
        None,
        validation_alias="MATRX_TRAEFIK_DYNAMIC_DIR",
        description="Traefik's watched folder for route files (default: DATA_DIR/traefik).",
    )
    traefik_api_url: str | None = Field(
        None,
        validation_alias="MATRX_TRAEFIK_API_URL",
        description="Traefik's API (internal entrypoint): loaded routers vs the specs.",
    )
    traefik_entrypoint_url: str | None = Field(
        None,
        validation_alias="MATRX_TRAEFIK_ENTRYPOINT_URL",
        description="Where route checks send their requests (e.g. https://127.0.0.1:443).",
    )
    postgres_image: str = Field(
        "postgres:16",
        validation_alias="MATRX_POSTGRES_IMAGE",
        description="Image of the dedicated Postgres containers (the official image's interface).",
    )
    backup_interval_hours: float = Field(
        24.0,
        ge=0,
        validation_alias="MATRX_BACKUP_INTERVAL_HOURS",
        description="Hours between scheduled backups of each service (0: no schedule).",
    )
    system_backup_interval_hours: float = Field(
        24.0,
        ge=0,
        validation_alias="MATRX_SYSTEM_BACKUP_INTERVAL_HOURS",
        description="Hours between scheduled system backups (state store, Traefik); 0: none.",
    )
    backup_retry_hours: float = Field(
        1.0,
        gt=0,
        validation_alias="MATRX_BACKUP_RETRY_HOURS",
        description="Hours before a failed scheduled backup is tried again.",
    )
    backup_tick_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias="MATRX_BACKUP_TICK_SECONDS",
        description="Seconds between the backup scheduler's passes.",
    )
    backup_keep_last: int = Field(
        7, ge=1, validation_alias="MATRX_BACKUP_KEEP_LAST", description="Backups kept: last N."
    )
    backup_keep_daily: int = Field(
        7,
        ge=0,
        validation_alias="MATRX_BACKUP_KEEP_DAILY",
        description="Also one a day for D days.",
    )
    backup_keep_weekly: int = Field(
        4,
        ge=0,
        validation_alias="MATRX_BACKUP_KEEP_WEEKLY",
        description="Also one a week for W weeks.",
    )
    log_ship_seconds: float = Field(
        5.0,
        ge=0,
        validation_alias="MATRX_LOG_SHIP_SECONDS",
        description="Seconds between shipments of containers' new log lines to the blob store "
        "(at most this much log is lost with the host; 0: only when a container is retired).",
    )
    log_ship_bytes: int = Field(
        1_048_576,
        ge=4096,
        validation_alias="MATRX_LOG_SHIP_BYTES",
        description="A container's new log is shipped at once when it reaches this many bytes "
        "(before the period is over); also the largest chunk.",
    )
    log_level: str = Field("INFO", validation_alias="MATRX_LOG_LEVEL", description="Log level.")

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> AgentSettings:
        for name in ("admin_token", "master_key"):
            value = getattr(self, name).get_secret_value()
            if is_placeholder(value):
                raise ValueError(
                    f"{name.upper()} looks like a placeholder; set a random value of 16+ characters"
                )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("MATRX_TLS_CERT and MATRX_TLS_KEY must be set together")
        return self

    @property
    def store_url(self) -> str:
        """SQLAlchemy URL of the state store."""
        if self.database_url is not None:
            return normalize_pg_url(self.database_url.get_secret_value())
        return f"sqlite:///{self.data_dir / 'state.db'}"

    @property
    def routes_dir(self) -> Path:
        """Where the agent writes Traefik's per-service route files."""
        return self.traefik_dynamic_dir or self.data_dir / "traefik"

    @property
    def embedded(self) -> list[str]:
        """The parts running on embedded, non-durable defaults."""
        out = []
        if self.database_url is None:
            out.append("state store is a local SQLite file (set SUPABASE_DB_URL)")
        if self.s3_bucket is None:
            out.append("blob store is a local folder (set MATRX_S3_BUCKET)")
        return out


@lru_cache
def get_settings() -> AgentSettings:
    """The agent's settings, read once from the environment."""
    return AgentSettings()  # type: ignore[call-arg]


def _agent_field(name: str) -> Any:
    """The agent's own field: the same variable, default and description."""
    return copy.copy(AgentSettings.model_fields[name])


class RestoreStoreSettings(BaseSettings):
    """Settings of ``python -m onbox_agent.restore_store``: where the system backups are."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    data_dir: Path = _agent_field("data_dir")
    s3_bucket: str | None = _agent_field("s3_bucket")
    s3_endpoint_url: str | None = _agent_field("s3_endpoint_url")
    s3_prefix: str = _agent_field("s3_prefix")
    aws_access_key_id: str | None = Field(
        None,
        validation_alias="AWS_ACCESS_KEY_ID",
        description="The agent's AWS key (unset: boto3's chain: environment, ~/.aws, role).",
    )
    aws_secret_access_key: SecretStr | None = Field(
        None, validation_alias="AWS_SECRET_ACCESS_KEY", description="Its secret."
    )
    aws_region: str | None = Field(
        None,
        validation_alias="AWS_REGION",
        description="The bucket's region (unset: AWS_DEFAULT_REGION, ~/.aws).",
    )
    master_key: SecretStr | None = Field(
        None,
        validation_alias="MATRX_MASTER_KEY",
        description="The lost host's key: must open the backup's secrets (unset: not checked).",
    )
