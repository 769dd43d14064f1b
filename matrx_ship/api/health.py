"""Liveness and readiness."""

from __future__ import annotations

from matrx_ship.api.base import Reply


class Healthz(Reply):
    status: str
    version: str


class Check(Reply):
    ok: bool
    error: str | None = None


class Readyz(Reply):
    """Also the body of the 503 answer when a dependency is down."""

    ready: bool
    checks: dict[str, Check]
    durable: bool
    outbox_pending: int
    warnings: list[str]
    version: str
    env: str
