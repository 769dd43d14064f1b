"""Logs of a service: a filtered read over HTTP, and a live follow over a websocket."""

from __future__ import annotations

import asyncio
import heapq
import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, WebSocket
from fastapi.responses import PlainTextResponse
from starlette.websockets import WebSocketDisconnect

from matrx_ship.api.base import ERRORS
from matrx_ship.api.logs import Logs
from matrx_ship.errors import MatrxError, NotFound
from matrx_ship.models import Scope
from onbox_agent import engine
from onbox_agent.archive import read_archived
from onbox_agent.deps import (
    RuntimeDep,
    SpecDep,
    checked_name,
    require,
    ws_authenticate,
    ws_deny,
)
from onbox_agent.logs import LogFilter, iter_lines, open_follow, read_logs

router = APIRouter(
    prefix="/v1/services/{name}",
    tags=["logs"],
    dependencies=[Depends(require(Scope.read))],
    responses=ERRORS,
)
ws_router = APIRouter(tags=["logs"])
log = logging.getLogger(__name__)

Stream = Literal["all", "stdout", "stderr"]
TS_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _streams(stream: Stream) -> list[str]:
    return ["stdout", "stderr"] if stream == "all" else [stream]


def _pick(rt: Any, name: str, container: str | None) -> Any:
    if container is None:
        return engine.current_container(rt.docker, name)
    for c in engine.service_containers(rt.docker, name):
        if c.name == container or str(c.id).startswith(container):
            return c
    raise NotFound(
        f"The service '{name}' has no container '{container[:64]}'.",
        hint=f"See the containers in GET /v1/services/{name}.",
    )


@router.get(
    "/logs",
    response_model=Logs,
    response_model_exclude_unset=True,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def get_logs(
    spec: SpecDep,
    rt: RuntimeDep,
    tail: int = Query(200, ge=1, le=10_000),
    since: datetime | None = None,
    until: datetime | None = None,
    stream: Stream = "all",
    q: str | None = Query(None, max_length=500, description="Substring filter."),
    regex: str | None = Query(None, max_length=500, description="RE2 regular expression."),
    ignore_case: bool = False,
    container: str | None = Query(None, max_length=80, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"),
    format: Literal["json", "text"] = "json",
    history: bool = Query(False, description="Also search the logs of removed containers."),
) -> dict[str, Any] | PlainTextResponse:
    """The last ``tail`` lines that match, oldest first, merged across stdout and stderr.

    With ``history`` the logs kept in the blob store are searched too, each line naming its
    container: removed containers' (archived when retired) and running ones' (shipped every
    few seconds, see onbox_agent/logship.py), each line once.
    """
    keep = LogFilter(q, regex, ignore_case).compile()
    archived = _archived(rt, spec.name, _streams(stream), since, until, keep) if history else []
    try:
        target = _pick(rt, spec.name, container)
    except NotFound:
        if not archived:
            raise
        target = None
    live = read_logs(target, _streams(stream), tail, since, until, keep) if target else []
    name = str(target.name) if target else None
    lines = _once(
        heapq.merge(archived, [{**r, "container": name} for r in live], key=lambda r: r["ts"])
    )[-tail:]
    if format == "text":
        return PlainTextResponse("".join(f"{r['ts']} {r['stream']} {r['text']}\n" for r in lines))
    return {"service": spec.name, "container": name, "lines": lines}


def _once(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each line once: a running container's shipped chunks repeat what its live log holds."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for r in lines:
        key = (r.get("container"), r["ts"], r["stream"], r["text"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _archived(
    rt: Any,
    service: str,
    streams: list[str],
    since: datetime | None,
    until: datetime | None,
    keep: Any,
) -> list[dict[str, Any]]:
    """Matching lines from the service's archived container logs, in time order."""
    lo = since.astimezone(UTC).strftime(TS_FMT) if since else ""
    hi = until.astimezone(UTC).strftime(TS_FMT) if until else "~"
    out: list[dict[str, Any]] = []
    for row in rt.records.log_archives(service):
        if (row["last_at"] or "") < lo or (row["first_at"] or "") > hi:
            continue
        out += [
            {**r, "container": row["container"]}
            for r in read_archived(rt.blobs, row["key"])
            if r["stream"] in streams and lo <= r["ts"] <= hi and keep(r["text"])
        ]
    return sorted(out, key=lambda r: r["ts"])


@ws_router.websocket("/v1/services/{name}/logs/follow")
async def follow_logs(
    ws: WebSocket,
    name: str,
    tail: int = 50,
    stream: Stream = "all",
    q: str | None = None,
    regex: str | None = None,
    ignore_case: bool = False,
) -> None:
    """Follow the live container's logs: one JSON message per line, then an 'end' message."""
    try:
        rt, _ = await ws_authenticate(ws, Scope.read)
        spec = rt.specs.get(checked_name(name))
        keep = LogFilter(q, regex, ignore_case).compile()
        container = engine.current_container(rt.docker, spec.name)
        tail = min(max(tail, 0), 10_000)
    except MatrxError as exc:
        await ws_deny(ws, exc)
        return
    await ws.accept()
    await _pump(ws, container, _streams(stream), tail, keep)


async def _pump(ws: WebSocket, container: Any, streams: list[str], tail: int, keep: Any) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, str] | None] = asyncio.Queue()
    live = [open_follow(container, s, tail) for s in streams]

    def reader(chunks: Any, name: str) -> None:
        try:
            for line in iter_lines(chunks, name):
                if keep(line["text"]):
                    loop.call_soon_threadsafe(queue.put_nowait, line)
        except Exception as exc:  # the stream was closed under us
            log.debug("log follow of %s ended: %s", name, exc)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    for chunks, name in zip(live, streams, strict=True):
        threading.Thread(target=reader, args=(chunks, name), daemon=True).start()
    watcher = asyncio.create_task(_until_disconnect(ws))
    try:
        ended = 0
        while ended < len(streams) and not watcher.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            item = getter.result()
            if item is None:
                ended += 1
                continue
            await ws.send_json({"type": "line", **item})
        if not watcher.done():
            await ws.send_json({"type": "end", "reason": "the container stopped"})
            await ws.close()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        watcher.cancel()
        for chunks in live:
            chunks.close()


async def _until_disconnect(ws: WebSocket) -> None:
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
