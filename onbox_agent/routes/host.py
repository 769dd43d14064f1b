"""The host: engine info, disk, memory, load, networks and images."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from matrx_ship.models import Scope
from onbox_agent import host
from onbox_agent.deps import RuntimeDep, require

router = APIRouter(prefix="/v1/host", tags=["host"], dependencies=[Depends(require(Scope.read))])


@router.get("")
def host_summary(rt: RuntimeDep) -> dict[str, Any]:
    return host.host_summary(rt.docker)


@router.get("/networks")
def networks(rt: RuntimeDep) -> list[dict[str, Any]]:
    return host.networks(rt.docker)


@router.get("/images")
def images(rt: RuntimeDep) -> dict[str, Any]:
    return host.images(rt.docker)
