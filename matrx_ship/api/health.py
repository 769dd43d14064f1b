"""Liveness and readiness."""

from __future__ import annotations

from matrx_ship.api.base import Reply


class Healthz(Reply):
    status: str
    version: str


class Check(Reply):
    ok: bool
    error: str | None = None
    hint: str | None = None


class Readyz(Reply):
    """Also the body of the 503 answer when a dependency is down."""

    ready: bool
    checks: dict[str, Check]
    durable: bool
    outbox_pending: int
    outbox_set_aside: int = 0  # records the store refused, set aside (see /v1/system/outbox)
    missing_services: list[str] = []  # stored services with no container on this host
    warnings: list[str]
    version: str
    env: str
