"""Service specs and their status: register, read, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request

from matrx_ship.api.base import ERRORS
from matrx_ship.api.services import Changed, Deleted, ServiceDetail, ServiceList
from matrx_ship.errors import InvalidInput
from matrx_ship.models import Scope, ServiceSpec
from onbox_agent import engine, status
from onbox_agent.deps import Operator, RuntimeDep, ServiceName, SpecDep, require
from onbox_agent.executor import Outcome
from onbox_agent.runtime import Runtime

router = APIRouter(
    prefix="/v1/services",
    tags=["services"],
    dependencies=[Depends(require(Scope.read))],
    responses=ERRORS,
)

Deadline = Query(None, gt=0, le=3600, description="Seconds to wait for health (default setting).")


def outcome_body(
    rt: Runtime, spec: ServiceSpec, outcome: Outcome, request: Request
) -> dict[str, Any]:
    """The response of a change; raises the health failure when the gate was missed."""
    request.state.audit_detail = {
        "steps": [f"{s['action']}:{s['target']}" for s in outcome.steps],
        "container": outcome.container,
    }
    if outcome.health is not None and not outcome.health.healthy:
        raise engine.health_failure(spec.name, outcome.health)
    health = outcome.health
    return {
        "service": status.one_status(rt.docker, rt.monitor, spec),
        "steps": outcome.steps,
        "health": {
            "healthy": health.healthy,
            "reason": health.reason,
            "seconds": round(health.seconds, 2),
        }
        if health
        else None,
    }


@router.get("", response_model=ServiceList, response_model_exclude_unset=True)
def list_services(rt: RuntimeDep) -> dict[str, Any]:
    """Every service with state, health and resources, and the unmanaged containers."""
    return status.all_statuses(rt.docker, rt.monitor, rt.specs.list())


@router.post("", status_code=201, response_model=Changed, response_model_exclude_unset=True)
def create_service(
    who: Operator,
    spec: ServiceSpec,
    rt: RuntimeDep,
    request: Request,
    timeout: float | None = Deadline,
) -> dict[str, Any]:
    """Register a service and start its container; answers once it is healthy."""
    request.state.audit_target = spec.name
    outcome = rt.services.create(spec, who.name, timeout)
    return outcome_body(rt, spec, outcome, request)


@router.get("/{name}", response_model=ServiceDetail, response_model_exclude_unset=True)
def get_service(spec: SpecDep, rt: RuntimeDep) -> dict[str, Any]:
    """The spec (secret values masked), the live status and the agent's own probe, run now."""
    view = status.one_status(rt.docker, rt.monitor, spec)
    view["probe"] = status.probe_now(rt.docker, spec, view)
    return {"spec": spec.masked(), "status": view}


@router.put("/{name}", response_model=Changed, response_model_exclude_unset=True)
def update_service(
    who: Operator,
    name: ServiceName,
    spec: ServiceSpec,
    rt: RuntimeDep,
    request: Request,
    timeout: float | None = Deadline,
) -> dict[str, Any]:
    """Replace the spec; the new container must pass the health gate or nothing changes."""
    if spec.name != name:
        raise InvalidInput(
            f"The body names '{spec.name}' but the URL names '{name}'.",
            hint="A service cannot be renamed; create a new one instead.",
            code="name_mismatch",
        )
    outcome = rt.services.update(spec, who.name, timeout)
    return outcome_body(rt, spec, outcome, request)


@router.delete("/{name}", response_model=Deleted, response_model_exclude_unset=True)
def delete_service(who: Operator, name: ServiceName, rt: RuntimeDep) -> dict[str, Any]:
    """Remove the service's containers and spec; named volumes are kept."""
    removed = rt.services.delete(name, who.name)
    return {"deleted": name, "removed_containers": removed, "volumes_kept": True}
