"""Releases, jobs (with their events), deployments and log archives in the state store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict, Unpack

from sqlalchemy import func, select, update
from sqlalchemy import inspect as sa_inspect

from matrx_ship.errors import NotFound
from matrx_ship.store.store import Store, _aware, utcnow
from matrx_ship.store.tables import (
    Base,
    DeploymentRow,
    JobEventRow,
    JobRow,
    LogArchiveRow,
    ReleaseRow,
)


class ReleaseUpdate(TypedDict, total=False):
    """The fields of a release that change after it is added."""

    commit_sha: str | None
    message: str | None
    author: str | None
    committed_at: datetime | None
    image: str | None
    image_id: str | None
    size_bytes: int | None
    build_seconds: float | None
    status: str
    finished_at: datetime | None
    build_log_key: str | None
    archive_key: str | None
    archive_sha256: str | None
    archive_size: int | None
    detail: dict[str, Any]


class JobUpdate(TypedDict, total=False):
    """The fields of a job that change while it runs and when it ends."""

    status: str
    started_at: datetime | None
    finished_at: datetime | None
    step: str | None
    percent: int | None
    result: dict[str, Any]
    error: dict[str, Any] | None


class DeploymentUpdate(TypedDict, total=False):
    """The fields of a deployment that change while it runs and when it ends."""

    outcome: str
    finished_at: datetime | None
    seconds: float | None
    evidence: dict[str, Any]
    to_release: str | None
    job_id: str | None


def known_fields(update: type, values: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """``values``, or TypeError naming every field ``update`` (a TypedDict) does not declare.

    A misspelled field must fail loudly: SQLAlchemy would keep it as a plain attribute of
    the row object, never stored and never an error.
    """
    allowed = update.__optional_keys__ | update.__required_keys__  # type: ignore[attr-defined]
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise TypeError(
            f"{what} has no field {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(sorted(allowed))}"
        )
    return values


def as_dict(row: Base) -> dict[str, Any]:
    """A row as a plain dict, times in UTC."""
    out: dict[str, Any] = {}
    for attr in sa_inspect(row).mapper.column_attrs:
        value = getattr(row, attr.key)
        out[attr.key] = _aware(value) if isinstance(value, datetime) else value
    return out


class Records:
    """The release cycle's records, over the same engine as the Store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- releases -------------------------------------------------------------------------

    def add_release(self, **values: Any) -> dict[str, Any]:
        row = ReleaseRow(created_at=utcnow(), detail={}, **values)
        with self.store.session() as s:
            s.add(row)
        return as_dict(row)

    def update_release(self, release_id: str, **values: Unpack[ReleaseUpdate]) -> dict[str, Any]:
        """Change a release's fields; returns the row. TypeError for a field it does not have."""
        known_fields(ReleaseUpdate, values, "a release")
        with self.store.session() as s:
            row = s.get(ReleaseRow, release_id)
            if row is None:
                raise NotFound(f"There is no release '{release_id}'.")
            for key, value in values.items():
                setattr(row, key, value)
            return as_dict(row)

    def release(self, release_id: str) -> dict[str, Any]:
        with self.store.session() as s:
            row = s.get(ReleaseRow, release_id)
            if row is None:
                raise NotFound(
                    f"There is no release '{release_id[:40]}'.",
                    hint="List releases with GET /v1/services/{name}/releases.",
                )
            return as_dict(row)

    def releases(
        self, service: str, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """A service's releases, newest first."""
        stmt = select(ReleaseRow).where(ReleaseRow.service == service)
        if status:
            stmt = stmt.where(ReleaseRow.status == status)
        stmt = stmt.order_by(ReleaseRow.created_at.desc()).limit(limit)
        with self.store.session() as s:
            return [as_dict(r) for r in s.scalars(stmt)]

    # --- jobs -----------------------------------------------------------------------------

    def add_job(self, **values: Any) -> dict[str, Any]:
        row = JobRow(created_at=utcnow(), status="queued", result={}, **values)
        with self.store.session() as s:
            s.add(row)
        return as_dict(row)

    def update_job(self, job_id: str, **values: Unpack[JobUpdate]) -> None:
        """Change a job's fields. TypeError for a field it does not have."""
        known_fields(JobUpdate, values, "a job")
        with self.store.session() as s:
            s.execute(update(JobRow).where(JobRow.id == job_id).values(**values))

    def job(self, job_id: str) -> dict[str, Any]:
        with self.store.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFound(
                    f"There is no job '{job_id[:40]}'.", hint="List jobs with GET /v1/jobs."
                )
            return as_dict(row)

    def jobs(
        self,
        service: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        stmt = select(JobRow).order_by(JobRow.created_at.desc()).limit(limit)
        for column, value in (
            (JobRow.service, service),
            (JobRow.kind, kind),
            (JobRow.status, status),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        with self.store.session() as s:
            return [as_dict(r) for r in s.scalars(stmt)]

    def add_event(self, job_id: str, kind: str, data: dict[str, Any]) -> int:
        row = JobEventRow(job_id=job_id, at=utcnow(), kind=kind, data=data)
        with self.store.session() as s:
            s.add(row)
        return row.id

    def events(self, job_id: str, after_id: int = 0) -> list[dict[str, Any]]:
        stmt = (
            select(JobEventRow)
            .where(JobEventRow.job_id == job_id, JobEventRow.id > after_id)
            .order_by(JobEventRow.id)
        )
        with self.store.session() as s:
            return [as_dict(r) for r in s.scalars(stmt)]

    # --- deployments ----------------------------------------------------------------------

    def add_deployment(self, **values: Any) -> dict[str, Any]:
        values.setdefault("evidence", {})
        row = DeploymentRow(started_at=utcnow(), outcome="running", **values)
        with self.store.session() as s:
            s.add(row)
        return as_dict(row)

    def update_deployment(self, dep_id: str, **values: Unpack[DeploymentUpdate]) -> None:
        """Change a deployment's fields. TypeError for a field it does not have."""
        known_fields(DeploymentUpdate, values, "a deployment")
        with self.store.session() as s:
            s.execute(update(DeploymentRow).where(DeploymentRow.id == dep_id).values(**values))

    def deployments(
        self, service: str | None = None, outcome: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Deployments newest first, optionally of one service or outcome."""
        stmt = select(DeploymentRow).order_by(DeploymentRow.started_at.desc()).limit(limit)
        if service is not None:
            stmt = stmt.where(DeploymentRow.service == service)
        if outcome is not None:
            stmt = stmt.where(DeploymentRow.outcome == outcome)
        with self.store.session() as s:
            return [as_dict(r) for r in s.scalars(stmt)]

    # --- log archives ---------------------------------------------------------------------

    def add_log_archive(self, **values: Any) -> None:
        with self.store.session() as s:
            s.add(LogArchiveRow(created_at=utcnow(), **values))

    def log_archives(self, service: str) -> list[dict[str, Any]]:
        stmt = (
            select(LogArchiveRow).where(LogArchiveRow.service == service).order_by(LogArchiveRow.id)
        )
        with self.store.session() as s:
            return [as_dict(r) for r in s.scalars(stmt)]

    def log_shipped_until(self, containers: list[str]) -> dict[str, str]:
        """Per container, the timestamp of the last log line already in the blob store."""
        if not containers:
            return {}
        stmt = (
            select(LogArchiveRow.container, func.max(LogArchiveRow.last_at))
            .where(LogArchiveRow.container.in_(containers))
            .group_by(LogArchiveRow.container)
        )
        with self.store.session() as s:
            return {name: last for name, last in s.execute(stmt) if last}
