"""The host: engine info, disk, memory, load, networks and images."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from matrx_ship.api.base import ERRORS
from matrx_ship.api.host import HostSummary, Images, Network
from matrx_ship.models import Scope
from onbox_agent import host
from onbox_agent.deps import RuntimeDep, require

router = APIRouter(
    prefix="/v1/host",
    tags=["host"],
    dependencies=[Depends(require(Scope.read))],
    responses=ERRORS,
)


@router.get("", response_model=HostSummary, response_model_exclude_unset=True)
def host_summary(rt: RuntimeDep) -> dict[str, Any]:
    return host.host_summary(rt.docker)


@router.get("/networks", response_model=list[Network], response_model_exclude_unset=True)
def networks(rt: RuntimeDep) -> list[dict[str, Any]]:
    return host.networks(rt.docker)


@router.get("/images", response_model=Images, response_model_exclude_unset=True)
def images(rt: RuntimeDep) -> dict[str, Any]:
    return host.images(rt.docker)
