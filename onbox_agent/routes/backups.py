"""Backups of services and of the system, their catalog, restore and verification."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from starlette.requests import Request

from matrx_ship.api.backups import Backup
from matrx_ship.api.base import ERRORS
from matrx_ship.api.jobs import Job
from matrx_ship.errors import Conflict
from matrx_ship.models import Scope
from onbox_agent import backups
from onbox_agent.deps import Admin, Operator, RuntimeDep, ServiceName, SpecDep, require
from onbox_agent.reconcile.observe import suspects
from onbox_agent.routes.services import Deadline

router = APIRouter(tags=["backups"], dependencies=[Depends(require(Scope.read))], responses=ERRORS)
BackupId = Path(pattern=r"^bak_[0-9a-f]{12}$")
Status = Query(None, pattern=r"^(running|succeeded|failed|interrupted|pruned)$")


class RestoreRequest(BaseModel):
    keep_old: bool = Field(
        False, description="Keep the previous database and volumes (renamed) after success."
    )


def _job_body(request: Request, job: dict[str, Any], target: str | None) -> dict[str, Any]:
    if target:
        request.state.audit_target = target
    request.state.audit_detail = {"job": job["id"], "backup": job["params"].get("backup_id")}
    return job


@router.post(
    "/v1/services/{name}/backups",
    status_code=202,
    response_model=Job,
    response_model_exclude_unset=True,
)
def start_backup(who: Operator, spec: SpecDep, rt: RuntimeDep, request: Request) -> dict[str, Any]:
    """Back up the service's database, volumes and spec; answers with the job at once."""
    return _job_body(request, backups.start_backup(rt, spec, who.name), spec.name)


@router.get(
    "/v1/services/{name}/backups", response_model=list[Backup], response_model_exclude_unset=True
)
def list_service_backups(
    name: ServiceName,
    rt: RuntimeDep,
    status: str | None = Status,
    limit: int = Query(50, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """The service's backups, newest first (also after the service was deleted); ``suspect``
    says why a backup is not trusted (its database holds fewer rows than an earlier one)."""
    found = backups.catalog(rt).find(service=name, kind="service", status=status, limit=limit)
    flagged = suspects(found)
    return [b | {"suspect": flagged.get(b["id"])} for b in found]


@router.get("/v1/backups", response_model=list[Backup], response_model_exclude_unset=True)
def list_backups(
    rt: RuntimeDep,
    service: str | None = Query(None, max_length=40),
    kind: str | None = Query(None, pattern=r"^(service|system)$"),
    status: str | None = Status,
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Every backup, newest first: what, when, who, size, sha256, outcome, parts."""
    return backups.catalog(rt).find(service=service, kind=kind, status=status, limit=limit)


@router.get("/v1/backups/{backup_id}", response_model=Backup, response_model_exclude_unset=True)
def get_backup(rt: RuntimeDep, backup_id: str = BackupId) -> dict[str, Any]:
    return backups.catalog(rt).get(backup_id)


@router.post(
    "/v1/backups/{backup_id}/restore",
    status_code=202,
    response_model=Job,
    response_model_exclude_unset=True,
)
def restore(
    who: Operator,
    rt: RuntimeDep,
    request: Request,
    body: RestoreRequest | None = None,
    timeout: float | None = Deadline,
    backup_id: str = BackupId,
) -> dict[str, Any]:
    """Restore beside the live service, check, then swap; a failure changes nothing."""
    backup = backups.restorable(rt, backup_id)
    request.state.audit_target = backup["service"]
    keep_old = body.keep_old if body else False
    job = backups.start_restore(rt, backup, who.name, keep_old, timeout)
    return _job_body(request, job, backup["service"])


@router.post(
    "/v1/backups/{backup_id}/verify",
    status_code=202,
    response_model=Job,
    response_model_exclude_unset=True,
)
def verify(
    who: Operator, rt: RuntimeDep, request: Request, backup_id: str = BackupId
) -> dict[str, Any]:
    """Check every part and restore the dump into a scratch Postgres; the result is recorded."""
    backup = backups.catalog(rt).get(backup_id)
    if backup["status"] != "succeeded":
        raise Conflict(
            f"The backup {backup_id} is {backup['status']}; only a succeeded one can be verified.",
            code="backup_not_usable",
            hint="Pick a backup whose status is succeeded.",
        )
    job = backups.start_verify(rt, backup, who.name)
    return _job_body(request, job, backup["service"])


@router.post(
    "/v1/system/backups", status_code=202, response_model=Job, response_model_exclude_unset=True
)
def start_system_backup(who: Admin, rt: RuntimeDep, request: Request) -> dict[str, Any]:
    """Back up the state store's tables (JSON lines) and Traefik's dynamic config."""
    return _job_body(request, backups.start_system_backup(rt, who.name), "system")


@router.get("/v1/system/backups", response_model=list[Backup], response_model_exclude_unset=True)
def list_system_backups(
    rt: RuntimeDep, status: str | None = Status, limit: int = Query(50, ge=1, le=1000)
) -> list[dict[str, Any]]:
    return backups.catalog(rt).find(kind="system", status=status, limit=limit)
