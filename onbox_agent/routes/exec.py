"""An interactive terminal in a service's container over a websocket (admin, audited).

Protocol: binary frames in are keystrokes; text frames in are JSON control
messages ({"type": "resize", "cols": C, "rows": R} or {"type": "input", "data": S}).
Binary frames out are terminal output; the last text frame out is
{"type": "exit", "code": N, "reason": ...} and the socket then closes normally.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, WebSocket
from starlette.websockets import WebSocketDisconnect

from matrx_ship.api.base import ERRORS
from matrx_ship.api.tokens import ExecTicket
from matrx_ship.errors import InvalidInput, MatrxError
from matrx_ship.models import AuditEvent, Outcome, Scope, outcome_for
from onbox_agent import engine
from onbox_agent.deps import (
    Admin,
    RuntimeDep,
    SpecDep,
    checked_name,
    require,
    ws_authenticate,
    ws_deny,
)
from onbox_agent.runtime import Runtime

ws_router = APIRouter(tags=["exec"])
router = APIRouter(tags=["exec"], dependencies=[Depends(require(Scope.read))], responses=ERRORS)
SHELLS = {"/bin/sh", "/bin/bash", "/bin/ash", "/bin/zsh", "/usr/bin/bash"}


def _audit(
    rt: Runtime,
    actor: str,
    target: str,
    outcome: Outcome,
    status: int,
    detail: dict[str, Any],
) -> None:
    rt.audit(
        AuditEvent(
            at=datetime.now(UTC),
            actor=actor,
            action="EXEC /v1/services/{name}/exec",
            target=target[:200],
            outcome=outcome,
            status=status,
            detail=detail,
        )
    )


@router.post(
    "/v1/services/{name}/exec-ticket",
    status_code=201,
    response_model=ExecTicket,
    response_model_exclude_unset=True,
)
def exec_ticket(who: Admin, spec: SpecDep, rt: RuntimeDep) -> dict[str, Any]:
    """A one-use ticket (valid for seconds) that opens this service's terminal from a browser."""
    ticket = rt.tickets.issue(who, spec.name)
    return {"ticket": ticket, "expires_in": int(rt.tickets.ttl_s), "service": spec.name}


@ws_router.websocket("/v1/services/{name}/exec")
async def exec_terminal(
    ws: WebSocket,
    name: str,
    shell: str = "/bin/sh",
    cols: int = 80,
    rows: int = 24,
    ticket: str | None = None,
) -> None:
    """The terminal: authenticate with a bearer token (admin) or a one-use ``ticket``."""
    rt = ws.app.state.runtime
    try:
        if ticket:
            token = rt.tickets.redeem(ticket, name)
            ws.state.actor = token.name
        else:
            rt, token = await ws_authenticate(ws, Scope.admin)
        if shell not in SHELLS:
            raise InvalidInput(
                f"'{shell[:40]}' is not an allowed shell.",
                hint=f"Choose one of {sorted(SHELLS)}.",
                code="bad_shell",
            )
        spec = rt.specs.get(checked_name(name))
        container = engine.current_container(rt.docker, spec.name)
        engine.require_running(container)
    except MatrxError as exc:
        actor = getattr(ws.state, "actor", "anonymous")
        _audit(rt, actor, name, outcome_for(exc.status), exc.status, {"error": exc.code})
        await ws_deny(ws, exc)
        return
    exec_id, sock = _open(rt, str(container.id), shell, cols, rows)
    _audit(rt, token.name, spec.name, "allowed", 101, {"container": container.name, "shell": shell})
    await ws.accept()
    await _bridge(ws, rt, container, exec_id, sock)


def _open(rt: Runtime, cid: str, shell: str, cols: int, rows: int) -> tuple[str, Any]:
    api = rt.docker.api
    exec_id = api.exec_create(
        cid, [shell], stdin=True, tty=True, environment={"TERM": "xterm-256color"}
    )["Id"]
    raw = api.exec_start(exec_id, socket=True, tty=True)
    sock = getattr(raw, "_sock", raw)
    _resize(rt, exec_id, cols, rows)
    return exec_id, sock


def _resize(rt: Runtime, exec_id: str, cols: int, rows: int) -> None:
    with contextlib.suppress(Exception):  # resizing a finished exec is harmless
        rt.docker.api.exec_resize(
            exec_id, height=max(1, min(rows, 500)), width=max(1, min(cols, 1000))
        )


async def _bridge(ws: WebSocket, rt: Runtime, container: Any, exec_id: str, sock: Any) -> None:
    loop = asyncio.get_running_loop()
    out: asyncio.Queue[bytes | None] = asyncio.Queue()

    def reader() -> None:
        try:
            while data := sock.recv(65536):
                loop.call_soon_threadsafe(out.put_nowait, data)
        except OSError:
            pass
        loop.call_soon_threadsafe(out.put_nowait, None)

    threading.Thread(target=reader, daemon=True).start()
    inbound = asyncio.create_task(_inbound(ws, rt, exec_id, sock))
    try:
        while (data := await out.get()) is not None:
            await ws.send_bytes(data)
        await _finish(ws, rt, container, exec_id)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        inbound.cancel()
        _close(sock)


async def _inbound(ws: WebSocket, rt: Runtime, exec_id: str, sock: Any) -> None:
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                _close(sock)
                return
            if message.get("bytes") is not None:
                await asyncio.to_thread(sock.sendall, message["bytes"])
            elif message.get("text") is not None:
                await _control(rt, exec_id, sock, message["text"])
    except (WebSocketDisconnect, RuntimeError, OSError):
        _close(sock)


async def _control(rt: Runtime, exec_id: str, sock: Any, text: str) -> None:
    try:
        msg = json.loads(text)
    except ValueError:
        return
    if not isinstance(msg, dict):
        return
    if msg.get("type") == "resize":
        _resize(rt, exec_id, int(msg.get("cols", 80)), int(msg.get("rows", 24)))
    elif msg.get("type") == "input" and isinstance(msg.get("data"), str):
        await asyncio.to_thread(sock.sendall, msg["data"].encode())


async def _finish(ws: WebSocket, rt: Runtime, container: Any, exec_id: str) -> None:
    info = await asyncio.to_thread(rt.docker.api.exec_inspect, exec_id)
    await asyncio.to_thread(container.reload)
    killed = (info.get("ExitCode") or 0) >= 128
    for _ in range(20 if killed else 0):  # a signal-killed shell: is the container stopping?
        if container.status != "running":
            break
        await asyncio.sleep(0.25)
        await asyncio.to_thread(container.reload)
    if container.status != "running":
        reason = f"the container stopped ({container.status})"
    else:
        reason = "the shell exited"
    await ws.send_json({"type": "exit", "code": info.get("ExitCode"), "reason": reason})
    await ws.close(code=1000)


def _close(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
