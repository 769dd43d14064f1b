"""The backup check's settings, read once from the environment `cdk/stack.py` gives it."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from matrx_ship.probes import DeployTierSettings


class BackupCheckSettings(DeployTierSettings):
    """Where the backups are, how old the newest may be, and which services must have one."""

    s3_bucket: str = Field(validation_alias="MATRX_S3_BUCKET", description="The backups bucket.")
    rpo_hours: float = Field(
        26.0,
        gt=0,
        validation_alias="MATRX_BACKUP_RPO_HOURS",
        description="Oldest acceptable age of a service's newest backup (nightly + 2 h).",
    )
    expected_services: str = Field(
        "",
        validation_alias="MATRX_BACKUP_SERVICES",
        description="Comma-separated services that must have backups even when none exist yet "
        "(until the backup catalog of issue 4 says which).",
    )

    @property
    def prefix(self) -> str:
        """Where this host's backups live: `<host>/backups/`."""
        return f"{self.host}/backups/"

    @property
    def expected(self) -> set[str]:
        return {name.strip() for name in self.expected_services.split(",") if name.strip()}


@lru_cache
def get_settings() -> BackupCheckSettings:
    """The check's settings, read once from the environment."""
    return BackupCheckSettings()  # type: ignore[call-arg]
