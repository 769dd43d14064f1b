"""Releases, builds, pending changes, deploys, rollbacks and their history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from starlette.requests import Request

from matrx_ship.api.base import ERRORS, TEXT_ROUTE_ERRORS
from matrx_ship.api.jobs import Job
from matrx_ship.api.releases import Deployment, Pending, Release, RoutesReport
from matrx_ship.models import Scope
from onbox_agent import deploys, releases, routing
from onbox_agent.deps import Operator, RuntimeDep, SpecDep, require
from onbox_agent.locks import build_key, locked_job
from onbox_agent.routes.services import Deadline

router = APIRouter(tags=["releases"], dependencies=[Depends(require(Scope.read))], responses=ERRORS)
ReleaseId = Path(pattern=r"^rel_[0-9a-f]{12}$")


class BuildRequest(BaseModel):
    ref: str | None = Field(
        None, max_length=200, description="A commit sha or branch; default: the source branch head."
    )


class ImageRelease(BaseModel):
    image: str = Field(max_length=300, pattern=r"^[a-z0-9][a-z0-9._/:@-]*$")


class DeployRequest(BaseModel):
    release_id: str = Field(pattern=r"^rel_[0-9a-f]{12}$")


class RollbackRequest(BaseModel):
    release_id: str | None = Field(None, pattern=r"^rel_[0-9a-f]{12}$")


def _job_body(request: Request, job: dict[str, Any], **detail: Any) -> dict[str, Any]:
    request.state.audit_detail = {"job": job["id"], **detail}
    return job


@router.post(
    "/v1/services/{name}/builds",
    status_code=202,
    response_model=Job,
    response_model_exclude_unset=True,
)
def start_build(
    who: Operator, spec: SpecDep, rt: RuntimeDep, request: Request, body: BuildRequest | None = None
) -> dict[str, Any]:
    """Build a release from the git source at an exact commit; answers with the job at once."""
    repo = releases.repo_for(rt, spec)
    assert spec.source is not None
    repo.sync()
    sha = repo.resolve((body.ref if body else None) or "", spec.source.branch)
    job = locked_job(
        rt.locks,
        rt.jobs,
        [build_key(spec.name)],
        kind="build",
        service=spec.name,
        actor=who.name,
        params={"ref": sha},
        work=lambda ctx: releases.build(rt, ctx, spec, sha, who.name),
    )
    return _job_body(request, job, commit=sha)


@router.post(
    "/v1/services/{name}/releases",
    status_code=202,
    response_model=Job,
    response_model_exclude_unset=True,
)
def register_image(
    who: Operator, spec: SpecDep, rt: RuntimeDep, request: Request, body: ImageRelease
) -> dict[str, Any]:
    """Record an image already on this host as a release (and archive it)."""
    job = rt.jobs.submit(
        "release",
        spec.name,
        who.name,
        {"image": body.image},
        lambda ctx: releases.register_image(rt, ctx, spec, body.image, who.name),
    )
    return _job_body(request, job, image=body.image)


@router.get(
    "/v1/services/{name}/releases", response_model=list[Release], response_model_exclude_unset=True
)
def list_releases(
    spec: SpecDep, rt: RuntimeDep, limit: int = Query(50, ge=1, le=500)
) -> list[dict[str, Any]]:
    """The service's releases, newest first, with which one is live."""
    live = releases.live_release(rt, spec.name)
    rows = rt.records.releases(spec.name, limit=limit)
    return [{**r, "live": bool(live and live["id"] == r["id"])} for r in rows]


@router.get("/v1/releases/{release_id}", response_model=Release, response_model_exclude_unset=True)
def get_release(rt: RuntimeDep, release_id: str = ReleaseId) -> dict[str, Any]:
    return rt.records.release(release_id)


@router.get(
    "/v1/releases/{release_id}/log",
    response_class=PlainTextResponse,
    responses=TEXT_ROUTE_ERRORS,
)
def release_log(rt: RuntimeDep, release_id: str = ReleaseId) -> PlainTextResponse:
    """The stored build log of a release (follow a running build on its job's events)."""
    release = rt.records.release(release_id)
    if not release.get("build_log_key"):
        return PlainTextResponse(
            "(no build log: the build is running or the release is an image)\n"
        )
    with rt.blobs.open(release["build_log_key"]) as stream:
        return PlainTextResponse(stream.read().decode(errors="replace"))


@router.get(
    "/v1/services/{name}/pending", response_model=Pending, response_model_exclude_unset=True
)
def pending_changes(spec: SpecDep, rt: RuntimeDep) -> dict[str, Any]:
    """Commits between the running release and the head of the source branch, with a diffstat."""
    return releases.pending(rt, spec)


@router.post(
    "/v1/services/{name}/deploy",
    status_code=202,
    response_model=Job,
    response_model_exclude_unset=True,
)
def deploy(
    who: Operator,
    spec: SpecDep,
    rt: RuntimeDep,
    request: Request,
    body: DeployRequest,
    timeout: float | None = Deadline,
) -> dict[str, Any]:
    """Health-gated deploy: the old container serves until the new one is healthy."""
    release = deploys.ready_release(rt, spec, body.release_id)
    job = deploys.start(rt, spec, release, who.name, "deploy", timeout)
    return _job_body(request, job, release=release["id"])


@router.post(
    "/v1/services/{name}/rollback",
    status_code=202,
    response_model=Job,
    response_model_exclude_unset=True,
)
def rollback(
    who: Operator,
    spec: SpecDep,
    rt: RuntimeDep,
    request: Request,
    body: RollbackRequest | None = None,
    timeout: float | None = Deadline,
) -> dict[str, Any]:
    """Deploy the previous healthy release (or the one named) through the same health gate."""
    if body is not None and body.release_id:
        release = deploys.ready_release(rt, spec, body.release_id)
    else:
        release = deploys.previous_release(rt, spec)
    job = deploys.start(rt, spec, release, who.name, "rollback", timeout)
    return _job_body(request, job, release=release["id"])


@router.get("/v1/deployments", response_model=list[Deployment], response_model_exclude_unset=True)
def list_deployments(
    rt: RuntimeDep,
    service: str | None = Query(None, max_length=40),
    outcome: str | None = Query(None, pattern=r"^(running|succeeded|failed|interrupted)$"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Deployment history across services, newest first: from, to, who, when, outcome, evidence."""
    return rt.records.deployments(service, outcome, limit)


@router.get("/v1/routes", response_model=RoutesReport, response_model_exclude_unset=True)
def list_routes(rt: RuntimeDep) -> dict[str, Any]:
    """Routes from the specs, what Traefik loaded, and a real request through each one."""
    return routing.routes_report(rt.settings, rt.specs.list())
