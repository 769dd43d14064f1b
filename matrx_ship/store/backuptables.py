"""The backup catalog: one row per backup (service or system) and its reads and writes.

A backup is a set of parts in the blob store (a database dump, volume archives, the
spec, or the state store's tables), each with its key, size and sha256; the row says
what, when, who, how long, how it ended, and what a verification found. The deploy
tier's backup check reads this table; it lives in the shared library for that reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, Unpack

from sqlalchemy import JSON, BigInteger, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from matrx_ship.errors import NotFound
from matrx_ship.store.records import as_dict, known_fields
from matrx_ship.store.store import Store, utcnow
from matrx_ship.store.tables import Base

# running -> succeeded | failed | interrupted; succeeded -> pruned (objects deleted)
STATUSES = ("running", "succeeded", "failed", "interrupted", "pruned")


class BackupRow(Base):
    __tablename__ = "backups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # service | system
    service: Mapped[str | None] = mapped_column(String(40), index=True)
    trigger: Mapped[str] = mapped_column(String(16))  # manual | scheduled
    actor: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    seconds: Mapped[float | None]
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(300))
    manifest_key: Mapped[str | None] = mapped_column(String(300))
    keys: Mapped[list[str]] = mapped_column(JSON)
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None]
    verified_at: Mapped[datetime | None]
    verification: Mapped[dict[str, Any] | None]
    pruned_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)


class BackupUpdate(TypedDict, total=False):
    """The fields of a backup that change after it is added."""

    job_id: str | None
    status: str
    finished_at: datetime | None
    seconds: float | None
    size: int | None
    sha256: str | None
    manifest_key: str | None
    keys: list[str]
    parts: list[dict[str, Any]]
    error: dict[str, Any] | None
    verified_at: datetime | None
    verification: dict[str, Any] | None
    pruned_at: datetime | None
    note: str | None


class BackupCatalog:
    """Reads and writes of the ``backups`` table, over the state store's engine."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, **values: Any) -> dict[str, Any]:
        row = BackupRow(created_at=utcnow(), status="running", keys=[], parts=[], **values)
        with self.store.session() as s:
            s.add(row)
        return as_dict(row)

    def update(self, backup_id: str, **values: Unpack[BackupUpdate]) -> dict[str, Any]:
        """Change a backup's fields; returns the row. TypeError for a field it does not have."""
        known_fields(BackupUpdate, values, "a backup")
        with self.store.session() as s:
            row = s.get(BackupRow, backup_id)
            if row is None:
                raise NotFound(f"There is no backup '{backup_id[:40]}'.")
            for key, value in values.items():
                setattr(row, key, value)
            return as_dict(row)

    def get(self, backup_id: str) -> dict[str, Any]:
        with self.store.session() as s:
            row = s.get(BackupRow, backup_id)
            if row is None:
                raise NotFound(
                    f"There is no backup '{backup_id[:40]}'.",
                    hint="List backups with GET /v1/services/{name}/backups.",
                )
            return as_dict(row)

    def find(
        self,
        service: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Backups newest first, filtered."""
        stmt = select(BackupRow).order_by(BackupRow.created_at.desc()).limit(limit)
        for column, value in (
            (BackupRow.service, service),
            (BackupRow.kind, kind),
            (BackupRow.status, status),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        with self.store.session() as s:
            return [as_dict(r) for r in s.scalars(stmt)]

    def interrupt_leftovers(self) -> list[str]:
        """Mark backups that were running when the agent died as interrupted."""
        with self.store.session() as s:
            ids = list(s.scalars(select(BackupRow.id).where(BackupRow.status == "running")))
            if ids:
                s.execute(
                    update(BackupRow)
                    .where(BackupRow.id.in_(ids))
                    .values(
                        status="interrupted",
                        finished_at=utcnow(),
                        error={
                            "error": "interrupted",
                            "message": "The agent stopped while this backup ran.",
                            "hint": "Run it again.",
                        },
                    )
                )
        return ids
