"""The backup check's settings, read once from the environment `cdk/stack.py` gives it."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator

from matrx_ship.probes import DeployTierSettings, read_secret


class BackupCheckSettings(DeployTierSettings):
    """Where the catalog and the backups are, how old the newest may be, and what is hashed."""

    s3_bucket: str = Field(validation_alias="MATRX_S3_BUCKET", description="The backups bucket.")
    rpo_hours: float = Field(
        26.0,
        gt=0,
        validation_alias="MATRX_BACKUP_RPO_HOURS",
        description="Oldest acceptable age of a service's newest good backup (nightly + 2 h).",
    )
    system_rpo_hours: float = Field(
        26.0,
        gt=0,
        validation_alias="MATRX_SYSTEM_BACKUP_RPO_HOURS",
        description="Oldest acceptable age of the newest good system backup.",
    )
    hash_max_bytes: int = Field(
        512 * 1024 * 1024,
        ge=0,
        validation_alias="MATRX_BACKUP_HASH_MAX_BYTES",
        description="Parts up to this size are read and hashed; larger ones are checked by "
        "size and by their sidecar's sha256 against the catalog (0: never read).",
    )
    expected_services: str = Field(
        "",
        validation_alias="MATRX_BACKUP_SERVICES",
        description="Comma-separated services that must have backups even when the catalog "
        "has none for them yet.",
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

    @model_validator(mode="after")
    def _one_database_source(self) -> BackupCheckSettings:
        if bool(self.database_url_secret_arn) == (self.database_url_value is not None):
            raise ValueError("set exactly one of MATRX_DATABASE_URL_SECRET_ARN and SUPABASE_DB_URL")
        return self

    @property
    def host_prefix(self) -> str:
        """This host's folder in the bucket (`<host>/`); catalog keys are relative to it."""
        return f"{self.host}/"

    @property
    def prefix(self) -> str:
        """Where this host's service backups live: `<host>/backups/`."""
        return f"{self.host_prefix}backups/"

    @property
    def expected(self) -> set[str]:
        return {name.strip() for name in self.expected_services.split(",") if name.strip()}

    def database_url(self) -> str:
        """The state store's URL (libpq style)."""
        if self.database_url_value is not None:
            return self.database_url_value.get_secret_value()
        return read_secret(self.database_url_secret_arn)


@lru_cache
def get_settings() -> BackupCheckSettings:
    """The check's settings, read once from the environment."""
    return BackupCheckSettings()  # type: ignore[call-arg]
