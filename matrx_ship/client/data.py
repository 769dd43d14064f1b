"""Backups, databases and environment values."""

from __future__ import annotations

from typing import Any

from matrx_ship.api.backups import Backup
from matrx_ship.api.databases import (
    DatabaseAudit,
    DatabaseList,
    DatabaseStatus,
    QueryResult,
    Repaired,
    Schemas,
    Table,
)
from matrx_ship.api.env import EnvApplied, MaskedEnv, Revealed
from matrx_ship.api.jobs import Job
from matrx_ship.client.base import Transport, _drop


class DataApi(Transport):
    """Backups, databases, environment values."""

    # --- backups ------------------------------------------------------------------------

    def backup(self, name: str) -> Job:
        """Start a backup of the service; returns the job (with its ``backup_id``)."""
        return self.fetch(Job, "POST", f"/v1/services/{name}/backups")

    def service_backups(
        self, name: str, status: str | None = None, limit: int | None = None
    ) -> list[Backup]:
        """The service's backups, newest first (also after the service was deleted)."""
        params = _drop(status=status, limit=limit)
        return self.fetch_list(Backup, "GET", f"/v1/services/{name}/backups", params=params)

    def backups(self, **filters: Any) -> list[Backup]:
        """Every backup, newest first; filters: service, kind, status, limit."""
        return self.fetch_list(Backup, "GET", "/v1/backups", params=_drop(**filters))

    def get_backup(self, backup_id: str) -> Backup:
        return self.fetch(Backup, "GET", f"/v1/backups/{backup_id}")

    def verify_backup(self, backup_id: str) -> Job:
        """Start a verification (every part, and the dump into a scratch Postgres)."""
        return self.fetch(Job, "POST", f"/v1/backups/{backup_id}/verify")

    def restore(self, backup_id: str, keep_old: bool = False, timeout: float | None = None) -> Job:
        """Start a restore beside the live service, checked, then swapped; returns the job."""
        return self.fetch(
            Job,
            "POST",
            f"/v1/backups/{backup_id}/restore",
            json={"keep_old": keep_old},
            params=_drop(timeout=timeout),
        )

    def system_backup(self) -> Job:
        """Start a backup of the state store's tables and Traefik's config (admin)."""
        return self.fetch(Job, "POST", "/v1/system/backups")

    def system_backups(self, status: str | None = None, limit: int | None = None) -> list[Backup]:
        params = _drop(status=status, limit=limit)
        return self.fetch_list(Backup, "GET", "/v1/system/backups", params=params)

    # --- databases ----------------------------------------------------------------------

    def databases(self) -> DatabaseList:
        """Every service that declares a database, with its container's state."""
        return self.fetch(DatabaseList, "GET", "/v1/databases")

    def database_audit(self, service: str | None = None) -> DatabaseAudit:
        """Each database checked end to end, plus apps that seem to lack one."""
        return self.fetch(
            DatabaseAudit, "GET", "/v1/databases/audit", params=_drop(service=service)
        )

    def database(self, service: str) -> DatabaseStatus:
        return self.fetch(DatabaseStatus, "GET", f"/v1/databases/{service}")

    def database_schemas(self, service: str) -> Schemas:
        return self.fetch(Schemas, "GET", f"/v1/databases/{service}/schemas")

    def database_table(self, service: str, schema: str, table: str) -> Table:
        return self.fetch(Table, "GET", f"/v1/databases/{service}/tables/{schema}/{table}")

    def query(
        self, service: str, sql: str, limit: int = 100, timeout_s: float = 10.0
    ) -> QueryResult:
        """One read-only statement (operate; audited with its text)."""
        body = {"sql": sql, "limit": limit, "timeout_s": timeout_s}
        return self.fetch(QueryResult, "POST", f"/v1/databases/{service}/query", json=body)

    def repair_database(self, service: str) -> Repaired:
        """Recreate what is missing (data kept) and give the app a working DATABASE_URL."""
        return self.fetch(Repaired, "POST", f"/v1/databases/{service}/repair")

    # --- environment --------------------------------------------------------------------

    def env(self, name: str) -> MaskedEnv:
        """The service's variables, values masked."""
        return self.fetch(MaskedEnv, "GET", f"/v1/services/{name}/env")

    def change_env(
        self,
        name: str,
        set: dict[str, str] | None = None,
        unset: list[str] | None = None,
        timeout: float | None = None,
    ) -> EnvApplied:
        """Set and unset variables, applied through the health gate."""
        body = {"set": set or {}, "unset": unset or []}
        return self.fetch(
            EnvApplied,
            "PUT",
            f"/v1/services/{name}/env",
            json=body,
            params=_drop(timeout=timeout),
        )

    def import_env(
        self, name: str, dotenv: str, replace: bool = False, timeout: float | None = None
    ) -> EnvApplied:
        """Merge (or replace with) the variables of a .env text, then apply them."""
        return self.fetch(
            EnvApplied,
            "POST",
            f"/v1/services/{name}/env/import",
            json={"dotenv": dotenv, "replace": replace},
            params=_drop(timeout=timeout),
        )

    def reveal_env(self, name: str, key: str) -> Revealed:
        """One variable's value (admin; audited with the key, never the value)."""
        return self.fetch(Revealed, "GET", f"/v1/services/{name}/env/{key}/reveal")

    def export_env(self, name: str) -> str:
        """The variables as a .env text with their values (admin; audited)."""
        return str(self.request("GET", f"/v1/services/{name}/env/export"))
