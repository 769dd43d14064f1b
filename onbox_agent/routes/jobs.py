"""Jobs: list, read, and follow their progress events over a websocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, Depends, Query, WebSocket
from starlette.websockets import WebSocketDisconnect

from matrx_ship.api.base import ERRORS
from matrx_ship.api.jobs import Job
from matrx_ship.errors import MatrxError
from matrx_ship.models import Scope
from onbox_agent.deps import RuntimeDep, require, ws_authenticate, ws_deny

router = APIRouter(
    prefix="/v1/jobs",
    tags=["jobs"],
    dependencies=[Depends(require(Scope.read))],
    responses=ERRORS,
)
ws_router = APIRouter(tags=["jobs"])


@router.get("", response_model=list[Job], response_model_exclude_unset=True)
def list_jobs(
    rt: RuntimeDep,
    service: str | None = Query(None, max_length=40),
    kind: str | None = Query(None, max_length=16),
    status: str | None = Query(None, pattern=r"^(queued|running|succeeded|failed|interrupted)$"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Jobs newest first, with their outcome."""
    return rt.records.jobs(service, kind, status, limit)


@router.get("/{job_id}", response_model=Job, response_model_exclude_unset=True)
def get_job(job_id: str, rt: RuntimeDep) -> dict[str, Any]:
    return rt.records.job(job_id[:40])


@ws_router.websocket("/v1/jobs/{job_id}/events")
async def job_events(ws: WebSocket, job_id: str) -> None:
    """Every event of the job from the start (stored), then live ones, until 'end'."""
    try:
        rt, _ = await ws_authenticate(ws, Scope.read)
        rt.records.job(job_id[:40])
    except MatrxError as exc:
        await ws_deny(ws, exc)
        return
    await ws.accept()
    queue = rt.jobs.subscribe(job_id)
    try:
        last = 0
        for event in await asyncio.to_thread(rt.records.events, job_id):
            last = event["id"]
            await ws.send_json(_wire(event))
            if event["kind"] == "end":
                return
        while True:
            event = await queue.get()
            if event["id"] <= last:
                continue
            await ws.send_json(event)
            if event["kind"] == "end":
                return
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        rt.jobs.unsubscribe(job_id, queue)
        await _close(ws)


def _wire(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "kind": row["kind"], "at": row["at"].isoformat(), **row["data"]}


async def _close(ws: WebSocket) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await ws.close()
