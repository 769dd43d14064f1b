"""The host as a whole: the reconcile plan, the outbox, the settings the store keeps."""

from __future__ import annotations

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
