"""Every dependency as an Annotated alias, so handlers read like sentences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, WebSocket
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from matrx_ship.crypto import hash_token
from matrx_ship.errors import Forbidden, InvalidInput, MatrxError, Unauthorized
from matrx_ship.models import Scope, ServiceSpec, TokenInfo, valid_name
from onbox_agent.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="A matrx-ship token: read, operate or admin.")


def get_runtime(conn: HTTPConnection) -> Runtime:
    return conn.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def authenticate(conn: HTTPConnection, rt: Runtime, raw: str | None, needed: Scope) -> TokenInfo:
    """The token behind ``raw`` when it has at least ``needed``; records the actor for audit."""
    cached: TokenInfo | None = getattr(conn.state, "token", None)
    if cached is None:
        if not raw:
            raise Unauthorized("This request has no token.")
        cached = rt.find_token(hash_token(raw))
        if cached is None:
            raise Unauthorized("The token is unknown, revoked or expired.")
        conn.state.token = cached
        conn.state.actor = cached.name
    if not cached.scope.allows(needed):
        raise Forbidden(
            f"The token '{cached.name}' has scope '{cached.scope.value}'; "
            f"this needs '{needed.value}'."
        )
    return cached


def require(needed: Scope) -> Callable[..., TokenInfo]:
    """A dependency that admits tokens with at least the ``needed`` scope."""

    def dependency(
        conn: HTTPConnection,
        rt: RuntimeDep,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> TokenInfo:
        return authenticate(conn, rt, creds.credentials if creds else None, needed)

    dependency.__name__ = f"require_{needed.value}"
    return dependency


Reader = Annotated[TokenInfo, Depends(require(Scope.read))]
Operator = Annotated[TokenInfo, Depends(require(Scope.operate))]
Admin = Annotated[TokenInfo, Depends(require(Scope.admin))]


def checked_name(name: str) -> str:
    """A service name from a URL, or InvalidInput saying what is wrong with it."""
    try:
        return valid_name(name)
    except ValueError as exc:
        raise InvalidInput(
            f"'{name[:60]}' is not a valid service name: {exc}.", code="invalid_name"
        ) from exc


def service_name(name: str, conn: HTTPConnection) -> str:
    """The ``{name}`` path parameter, validated before anything looks it up."""
    conn.state.audit_target = name[:200]
    return checked_name(name)


ServiceName = Annotated[str, Depends(service_name)]


def stored_spec(name: ServiceName, rt: RuntimeDep) -> ServiceSpec:
    return rt.specs.get(name)


SpecDep = Annotated[ServiceSpec, Depends(stored_spec)]


async def ws_authenticate(ws: WebSocket, needed: Scope) -> tuple[Runtime, TokenInfo]:
    """Check a websocket's token before ``accept()``: header, or ``access_token`` query."""
    rt = get_runtime(ws)
    header = ws.headers.get("authorization", "")
    raw = (
        header[7:] if header.lower().startswith("bearer ") else ws.query_params.get("access_token")
    )
    return rt, authenticate(ws, rt, raw, needed)


async def ws_deny(ws: WebSocket, exc: MatrxError) -> None:
    """Refuse a websocket handshake with the JSON error, or a close code where unsupported."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(JSONResponse(exc.body(), status_code=exc.status))
    else:
        await ws.close(code=4000 + exc.status, reason=exc.message[:120])
