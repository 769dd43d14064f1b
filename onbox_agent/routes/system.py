"""The host as a whole: the reconcile (planned or run) and the outbox of records the store
has not taken yet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from starlette.requests import Request

from matrx_ship.api.base import ERRORS
from matrx_ship.api.jobs import Job
from matrx_ship.api.system import HostSettings, OutboxRetry, OutboxState, ReconcilePlan
from matrx_ship.models import Scope
from onbox_agent.deps import Admin, RuntimeDep, require
from onbox_agent.hostsettings import LOCAL_ONLY, storable
from onbox_agent.reconcile import run as reconcile

router = APIRouter(tags=["system"], dependencies=[Depends(require(Scope.read))], responses=ERRORS)


@router.post(
    "/v1/system/reconcile",
    status_code=202,
    response_model=Job,
    response_model_exclude_unset=True,
    responses={200: {"model": ReconcilePlan, "description": "With dry_run: the plan."}},
)
def start_reconcile(
    who: Admin,
    rt: RuntimeDep,
    request: Request,
    dry_run: bool = Query(False, description="Answer with the plan and change nothing."),
) -> Any:
    """Bring back what the store holds and the host lacks: networks, databases restored from
    their newest good backup, volumes, live release images, containers through the health
    gate, route files. With ``dry_run`` the plan is returned (200) and nothing changes."""
    request.state.audit_target = "host"
    if dry_run:
        request.state.audit_detail = {"dry_run": True}
        return JSONResponse(reconcile.dry_run(rt))
    job = reconcile.start(rt, who.name)
    request.state.audit_detail = {"job": job["id"]}
    return job


@router.get("/v1/system/reconcile", response_model=ReconcilePlan, response_model_exclude_unset=True)
def reconcile_plan(rt: RuntimeDep) -> dict[str, Any]:
    """What a reconcile would do now (the same as ``POST ?dry_run=true``, for read tokens)."""
    return reconcile.dry_run(rt)


@router.get("/v1/system/outbox", response_model=OutboxState, response_model_exclude_unset=True)
def outbox(rt: RuntimeDep) -> dict[str, Any]:
    """Records waiting for the store (``pending``) and those it refused (``set_aside``, with
    the reason), which would otherwise be lost without anyone knowing."""
    return {"pending": len(rt.outbox), "set_aside": rt.outbox.set_aside()}


@router.post(
    "/v1/system/outbox/retry", response_model=OutboxRetry, response_model_exclude_unset=True
)
def retry_outbox(who: Admin, rt: RuntimeDep, request: Request) -> dict[str, Any]:
    """Queue the set-aside records again and flush now; what was delivered, what is aside."""
    requeued = rt.outbox.retry_set_aside()
    delivered = rt.flush_outbox()
    request.state.audit_detail = {"requeued": requeued, "delivered": delivered}
    return {
        "requeued": requeued,
        "delivered": delivered,
        "pending": len(rt.outbox),
        "set_aside": rt.outbox.set_aside(),
    }


@router.get("/v1/system/settings", response_model=HostSettings, response_model_exclude_unset=True)
def host_settings(rt: RuntimeDep) -> dict[str, Any]:
    """The settings this host runs with that the state store keeps for a rebuilt host (no
    secrets), and those only this host's env file holds."""
    return {"kept_in_store": storable(rt.settings), "env_file_only": sorted(LOCAL_ONLY)}
