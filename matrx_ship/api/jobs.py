"""Jobs: long work (build, deploy, backup, restore, verify) and how it ended."""

from __future__ import annotations

from datetime import datetime

from matrx_ship.api.base import Detail, Reply


class Job(Reply):
    """A job row; ``params`` and ``result`` are open by design (they depend on the kind)."""

    id: str
    kind: str
    service: str | None = None
    status: str
    actor: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    step: str | None = None
    percent: int | None = None
    params: Detail = {}
    result: Detail = {}
    error: Detail | None = None
    backup_id: str | None = None  # only in the answer that starts a backup
