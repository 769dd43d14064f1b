"""The backup check's settings, read once from the environment `cdk/stack.py` gives it."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from lambdas.common.settings import DeployTierSettings


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


@lru_cache
def get_settings() -> BackupCheckSettings:
    """The check's settings, read once from the environment."""
    return BackupCheckSettings()  # type: ignore[call-arg]
