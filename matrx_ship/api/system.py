"""The host as a whole: the reconcile plan, the outbox, the settings the store keeps, and
what exists only on this host."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from matrx_ship.api.base import Reply


class PlanStep(Reply):
    action: str
    target: str
    detail: str = ""


class ReconcilePlan(Reply):
    """What a reconcile would do now; ``nothing_to_do`` when the host matches the store."""

    steps: list[PlanStep]
    nothing_to_do: bool


class OutboxRecord(Reply):
    kind: str
    key: str
    reason: str
    at: float  # epoch seconds


class OutboxState(Reply):
    pending: int
    set_aside: list[OutboxRecord]


class OutboxRetry(OutboxState):
    requeued: int
    delivered: int


class HostSettings(Reply):
    kept_in_store: dict[str, Any]
    env_file_only: list[str]


class LocalItem(Reply):
    """One thing that exists only on this host: its risk and the action that protects it."""

    kind: str
    name: str
    risk: str
    action: str  # names the console page and button, and the API call
    page: str  # the console page's URL path (with ``?service=`` for a service's page)
    since: datetime | None = None


class LocalState(Reply):
    """``GET /v1/system/local-state``: an empty ``items`` is the goal."""

    items: list[LocalItem]
    checked_at: datetime
