"""Start, stop, restart and force-recreate, each answering once healthy (or why not)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request

from matrx_ship.api.base import ERRORS
from matrx_ship.api.services import Changed
from matrx_ship.models import Scope
from onbox_agent.deps import Operator, RuntimeDep, SpecDep, require
from onbox_agent.routes.services import Deadline, outcome_body

router = APIRouter(
    prefix="/v1/services/{name}",
    tags=["lifecycle"],
    dependencies=[Depends(require(Scope.read))],
    responses=ERRORS,
)


@router.post("/start", response_model=Changed, response_model_exclude_unset=True)
def start(
    who: Operator, spec: SpecDep, rt: RuntimeDep, request: Request, timeout: float | None = Deadline
) -> dict[str, Any]:
    return outcome_body(rt, spec, rt.services.start(spec.name, who.name, timeout), request)


@router.post("/stop", response_model=Changed, response_model_exclude_unset=True)
def stop(
    who: Operator,
    spec: SpecDep,
    rt: RuntimeDep,
    request: Request,
    grace: int = Query(10, ge=0, le=600, description="Seconds before SIGKILL."),
) -> dict[str, Any]:
    return outcome_body(rt, spec, rt.services.stop(spec.name, who.name, grace), request)


@router.post("/restart", response_model=Changed, response_model_exclude_unset=True)
def restart(
    who: Operator, spec: SpecDep, rt: RuntimeDep, request: Request, timeout: float | None = Deadline
) -> dict[str, Any]:
    return outcome_body(rt, spec, rt.services.restart(spec.name, who.name, timeout), request)


@router.post("/recreate", response_model=Changed, response_model_exclude_unset=True)
def recreate(
    who: Operator, spec: SpecDep, rt: RuntimeDep, request: Request, timeout: float | None = Deadline
) -> dict[str, Any]:
    """Force-recreate from the spec: a new container beside the old, swapped once healthy."""
    return outcome_body(rt, spec, rt.services.recreate(spec.name, who.name, timeout), request)
