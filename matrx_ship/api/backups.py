"""Backups (of a service or of the system), their parts and what a verification found."""

from __future__ import annotations

from datetime import datetime

from matrx_ship.api.base import Detail, Open, Reply


class Part(Reply):
    """One object of a backup in the blob store (a dump, a volume archive, the spec...)."""

    kind: str
    name: str
    key: str
    size: int
    sha256: str
    detail: Detail = {}


class PartCheck(Open):
    """A verification's finding about one part; the read-back adds kind-specific keys."""

    part: str
    kind: str
    key: str
    ok: bool
    error: str | None = None
    sha256: str | None = None


class Verification(Open):
    ok: bool
    checks: list[PartCheck] = []
    job_id: str | None = None


class Backup(Reply):
    """A catalog row: what, when, who, how long, how it ended, its parts and verification."""

    id: str
    kind: str
    service: str | None = None
    trigger: str
    actor: str
    job_id: str | None = None
    status: str
    created_at: datetime
    finished_at: datetime | None = None
    seconds: float | None = None
    size: int | None = None
    sha256: str | None = None
    prefix: str
    manifest_key: str | None = None
    keys: list[str] = []
    parts: list[Part] = []
    error: Detail | None = None
    verified_at: datetime | None = None
    verification: Verification | None = None
    pruned_at: datetime | None = None
    note: str | None = None
    suspect: str | None = None  # why it is not trusted (fewer rows than an earlier backup)
