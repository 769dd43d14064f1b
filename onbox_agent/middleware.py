"""ASGI middlewares: body size limit, audit of every mutating call, request metrics."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matrx_ship.errors import InvalidInput, MatrxError, PayloadTooLarge
from matrx_ship.models import AuditEvent, outcome_for

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _route_path(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "(unmatched)"


class InputGuardMiddleware:
    """Refuses bodies larger than ``limit`` bytes and NUL bytes in the URL or the body.

    Bodies are small JSON documents, so the guard reads each one whole (never more
    than ``limit`` bytes), checks it, and hands it on unchanged.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            await _refuse(send, _nul_error())
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _refuse(send, self._too_large())
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await _refuse(send, self._too_large())
                return
        if b"\x00" in body or b"\\u0000" in body:
            await _refuse(send, _nul_error())
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body is larger than {self.limit} bytes.")


def _nul_error() -> InvalidInput:
    return InvalidInput(
        "The request contains a NUL byte, which no field accepts.",
        code="nul_byte",
        hint="Remove the NUL character and send it again.",
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Send, err: MatrxError) -> None:
    """Answer with a domain error straight from the middleware."""
    body = json.dumps(err.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AuditMiddleware:
    """Writes exactly one audit event per mutating request (and per secret read):
    allowed, denied or failed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            # reads of secrets (reveal, export) ask to be audited through request.state
            if scope["method"] in MUTATING or (scope.get("state") or {}).get("audit_read"):
                self._record(scope, status)

    @staticmethod
    def _record(scope: Scope, status: int) -> None:
        state: dict[str, Any] = scope.get("state") or {}
        runtime = scope["app"].state.runtime
        params = scope.get("path_params") or {}
        target = state.get("audit_target") or "/".join(str(v) for v in params.values()) or "-"
        runtime.audit(
            AuditEvent(
                at=datetime.now(UTC),
                actor=state.get("actor", "anonymous"),
                action=f"{scope['method']} {_route_path(scope)}",
                target=str(target)[:200],
                outcome=outcome_for(status),
                status=status,
                detail=state.get("audit_detail") or {},
            )
        )


class MetricsMiddleware:
    """Counts requests and their latency by route template, method and status."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "matrx_agent_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "matrx_agent_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, started = 500, time.perf_counter()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = _route_path(scope)
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - started)
