"""What exists only on this host: each item with its risk and the action that protects it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from matrx_ship.api.base import ERRORS
from matrx_ship.api.system import LocalState
from matrx_ship.models import Scope
from onbox_agent import localstate
from onbox_agent.deps import RuntimeDep, require

router = APIRouter(tags=["system"], dependencies=[Depends(require(Scope.read))], responses=ERRORS)


@router.get("/v1/system/local-state", response_model=LocalState, response_model_exclude_unset=True)
def local_state(rt: RuntimeDep) -> dict[str, Any]:
    """Volumes and databases without a backup younger than the RPO, live release images without
    an archive, containers the agent does not manage, outbox events not yet in the store,
    Traefik's certificates and users file, embedded stores and other files in the data folder;
    ``items`` is empty when nothing exists only on this host."""
    return localstate.report(rt).as_json()
